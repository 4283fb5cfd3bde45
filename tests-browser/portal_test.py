#!/usr/bin/env python3
"""Headless-browser tests of Cubby's management portal (/admin), run against the real server.

Starts `cubby demo` in a fresh temporary directory on a free loopback port, then drives the portal
in headless Chromium through Selenium:

  (a) enrolls the demo super-administrator through the pages (password, authenticator, recovery
      codes), reading the TOTP key from the page and making codes with pyotp;
  (b) waits for the next TOTP step and signs in; checks the dashboard's site, units and occupancy;
  (c) invites an auditor, issues a device credential for a unit and revokes it (and checks through
      the API that the token works before and not after);
  (d) signs out and checks the dashboard is no longer reachable;
  (e) signs in with a recovery code and signs out;
  (f) replays the TOTP code of (b): refused with the generic error;
  (g) replays the recovery code of (e): refused;
  (h) runs axe-core on every page it visits and fails on any "serious" or "critical" violation;
  and, in a second browser with JavaScript disabled: enrolls the invited auditor, signs it in with
  a recovery code, signs the administrator in with a fresh TOTP code and uses "Sign out everywhere".

Usage: python3 tests-browser/portal_test.py [--keep] [--axe-script PATH]
Environment: CUBBY_BIN (default <repo>/.build/debug/cubby), CHROME_BIN, CHROMEDRIVER, AXE_SCRIPT.
Exits 0 when every check passed, 1 when one failed, 2 when the test could not start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # browsing.py, from any working directory

try:
    import pyotp
    from selenium import webdriver
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select

    import browsing
    from browsing import (NO_PROXY, AxeAudit, CheckFailed, Suite, bypass_proxy_for_loopback,
                          check_javascript_off, default_axe_script, expect, log, make_driver, quit_all,
                          xpath_literal)
except ImportError as e:  # pragma: no cover
    print(f"missing Python package ({e}); install: pip install selenium pyotp axe-selenium-python", file=sys.stderr)
    sys.exit(2)

ADMIN = "admin@example.org"
ADMIN_PASSWORD = "violet tram under lantern"
AUDITOR = "auditor@example.org"
AUDITOR_PASSWORD = "copper kettle behind orchard"
COMMON_PASSWORD = "123qweasdzxc"  # 12 characters, on the server's common-password list
GENERIC_SIGN_IN_ERROR = "The email, password or code is not right, or the account cannot sign in now."
SITE = "Riverside Apartments"
UNITS = ("Lobby A", "Lobby B")
COMPARTMENTS_PER_UNIT = 24  # DemoSeed.demoLayout
STEP = 30  # TOTP period, seconds


class Skipped(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# TOTP timing


def current_step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // STEP)


def fresh_code(totp: pyotp.TOTP, last_used_step: int, why: str) -> tuple[str, int, float]:
    """A code of a step after `last_used_step` (waiting for that step to begin): (code, step, time)."""
    while current_step() <= last_used_step:
        wait = (last_used_step + 1) * STEP - time.time() + 0.3
        log(f"    waiting {wait:.1f} s for the next TOTP step ({why})")
        time.sleep(max(0.05, wait))
    now = time.time()
    return totp.at(now), current_step(now), now


def wrong_code(totp: pyotp.TOTP) -> str:
    """A 6-digit code that matches none of the steps the server accepts now."""
    now = time.time()
    near = {totp.at(now + d * STEP) for d in (-2, -1, 0, 1, 2)}
    for candidate in ("000000", "123456", "654321", "111111"):
        if candidate not in near:
            return candidate
    raise RuntimeError("unreachable")


# ---------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 10):
    """A plain HTTP call to the server (never through a proxy): (status, parsed JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with NO_PROXY.open(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class Server:
    def __init__(self, binary: Path, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = workdir / "server.log"
        self.known_keys: dict[str, str] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3):
        # The demo seals its key file; a key file in the older clear format written here first is sealed with the
        # same secrets, so the suite knows the hash key that signs unsubscribe and report links.
        keys_path = self.workdir / "cubby-data" / "keys.json"
        if not keys_path.exists():
            keys_path.parent.mkdir(parents=True, exist_ok=True)
            self.known_keys = {name: base64.b64encode(os.urandom(32)).decode() for name in (
                "secretHashKey", "qrSigningKey", "outboxKey", "keyEncryptionKey", "checkpointSigningKey")}
            keys_path.write_text(json.dumps({"version": 2, **self.known_keys}))
            keys_path.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUBBY_")}
        # The Deliveries page's check subscribes a webhook on loopback whose endpoint refuses connections; its
        # first failure then waits a minute, so that the delivery is still "failed" when the page shows it.
        env.update(CUBBY_WEBHOOK_ALLOW_PRIVATE="true", CUBBY_OUTBOX_RETRY_BASE_MS="60000")
        # CUBBY_PORTAL_TEST_PORT pins the server's port (machines where only some ports may be used), and puts the
        # demo units' edge listener, kiosk pages and simulator endpoints on the next six ports instead of their
        # defaults (8090, 8190 and the port plus 363).
        pinned = os.environ.get("CUBBY_PORTAL_TEST_PORT")
        for attempt in range(attempts):
            self.port = int(pinned) if pinned else free_port()
            ports = ["--edge-port", str(self.port + 1), "--kiosk-port", str(self.port + 2),
                     "--control-port", str(self.port + 4)] if pinned else []
            logf = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [str(self.binary), "demo", "--host", "127.0.0.1", "--port", str(self.port), *ports],
                cwd=self.workdir, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            logf.close()
            deadline = time.time() + 60
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if http("GET", self.base + "/healthz", timeout=2)[0] == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.2)
            log(f"  server did not come up on port {self.port} (attempt {attempt + 1}); log: {self.log_path}")
            self.stop()
        raise RuntimeError(f"the server did not start; see {self.log_path}")

    def stop(self):
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# The browser


class Page(browsing.Page):
    """One browser driving the portal."""

    alert_css = "div.error[role=alert]"
    follow_waits_for_load = False

    def button(self, label: str, scope=None):
        return (scope or self.d).find_element(By.XPATH, f".//button[normalize-space()={xpath_literal(label)}]")

    def submit(self, label: str, scope=None):
        """Clicks a submit button and waits for the next page."""
        old = self.d.find_element(By.TAG_NAME, "html")
        self.button(label, scope).click()
        self.wait_for_new_page(old)

    def signed_in_as(self) -> str | None:
        found = self.els("header .who p")
        return found[0].text.strip() if found else None


# ---------------------------------------------------------------------------------------------
# The run


def run(args) -> int:
    started = time.time()
    binary = Path(os.environ.get("CUBBY_BIN") or REPO / ".build" / "debug" / "cubby")
    if not binary.is_absolute():
        binary = (REPO / binary).resolve() if not binary.exists() else binary.resolve()
    if not os.access(binary, os.X_OK):
        log(f"the cubby binary {binary} is missing or not executable (set CUBBY_BIN)")
        return 2
    bypass_proxy_for_loopback()

    workdir = Path(tempfile.mkdtemp(prefix="cubby-portal-test-"))
    log(f"work dir {workdir}; server binary {binary}")
    axe = AxeAudit(default_axe_script(args.axe_script or os.environ.get("AXE_SCRIPT")),
                   name_unknown_tags=True, ignore_known_false_positives=True)
    suite = Suite(workdir, axe, source=__file__)
    server = Server(binary, workdir)
    drivers: list[webdriver.Chrome] = []
    state: dict = {}

    def on_signal(signum, _frame):
        log(f"\nterminated by signal {signum}; stopping the browsers and the server; work dir kept: {workdir}")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        try:
            server.start()
        except RuntimeError as e:
            log(f"FAIL server start: {e}\n{server.log_tail()}")
            return 2
        base = server.base
        enrollment_file = workdir / "cubby-data" / "admin-enrollment.txt"
        state["enroll_url"] = enrollment_file.read_text().strip()
        log(f"server on {base} (pid {server.proc.pid}); enrollment link from {enrollment_file}")
        manifest = json.loads((workdir / "cubby-data" / "demo.json").read_text())

        js = Page(d := make_driver(workdir, "js", javascript=True), base, "js")
        drivers.append(d)
        nojs = Page(d := make_driver(workdir, "nojs", javascript=False), base, "nojs")
        drivers.append(d)

        # ---- (a) enrollment --------------------------------------------------------------------

        def error_page():
            js.get("/admin/enroll?token=bogus")
            js.expect_page("/admin/enroll", "Not done", 400)
            msg = js.text("#message")
            expect("not valid" in msg, f"unexpected message on the error page: {msg!r}")
            expect(js.d.find_element(By.LINK_TEXT, "Back to the portal").get_attribute("href").endswith("/admin"),
                   "the error page has no link back to the portal")
            suite.audit(js, "message/error page (bogus enrollment link)")

        def enroll_password():
            url = state["enroll_url"]
            expect(url.startswith(base + "/admin/enroll?token="), f"unexpected enrollment link {url!r}")
            js.get(url)
            js.expect_page("/admin/enroll", "Set up your account", 200)
            intro = js.text("main > p")
            expect(ADMIN in intro and "super-admin" in intro, f"the page does not name the account and role: {intro!r}")
            suite.audit(js, "enroll: password page")
            # A common password is refused with an inline error on the same page.
            js.fill("password", COMMON_PASSWORD)
            js.fill("confirm", COMMON_PASSWORD)
            js.submit("Continue")
            js.expect_page("/admin/enroll", "Set up your account", 400)
            expect(js.alert(), "no error alert after a common password")
            log(f"    common password refused: {js.alert()!r}")
            suite.audit(js, "enroll: password page with error")
            js.fill("password", ADMIN_PASSWORD)
            js.fill("confirm", ADMIN_PASSWORD)
            js.submit("Continue")
            js.expect_page("/admin/enroll", "Set up your authenticator", 200)

        def enroll_authenticator():
            uri = js.text("#otpauth-uri")
            parsed = urllib.parse.urlsplit(uri)
            q = dict(urllib.parse.parse_qsl(parsed.query))
            expect(parsed.scheme == "otpauth" and parsed.netloc == "totp", f"not a TOTP otpauth URI: {uri!r}")
            expect(urllib.parse.unquote(parsed.path) == f"/Cubby:{ADMIN}", f"unexpected label in {uri!r}")
            expect(q.get("issuer") == "Cubby" and q.get("digits") == "6" and q.get("period") == "30"
                   and q.get("algorithm", "SHA1").upper() == "SHA1", f"unexpected parameters in {uri!r}")
            secret = q.get("secret", "")
            expect(re.fullmatch(r"[A-Z2-7]{32}", secret), f"unexpected secret {secret!r} (expected 160 bits base32)")
            shown = js.text("#totp-secret")
            expect(re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})*( [A-Z2-7]{1,3})?", shown),
                   f"#totp-secret is not uppercase groups of 4: {shown!r}")
            expect(shown.replace(" ", "") == secret, "#totp-secret differs from the URI's secret")
            svg = js.el("figure.qr svg")
            expect(svg.get_attribute("role") == "img" and svg.get_attribute("aria-label"), "the QR code SVG has no role=img/name")
            state["qr"] = decode_qr(svg, workdir, uri)
            suite.audit(js, "enroll: authenticator page")
            totp = pyotp.TOTP(secret)  # the independent authenticator
            state["totp"] = totp
            # A wrong code is refused on the same page, with the same key.
            js.fill("code", wrong_code(totp))
            js.submit("Confirm")
            js.expect_page("/admin/enroll/confirm", "Set up your authenticator", 400)
            expect(js.alert(), "no error alert after a wrong code")
            expect(js.text("#totp-secret").replace(" ", "") == secret, "the key changed after a wrong code")
            suite.audit(js, "enroll: authenticator page with error")
            code, step, _ = fresh_code(totp, -1, "enrollment")
            js.fill("code", code)
            js.submit("Confirm")
            state["last_step"] = step
            js.expect_page("/admin/enroll/confirm", "Save your recovery codes", 200)
            return f"key {len(secret) * 5} bits; {state['qr']}"

        def recovery_codes_page():
            codes = [e.text.strip() for e in js.els("ol#recovery-codes li code")]
            expect(len(codes) == 10, f"expected 10 recovery codes, got {len(codes)}")
            expect(all(re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", c) for c in codes), f"unexpected code format: {codes}")
            expect(len(set(codes)) == 10, "the recovery codes are not all different")
            state["recovery"] = codes
            link = js.d.find_element(By.LINK_TEXT, "Sign in")
            expect(link.get_attribute("href") == base + "/admin/sign-in", f"'Sign in' points to {link.get_attribute('href')}")
            suite.audit(js, "enroll: recovery codes page")
            js.follow("Sign in")
            js.expect_page("/admin/sign-in", "Sign in", 200)

        def link_used_once():
            nojs.get(state["enroll_url"])
            nojs.expect_page("/admin/enroll", "Not done", 400)

        def keyboard():
            js.get("/admin/sign-in")
            ActionChains(js.d).send_keys(Keys.TAB).perform()
            active = js.d.switch_to.active_element
            expect(active.get_attribute("class") == "skip" and active.text.strip() == "Skip to content",
                   f"the first Tab stop is not the skip link: {active.get_attribute('outerHTML')[:120]}")
            left = js.d.execute_script("return arguments[0].getBoundingClientRect().left", active)
            expect(left >= 0, "the focused skip link stays off screen")
            ActionChains(js.d).send_keys(Keys.ENTER).perform()
            ActionChains(js.d).send_keys(Keys.TAB).perform()
            active = js.d.switch_to.active_element
            expect(active.get_attribute("id") == "email", f"Tab after the skip link goes to {active.get_attribute('outerHTML')[:120]}, not #email")
            style = js.d.execute_script(
                "const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth, s.outlineColor];", active)
            expect(style[0] != "none" and style[1] != "0px", f"the focused field has no visible outline: {style}")
            return f"skip link first, then #email; focus outline {' '.join(style)}"

        suite.step("keyboard: skip link, then the form, with a visible focus outline", keyboard, [js])
        suite.step("a. bogus enrollment link shows the error page", error_page, [js])
        suite.step("a. enrollment: password page", enroll_password, [js])
        suite.step("a. enrollment: authenticator page", enroll_authenticator, [js], needs=("a. enrollment: password page",))
        suite.step("a. enrollment: recovery codes page", recovery_codes_page, [js], needs=("a. enrollment: authenticator page",))
        suite.step("a. the enrollment link works once", link_used_once, [nojs], needs=("a. enrollment: recovery codes page",))
        enrolled = ("a. enrollment: recovery codes page",)

        # ---- (b) sign-in and dashboard -------------------------------------------------------

        def sign_in():
            js.get("/admin/sign-in")
            js.expect_page("/admin/sign-in", "Sign in", 200)
            suite.audit(js, "sign-in page")
            code, step, at = fresh_code(state["totp"], state["last_step"], "enrollment used the current one")
            js.fill("email", ADMIN)
            js.fill("password", ADMIN_PASSWORD)
            js.fill("code", code)
            js.submit("Sign in")
            state.update(code_b=code, step_b=step, time_b=at, last_step=step)
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            who = js.signed_in_as() or ""
            expect(f"Signed in as {ADMIN}" in who, f"header shows {who!r}")
            cookie = js.d.get_cookie("cubby_session")
            expect(cookie and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict" and cookie.get("path") == "/admin",
                   f"the session cookie is not HttpOnly/SameSite=Strict/Path=/admin: {cookie}")
            return f"code of step {step}; {who}"

        def seed_parcel():
            unit = manifest["units"][0]
            status, body = http("POST", f"{base}/api/v1/units/{unit['id']}/dropoffs", {
                "trackingNumber": "1ZBROWSER", "recipientId": manifest["recipients"][0]["id"], "size": "M"},
                token=manifest["courierToken"])
            expect(status == 201, f"drop-off through the API failed: {status} {body}")
            state["parcel_unit"] = unit["name"]
            state["parcel_id"] = body.get("parcelId")
            return f"one parcel in {unit['name']} ({body.get('state')})"

        def dashboard():
            js.get("/admin/dashboard")
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            sections = [s for s in js.els("main section") if s.find_element(By.TAG_NAME, "h2").text.strip() == SITE]
            expect(sections, f"the dashboard has no section for {SITE!r}")
            table = sections[0].find_element(By.TAG_NAME, "table")
            caption = table.find_element(By.TAG_NAME, "caption").text.strip()
            expect(caption == f"Locker units at {SITE}", f"unexpected caption {caption!r}")
            headers = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
            expect(headers == ["Unit", "Compartments", "Occupied", "Reserved", "Available", "Out of service", "Occupancy", "Controller", "Service"],
                   f"unexpected columns {headers}")
            rows = {}
            for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
                rows[tr.find_element(By.TAG_NAME, "th").text.strip()] = [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
            expect(set(UNITS) <= set(rows), f"units shown: {sorted(rows)}")
            shown = []
            for name in UNITS:
                total, occupied, reserved, available, oos, pct, controller, service = rows[name]
                expect("Take out of service" in service, f"{name}: service cell {service!r}")
                # The demo's units run their own controllers, enrolled on the demo's first start.
                expect(controller.startswith("Enrolled") and "Enrollment code for" in controller,
                       f"{name}: controller cell {controller!r}")
                expect(re.fullmatch(r"\d+ %", pct), f"{name}: occupancy {pct!r} is not 'N %'")
                n = [int(x) for x in (total, occupied, reserved, available, oos)]
                expect(n[0] == COMPARTMENTS_PER_UNIT and n[1] + n[2] + n[3] + n[4] == n[0],
                       f"{name}: counts do not add up: {rows[name]}")
                parcels = 1 if name == state.get("parcel_unit") else 0
                expect(n[1] + n[2] == parcels, f"{name}: expected {parcels} occupied/reserved, got {rows[name]}")
                expected_pct = round((n[1] + n[2]) / (n[0] - n[4]) * 100)
                expect(pct == f"{expected_pct} %", f"{name}: occupancy {pct!r}, expected {expected_pct} %")
                shown.append(f"{name}: {occupied} occupied, {reserved} reserved, {available} available, {pct}")
            suite.audit(js, "dashboard")
            return "; ".join(shown)

        def unit_row(name: str):
            for s in js.els("main section"):
                if s.find_element(By.TAG_NAME, "h2").text.strip() != SITE:
                    continue
                for tr in s.find_elements(By.CSS_SELECTOR, "tbody tr"):
                    if tr.find_element(By.TAG_NAME, "th").text.strip() == name:
                        return tr
            raise CheckFailed(f"no row for unit {name!r} on the dashboard")

        def notice() -> str:
            return js.text("main .notice[role=status]") if js.has("main .notice[role=status]") else ""

        def compartment_service():
            js.get("/admin/dashboard")
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            expect(js.text("#alerts-heading") == "Open alerts", "the dashboard has no Open alerts section")
            name = UNITS[1]
            unit_id = next(u["id"] for u in manifest["units"] if u["name"] == name)
            select = Select(js.el(f"#out-{unit_id}"))
            label = select.options[0].text.strip()
            select.select_by_index(0)
            js.fill(f"why-{unit_id}", "browser test: cleaning")
            js.submit("Take out of service", scope=unit_row(name))
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            expect(notice() == "The compartment is out of service; no drop-off will be assigned to it.",
                   f"unexpected notice {notice()!r}; alert {js.alert()!r}")
            cells = [td.text.strip() for td in unit_row(name).find_elements(By.TAG_NAME, "td")]
            expect(cells[4] == "1", f"{name}: out-of-service count {cells[4]!r} after taking {label} out")
            suite.audit(js, "dashboard (a compartment out of service)")
            js.submit(f"Return {label} to service", scope=unit_row(name))
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            expect(notice() == "The compartment is back in service; the unit is told over its link.",
                   f"unexpected notice {notice()!r}; alert {js.alert()!r}")
            cells = [td.text.strip() for td in unit_row(name).find_elements(By.TAG_NAME, "td")]
            expect(cells[4] == "0", f"{name}: out-of-service count {cells[4]!r} after returning {label}")
            return f"{name} {label}: out of service and back, from the Service column"

        suite.step("b. sign in with a TOTP code of the next step", sign_in, [js], needs=enrolled)
        suite.step("b. a parcel is dropped off through the API", seed_parcel, [])
        suite.step("b. dashboard shows the site, its units and occupancy", dashboard, [js],
                   needs=("b. sign in with a TOTP code of the next step",))
        signed_in = ("b. sign in with a TOTP code of the next step",)
        suite.step("b. a compartment goes out of service and back from the dashboard", compartment_service, [js], needs=signed_in)

        # ---- (c) users and credentials -----------------------------------------------------------

        def users():
            js.follow("Users")
            js.expect_page("/admin/users", "Users", 200)
            table_rows = {tr.find_element(By.TAG_NAME, "th").text.strip(): tr for tr in js.els("main table tbody tr")}
            expect(ADMIN in table_rows, f"the users table does not list {ADMIN}: {sorted(table_rows)}")
            suite.audit(js, "users (before inviting)")
            js.fill("invite-email", AUDITOR)
            Select(js.el("#invite-role")).select_by_value("auditor")
            js.submit("Invite")
            js.expect_page("/admin/users", "Users", 200)
            expect(js.has("#invite-link"), f"no #invite-link after inviting; alert: {js.alert()!r}")
            link = js.text("#invite-link")
            expect(link.startswith(base + "/admin/enroll?token="), f"unexpected invite link {link!r}")
            state["invite_link"] = link
            row = [tr for tr in js.els("main table tbody tr") if tr.find_element(By.TAG_NAME, "th").text.strip() == AUDITOR]
            expect(row, f"the users table does not list {AUDITOR} after inviting")
            cells = [td.text.strip() for td in row[0].find_elements(By.TAG_NAME, "td")]
            expect(cells[0] == "auditor" and cells[1] == "whole organization" and cells[2] == "invited",
                   f"unexpected row for {AUDITOR}: {cells[:3]}")
            suite.audit(js, "users (after inviting)")
            return f"invite link {link[:len(base) + 26]}…"

        def credentials():
            js.follow("Credentials")
            js.expect_page("/admin/credentials", "Credentials", 200)
            expect(not js.has("#code-issue"), "the issue form asks for a step-up code right after sign-in")
            suite.audit(js, "credentials (before issuing)")
            label = "browser test device"
            Select(js.el("#kind")).select_by_value("device")
            js.fill("label", label)
            Select(js.el("#unit")).select_by_visible_text(UNITS[0])
            js.fill("days", "30")
            js.submit("Issue credential")
            js.expect_page("/admin/credentials", "Credentials", 200)
            expect(js.has("#issued-token"), f"no #issued-token after issuing; alert: {js.alert()!r}; {js.h1()}")
            token = js.text("#issued-token")
            expect(token.startswith("cby_device_"), f"the issued token does not start with cby_device_: {token[:16]!r}")
            row = credential_row(js, label)
            expect(row["cells"][:2] == ["device", UNITS[0]] and row["cells"][3] == "active",
                   f"unexpected row for the new credential: {row['cells']}")
            suite.audit(js, "credentials (after issuing)")
            unit_id = next(u["id"] for u in manifest["units"] if u["name"] == UNITS[0])
            before, _ = http("GET", f"{base}/api/v1/units/{unit_id}", token=token)
            expect(before == 200, f"the new device token does not work on the API: HTTP {before}")
            js.submit(f"Revoke {label}", scope=row["tr"])
            # Post/Redirect/Get: the revocation answers with a redirect, so a reload cannot repeat it.
            js.expect_page("/admin/credentials", "Credentials", 200)
            notice = js.text("main .notice[role=status]") if js.has("main .notice[role=status]") else ""
            expect(notice == "The credential is revoked; its next request will be refused.",
                   f"unexpected notice after revoking: {notice!r}; alert {js.alert()!r}")
            row = credential_row(js, label)
            expect(row["cells"][3] == "revoked" and row["cells"][4] == "—", f"the row does not show revoked: {row['cells']}")
            expect(not js.has("#issued-token"), "the secret is shown again after revoking")
            after, _ = http("GET", f"{base}/api/v1/units/{unit_id}", token=token)
            expect(after == 401, f"the revoked token still gets HTTP {after} from the API (expected 401)")
            suite.audit(js, "credentials (after revoking)")
            return f"token {token[:14]}…; API with it: {before} before, {after} after revoking"

        def deliveries():
            hook_url = f"http://127.0.0.1:{free_port()}/hook"
            status, made = http("POST", f"{base}/api/v1/webhooks", {"url": hook_url, "events": ["parcel.reserved"]},
                                token=manifest["adminToken"])
            expect(status == 201, f"subscribing a webhook failed: {status} {made}")
            status, body = http("POST", f"{base}/api/v1/units/{manifest['units'][1]['id']}/dropoffs", {
                "trackingNumber": "1ZHOOK", "recipientId": manifest["recipients"][1]["id"], "size": "S"},
                token=manifest["courierToken"])
            expect(status == 201, f"drop-off through the API failed: {status} {body}")
            state["hook_parcel_id"] = body.get("parcelId")
            failed = None
            deadline = time.time() + 30
            while failed is None and time.time() < deadline:
                _, listed = http("GET", f"{base}/api/v1/deliveries?channel=webhook&state=failed",
                                 token=manifest["adminToken"])
                found = [d for d in listed.get("deliveries", []) if d.get("subscriptionId") == made["id"]]
                failed = found[0] if found else None
                if failed is None:
                    time.sleep(0.3)
            expect(failed is not None, "the webhook delivery to a closed port did not fail within 30 s")
            js.get("/admin/dashboard")
            js.follow("Deliveries")
            js.expect_page("/admin/deliveries", "Deliveries", 200)
            summary = js.el("table caption#summary-caption").find_element(By.XPATH, "..")
            headers = [th.text.strip() for th in summary.find_elements(By.CSS_SELECTOR, "thead th")]
            expect(headers == ["Channel", "Pending", "Delivering", "Delivered", "Failed", "Dead"],
                   f"unexpected summary columns {headers}")
            counts = {tr.find_element(By.TAG_NAME, "th").text.strip(): [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
                      for tr in summary.find_elements(By.CSS_SELECTOR, "tbody tr")}
            expect("webhook" in counts and int(counts["webhook"][3]) >= 1, f"the summary shows {counts}")
            expect(any(c in counts for c in ("file", "log")), f"the demo's recipient deliveries are missing: {counts}")
            suite.audit(js, "deliveries")
            Select(js.el("#filter-channel")).select_by_value("webhook")
            Select(js.el("#filter-state")).select_by_value("failed")
            js.submit("Show")
            js.expect_page("/admin/deliveries", "Deliveries", 200)
            table = js.el("table caption#deliveries-caption").find_element(By.XPATH, "..")
            rows = {tr.find_element(By.TAG_NAME, "th").text.strip(): tr
                    for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")}
            row = rows.get(str(failed["id"]))
            expect(row is not None, f"the filtered table does not show delivery {failed['id']}: {sorted(rows)}")
            cells = [td.text.strip() for td in row.find_elements(By.TAG_NAME, "td")]
            expect(cells[2] == "webhook" and cells[3] == "failed" and cells[4] == "1",
                   f"unexpected row for the failed delivery: {cells}")
            suite.audit(js, "deliveries (webhook, failed)")
            js.submit(f"Retry now delivery {failed['id']}", scope=row)
            js.expect_page("/admin/deliveries", "Deliveries", 200)
            expect(notice() == "The delivery is due now; it is sent within a few seconds.",
                   f"unexpected notice after Retry now: {notice()!r}; alert {js.alert()!r}")
            # The second attempt is claimed (delivering), refused, and the delivery waits again (failed).
            deadline = time.time() + 30
            attempts, now_state = 1, "failed"
            while not (attempts >= 2 and now_state == "failed") and time.time() < deadline:
                _, listed = http("GET", f"{base}/api/v1/deliveries?channel=webhook", token=manifest["adminToken"])
                row_now = next((d for d in listed["deliveries"] if d["id"] == failed["id"]), {})
                attempts, now_state = row_now.get("attempts", 1), row_now.get("state")
                time.sleep(0.3)
            expect(attempts >= 2 and now_state == "failed",
                   f"Retry now did not lead to a second, refused attempt within 30 s ({attempts} attempts, {now_state})")
            js.follow("Webhooks")
            js.expect_page("/admin/webhooks", "Webhooks", 200)
            headings = [h.text.strip() for h in js.els("main section h2")]
            expect(hook_url in headings, f"the Webhooks page does not list {hook_url}: {headings}")
            expect(js.has(f"form[action='/admin/deliveries/{failed['id']}/retry']"),
                   "the Webhooks page has no Retry now for the failed delivery")
            suite.audit(js, "webhooks")
            return f"delivery {failed['id']} retried from the page ({attempts} attempts); webhook listed"

        suite.step("c. users: invite an auditor", users, [js], needs=signed_in)
        suite.step("c. deliveries: a failed webhook delivery is retried from the Deliveries page; Webhooks lists it",
                   deliveries, [js], needs=signed_in)
        suite.step("c. credentials: issue and revoke a device credential", credentials, [js], needs=signed_in)

        def incidents():
            # A phone number on the Users page, for SMS pages.
            js.follow("Users")
            js.expect_page("/admin/users", "Users", 200)
            row = next(tr for tr in js.els("main table tbody tr") if tr.find_element(By.TAG_NAME, "th").text.strip() == ADMIN)
            phone = row.find_element(By.CSS_SELECTOR, "input[name=phone]")
            phone.send_keys("555-0100")
            js.submit("Save phone", scope=row)
            js.expect_page("^/admin/users/[0-9a-f-]+/phone", "Not done", 400)
            expect("E.164" in (js.text("main") or ""), "a bad phone number gives no reason")
            js.get("/admin/users")
            row = next(tr for tr in js.els("main table tbody tr") if tr.find_element(By.TAG_NAME, "th").text.strip() == ADMIN)
            row.find_element(By.CSS_SELECTOR, "input[name=phone]").send_keys("+1 617 555 0101")
            js.submit("Save phone", scope=row)
            js.expect_page("/admin/users", "Users", 200)
            expect(notice() == "The phone number was saved; it is kept sealed.", f"unexpected notice {notice()!r}")
            row = next(tr for tr in js.els("main table tbody tr") if tr.find_element(By.TAG_NAME, "th").text.strip() == ADMIN)
            expect("0101" in row.text and "6175550101" not in row.text, "the number is not shown masked")
            # The site's on-call list: a refused list comes back with the reason, then a good one is saved.
            js.get("/admin/dashboard")
            js.follow(f"On-call list for {SITE}")
            on_call = "^/admin/sites/[0-9a-f-]+/on-call"
            js.expect_page(on_call, f"On call at {SITE}", 200)
            suite.audit(js, "on-call list (empty)")
            Select(js.el("#account-0")).select_by_visible_text(f"{ADMIN} (super-admin)")
            Select(js.el("#account-1")).select_by_visible_text(f"{ADMIN} (super-admin)")
            js.submit("Save the on-call list")
            js.expect_page(on_call, f"On call at {SITE}", 409)
            expect("twice" in (js.alert() or ""), f"the duplicate contact gives no reason: {js.alert()!r}")
            suite.audit(js, "on-call list (refused)")
            Select(js.el("#account-1")).select_by_index(0)
            js.d.find_element(By.CSS_SELECTOR, "input[name=channels-0][value=sms]").click()
            js.fill("delay", "120")
            js.submit("Save the on-call list")
            js.expect_page(on_call, f"On call at {SITE}", 200)
            expect(notice() == "The on-call list was saved.", f"unexpected notice {notice()!r}; alert {js.alert()!r}")
            listed = js.text("table caption#oncall-caption")
            expect("120 seconds" in listed, f"the list's caption says {listed!r}")
            # Staff lock a unit down: an alert, paged to the contact, shown with its history; acknowledged, resolved.
            unit_id = next(u["id"] for u in manifest["units"] if u["name"] == UNITS[1])
            status, _ = http("POST", f"{base}/api/v1/units/{unit_id}/lockdown", token=manifest["adminToken"],
                             body={"reason": "browser test"})
            expect(status == 200, f"locking down {UNITS[1]} answered {status}")
            js.follow("Alerts")
            js.expect_page("/admin/alerts", "Open alerts", 200)
            suite.audit(js, "alerts (open)")
            old = js.d.find_element(By.TAG_NAME, "html")
            js.d.find_element(By.CSS_SELECTOR, "main table tbody tr th a").click()
            js.wait_for_new_page(old)
            js.expect_page("^/admin/alerts/[0-9a-f-]+", "Alert: lockdown", 200)
            deadline = time.time() + 20
            while time.time() < deadline and "Paged" not in js.text("main ol"):
                time.sleep(0.5)
                js.d.refresh()
            history = js.text("main ol")
            expect(f"Paged {ADMIN} by email and sms" in history, f"the alert's history shows no page: {history!r}")
            suite.audit(js, "alert page")
            js.fill("ack-note", "on my way")
            js.submit("Acknowledge: I am on it")
            js.expect_page("^/admin/alerts/[0-9a-f-]+", "Alert: lockdown", 200)
            expect(notice() == "The alert is acknowledged: its escalation stopped.", f"unexpected notice {notice()!r}")
            expect("Acknowledged by" in js.text("main ol") and "on my way" in js.text("main ol"), "no acknowledgement in the history")
            js.fill("resolve-note", "browser test done")
            js.submit("Resolve this alert")
            js.expect_page("^/admin/alerts/[0-9a-f-]+", "Alert: lockdown", 200)
            expect(notice() == "The alert is resolved.", f"unexpected notice {notice()!r}")
            js.get("/admin/alerts?state=resolved")
            js.expect_page("/admin/alerts", "Resolved alerts", 200)
            suite.audit(js, "alerts (resolved)")
            # The unit's lockdown is released from the dashboard (a code fresh from the sign-in).
            js.get("/admin/dashboard")
            js.submit(f"Release lockdown of {UNITS[1]}", scope=unit_row(UNITS[1]))
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            return "phone saved masked; on-call list refused then saved; lockdown alert paged, acknowledged, resolved"

        suite.step("c. incidents: a phone number, the on-call list, an alert paged, acknowledged and resolved",
                   incidents, [js], needs=signed_in)

        def audit_page():
            js.follow("Audit log")
            js.expect_page("/admin/audit", "Audit log", 200)
            suite.audit(js, "audit log (filter)")
            Select(js.el("#type")).select_by_value("parcel.deposited")
            js.submit("Show events")
            js.expect_page("/admin/audit", "Audit log", 200)
            types = {td.text.strip() for td in js.els("main table tbody tr td:nth-child(3)")}
            expect(types == {"parcel.deposited"}, f"the filtered table shows {types}")
            suite.audit(js, "audit log (parcel.deposited)")
            js.fill("from", "yesterday")
            js.submit("Show events")
            js.expect_page("/admin/audit", "Audit log", 400)
            expect("From" in (js.alert() or ""), f"a bad date gives no reason: {js.alert()!r}")
            suite.audit(js, "audit log (refused filter)")
            # The forensic bundle of the deposits, as the page's form downloads it, verifies offline.
            js.get("/admin/audit?type=parcel.deposited")
            csrf = js.el("form[action='/admin/audit/bundle'] input[name=csrf]").get_attribute("value")
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in js.d.get_cookies())
            req = urllib.request.Request(
                f"{base}/admin/audit/bundle", method="POST",
                data=urllib.parse.urlencode({"csrf": csrf, "type": "parcel.deposited"}).encode(),
                headers={"Cookie": cookie, "Origin": base, "Content-Type": "application/x-www-form-urlencoded"})
            with NO_PROXY.open(req, timeout=30) as r:
                expect(r.headers.get("Content-Type") == "application/zip", f"the bundle is {r.headers.get('Content-Type')}")
                bundle = workdir / "audit-bundle.zip"
                bundle.write_bytes(r.read())
            _, key = http("GET", f"{base}/api/v1/audit/key", token=manifest["adminToken"])
            check = subprocess.run([str(binary), "audit", "verify-bundle", str(bundle), "--key", key["key"]],
                                   capture_output=True, text=True, timeout=60)
            expect(check.returncode == 0 and "bundle: ok" in check.stdout,
                   f"verify-bundle refused the portal's bundle: {check.stdout} {check.stderr}")
            return check.stdout.strip().splitlines()[0]

        suite.step("c. audit log: filter, a refused date, a forensic bundle that verify-bundle accepts", audit_page, [js],
                   needs=signed_in)

        def recipients_pages():
            js.follow("Recipients")
            js.expect_page("/admin/recipients", "Recipients", 200)
            suite.audit(js, "recipients (directory)")
            js.fill("search-email", "RESIDENT1@example.org")
            js.submit("Find")
            names = [th.text.strip() for th in js.els("main table tbody th")]
            expect(len(names) == 1, f"the exact email search found {names}")
            # A file with a bad row: the report names it and nothing is written.
            js.follow("Import a CSV file")
            js.expect_page("/admin/recipients/import", "Import recipients", 200)
            suite.audit(js, "recipients import (upload)")
            bad = workdir / "bad.csv"
            bad.write_text("name,email,apartment\nBrowser Test One,browser1@example.org,7A\nBroken,not-an-email,7B\n")
            js.el("#import-file").send_keys(str(bad))
            js.submit("Check the file")
            js.expect_page("/admin/recipients/import", "Import recipients", 422)
            rejected = [th.text.strip() for th in js.els("main table tbody th")]
            expect(rejected == ["3"], f"the report's rejected rows: {rejected}")
            expect(not js.has("form input[name=confirm]"), "a file with a rejected row offers to confirm")
            suite.audit(js, "recipients import (rejected rows)")
            good = workdir / "good.csv"
            rows = "".join(f"Browser Test {i},browser{i}@example.org,8{i}\n" for i in range(1, 21))
            good.write_text("name,email,apartment\n" + rows)
            js.el("#import-file").send_keys(str(good))
            js.submit("Check the file")
            js.expect_page("/admin/recipients/import", "Import recipients", 200)
            suite.audit(js, "recipients import (dry run)")
            _, before = http("GET", f"{base}/api/v1/recipients?email=browser20%40example.org", token=manifest["adminToken"])
            expect(before["recipients"] == [], "the dry run wrote a recipient")
            js.submit("Confirm the import")
            js.expect_page("/admin/recipients/import", "Import done", 200)
            _, after = http("GET", f"{base}/api/v1/recipients?email=browser20%40example.org", token=manifest["adminToken"])
            expect(len(after["recipients"]) == 1, "the confirmed import did not write the recipients")
            # One by one: a refused phone keeps the form, then the recipient is made.
            js.get("/admin/recipients/new")
            js.expect_page("/admin/recipients/new", "New recipient", 200)
            suite.audit(js, "recipient (new)")
            js.fill("name", "Grace Hopper")
            js.fill("email", "grace@example.org")
            js.fill("phone", "12")
            js.submit("Create the recipient")
            js.expect_page("/admin/recipients", "New recipient", 400)
            expect("E.164" in (js.alert() or ""), f"the phone's refusal: {js.alert()!r}")
            expect(js.el("#email").get_attribute("value") == "grace@example.org", "the form lost what was typed")
            js.el("#phone").clear()
            js.submit("Create the recipient")
            js.expect_page("^/admin/recipients/[0-9a-f-]+", "Recipient: Grace Hopper", 200)
            suite.audit(js, "recipient (edit)")
            return "search, import refused then dry run and confirmed (20 rows), one created after a refusal"

        suite.step("c. recipients: search, CSV import with a dry run and confirmation, the form", recipients_pages, [js],
                   needs=signed_in)


        # ---- (c) parcels: search, timeline, inclusion proof, extend ------------------------------

        def parcels():
            parcel = state["parcel_id"]
            deadline = time.time() + 30
            before = {}
            while time.time() < deadline:
                _, before = http("GET", f"{base}/api/v1/parcels/{parcel}", token=manifest["adminToken"])
                if before.get("state") == "deposited":
                    break
                time.sleep(0.3)
            expect(before.get("state") == "deposited", f"the demo parcel is not deposited within 30 s: {before}")
            js.get("/admin/dashboard")
            js.follow("Parcels")
            js.expect_page("/admin/parcels", "Parcels", 200)
            suite.audit(js, "parcels")
            js.fill("f-tracking", "1ZBROWSER")
            js.submit("Search parcels")
            js.expect_page("/admin/parcels", "Parcels", 200)
            links = [a.text.strip() for a in js.els("table#parcels-table tbody th a, table tbody th a")]
            expect(links == ["1ZBROWSER"], f"the search for 1ZBROWSER lists {links}")
            suite.audit(js, "parcels (search by tracking number)")
            js.get("/admin/parcels?state=lost")
            js.expect_page("/admin/parcels", "Parcels", 400)
            expect("Choose a state" in (js.alert() or ""), f"a bad state is not explained: {js.alert()!r}")
            suite.audit(js, "parcels (bad filter)")
            js.get("/admin/parcels?tracking=1ZBROWSER")
            js.follow("1ZBROWSER")
            js.expect_page(f"/admin/parcels/{parcel}", "Parcel 1ZBROWSER", 200)
            events = js.els("ol.timeline > li")
            types = [li.find_element(By.TAG_NAME, "strong").text.strip() for li in events]
            expect({"parcel.reserved", "parcel.deposited", "credential.issued"} <= set(types),
                   f"the timeline shows {types}")
            stills = js.els("ol.timeline img")
            for img in stills:
                width = js.d.execute_script("return arguments[0].naturalWidth", img)
                expect(width and width > 0, f"a still did not load: {img.get_attribute('src')}")
            suite.audit(js, "parcel page")
            deposited = next(li for li in events if li.find_element(By.TAG_NAME, "strong").text.strip() == "parcel.deposited")
            old = js.d.find_element(By.TAG_NAME, "html")
            deposited.find_element(By.CSS_SELECTOR, "a[href$='/proof']").click()
            js.wait_for_new_page(old)
            expect(js.status() == 200, f"the proof link answered HTTP {js.status()}")
            proof = json.loads(js.d.find_element(By.TAG_NAME, "body").text)
            expect(proof.get("type") == "parcel.deposited", f"the proof is of {proof.get('type')!r}")
            lines = proof["checkpoint"].split("\n")
            root = base64.b64decode(lines[2])
            leaf = hashlib.sha256(b"\x00" + base64.b64decode(proof["canonical"])).digest()
            expect(base64.b64encode(leaf).decode() == proof["leafHash"], "the leaf hash is not SHA-256(0x00 ‖ canonical)")
            computed = inclusion_root(proof["leafIndex"], proof["treeSize"], leaf,
                                      [base64.b64decode(h) for h in proof["proof"]])
            expect(int(lines[1]) == proof["treeSize"] and computed == root,
                   "the inclusion proof does not lead to the checkpoint's root")
            js.get(f"/admin/parcels/{parcel}")
            js.fill("extend-days", "1")
            js.submit("Extend the deadline")
            js.expect_page(f"/admin/parcels/{parcel}", "Parcel 1ZBROWSER", 200)
            expect("deadline is moved" in notice(), f"no notice after extending: {notice()!r}; alert {js.alert()!r}")
            _, after = http("GET", f"{base}/api/v1/parcels/{parcel}", token=manifest["adminToken"])
            suite.audit(js, "parcel page (deadline extended)")
            js.fill("extend-days", "7")
            js.submit("Extend the deadline")
            # A refused form answers with the parcel's page again, at the form's address.
            js.expect_page(f"/admin/parcels/{parcel}/extend", "Parcel 1ZBROWSER", 409)
            expect("later than the site allows" in (js.alert() or ""), f"beyond the limit: alert {js.alert()!r}")
            _, unchanged = http("GET", f"{base}/api/v1/parcels/{parcel}", token=manifest["adminToken"])
            expect(unchanged.get("expiresAt") == after.get("expiresAt"), "a refused extension changed the deadline")
            suite.audit(js, "parcel page (extension refused)")
            return (f"{len(types)} events, {len(stills)} stills; proof of leaf {proof['leafIndex']} in a tree of "
                    f"{proof['treeSize']} verified; deadline {before.get('expiresAt')} → {after.get('expiresAt')}")

        suite.step("c. parcels: search, timeline, proof link, extend the deadline", parcels, [js],
                   needs=("b. a parcel is dropped off through the API", *signed_in))

        def reports():
            # The demo's parcels of this run, as the API tells them: each deposited parcel counts on its site's day.
            from datetime import datetime
            from zoneinfo import ZoneInfo
            zone = ZoneInfo("America/New_York")
            per_unit = {name: 0 for name in UNITS}
            days: dict[str, int] = {}
            unit_names = {u["id"]: u["name"] for u in manifest["units"]}
            for pid in (state.get("parcel_id"), state.get("hook_parcel_id")):
                expect(pid, "the parcels of the earlier steps are missing")
                parcel = {}
                deadline = time.time() + 20
                while time.time() < deadline:
                    _, parcel = http("GET", f"{base}/api/v1/parcels/{pid}", token=manifest["adminToken"])
                    if parcel.get("depositedAt"):
                        break
                    time.sleep(0.3)
                expect(parcel.get("depositedAt"), f"parcel {pid} was not deposited: {parcel}")
                day = datetime.fromisoformat(parcel["depositedAt"].replace("Z", "+00:00")).astimezone(zone).date().isoformat()
                days[day] = days.get(day, 0) + 1
                if parcel.get("state") in ("deposited", "expired"):
                    per_unit[unit_names[parcel["unitId"]]] += 1
            today = datetime.now(zone).date().isoformat()
            js.get("/admin/dashboard")
            js.follow("Reports")
            js.expect_page("/admin/reports", "Reports", 200)
            charts = js.els("main svg[role=img]")
            expect(len(charts) == 3 + 2 * len(UNITS), f"expected {3 + 2 * len(UNITS)} charts, found {len(charts)}")
            for svg in charts:
                names = (svg.get_dom_attribute("aria-labelledby") or "").split()
                expect(names and all(js.has(f"#{n}") for n in names), f"a chart without its accessible name: {names}")
                expect(svg.get_dom_attribute("viewBox"), "a chart without a viewBox")
            for svg in charts[:3] + charts[4::2]:
                expect(svg.find_elements(By.CSS_SELECTOR, "rect.chart-bar"), "a bar chart without bars")

            def table(caption: str) -> dict[str, str]:
                for t in js.els("main table"):
                    if t.find_element(By.TAG_NAME, "caption").text.strip() == caption:
                        return {tr.find_element(By.CSS_SELECTOR, "th[scope=row]").text.strip():
                                tr.find_element(By.TAG_NAME, "td").text.strip()
                                for tr in t.find_elements(By.CSS_SELECTOR, "tbody tr")}
                raise CheckFailed(f"no table with the caption {caption!r}")

            deposited = table("Parcels deposited on each day")
            expect(len(deposited) == 30 and today in deposited, f"the default period is not the last 30 days: {sorted(deposited)[:2]}…")
            for day, n in days.items():
                expect(deposited.get(day) == str(n), f"{day}: the table says {deposited.get(day)!r} parcels, the API {n}")
            for name in UNITS:
                occupied = table(f"Compartments occupied at the end of each day, unit {name}")
                expect(occupied.get(today) == str(per_unit[name]),
                       f"{name}: {occupied.get(today)!r} occupied today, the API says {per_unit[name]}")
                expect(table(f"Codes refused per day, unit {name}"), f"{name}: no failed-codes table")
            suite.audit(js, "reports")
            # On a phone-sized screen the charts shrink to the width; nothing scrolls sideways but the tables' regions.
            size = js.d.get_window_size()
            try:
                js.d.set_window_size(390, 844)
                js.d.refresh()
                width = js.d.execute_script("return document.documentElement.clientWidth")
                wide = js.d.execute_script("return document.documentElement.scrollWidth")
                expect(wide <= width, f"the page scrolls sideways on a phone: {wide} px wide in {width} px")
                widths = [svg.size["width"] for svg in js.els("main svg[role=img]")]
                expect(widths and all(0 < w <= width for w in widths), f"charts {widths} px wide in {width} px")
            finally:
                js.d.set_window_size(size["width"], size["height"])
            # A period that ends before it starts: the page again, with the reason and status 400.
            js.d.execute_script("arguments[0].value = '2026-03-10'; arguments[1].value = '2026-03-01';",
                                js.el("#report-from"), js.el("#report-to"))
            js.submit("Show")
            js.expect_page("/admin/reports", "Reports", 400)
            expect("starts after it ends" in (js.alert() or ""), f"unexpected message {js.alert()!r}")
            expect(not js.els("main svg[role=img]"), "charts drawn for a refused period")
            suite.audit(js, "reports (a refused period)")
            return f"{len(charts)} charts; deposited per day {days}; occupied today {per_unit}"

        suite.step("c. reports: charts and tables with the demo's parcels; a refused period", reports, [js],
                   needs=signed_in)

        # ---- (c) sites, units from a layout, carriers ----------------------------------------------

        def sites_units_carriers():
            tower = "Zephyr Tower"  # after the demo site by name: the reports still open on the demo site
            js.follow("Sites")
            js.expect_page("/admin/sites", "Sites", 200)
            expect(SITE in [a.text.strip() for a in js.els("main table tbody th a")], f"the sites list lacks {SITE}")
            suite.audit(js, "sites (list and new site form)")
            js.fill("name", tower)
            js.fill("address", "9 Browser Street")
            js.el("#timeZone").clear()
            js.fill("timeZone", "Mars/Olympus")
            js.submit("Create the site")
            js.expect_page("/admin/sites", "Sites", 400)
            expect("IANA" in (js.alert() or ""), f"the time zone's refusal: {js.alert()!r}")
            expect(js.el("#name").get_attribute("value") == tower, "the site form lost what was typed")
            suite.audit(js, "sites (refused form)")
            js.el("#timeZone").clear()
            js.fill("timeZone", "Europe/Berlin")
            js.submit("Create the site")
            js.expect_page("^/admin/sites/[0-9a-f-]+", f"Site: {tower}", 200)
            site_path = js.path_only
            suite.audit(js, "site (settings, units, new unit forms)")
            # A layout typed in the form: a bad size shows the page again and creates nothing.
            js.fill("unit-name", "Tower lobby")
            js.fill("unit-columns", "S S Q")
            js.submit("Create the unit")
            js.expect_page(site_path + "/units", f"Site: {tower}", 400)
            expect("not a size" in (js.alert() or ""), f"the layout's refusal: {js.alert()!r}")
            expect(js.els("main ul.unit-list li") == [], "a refused layout created a unit")
            js.el("#unit-columns").clear()
            js.fill("unit-columns", "S S M*\nXL")
            js.submit("Create the unit")
            js.expect_page("^/admin/units/[0-9a-f-]+", "Unit Tower lobby", 200)
            heads = [th.text.strip() for th in js.els("table.unit-grid thead th")]
            expect(heads == ["Column A", "Column B"], f"the grid's columns: {heads}")
            expect(js.el("#c-A3").get_attribute("rowspan") == "2" and js.el("#c-B1").get_attribute("rowspan") == "8",
                   "the tall compartments do not span their rows")
            expect("accessible" in js.text("#c-A3"), "A3 is not marked accessible")
            suite.audit(js, "unit (grid of a new unit)")
            # The same unit as a layout file, uploaded.
            layout = workdir / "layout.json"
            layout.write_text(json.dumps({"name": "Tower garage", "columns": [{"compartments": [
                {"size": "L", "widthMm": 500, "heightMm": 400, "depthMm": 600, "accessible": True},
                {"size": "M", "widthMm": 500, "heightMm": 200, "depthMm": 600, "accessible": False}]}]}))
            js.get(site_path)
            js.el("#layout-file").send_keys(str(layout))
            js.submit("Upload and create the unit")
            js.expect_page("^/admin/units/[0-9a-f-]+", "Unit Tower garage", 200)
            js.get(site_path)
            units = [a.text.strip() for a in js.els("main ul.unit-list li a")]
            expect(units == ["Tower garage", "Tower lobby"], f"the site's units: {units}")
            # A carrier serving the new site, and its courier credential shown once.
            js.follow("Carriers")
            js.expect_page("/admin/carriers", "Carriers", 200)
            suite.audit(js, "carriers (list and new carrier form)")
            js.fill("name", "Browser Test Couriers")
            js.d.find_element(By.XPATH, f"//fieldset//label[normalize-space()={xpath_literal(tower)}]/input").click()
            js.submit("Create the carrier")
            js.expect_page("^/admin/carriers/[0-9a-f-]+", "Carrier: Browser Test Couriers", 200)
            carrier_id = js.path_only.rsplit("/", 1)[1]
            suite.audit(js, "carrier (issue form, edit form)")
            js.fill("label", "browser van")
            js.fill("days", "30")
            if js.has("#code-issue"):  # the sign-in of (b) is more than five minutes old: a fresh code
                code, step, _ = fresh_code(state["totp"], state["last_step"], "step-up for the courier credential")
                js.fill("code-issue", code)
                state["last_step"] = step
            js.submit("Issue the courier credential")
            js.expect_page(f"/admin/carriers/{carrier_id}/credentials", "Carrier: Browser Test Couriers", 200)
            token = js.text("#issued-token")
            expect(token.startswith("cby_courier_"), f"the courier token: {token[:16]!r}")
            suite.audit(js, "carrier (credential shown once)")
            status, body = http("GET", f"{base}/api/v1/carriers", token=manifest["adminToken"])
            served = [c["siteIds"] for c in body.get("carriers", []) if c["id"] == carrier_id]
            expect(status == 200 and len(served) == 1 and len(served[0]) == 1, f"the API's carrier: {served}")
            courier, _ = http("GET", f"{base}/api/v1/carriers", token=token)
            expect(courier == 403, f"the courier token is not known to the API: HTTP {courier}")
            # The demo unit holding the parcel of (b): its compartment links to the parcel.
            unit_id = next(u["id"] for u in manifest["units"] if u["name"] == state["parcel_unit"])
            js.get(f"/admin/units/{unit_id}")
            js.expect_page(f"/admin/units/{unit_id}", f"Unit {state['parcel_unit']}", 200)
            links = [a.get_attribute("href") for a in js.els("table.unit-grid td a")]
            expect(any(h.endswith(f"/admin/parcels/{state['parcel_id']}") for h in links),
                   f"the grid does not link the parcel: {links}")
            suite.audit(js, "unit (grid with a parcel)")
            # On a phone-sized screen only the grid's own box scrolls sideways, never the page.
            size = js.d.get_window_size()
            try:
                js.d.set_window_size(390, 844)
                js.d.refresh()
                width = js.d.execute_script("return document.documentElement.clientWidth")
                wide = js.d.execute_script("return document.documentElement.scrollWidth")
                wider = js.d.execute_script(
                    "var w = arguments[0]; return Array.from(document.querySelectorAll('body *')).filter(function (e) {"
                    " return e.getBoundingClientRect().right > w && !(e.parentElement.closest('.grid-box')); })"
                    ".slice(0, 5).map(function (e) { return e.tagName + '.' + e.className + '#' + e.id; });", width)
                expect(wide <= width, f"the unit page scrolls sideways on a phone: {wide} px wide in {width} px: {wider}")
                box = js.el("div.grid-box")
                inner, outer = (js.d.execute_script(f"return arguments[0].{k}", box) for k in ("scrollWidth", "clientWidth"))
                expect(inner > outer and outer <= width, f"the grid's box ({outer} px) does not scroll its {inner} px")
            finally:
                js.d.set_window_size(size["width"], size["height"])
            return f"site, two units (typed and uploaded), carrier with courier token {token[:14]}…"

        suite.step("c. sites, units from a layout and carriers with a courier credential", sites_units_carriers, [js],
                   needs=signed_in)

        # ---- (d) sign-out, (e) recovery code ---------------------------------------------------

        def sign_out():
            js.get("/admin/dashboard")
            js.submit("Sign out")
            js.expect_page("/admin/sign-in", "Sign in", 200)
            expect(js.d.get_cookie("cubby_session") is None, "the session cookie is still set after signing out")
            js.get("/admin/dashboard")
            expect(js.path_only == "/admin/sign-in", f"/admin/dashboard after signing out shows {js.path}")
            expect(js.signed_in_as() is None, "the header still shows a signed-in user")

        def recover():
            js.get("/admin/recover")
            js.expect_page("/admin/recover", "Sign in with a recovery code", 200)
            suite.audit(js, "recover page")
            code = state["recovery"][0]
            js.fill("email", ADMIN)
            js.fill("password", ADMIN_PASSWORD)
            js.fill("recovery", code)
            js.submit("Sign in with recovery code")
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            expect(f"Signed in as {ADMIN}" in (js.signed_in_as() or ""), "not signed in after the recovery code")
            state["used_recovery"] = code
            js.submit("Sign out")
            js.expect_page("/admin/sign-in", "Sign in", 200)

        suite.step("d. sign out; the dashboard redirects to sign-in", sign_out, [js], needs=signed_in)
        suite.step("e. sign in with a recovery code, then sign out", recover, [js], needs=enrolled)

        # ---- (f) replayed TOTP code, (g) reused recovery code ------------------------------------

        def replayed_code():
            js.get("/admin/sign-in")
            now_step = current_step()
            within = now_step <= state["step_b"] + 1
            js.fill("email", ADMIN)
            js.fill("password", ADMIN_PASSWORD)
            js.fill("code", state["code_b"])
            js.submit("Sign in")
            js.expect_page("/admin/sign-in", "Sign in", 401)
            alert = js.alert()
            expect(alert == GENERIC_SIGN_IN_ERROR, f"unexpected error for a replayed code: {alert!r}")
            expect(js.el("#email").get_attribute("value") == ADMIN, "the email address was not kept in the form")
            expect(js.el("#email").get_attribute("aria-describedby") == "form-error", "the email field does not refer to the error")
            suite.audit(js, "sign-in page with error")
            age = time.time() - state["time_b"]
            return (f"code of step {state['step_b']} replayed {age:.0f} s later at step {now_step} "
                    + ("(inside the ±1-step window: refused only as a replay)" if within else "(outside the ±1-step window)"))

        def reused_recovery_code():
            js.get("/admin/recover")
            js.fill("email", ADMIN)
            js.fill("password", ADMIN_PASSWORD)
            js.fill("recovery", state["used_recovery"])
            js.submit("Sign in with recovery code")
            js.expect_page("/admin/recover", "Sign in with a recovery code", 401)
            alert = js.alert()
            expect(alert == GENERIC_SIGN_IN_ERROR, f"unexpected error for a reused recovery code: {alert!r}")
            suite.audit(js, "recover page with error")

        suite.step("f. the TOTP code of (b) is refused when replayed", replayed_code, [js], needs=signed_in)
        suite.step("g. the recovery code of (e) is refused the second time", reused_recovery_code, [js],
                   needs=("e. sign in with a recovery code, then sign out",))

        # ---- without JavaScript ------------------------------------------------------------------

        def javascript_off():
            check_javascript_off(nojs, js)

        def auditor_without_js():
            nojs.get(state["invite_link"])
            nojs.expect_page("/admin/enroll", "Set up your account", 200)
            expect(AUDITOR in nojs.text("main > p") and "auditor" in nojs.text("main > p"), "the page does not name the auditor")
            nojs.fill("password", AUDITOR_PASSWORD)
            nojs.fill("confirm", AUDITOR_PASSWORD)
            nojs.submit("Continue")
            nojs.expect_page("/admin/enroll", "Set up your authenticator", 200)
            uri = nojs.text("#otpauth-uri")
            totp = pyotp.TOTP(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query))["secret"])
            nojs.fill("code", totp.now())
            nojs.submit("Confirm")
            nojs.expect_page("/admin/enroll/confirm", "Save your recovery codes", 200)
            codes = [e.text.strip() for e in nojs.els("ol#recovery-codes li code")]
            expect(len(codes) == 10, f"expected 10 recovery codes, got {len(codes)}")
            nojs.get("/admin/recover")
            nojs.fill("email", AUDITOR)
            nojs.fill("password", AUDITOR_PASSWORD)
            nojs.fill("recovery", codes[0])
            nojs.submit("Sign in with recovery code")
            nojs.expect_page("/admin/dashboard", "Dashboard", 200)
            who = nojs.signed_in_as() or ""
            expect(f"Signed in as {AUDITOR} (auditor)" in who, f"header shows {who!r}")
            expect(SITE in [h.text.strip() for h in nojs.els("main section h2")], f"the auditor does not see {SITE}")
            nav = [a.text.strip() for a in nojs.els("nav a")]
            expect(nav == ["Dashboard", "Alerts", "Audit log", "Reports", "Deliveries", "Webhooks"],
                   f"the auditor's navigation shows {nav}")
            # The reports are pictures drawn on the server: there without scripts too.
            nojs.get("/admin/reports")
            nojs.expect_page("/admin/reports", "Reports", 200)
            expect(len(nojs.els("main svg[role=img]")) == 3 + 2 * len(UNITS), "the auditor's reports lack charts")
            nojs.get("/admin/deliveries")
            nojs.expect_page("/admin/deliveries", "Deliveries", 200)
            expect(not nojs.els("main table button"), "the auditor sees Retry now or Redeliver buttons")
            nojs.get("/admin/users")
            nojs.expect_page("/admin/users", "Not allowed", 403)
            nojs.get("/admin/dashboard")
            nojs.submit("Sign out")
            nojs.expect_page("/admin/sign-in", "Sign in", 200)
            return f"{who}; navigation {nav}; /admin/users answers 403"

        def admin_without_js():
            code, step, _ = fresh_code(state["totp"], state["last_step"], "the code of (b) used the last one")
            nojs.get("/admin/sign-in")
            nojs.fill("email", ADMIN)
            nojs.fill("password", ADMIN_PASSWORD)
            nojs.fill("code", code)
            nojs.submit("Sign in")
            state["last_step"] = step
            nojs.expect_page("/admin/dashboard", "Dashboard", 200)
            expect(SITE in [h.text.strip() for h in nojs.els("main section h2")], f"the dashboard does not show {SITE}")
            # A second session in the other browser, then "Sign out everywhere" ends both.
            js.get("/admin/recover")
            js.fill("email", ADMIN)
            js.fill("password", ADMIN_PASSWORD)
            js.fill("recovery", state["recovery"][1])
            js.submit("Sign in with recovery code")
            js.expect_page("/admin/dashboard", "Dashboard", 200)
            nojs.submit("Sign out everywhere")
            nojs.expect_page("/admin/sign-in", "Sign in", 200)
            for p in (nojs, js):
                p.get("/admin/dashboard")
                expect(p.path_only == "/admin/sign-in", f"{p.name}: /admin/dashboard after 'Sign out everywhere' shows {p.path}")
            return f"TOTP code of step {step}; both sessions ended by 'Sign out everywhere'"

        suite.step("no-JS: JavaScript is really off", javascript_off, [nojs, js])
        nojs_ok = ("no-JS: JavaScript is really off",)
        suite.step("no-JS: the invited auditor enrolls and signs in with a recovery code", auditor_without_js, [nojs],
                   needs=nojs_ok + ("c. users: invite an auditor",))
        suite.step("no-JS: the administrator signs in with a fresh TOTP code; sign out everywhere", admin_without_js,
                   [nojs, js], needs=nojs_ok + signed_in)

        # ---- residents: their own page, signed in with a code sent through the outbox -------------

        def resident_pages():
            email = "resident1@example.org"
            notes = workdir / "cubby-data" / "notifications.jsonl"
            js.get("/me")
            js.expect_page("/me/sign-in", "Your parcels: sign in", 200)
            suite.audit(js, "resident sign-in page")
            js.fill("email", email)
            js.submit("Send me a code")
            js.expect_page("/me/sign-in", "Enter your code", 200)
            suite.audit(js, "resident code page")
            code = None
            deadline = time.time() + 10
            while code is None and time.time() < deadline:
                lines = notes.read_text().splitlines() if notes.exists() else []
                found = [json.loads(l) for l in lines if '"resident.sign_in_code"' in l]
                code = found[-1]["code"] if found else None
                if code is None:
                    time.sleep(0.2)
            expect(code is not None, "no sign-in code reached the notifications file")
            wrong = "00000000" if code != "00000000" else "11111111"
            js.fill("code", wrong)
            js.submit("Sign in")
            js.expect_page("/me/verify", "Enter your code", 401)
            expect(js.alert() is not None, "a wrong code shows no error")
            suite.audit(js, "resident code page with error")
            js.fill("code", code)
            js.submit("Sign in")
            js.expect_page("/me", "Your parcels", 200)
            cells = [c.text.strip() for c in js.els("main table tbody th")]
            expect("1ZBROWSER" in cells, f"the resident's parcel is not listed: {cells}")
            suite.audit(js, "resident parcels page")
            # Their messages: switch reminders off; switching off the code-carrying message is refused.
            js.get("/me/preferences")
            js.expect_page("/me/preferences", "Your messages", 200)
            suite.audit(js, "resident messages page")
            box = js.d.find_element(By.ID, "reminder.email")
            expect(box.is_selected(), "reminders by email are not on to begin with")
            box.click()
            js.submit("Save my choices")
            js.expect_page("/me/preferences", "Your messages", 200)
            expect(not js.d.find_element(By.ID, "reminder.email").is_selected(), "the choice was not saved")
            js.d.find_element(By.ID, "parcel_ready.email").click()
            js.submit("Save my choices")
            js.expect_page("/me/preferences", "Your messages", 409)
            expect(js.alert() is not None and "at least one channel" in js.alert(), "no reason given for the refusal")
            suite.audit(js, "resident messages page with error")
            js.submit("Sign out")
            js.expect_page("/me/sign-in", "Your parcels: sign in", 200)
            # An email's unsubscribe link, made as the server makes it (HMAC under the key file's hash key, which the
            # suite wrote before the demo sealed it).
            keys = server.known_keys
            recipient = manifest["recipients"][0]["id"]
            token = ".".join([recipient, "expiry", "email", link_mac(keys["secretHashKey"], "cubby.unsubscribe.v1",
                                                                      recipient, "expiry", "email")])
            js.get(f"/unsubscribe/{token}")
            js.expect_page(f"/unsubscribe/{token}", "Unsubscribe", 200)
            suite.audit(js, "unsubscribe page")
            js.submit("Unsubscribe")
            js.expect_page(f"/unsubscribe/{token}", "Unsubscribe", 200)
            expect("no longer get" in js.text("#message"), f"the unsubscribe answer says {js.text('#message')!r}")
            suite.audit(js, "unsubscribed page")
            # The "not you?" link of a pickup receipt, for a parcel still waiting: nothing to report yet.
            parcel = state["parcel_id"]
            report = ".".join([parcel, recipient, link_mac(keys["secretHashKey"], "cubby.pickup-report.v1", parcel,
                                                           recipient)])
            js.get(f"/report/{report}")
            js.expect_page(f"/report/{report}", "Report a pickup", 200)
            expect("nothing to report" in js.text("main"), "the report page does not say the parcel is still waiting")
            suite.audit(js, "report page")
            return f"code via the outbox; parcels listed: {cells}; reminders off, expiry notices unsubscribed"

        suite.step("residents: sign in with a code from the outbox and see their own parcels", resident_pages, [js],
                   needs=("b. a parcel is dropped off through the API",))
    finally:
        quit_all(drivers)
        server.stop()

    def on_failure():
        log(f"server log: {server.log_path}\n--- last lines ---\n{server.log_tail(15)}\n---")

    return suite.report(started, args.keep, page_width=48, pages_word="pages", on_failure=on_failure)


def inclusion_root(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """The root an RFC 9162 (§2.1.3.2) inclusion proof leads to, written here from the RFC."""
    expect(0 <= index < size, f"leaf {index} is outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        expect(sn != 0, "the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    expect(sn == 0, "the inclusion proof is too short")
    return r


def link_mac(key_b64: str, label: str, *parts: str) -> str:
    """The signature part of an unsubscribe or report link: HMAC-SHA-256 under the server's hash key of the
    length-prefixed parts (KeyedHasher), its first 16 bytes in unpadded base64url."""
    mac = hmac.new(base64.b64decode(key_b64), digestmod=hashlib.sha256)
    for part in (label, *parts):
        data = part.encode()
        mac.update(len(data).to_bytes(4, "big"))
        mac.update(data)
    return base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip("=")


def credential_row(page: Page, label: str) -> dict:
    for tr in page.els("main table tbody tr"):
        if tr.find_element(By.TAG_NAME, "th").text.strip() == label:
            return {"tr": tr, "cells": [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]}
    raise CheckFailed(f"no row for the credential {label!r}")


def decode_qr(svg, workdir: Path, uri: str) -> str:
    """Decodes the QR code as a phone would (screenshot + zbarimg) and compares it with the URI."""
    zbar = shutil.which("zbarimg")
    if not zbar:
        return "QR code not decoded (zbarimg missing: apt-get install zbar-tools)"
    png = workdir / "qr.png"
    png.write_bytes(svg.screenshot_as_png)
    out = subprocess.run([zbar, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(png)],
                         capture_output=True, text=True, timeout=30)
    decoded = out.stdout.strip()
    expect(out.returncode == 0 and decoded, f"zbarimg could not read the QR code ({png}): {out.stderr.strip()}")
    expect(decoded == uri, f"the QR code holds {decoded!r}, not the otpauth URI {uri!r}")
    return "QR code decodes to the otpauth URI"


if __name__ == "__main__":
    sys.exit(browsing.main(run, __doc__))
