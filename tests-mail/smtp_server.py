#!/usr/bin/env python3
"""A receiving SMTP server for Cubby's mail tests, on aiosmtpd.

Listens on 127.0.0.1 (a free port unless --port is given) and prints "READY <port>" once it accepts connections.
Each accepted message is saved as DIR/<n>.eml (the bytes as received) beside DIR/<n>.json (the envelope: sender,
recipients, the authenticated user, whether the session ran over TLS).

--tls starttls   offers STARTTLS and refuses MAIL, RCPT and AUTH before it (require_starttls, auth_require_tls)
--tls implicit   TLS from the first byte
--tls none       plain TCP; with --auth-in-clear it still offers AUTH (the client's tls=none case)
--tls nostarttls plain TCP that offers neither STARTTLS nor AUTH (the client must refuse to go on)

Recipients whose local part is "busy" get 451 (transient), "nobody" gets 550 (permanent). The certificate and
key are made by --make-certs DIR: a CA (DIR/ca.pem) and a server certificate for localhost and 127.0.0.1.

--refuse-first N   answers the end of DATA of the first N messages with 451 (a relay that cannot queue for a while),
                   printing "REFUSED <Message-ID>" for each, and accepts the messages after them
--hold-flag FILE   while FILE exists, a message is saved and then the reply to its DATA is held (printing
                   "HELD <n> <Message-ID>") until FILE is removed: the client cannot know the message arrived
Each saved message prints "SAVED <n> <Message-ID>".
"""

import argparse
import asyncio
import email
import json
import os
import signal
import socket
import ssl
import subprocess
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def make_certs(directory):
    """A throwaway CA and a server certificate it signs, for localhost and 127.0.0.1 (openssl)."""
    os.makedirs(directory, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", "/CN=Cubby mail test CA", "-keyout", "ca.key", "-out", "ca.pem",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "server.pem", "-extfile", "server.ext")


class Recorder:
    """Saves each message; answers RCPT by the recipient's local part."""

    def __init__(self, directory, refuse_first=0, hold_flag=None):
        self.directory = directory
        self.count = 0
        self.refusals_left = refuse_first
        self.hold_flag = hold_flag

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local == "busy":
            return "451 4.3.0 Mailbox busy, try again later"
        if local == "nobody":
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message_id = email.message_from_bytes(raw).get("Message-ID", "")
        if self.refusals_left > 0:
            self.refusals_left -= 1
            print(f"REFUSED {message_id}", flush=True)
            return "451 4.3.0 Temporarily unable to queue the message, try again later"
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "login": login,
                       # session.ssl is set after STARTTLS only; an implicit-TLS transport says so itself.
                       "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None},
                      f)
        print(f"SAVED {self.count} {message_id}", flush=True)
        if self.hold_flag and os.path.exists(self.hold_flag):
            print(f"HELD {self.count} {message_id}", flush=True)
            while os.path.exists(self.hold_flag):
                await asyncio.sleep(0.05)
        return "250 2.0.0 Message accepted"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)
    return check


def main():
    # A parent may start us with signals blocked (the mask is inherited): take them back so SIGTERM ends us.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", choices=["starttls", "implicit", "none", "nostarttls"], default="starttls")
    parser.add_argument("--dir", required=True, help="where messages are saved and certificates kept")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", default="cubby")
    parser.add_argument("--password", default="s3cret:p@ss")
    parser.add_argument("--mechanisms", default="PLAIN,LOGIN", help="AUTH mechanisms to offer")
    parser.add_argument("--auth-in-clear", action="store_true", help="offer AUTH without TLS (--tls none)")
    parser.add_argument("--make-certs", action="store_true")
    parser.add_argument("--refuse-first", type=int, default=0, help="answer 451 to the first N messages' DATA")
    parser.add_argument("--hold-flag", help="while this file exists, hold the reply to DATA after saving")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    if args.make_certs or not os.path.exists(os.path.join(args.dir, "server.pem")):
        make_certs(args.dir)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(args.dir, "server.pem"), os.path.join(args.dir, "server.key"))

    excluded = [m for m in ("PLAIN", "LOGIN") if m not in args.mechanisms.upper().split(",")]
    recorder = Recorder(args.dir, refuse_first=args.refuse_first, hold_flag=args.hold_flag)
    kwargs = dict(hostname="mail.test", authenticator=authenticator(args.user, args.password),
                  auth_exclude_mechanism=excluded, timeout=30)
    if args.tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True, auth_require_tls=True)
    elif args.tls == "implicit":
        # The whole connection is TLS: aiosmtpd sees no STARTTLS, so AUTH must not ask for one.
        kwargs.update(auth_require_tls=False)
    elif args.tls == "none":
        kwargs.update(auth_require_tls=not args.auth_in_clear)
    else:
        kwargs.update(auth_require_tls=True)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    port = sock.getsockname()[1]

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(recorder, loop=loop, **kwargs), sock=sock,
            ssl=context if args.tls == "implicit" else None)
        print(f"READY {port}", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
