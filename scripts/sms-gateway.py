#!/usr/bin/env python3
"""A recording SMS gateway: stands in for a real SMS provider, which cannot run here.

Takes POST /messages (any path but /control) with `Authorization: Bearer TOKEN` and a JSON body
{"to": "+E164", "text": "...", "id": "..."}; answers 202 and appends the request as one JSON line to --record.
A wrong or missing token answers 401, a malformed body 400; neither is recorded.

It can be told to fail, to show retries and permanent failures:
  --fail STATUS:COUNT     answer STATUS to the next COUNT well-formed requests (repeatable, in order)
  POST /control {"status": 503, "count": 2}   the same at run time (same bearer token)
  POST /control {"delay": 5}                  wait 5 seconds before each answer (timeouts)
A request answered with a failure is not recorded.

Listens on 127.0.0.1 (--port 0: a free port) and prints "READY <port>" once it accepts requests.
Standard library only.
"""

import argparse
import http.server
import json
import re
import signal
import sys
import threading
import time

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


class Gateway:
    def __init__(self, token, record, failures):
        self.token = token
        self.record = record
        self.failures = list(failures)  # [[status, remaining], ...]
        self.delay = 0.0
        self.lock = threading.Lock()

    def next_failure(self):
        with self.lock:
            while self.failures and self.failures[0][1] <= 0:
                self.failures.pop(0)
            if not self.failures:
                return None
            self.failures[0][1] -= 1
            return self.failures[0][0]


def handler_for(gateway):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self.answer(405, {"error": "method_not_allowed"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > 65536:
                self.answer(413, {"error": "too_large"})
                return
            raw = self.rfile.read(length)
            if self.headers.get("Authorization") != f"Bearer {gateway.token}":
                self.answer(401, {"error": "unauthorized"})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self.answer(400, {"error": "not_json"})
                return
            if self.path == "/control":
                with gateway.lock:
                    if "status" in body:
                        gateway.failures.append([int(body["status"]), int(body.get("count", 1))])
                    if "delay" in body:
                        gateway.delay = float(body["delay"])
                self.answer(200, {"ok": True})
                return
            if (not isinstance(body, dict) or set(body) != {"to", "text", "id"}
                    or not all(isinstance(body[k], str) for k in body)
                    or not E164.match(body["to"]) or not body["text"] or not body["id"]):
                self.answer(400, {"error": "invalid_message"})
                return
            if gateway.delay:
                time.sleep(gateway.delay)
            failure = gateway.next_failure()
            if failure is not None:
                self.answer(failure, {"error": "told_to_fail"})
                return
            with gateway.lock:
                with open(gateway.record, "a") as f:
                    f.write(json.dumps({"to": body["to"], "text": body["text"], "id": body["id"]},
                                       ensure_ascii=False) + "\n")
            self.answer(202, {"id": body["id"], "status": "accepted"})

    return Handler


def main():
    # A parent may start us with signals blocked (the mask is inherited): take them back so SIGTERM ends us.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--record", required=True, help="file to append accepted messages to")
    parser.add_argument("--fail", action="append", default=[], metavar="STATUS:COUNT")
    args = parser.parse_args()
    failures = []
    for item in args.fail:
        status, count = item.split(":")
        failures.append([int(status), int(count)])
    gateway = Gateway(args.token, args.record, failures)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(gateway))
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
