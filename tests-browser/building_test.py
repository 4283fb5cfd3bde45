#!/usr/bin/env python3
"""A building set up from nothing through the portal, in headless Chromium, against `cubby serve`.

Starts from an empty SQLite database: `cubby setup` makes the organization and its super-administrator, then
`cubby serve` (its key file sealed under a key-encryption key from a file, as a deployment runs it) serves the
portal on a free loopback port. In the browser:

  1. the super-administrator enrolls (password, authenticator, recovery codes) and signs in;
  2. creates a site, a locker unit from a layout file, a carrier and a courier credential for it, and a device
     credential for the unit (the unit's controller is played through the API with that credential);
  3. imports 200 recipients from a CSV file after a dry run that shows the two bad rows of a first file;
  4. a courier drops a parcel off through the API and the unit reports the door closed on it; the parcel is found
     by its tracking number, its timeline shows the events, and an event's inclusion proof leads to the signed
     checkpoint;
  5. the parcel is given to another recipient: the first PIN stops working and the new recipient picks it up with
     the PIN sent to them;
  6. the audit page downloads a forensic bundle that `cubby audit verify-bundle` accepts;
  7. the reports page draws the day: one parcel deposited, one picked up;
  8. the unit's page draws its compartments as the cabinet's grid.

axe-core runs on every page; a serious or critical violation fails the run.

Usage: python3 tests-browser/building_test.py [--keep] [--axe-script PATH]
Environment: CUBBY_BIN (default <repo>/.build/debug/cubby), CHROME_BIN, CHROMEDRIVER, AXE_SCRIPT.
Exits 0 when every check passed, 1 when one failed, 2 when the test could not start.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

try:
    import pyotp
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    import browsing
    from browsing import (NO_PROXY, AxeAudit, CheckFailed, Suite, bypass_proxy_for_loopback, default_axe_script,
                          expect, log, make_driver, quit_all)
    from portal_test import Page, Server, credential_row, free_port, fresh_code, http, inclusion_root
except ImportError as e:  # pragma: no cover
    print(f"missing Python package ({e}); install: pip install selenium pyotp axe-selenium-python", file=sys.stderr)
    sys.exit(2)

ORGANIZATION = "Harbour View Homes"
ADMIN = "manager@harbourview.example"
PASSWORD = "saffron ferry above quarry"
SITE = "Harbour View Tower"
UNIT = "Mailroom 1"
CARRIER = "Northwind Couriers"
RECIPIENTS = 200
TRACKING = "1ZHARBOUR0001"


def layout() -> dict:
    """The unit's layout file: three columns, the middle one with an accessible compartment at reachable height."""
    small = {"size": "S", "widthMm": 400, "heightMm": 100, "depthMm": 500, "accessible": False}
    medium = {"size": "M", "widthMm": 400, "heightMm": 250, "depthMm": 500, "accessible": False}
    large = {"size": "L", "widthMm": 400, "heightMm": 450, "depthMm": 500, "accessible": False}
    return {"name": UNIT, "columns": [
        {"compartments": [small, small, medium, medium]},
        {"compartments": [small, dict(medium, accessible=True), large]},
        {"compartments": [medium, medium, large]},
    ]}


class Deployment(Server):
    """`cubby setup`, then `cubby serve`, in a work directory of their own (stopped and read as the demo is)."""

    def __init__(self, binary: Path, workdir: Path):
        super().__init__(binary, workdir)
        self.port = free_port()
        self.notes = workdir / "notifications.jsonl"
        kek = workdir / "kek"
        kek.write_text(base64.b64encode(os.urandom(32)).decode())
        kek.chmod(0o600)
        self.options = ["--database", f"sqlite:{workdir / 'cubby.sqlite'}", "--keys", str(workdir / "keys.json"),
                        "--kek-file", str(kek), "--public-url", self.base, "--notify-file", str(self.notes)]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CUBBY_")}

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args], capture_output=True, text=True, timeout=120, env=self.env,
                              cwd=self.workdir)

    def setup(self) -> str:
        done = self.cli("setup", *self.options, "--organization", ORGANIZATION, "--admin-email", ADMIN)
        expect(done.returncode == 0, f"cubby setup failed: {done.stdout} {done.stderr}")
        link = re.search(r"(http://\S+/admin/enroll\?token=\S+)", done.stdout)
        expect(link, f"cubby setup printed no enrollment link: {done.stdout}")
        return link.group(1)

    def start(self):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", *self.options, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.workdir, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env)
        logf.close()
        deadline = time.time() + 60
        while time.time() < deadline and self.proc.poll() is None:
            try:
                if http("GET", self.base + "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"cubby serve did not start; see {self.log_path}")

    def pin_for(self, parcel: str, recipient: str, after: int = 0, timeout: float = 20) -> tuple[str, int]:
        """The PIN of the latest parcel-ready notification for (parcel, recipient) past line `after`, and the
        number of lines read."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            lines = self.notes.read_text().splitlines() if self.notes.exists() else []
            found = [json.loads(l) for l in lines[after:]]
            found = [n for n in found if n.get("parcelId") == parcel and n.get("recipientId") == recipient and n.get("pin")]
            if found:
                return found[-1]["pin"], len(lines)
            time.sleep(0.2)
        raise CheckFailed(f"no parcel-ready notification with a PIN for recipient {recipient} within {timeout:.0f} s")


def run(args) -> int:
    started = time.time()
    binary = Path(os.environ.get("CUBBY_BIN") or REPO / ".build" / "debug" / "cubby").resolve()
    if not os.access(binary, os.X_OK):
        log(f"the cubby binary {binary} is missing or not executable (set CUBBY_BIN)")
        return 2
    bypass_proxy_for_loopback()
    workdir = Path(tempfile.mkdtemp(prefix="cubby-building-test-"))
    log(f"work dir {workdir}; server binary {binary}")
    axe = AxeAudit(default_axe_script(args.axe_script or os.environ.get("AXE_SCRIPT")),
                   name_unknown_tags=True, ignore_known_false_positives=True)
    suite = Suite(workdir, axe, source=__file__)
    server = Deployment(binary, workdir)
    drivers = []
    state: dict = {}

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        try:
            state["enroll_url"] = server.setup()
            server.start()
        except (RuntimeError, CheckFailed) as e:
            log(f"FAIL start: {e}\n{server.log_tail()}")
            return 2
        base = server.base
        log(f"cubby serve on {base} (pid {server.proc.pid})")
        js = Page(d := make_driver(workdir, "js", javascript=True), base, "js")
        drivers.append(d)

        def api(method: str, path: str, body: dict | None = None, token: str | None = None):
            return http(method, base + path, body, token=token or state.get("admin_token"))

        def notice() -> str:
            return js.text("main .notice[role=status]") if js.has("main .notice[role=status]") else ""

        # ---- 1. enrollment and sign-in ---------------------------------------------------------

        def enroll():
            js.get(state["enroll_url"])
            js.expect_page("/admin/enroll", "Set up your account", 200)
            suite.audit(js, "enroll: password")
            js.fill("password", PASSWORD)
            js.fill("confirm", PASSWORD)
            js.submit("Continue")
            js.expect_page("/admin/enroll", "Set up your authenticator", 200)
            suite.audit(js, "enroll: authenticator")
            uri = js.text("#otpauth-uri")
            secret = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query))["secret"]
            state["totp"] = pyotp.TOTP(secret)
            code, step, _ = fresh_code(state["totp"], -1, "enrollment")
            js.fill("code", code)
            js.submit("Confirm")
            state["last_step"] = step
            js.expect_page("/admin/enroll/confirm", "Save your recovery codes", 200)
            suite.audit(js, "enroll: recovery codes")
            expect(len(js.els("ol#recovery-codes li code")) == 10, "not ten recovery codes")
            return f"{ADMIN} enrolled"

        def sign_in():
            js.get("/admin/sign-in")
            js.expect_page("/admin/sign-in", "Sign in", 200)
            suite.audit(js, "sign-in")
            code, step, _ = fresh_code(state["totp"], state["last_step"], "the enrollment used the current one")
            js.fill("email", ADMIN)
            js.fill("password", PASSWORD)
            js.fill("code", code)
            js.submit("Sign in")
            state["last_step"] = step
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            suite.audit(js, "dashboard (empty organization)")
            return js.signed_in_as() or ""

        suite.step("1. the super-administrator enrolls", enroll, [js])
        suite.step("1. and signs in", sign_in, [js], needs=("1. the super-administrator enrolls",))
        signed_in = ("1. and signs in",)

        def issue(kind: str, label: str, carrier: str | None = None, unit: str | None = None) -> str:
            js.get("/admin/credentials")
            js.expect_page("/admin/credentials", "Credentials", 200)
            Select(js.el("#kind")).select_by_value(kind)
            js.fill("label", label)
            if carrier:
                Select(js.el("#carrier")).select_by_visible_text(carrier)
            if unit:
                Select(js.el("#unit")).select_by_visible_text(unit)
            js.submit("Issue credential")
            js.expect_page("/admin/credentials", "Credentials", 200)
            expect(js.has("#issued-token"), f"no credential issued ({kind}): {js.alert()!r}")
            token = js.text("#issued-token")
            expect(token.startswith(f"cby_{kind}_"), f"the {kind} credential is {token[:12]!r}…")
            expect(credential_row(js, label)["cells"][0] == kind, f"the {kind} credential is not listed")
            return token

        def admin_credential():
            state["admin_token"] = issue("admin", "building test script")
            suite.audit(js, "credentials (admin credential issued)")
            status, _ = api("GET", "/api/v1/sites")
            expect(status == 200, f"the admin credential does not work: HTTP {status}")
            return "admin credential for the API checks"

        suite.step("2. an admin credential for the test's API checks", admin_credential, [js], needs=signed_in)

        # ---- 2. the building: site, unit from a layout, carrier, credentials -----------------

        def site():
            js.get("/admin/sites")
            js.expect_page("/admin/sites", "Sites", 200)
            suite.audit(js, "sites (none yet)")
            js.fill("name", SITE)
            js.fill("address", "1 Quay Street, Portsmouth")
            js.fill("timeZone", "Not/AZone")
            js.submit("Create the site")
            expect(js.status() == 400 and js.alert(), f"an unknown time zone was not refused: {js.status()} {js.alert()!r}")
            expect(js.el("#name").get_attribute("value") == SITE, "the refused form lost the name")
            suite.audit(js, "sites (a refused form)")
            status, sites = api("GET", "/api/v1/sites")
            expect(status == 200 and sites.get("sites") == [], f"a refused form made a site: {sites}")
            js.fill("timeZone", "Europe/London")
            js.submit("Create the site")
            js.expect_page("^/admin/sites/[0-9a-f-]{36}", f"Site: {SITE}", 200)
            state["site_id"] = js.path_only.rsplit("/", 1)[1]
            suite.audit(js, "site")
            _, made = api("GET", f"/api/v1/sites/{state['site_id']}")
            expect(made.get("timeZone") == "Europe/London", f"the site as the API sees it: {made}")
            return f"site {state['site_id']}"

        def unit():
            js.get(f"/admin/sites/{state['site_id']}")
            path = workdir / "layout.json"
            path.write_text(json.dumps(layout()))
            js.el("#layout-file").send_keys(str(path))
            js.submit("Upload and create the unit")
            js.expect_page("^/admin/units/[0-9a-f-]{36}", f"Unit {UNIT}", 200)
            state["unit_id"] = js.path_only.rsplit("/", 1)[1]
            suite.audit(js, "unit (new, empty)")
            _, u = api("GET", f"/api/v1/units/{state['unit_id']}")
            expect(len(u.get("compartments", [])) == 10, f"the unit has {len(u.get('compartments', []))} compartments, not 10")
            return f"unit {state['unit_id']} with 10 compartments"

        def carrier():
            js.get("/admin/carriers")
            js.expect_page("/admin/carriers", "Carriers", 200)
            suite.audit(js, "carriers (none yet)")
            js.fill("name", CARRIER)
            js.el(f"input[name=site][value='{state['site_id']}']").click()
            js.submit("Create the carrier")
            js.expect_page("^/admin/carriers/[0-9a-f-]{36}", f"Carrier: {CARRIER}", 200)
            suite.audit(js, "carrier")
            js.fill("label", "Northwind van 7")
            js.submit("Issue the courier credential")
            expect(js.has("#issued-token"), f"no courier credential issued: {js.alert()!r}")
            state["courier_token"] = js.text("#issued-token")
            expect(state["courier_token"].startswith("cby_courier_"), "the carrier page issued no courier credential")
            suite.audit(js, "carrier (courier credential issued)")
            state["device_token"] = issue("device", "Mailroom 1 controller", unit=UNIT)
            return "carrier serving the site; courier and device credentials"

        suite.step("2. a site (a refused time zone first)", site, [js], needs=signed_in)
        suite.step("2. a unit from a layout file", unit, [js], needs=("2. a site (a refused time zone first)",))
        suite.step("2. a carrier and its courier credential; the unit's device credential", carrier, [js],
                   needs=("2. a unit from a layout file",))
        building = ("2. a carrier and its courier credential; the unit's device credential",
                    "2. an admin credential for the test's API checks")

        # ---- 3. recipients from a CSV file ---------------------------------------------------

        def recipients():
            rows = [f"Resident {i:03d},resident{i:03d}@harbourview.example,{100 + i}" for i in range(1, RECIPIENTS + 1)]
            bad = rows[:57] + ["Broken Email,not-an-email,999"] + rows[57:120] + [",nameless@harbourview.example,998"] + rows[120:]
            js.get("/admin/recipients/import")
            js.expect_page("/admin/recipients/import", "Import recipients", 200)
            Select(js.el("#import-site")).select_by_visible_text(SITE)
            (workdir / "bad.csv").write_text("name,email,apartment\n" + "\n".join(bad) + "\n")
            js.el("#import-file").send_keys(str(workdir / "bad.csv"))
            js.submit("Check the file")
            js.expect_page("/admin/recipients/import", "Import recipients", 422)
            rejected = [th.text.strip() for th in js.els("main table tbody th")]
            expect(rejected == ["59", "123"], f"the dry run's rejected rows are {rejected}, not rows 59 and 123")
            expect(not js.has("form input[name=confirm]"), "a file with bad rows offers to confirm")
            suite.audit(js, "import (two bad rows)")
            (workdir / "good.csv").write_text("name,email,apartment\n" + "\n".join(rows) + "\n")
            Select(js.el("#import-site")).select_by_visible_text(SITE)
            js.el("#import-file").send_keys(str(workdir / "good.csv"))
            js.submit("Check the file")
            js.expect_page("/admin/recipients/import", "Import recipients", 200)
            counts = dict(zip([e.text.strip() for e in js.els("main dl dt")], [e.text.strip() for e in js.els("main dl dd")]))
            expect(counts.get("New") == str(RECIPIENTS), f"the dry run says {counts}")
            _, none = api("GET", "/api/v1/recipients?email=resident200%40harbourview.example")
            expect(none.get("recipients") == [], "the dry run wrote recipients")
            suite.audit(js, "import (dry run)")
            js.submit("Confirm the import")
            js.expect_page("/admin/recipients/import", "Import done", 200)
            suite.audit(js, "import (done)")
            for i in (17, 42, 200):
                _, found = api("GET", f"/api/v1/recipients?email=resident{i:03d}%40harbourview.example")
                expect(len(found.get("recipients", [])) == 1, f"resident {i} was not imported: {found}")
                state[f"r{i}"] = found["recipients"][0]["id"]
            return f"{RECIPIENTS} imported after a dry run refused rows 59 and 123"

        suite.step("3. 200 recipients from a CSV file, after a dry run that shows two bad rows", recipients, [js],
                   needs=building)

        # ---- 4. a drop-off through the API; the parcel in the portal ------------------------

        def drop_off():
            status, body = api("POST", f"/api/v1/units/{state['unit_id']}/dropoffs",
                               {"trackingNumber": TRACKING, "recipientId": state["r17"], "size": "S"},
                               token=state["courier_token"])
            expect(status == 201, f"the courier's drop-off: {status} {body}")
            state["parcel_id"] = body["parcelId"]
            compartment = body["compartment"]["id"]
            state["compartment_id"] = compartment
            for event in ({"type": "door_opened", "compartmentId": compartment},
                          {"type": "door_closed", "compartmentId": compartment, "itemPresent": True}):
                status, answer = api("POST", f"/api/v1/units/{state['unit_id']}/events", event, token=state["device_token"])
                expect(status == 202, f"the unit's {event['type']}: {status} {answer}")
            deadline, parcel = time.time() + 20, {}
            while time.time() < deadline and parcel.get("state") != "deposited":
                _, parcel = api("GET", f"/api/v1/parcels/{state['parcel_id']}")
                time.sleep(0.2)
            expect(parcel.get("state") == "deposited", f"the parcel is not deposited: {parcel}")
            state["pin17"], state["notes_read"] = server.pin_for(state["parcel_id"], state["r17"])
            return f"parcel {state['parcel_id']} deposited in {body['compartment'].get('label')}; PIN sent"

        def parcel_page():
            js.get("/admin/parcels")
            js.expect_page("/admin/parcels", "Parcels", 200)
            js.fill("f-tracking", TRACKING)
            js.submit("Search parcels")
            links = [a.text.strip() for a in js.els("table tbody th a")]
            expect(links == [TRACKING], f"the search lists {links}")
            suite.audit(js, "parcels (search)")
            js.follow(TRACKING)
            js.expect_page(f"/admin/parcels/{state['parcel_id']}", f"Parcel {TRACKING}", 200)
            suite.audit(js, "parcel page")
            events = js.els("ol.timeline > li")
            types = [li.find_element(By.TAG_NAME, "strong").text.strip() for li in events]
            expect({"parcel.reserved", "parcel.deposited"} <= set(types), f"the timeline shows {types}")
            deposited = events[types.index("parcel.deposited")]
            old = js.d.find_element(By.TAG_NAME, "html")
            deposited.find_element(By.CSS_SELECTOR, "a[href$='/proof']").click()
            js.wait_for_new_page(old)
            expect(js.status() == 200, f"the proof link answered HTTP {js.status()}")
            proof = json.loads(js.d.find_element(By.TAG_NAME, "body").text)
            lines = proof["checkpoint"].split("\n")
            leaf = hashlib.sha256(b"\x00" + base64.b64decode(proof["canonical"])).digest()
            root = inclusion_root(proof["leafIndex"], proof["treeSize"], leaf, [base64.b64decode(h) for h in proof["proof"]])
            expect(int(lines[1]) == proof["treeSize"] and root == base64.b64decode(lines[2]),
                   "the inclusion proof does not lead to the checkpoint's root")
            return f"timeline {types}; proof of leaf {proof['leafIndex']} in a tree of {proof['treeSize']}"

        suite.step("4. a courier drops a parcel off through the API", drop_off, [js],
                   needs=("3. 200 recipients from a CSV file, after a dry run that shows two bad rows",))
        suite.step("4. the parcel is found; its timeline and an inclusion proof", parcel_page, [js],
                   needs=("4. a courier drops a parcel off through the API",))

        # ---- 5. reassigned and picked up with the new code -----------------------------------

        def reassign():
            js.get(f"/admin/parcels/{state['parcel_id']}")
            js.fill("reassign-email", "resident042@harbourview.example")
            if js.has("#reassign-code, form[action$='/reassign'] input[name=code]"):
                code, step, _ = fresh_code(state["totp"], state["last_step"], "step-up")
                js.el("form[action$='/reassign'] input[name=code]").send_keys(code)
                state["last_step"] = step
            js.submit("Give to this recipient")
            js.expect_page(f"/admin/parcels/{state['parcel_id']}", f"Parcel {TRACKING}", 200)
            suite.audit(js, "parcel page (reassigned)")
            _, parcel = api("GET", f"/api/v1/parcels/{state['parcel_id']}")
            expect(parcel.get("recipientId") == state["r42"], f"the parcel's recipient is {parcel.get('recipientId')}")
            pin42, _ = server.pin_for(state["parcel_id"], state["r42"], after=state["notes_read"])
            status, answer = api("POST", f"/api/v1/units/{state['unit_id']}/pickups", {"code": state["pin17"]},
                                 token=state["device_token"])
            expect(400 <= status < 500, f"the first recipient's PIN still answers {status} {answer}")
            status, answer = api("POST", f"/api/v1/units/{state['unit_id']}/pickups", {"code": pin42},
                                 token=state["device_token"])
            expect(status == 200 and answer.get("parcelId") == state["parcel_id"], f"the new PIN: {status} {answer}")
            compartment = state["compartment_id"]
            for event in ({"type": "door_opened", "compartmentId": compartment},
                          {"type": "door_closed", "compartmentId": compartment, "itemPresent": False}):
                status, _ = api("POST", f"/api/v1/units/{state['unit_id']}/events", event, token=state["device_token"])
                expect(status == 202, f"the unit's {event['type']} after the pickup: {status}")
            deadline = time.time() + 20
            while time.time() < deadline and parcel.get("state") != "picked_up":
                _, parcel = api("GET", f"/api/v1/parcels/{state['parcel_id']}")
                time.sleep(0.2)
            expect(parcel.get("state") == "picked_up", f"the parcel is {parcel.get('state')} after the pickup")
            return "old PIN refused; picked up with the new recipient's PIN"

        suite.step("5. reassigned to another recipient and picked up with the new code", reassign, [js],
                   needs=("4. a courier drops a parcel off through the API",))

        # ---- 6. a forensic bundle; 7. reports; 8. the unit's grid ---------------------------

        def bundle():
            js.get("/admin/audit")
            js.expect_page("/admin/audit", "Audit log", 200)
            suite.audit(js, "audit log")
            csrf = js.el("form[action='/admin/audit/bundle'] input[name=csrf]").get_attribute("value")
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in js.d.get_cookies())
            req = urllib.request.Request(
                f"{base}/admin/audit/bundle", method="POST", data=urllib.parse.urlencode({"csrf": csrf}).encode(),
                headers={"Cookie": cookie, "Origin": base, "Content-Type": "application/x-www-form-urlencoded"})
            with NO_PROXY.open(req, timeout=60) as r:
                expect(r.headers.get("Content-Type") == "application/zip", f"the bundle is {r.headers.get('Content-Type')}")
                (workdir / "bundle.zip").write_bytes(r.read())
            _, key = api("GET", "/api/v1/audit/key")
            check = subprocess.run([str(binary), "audit", "verify-bundle", str(workdir / "bundle.zip"), "--key", key["key"]],
                                   capture_output=True, text=True, timeout=60)
            expect(check.returncode == 0 and "bundle: ok" in check.stdout, f"verify-bundle: {check.stdout} {check.stderr}")
            return check.stdout.strip().splitlines()[0]

        def reports():
            js.get("/admin/reports")
            js.expect_page("/admin/reports", "Reports", 200)
            suite.audit(js, "reports")
            from datetime import datetime
            from zoneinfo import ZoneInfo
            today = datetime.now(ZoneInfo("Europe/London")).date().isoformat()

            def table(caption: str) -> dict[str, str]:
                for t in js.els("main table"):
                    if t.find_element(By.TAG_NAME, "caption").text.strip() == caption:
                        return {tr.find_element(By.CSS_SELECTOR, "th[scope=row]").text.strip():
                                tr.find_element(By.TAG_NAME, "td").text.strip()
                                for tr in t.find_elements(By.CSS_SELECTOR, "tbody tr")}
                raise CheckFailed(f"no table with the caption {caption!r}")

            deposited = table("Parcels deposited on each day")
            expect(deposited.get(today) == "1", f"today ({today}) shows {deposited.get(today)!r} deposited")
            picked = table("Parcels picked up on each day")
            expect(picked.get(today) == "1", f"today ({today}) shows {picked.get(today)!r} picked up")
            charts = js.els("main svg[role=img]")
            expect(charts and all(svg.find_elements(By.CSS_SELECTOR, "rect.chart-bar") for svg in charts[:2]),
                   "the day's charts have no bars")
            return f"{len(charts)} charts; {today}: 1 deposited, 1 picked up"

        def unit_grid():
            js.get(f"/admin/units/{state['unit_id']}")
            js.expect_page(f"/admin/units/{state['unit_id']}", f"Unit {UNIT}", 200)
            columns = [th.text.strip() for th in js.els("table.unit-grid thead th")]
            expect(columns == ["Column A", "Column B", "Column C"], f"the grid's columns are {columns}")
            cells = {td.get_attribute("id") for td in js.els("table.unit-grid td.cell")}
            expected = {f"c-{c}{r}" for c, n in (("A", 4), ("B", 3), ("C", 3)) for r in range(1, n + 1)}
            expect(cells == expected, f"the grid draws {sorted(cells)}")
            tall = js.el("td#c-B3").get_attribute("rowspan")
            expect(tall and int(tall) > 1, f"the large compartment B3 spans {tall!r} rows")
            expect("accessible" in js.text("td#c-B2"), "B2 is not marked accessible")
            suite.audit(js, "unit page (grid)")
            return f"{len(cells)} compartments in 3 columns; B3 spans {tall} rows"

        suite.step("6. the audit page's forensic bundle verifies", bundle, [js],
                   needs=("5. reassigned to another recipient and picked up with the new code",))
        suite.step("7. the reports page draws the day", reports, [js],
                   needs=("5. reassigned to another recipient and picked up with the new code",))
        suite.step("8. the unit's page draws the cabinet's grid", unit_grid, [js], needs=("2. a unit from a layout file",))
    finally:
        quit_all(drivers)
        server.stop()

    def on_failure():
        log(f"server log: {server.log_path}\n--- last lines ---\n{server.log_tail(15)}\n---")

    return suite.report(started, args.keep, page_width=40, pages_word="pages", on_failure=on_failure)


if __name__ == "__main__":
    sys.exit(browsing.main(run, __doc__))
