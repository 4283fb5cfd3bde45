#!/usr/bin/env python3
"""Checks the security records a syslog receiver (rsyslog) wrote, one per line as
`PRI<TAB>HOSTNAME<TAB>APP-NAME<TAB>MSGID<TAB>MSG`.

  check_records.py ocsf FILE   every record is OCSF 1.5.0: class 2004 validated with py-ocsf-models'
                               DetectionFinding, 3001 and 3002 with the JSON Schemas in tests-siem/schemas/
  check_records.py cef FILE    every record is a well-formed CEF:0 line

Prints one JSON object per record ({"msgid", "severity", "class_uid" | "signature", "leaf", "log", "event"}) for the
calling script to query with jq; exits 1 at the first record that does not validate.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(why, line):
    print(f"check_records: {why}: {line[:400]}", file=sys.stderr)
    sys.exit(1)


def records(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split("\t", 4)
            if len(parts) != 5:
                fail("not five tab-separated fields", line)
            pri, host, app, msgid, msg = parts
            yield line, int(pri), host, app, msgid, msg.lstrip("\ufeff")


def check_ocsf(path):
    import jsonschema
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding

    schemas = {}
    for uid, name in ((3001, "account_change-3001"), (3002, "authentication-3002")):
        with open(os.path.join(HERE, "schemas", name + ".schema.json"), encoding="utf-8") as f:
            schemas[uid] = json.load(f)
    for line, pri, host, app, msgid, msg in records(path):
        if app != "cubby":
            fail("APP-NAME is not cubby", line)
        try:
            obj = json.loads(msg)
        except json.JSONDecodeError as e:
            fail(f"MSG is not JSON ({e})", line)
        uid = obj.get("class_uid")
        if uid == 2004:
            try:
                DetectionFinding.model_validate(obj)
            except Exception as e:  # pydantic's ValidationError, reported as is
                fail(f"not a valid Detection Finding: {e}", line)
        elif uid in schemas:
            try:
                jsonschema.validate(obj, schemas[uid])
            except jsonschema.ValidationError as e:
                fail(f"not a valid class {uid} record: {e.message}", line)
        else:
            fail(f"unexpected class_uid {uid}", line)
        meta = obj["metadata"]
        if meta.get("event_code") != msgid:
            fail("MSGID and metadata.event_code differ", line)
        print(json.dumps({
            "msgid": msgid, "severity": pri % 8, "class_uid": uid, "activity_id": obj["activity_id"],
            "leaf": meta["sequence"], "log": meta["log_name"], "event": meta["uid"], "host": host,
        }))


CEF = re.compile(r"^CEF:0\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|"
                 r"((?:[^|\\]|\\.)*)\|(\d+)\|(.*)$")
EXT = re.compile(r"(\w+)=((?:[^=\\]|\\.)*?)(?= \w+=|$)")


def check_cef(path):
    for line, pri, host, app, msgid, msg in records(path):
        m = CEF.match(msg)
        if not m:
            fail("not a CEF:0 line", line)
        vendor, product, version, signature, name, severity, ext = m.groups()
        if signature != msgid:
            fail("MSGID and the signature id differ", line)
        if not 0 <= int(severity) <= 10:
            fail("severity outside 0-10", line)
        fields = {k: v.replace("\\=", "=").replace("\\\\", "\\") for k, v in EXT.findall(ext)}
        for key in ("rt", "externalId", "cn1", "cs2", "msg"):
            if key not in fields:
                fail(f"no {key} in the extension", line)
        if fields.get("cn1Label") != "leafIndex" or fields.get("cs2Label") != "logOrigin":
            fail("the leaf index or log origin is not labelled", line)
        print(json.dumps({
            "msgid": msgid, "severity": pri % 8, "signature": signature, "cef_severity": int(severity),
            "leaf": int(fields["cn1"]), "log": fields["cs2"], "event": fields["externalId"], "host": host,
        }))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("ocsf", "cef"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    (check_ocsf if sys.argv[1] == "ocsf" else check_cef)(sys.argv[2])
