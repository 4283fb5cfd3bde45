#!/usr/bin/env python3
"""What a copy of the data holds in clear: runs `cubby demo` on a database (SQLite, or PostgreSQL with
--postgres-url), gives it personal data, a parcel dropped off and picked up, stills and a tamper signal, then
searches the database's files (SQLite: the file and its write-ahead log; PostgreSQL: a `pg_dump` of it) and the
units' journals for every secret and personal value it used. Any found in clear fails the run.

Searched for: the recipient's name, email and phone; the staff member's email; the pickup PIN and QR token sent
to the recipient; every API credential of the demo; the demo's key-encryption key; the stills' bytes (fetched
through the API); and, in the units' journals, the saved state's `pinKey` field.

Then it reads every sealed column and checks that each value names the key that sealed it: `1 ‖ key id (8 bytes) ‖
nonce ‖ ciphertext ‖ tag` (KeyedSealer), one key id per column for values under one key (outbox, TOTP and webhook
secrets, ring keys, stills), a key id per subject for values under data keys, and data keys that name the ring key
that wraps them (`2 ‖ ring key id ‖ …`, a key of `key_ring`).

Usage: scripts/scan-at-rest.py CUBBY_BINARY [--postgres-url URL] [--port N]
Exits 0 when nothing was found in clear and every sealed value names its key, 1 otherwise, 2 when the run could not
be made.
"""
import argparse
import base64
import json
import os
import sqlite3
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


# Sealed columns: (table, column, extra condition, one key for the whole column, must hold a value in this run).
KEYED = [
    ("recipients", "contact", "", False, True),
    ("staff_accounts", "email_sealed", "", False, True),
    ("staff_accounts", "contact", "", False, False),
    ("staff_accounts", "totp_secret", "", True, False),
    ("notification_consents", "origin", "", False, False),
    ("outbox_messages", "payload", " AND sealed", True, False),
    ("evidence", "bytes", "", True, True),
    ("webhook_subscriptions", "secret", "", True, True),
    ("webhook_subscriptions", "previous_secret", "", True, True),
    ("key_ring", "sealed_key", "", True, True),
]
WRAPPED = [("recipients", "data_key"), ("staff_accounts", "data_key")]


def column_values(args, data, table, column, condition="", text=False):
    """The non-null values of a column, as bytes (as strings when `text`)."""
    sql = f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL{condition}"
    if args.postgres_url:
        if not text:
            sql = f"SELECT encode({column}, 'hex') FROM {table} WHERE {column} IS NOT NULL{condition}"
        out = subprocess.run(["psql", args.postgres_url, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, timeout=60, env={**os.environ})
        if out.returncode != 0:
            fail(f"psql: {out.stderr.decode(errors='replace')[:300]}")
        lines = out.stdout.decode().split()
        return lines if text else [bytes.fromhex(line) for line in lines]
    db = sqlite3.connect(f"file:{os.path.join(data, 'cubby.sqlite')}?mode=ro", uri=True, timeout=30)
    try:
        return [v if text else bytes(v) for (v,) in db.execute(sql)]
    finally:
        db.close()


def key_ids(args, data):
    """Every sealed value names its key; returns what is wrong."""
    wrong = []
    ring_ids = set(column_values(args, data, "key_ring", "id", text=True))
    summary = []
    for table, column, condition, one_key, required in KEYED:
        values = column_values(args, data, table, column, condition)
        ids = set()
        for v in values:
            if len(v) < 37 or v[0] != 1:
                wrong.append(f"{table}.{column}: a value ({len(v)} bytes, first byte {v[:1].hex()}) names no key")
            else:
                ids.add(v[1:9].hex())
        if required and not values:
            wrong.append(f"{table}.{column}: no value to check (the run should have written one)")
        if one_key and len(ids) > 1:
            wrong.append(f"{table}.{column}: {len(ids)} key ids under what is one key: {sorted(ids)}")
        if not one_key and len(ids) != len(values):
            wrong.append(f"{table}.{column}: {len(values)} values but {len(ids)} key ids (a data key per subject)")
        summary.append(f"{table}.{column} {len(values)}/{len(ids)}")
    for table, column in WRAPPED:
        values = column_values(args, data, table, column)
        for v in values:
            if len(v) != 69 or v[0] != 2:
                wrong.append(f"{table}.{column}: a data key ({len(v)} bytes) does not name its ring key")
            elif v[1:9].hex() not in ring_ids:
                wrong.append(f"{table}.{column}: a data key names ring key {v[1:9].hex()}, which the ring lacks")
        summary.append(f"{table}.{column} {len(values)}")
    log(f"key ids (values/distinct ids): {', '.join(summary)}; ring keys {sorted(ring_ids)}")
    return wrong


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
        status, hook = call("POST", base + "/api/v1/webhooks", {
            "url": "https://hooks.scan-test.example/cubby", "events": ["parcel.deposited"]}, admin)
        if status != 201:
            fail(f"subscribing a webhook: {status} {hook}")
        status, _ = call("POST", f"{base}/api/v1/webhooks/{hook['id']}/rotate-secret", token=admin)
        if status != 200:
            fail(f"rotating the webhook's secret: {status}")
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
        found += key_ids(args, data)
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
            log(f"found: {f}")
        log(f"FAIL: {len(found)} findings; work dir kept: {work}")
        return 1
    subprocess.run(["rm", "-rf", work], check=False)
    log("PASS: nothing personal or secret in clear, and every sealed value names its key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
