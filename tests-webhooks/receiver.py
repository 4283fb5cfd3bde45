#!/usr/bin/env python3
"""A webhook receiver for scripts/webhook-test.sh: verifies each delivery with the `standardwebhooks` package.

Paths decide how it answers:
  /flaky/<name>  500 the first time a webhook-id arrives, then 204 (so every event is retried once)
  /ok/<name>     204
  /gone/<name>   410 Gone
  /hold/<name>   logs the delivery on arrival, then holds the answer (204) for --hold seconds
Each request is appended to the log (JSON lines) with, for every secret the script has stored for <name> in the
secrets file, whether the delivery verifies with that secret alone.
"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
seen_ids = set()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secrets", required=True, help="JSON file: {name: [secret, ...]}")
    parser.add_argument("--log", required=True, help="JSON-lines file of what arrived")
    parser.add_argument("--hold", type=float, default=2.0, help="seconds a /hold/ answer waits")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            parts = self.path.strip("/").split("/")
            mode, name = (parts + ["", ""])[:2]
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                with open(args.secrets) as f:
                    secrets = json.load(f).get(name, [])
            except (OSError, ValueError):
                secrets = []
            verified = []
            for secret in secrets:
                try:
                    Webhook(secret).verify(body, headers)
                    verified.append(True)
                except WebhookVerificationError:
                    verified.append(False)
            webhook_id = headers.get("webhook-id", "")
            with lock:
                if mode == "gone":
                    status = 410
                elif mode == "flaky" and webhook_id not in seen_ids:
                    status = 500
                else:
                    status = 204
                seen_ids.add(webhook_id)
                try:
                    event = json.loads(body)
                except ValueError:
                    event = {}
                entry = {
                    "name": name,
                    "mode": mode,
                    "status": status,
                    "receivedAt": time.time(),
                    "id": webhook_id,
                    "timestamp": headers.get("webhook-timestamp", ""),
                    "signatures": len(headers.get("webhook-signature", "").split()),
                    "verified": verified,
                    "type": event.get("type"),
                    "data": event.get("data"),
                    "body": body.decode("utf-8", "replace"),
                }
                with open(args.log, "a") as f:
                    f.write(json.dumps(entry) + "\n")
            if mode == "hold":
                time.sleep(args.hold)
            try:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender went away while the answer was held

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
