#!/usr/bin/env python3
"""What a copy of the data holds in clear: runs `cubby demo` on a database (SQLite, or PostgreSQL with
--postgres-url), gives it personal data, a parcel dropped off and picked up, stills and a tamper signal, then
searches the database's files (SQLite: the file and its write-ahead log; PostgreSQL: a `pg_dump` of it) and the
units' journals for every secret and personal value it used. Any found in clear fails the run.

Searched for: the recipient's name, email and phone; the staff member's email; the pickup PIN and QR token sent
to the recipient; every API credential of the demo; the demo's key-encryption key; the stills' bytes (fetched
through the API); and, in the units' journals, the saved state's `pinKey` field.

Usage: scripts/scan-at-rest.py CUBBY_BINARY [--postgres-url URL] [--port N]
Exits 0 when nothing was found in clear, 1 when something was, 2 when the run could not be made.
"""
import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
NAME = "Philippa Quarterman-Oyelaran"
EMAIL = "philippa.quarterman@scan-test.example"
PHONE = "+447700900123"
STAFF = "admin@example.org"


def log(msg):
    print(f"scan-at-rest: {msg}", flush=True)


def fail(msg, code=2):
    log(f"FAIL: {msg}")
    raise SystemExit(code)


def call(method, url, body=None, token=None, timeout=15):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with OPENER.open(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except OSError as e:
        return 0, str(e)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def wait(what, check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.25)
    fail(f"timed out waiting for {what}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cubby")
    ap.add_argument("--postgres-url")
    ap.add_argument("--port", type=int, default=18620)
    args = ap.parse_args()
    args.cubby = os.path.abspath(args.cubby)
    work = tempfile.mkdtemp(prefix="cubby-scan-")
    port = args.port
    base = f"http://127.0.0.1:{port}"
    cmd = [args.cubby, "demo", "--host", "127.0.0.1", "--port", str(port), "--edge-port", str(port + 1),
           "--kiosk-port", str(port + 2), "--control-port", str(port + 4)]
    if args.postgres_url:
        cmd += ["--database", args.postgres_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUBBY_")}
    out = open(os.path.join(work, "demo.log"), "wb")
    demo = subprocess.Popen(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    found = []
    try:
        wait("the demo to answer", lambda: demo.poll() is None and call("GET", base + "/healthz")[0] == 200, 90)
        data = os.path.join(work, "cubby-data")
        manifest = json.load(open(os.path.join(data, "demo.json")))
        admin = manifest["adminToken"]
        unit = manifest["units"][0]
        status, recipient = call("POST", base + "/api/v1/recipients", {
            "name": NAME, "email": EMAIL, "phone": PHONE, "siteId": manifest["siteId"], "apartment": "12B"}, admin)
        if status != 201:
            fail(f"creating the recipient: {status} {recipient}")
        status, drop = call("POST", f"{base}/api/v1/units/{unit['id']}/dropoffs", {
            "trackingNumber": "1ZSCAN0001", "recipientId": recipient["id"], "size": "S"}, manifest["courierToken"])
        if status != 201:
            fail(f"the drop-off: {status} {drop}")
        parcel = drop["parcelId"]
        notes = os.path.join(data, "notifications.jsonl")

        def ready():
            if not os.path.exists(notes):
                return None
            for line in open(notes):
                n = json.loads(line)
                if n.get("parcelId") == parcel and n.get("pin"):
                    return n
            return None

        note = wait("the parcel-ready notification", ready, 60)
        pin, qr = note["pin"], note.get("qr") or ""
        status, picked = call("POST", f"{base}/api/v1/units/{unit['id']}/pickups", {"code": pin}, unit["deviceToken"])
        if status != 200:
            fail(f"the pickup: {status} {picked}")
        control = f"http://127.0.0.1:{port + 5}"
        status, _ = call("POST", control + "/tamper?kind=pry", {})
        if status not in (200, 202):
            fail(f"the tamper signal at unit 2: {status}")

        def stills():
            _, events = call("GET", base + "/api/v1/audit/events?limit=500", token=admin)
            shas = {e.get("detail", {}).get("evidenceSha256") for e in (events.get("events", []) if isinstance(events, dict) else [])}
            shas.discard(None)
            return shas if len(shas) >= 2 else None

        shas = wait("two stills in the audit log (the pickup and the tamper signal)", stills, 60)
        photos = []
        for sha in sorted(shas):
            status, body = call("GET", f"{base}/api/v1/evidence/{sha}", token=admin)
            if status != 200 or not isinstance(body, bytes) or not body.startswith(b"\xff\xd8"):
                fail(f"the still {sha} through the API: {status}")
            photos.append((f"still {sha[:12]}", body[:64]))
        time.sleep(2)  # let the units' journals and the server's writes settle

        needles = [("recipient name", NAME.encode()), ("recipient email", EMAIL.encode()),
                   ("recipient phone", PHONE.encode()), ("staff email", STAFF.encode()), ("pickup PIN", pin.encode())]
        if qr:
            needles.append(("QR token", qr.encode()))
        for key in ("adminToken", "auditorToken", "courierToken", "carrierToken"):
            if manifest.get(key):
                needles.append((f"credential {key}", manifest[key].encode()))
        for u in manifest["units"]:
            needles.append((f"device credential of {u['name']}", u["deviceToken"].encode()))
        kek = open(os.path.join(data, "demo-kek"), "rb").read()
        needles += [("demo KEK (raw)", kek), ("demo KEK (base64)", base64.b64encode(kek))]
        needles += photos

        if args.postgres_url:
            u = urllib.parse.urlsplit(args.postgres_url)
            dump = subprocess.run(["pg_dump", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username or "postgres",
                                   "--data-only", (u.path or "/postgres")[1:]],
                                  capture_output=True, timeout=120, env={**os.environ, "PGPASSWORD": u.password or ""})
            if dump.returncode != 0:
                fail(f"pg_dump: {dump.stderr.decode(errors='replace')[:300]}")
            # pg_dump writes bytea as \x-hex: search the hex forms as well.
            blobs = {"pg_dump": dump.stdout}
            needles += [(f"{what} (hex)", n.hex().encode()) for what, n in list(needles)]
        else:
            blobs = {name: open(os.path.join(data, name), "rb").read()
                     for name in ("cubby.sqlite", "cubby.sqlite-wal") if os.path.exists(os.path.join(data, name))}
        for d in sorted(os.listdir(data)):
            if d.startswith("edge-unit-"):
                for name in ("journal.sqlite", "journal.sqlite-wal"):
                    path = os.path.join(data, d, name)
                    if os.path.exists(path):
                        blobs[f"{d}/{name}"] = open(path, "rb").read()
        journal_needles = [("unit PIN key field", b'"pinKey"')] + photos
        for where, blob in blobs.items():
            for what, needle in (journal_needles if where.startswith("edge-unit-") else needles):
                if needle and needle in blob:
                    found.append(f"{what} in {where}")
        size = sum(len(b) for b in blobs.values())
        log(f"searched {len(blobs)} files ({size} bytes) for {len(needles)} values and the journals for "
            f"{len(journal_needles)}: {', '.join(sorted(blobs))}")
    finally:
        try:
            os.killpg(demo.pid, signal.SIGTERM)
            demo.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        out.close()
    if found:
        for f in found:
            log(f"in clear: {f}")
        log(f"FAIL: {len(found)} values in clear; work dir kept: {work}")
        return 1
    subprocess.run(["rm", "-rf", work], check=False)
    log("PASS: nothing personal or secret in clear")
    return 0


if __name__ == "__main__":
    sys.exit(main())
