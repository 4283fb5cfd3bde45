#!/usr/bin/env python3
"""Headless-browser tests of a locker unit's kiosk page, run against a running cubby-edge.

Drives the kiosk page in headless Chromium through Selenium:

  (a) the start screen in English and, through the language switch, in Spanish;
  (b) a wrong PIN typed on the keypad, and a wrong QR code "scanned" (typed into the focused field
      and ended with Enter, as a keyboard-wedge scanner does): both get the one generic failure;
  (c) a courier signs in with its credential, drops off two parcels in a row and signs out ("Done");
      the drop-off form is gone afterwards;
  (d) in a second browser with JavaScript disabled: a wrong PIN gets the same failure, and the
      good PIN opens a compartment;
  (e) axe-core on every page state (start en/es, failure, opened, courier sign-in, drop-off form,
      drop-off result, signed out); any "serious" or "critical" violation fails the run, with no
      exception;
  (f) with JavaScript on, the return to the start screen after the idle timeout (`idle.js`, which
      reads `<body data-idle-seconds>`): a courier page left alone goes to /?idle=1 by itself, and the
      start screen there is in the default language again; a failure page whose PIN field gets a key
      every second for longer than the timeout stays, and returns once the typing stops;
  and checks the security headers of the start page and the idle script.

Every page but the start screen must load `<script src="/static/idle.js" defer>` and no other script,
and no page may refresh itself with `<meta http-equiv="refresh">` (axe's meta-refresh, WCAG 2.2.1).
In steps (a) to (d) the JavaScript browser does not fetch idle.js (blocked through DevTools), so a short
timeout cannot take a page away in the middle of a check; step (f) lets it through. Step (f) takes
about three and a half timeouts (3.5 minutes at the default 60 s): run it against a unit started with
a short one (`--kiosk-idle-seconds 5` and KIOSK_IDLE_SECONDS=5, about 20 s).

It makes at most three wrong pickup attempts before the good PIN, fewer than the unit's lockout
threshold (docs/security.md), and uses the good PIN once: it opens a compartment for real. The
failure page of step (f) comes from a PIN of spaces, which the kiosk refuses without asking the unit.

Usage: python3 tests-browser/kiosk_test.py [--keep] [--axe-script PATH]
Environment:
  KIOSK_URL            the kiosk's base URL, e.g. http://127.0.0.1:8089
  KIOSK_GOOD_PIN       a live PIN that opens a compartment at this unit
  KIOSK_COURIER_TOKEN  a courier credential valid at this unit
  KIOSK_RECIPIENT_ID   a recipient id the unit accepts drop-offs for
  KIOSK_IDLE_SECONDS   the kiosk's idle timeout in seconds, as the unit was started with (default 60,
                       at least 3)
  CHROME_BIN, CHROMEDRIVER, AXE_SCRIPT (optional)
Exits 0 when every check passed, 1 when one failed, 2 when the test could not start.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # browsing.py, from any working directory

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    import browsing
    from browsing import (NO_PROXY, SCRIPT_PROBE, AxeAudit, CheckFailed, Suite, bypass_proxy_for_loopback,
                          check_javascript_off, default_axe_script, expect, gone, log, make_driver, quit_all,
                          xpath_literal)
except ImportError as e:  # pragma: no cover
    print(f"missing Python package ({e}); install: pip install selenium axe-selenium-python selenium-axe-python",
          file=sys.stderr)
    sys.exit(2)

# The kiosk's own words (Sources/CubbyKiosk/KioskWording.swift), written out to check against.
TEXT = {
    "en": {
        "start": "Pick up a parcel",
        "courier_button": "I'm a courier",
        "pin_button": "Open with PIN",
        "rejected": "That code did not open a compartment. Check it and try again, or ask the building staff for help.",
        "code_missing": "Type or scan a code first.",
        "idle_note": "Without a touch, this screen goes back to the start after {} seconds.",
        "opened_title": "Your compartment is open",
        "opened": r"Compartment (\S+) is open — take your parcel and close the door\.",
        "sign_in_title": "Courier sign-in",
        "sign_in": "Sign in",
        "dropoff_title": "Drop off parcels",
        "dropoff_button": "Open a compartment",
        "put_parcel": r"Put parcel (\S+) in compartment (\S+) and close the door\.",
        "done": "Done",
        "signed_out_title": "Signed out",
        "signed_out": "You are signed out. Thank you.",
    },
    "es": {
        "start": "Recoger un paquete",
        "courier_button": "Soy repartidor",
        "pin_button": "Abrir con PIN",
        "sign_in_title": "Acceso de repartidores",
        "rejected": "Ese código no abrió ningún compartimento. Revíselo e inténtelo de nuevo, o pida ayuda al personal del edificio.",
    },
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
MIN_TARGET_PX = 64
IDLE_SCRIPT = "/static/idle.js"
# How much later than the idle timeout the return to the start may come (page load, timer slack).
IDLE_MARGIN_S = 10


def fetch(url: str, timeout: float = 5, body: bool = False):
    """A plain GET, never through a proxy: (status, headers), or (status, headers, text) with `body`."""
    try:
        with NO_PROXY.open(urllib.request.Request(url), timeout=timeout) as r:
            return (r.status, r.headers, r.read().decode()) if body else (r.status, r.headers)
    except urllib.error.HTTPError as e:
        return (e.code, e.headers, "") if body else (e.code, e.headers)


# ---------------------------------------------------------------------------------------------
# The browser


def block_idle_script(driver: webdriver.Chrome, blocked: bool):
    """Whether the browser may fetch idle.js: blocked, the pages stay put whatever the idle timeout."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*" + IDLE_SCRIPT + "*"] if blocked else []})


class Page(browsing.Page):
    """One browser on the kiosk."""

    alert_css = "main [role=alert]"

    def has_button(self, label: str) -> bool:
        return bool(self.d.find_elements(By.XPATH, f"//button[normalize-space()={xpath_literal(label)}]"))

    def click_button(self, label: str):
        """Clicks a submit button and waits for the next page."""
        old = self.d.find_element(By.TAG_NAME, "html")
        self.d.find_element(By.XPATH, f"//button[normalize-space()={xpath_literal(label)}]").click()
        self.wait_for_new_page(old)

    def scan(self, text: str):
        """Types into the focused field and ends with Enter, as a keyboard-wedge scanner or card reader does."""
        old = self.d.find_element(By.TAG_NAME, "html")
        self.d.switch_to.active_element.send_keys(text + Keys.ENTER)
        self.wait_for_new_page(old)

    def idle_return(self) -> str | None:
        """The idle timeout the page hands to idle.js (`<body data-idle-seconds>`), or None when the page
        neither loads the script nor carries a timeout. Fails on a meta refresh, on an inline script, on
        any other script, and on only one half of the pair."""
        expect(not self.has("meta[http-equiv=refresh]"), f"{self.path} refreshes itself with a meta element")
        expect(not self.has("script:not([src])"), f"{self.path} has an inline script")
        scripts = [self.d.execute_script("return arguments[0].getAttribute('src')", e) for e in self.els("script")]
        seconds = self.el("body").get_attribute("data-idle-seconds")
        if not scripts and seconds is None:
            return None
        expect(scripts == [IDLE_SCRIPT] and self.has(f"script[src='{IDLE_SCRIPT}'][defer]"),
               f"{self.path} loads the scripts {scripts}, expected only {IDLE_SCRIPT}, deferred")
        expect(seconds is not None, f"{self.path} loads {IDLE_SCRIPT} but <body> has no data-idle-seconds")
        return seconds

    def wait_for_idle_return(self, since: float, idle: int) -> float:
        """Waits, touching nothing, until the browser is on the start screen by itself; returns the
        seconds from `since` (time.monotonic) to then. Fails when it comes later than the timeout plus
        IDLE_MARGIN_S."""
        left = self.path
        deadline = since + idle + IDLE_MARGIN_S
        while time.monotonic() < deadline:
            now = self.path
            if now != left:
                waited = time.monotonic() - since
                expect(now == "/?idle=1", f"{left} went to {now} after {waited:.1f} s, not to /?idle=1")
                WebDriverWait(self.d, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
                return waited
            time.sleep(0.2)
        raise CheckFailed(f"still on {left} {time.monotonic() - since:.1f} s later; the idle timeout is {idle} s")

    def small_targets(self) -> list[str]:
        """Visible buttons, links styled as buttons, text inputs and radio rows lower than MIN_TARGET_PX."""
        found = []
        for e in self.els("main button, main a.button, main input[type=text], main input[type=password], "
                          "main .size, header nav a"):
            if e.is_displayed() and e.size["height"] < MIN_TARGET_PX:
                found.append(f"{e.tag_name}#{e.get_attribute('id') or ''} {e.text.strip()[:30]!r} {e.size['height']}px")
        return found


def wrong_pin(good: str, length: int) -> str:
    for digit in "0123456789":
        candidate = digit * max(1, length)
        if candidate != good:
            return candidate
    raise RuntimeError("unreachable")


def run(args) -> int:
    started = time.time()
    env = {k: os.environ.get(k, "").strip() for k in
           ("KIOSK_URL", "KIOSK_GOOD_PIN", "KIOSK_COURIER_TOKEN", "KIOSK_RECIPIENT_ID")}
    missing = [k for k, v in env.items() if not v]
    if missing:
        log(f"set {', '.join(missing)} (see the usage at the top of {Path(__file__).name})")
        return 2
    base = env["KIOSK_URL"].rstrip("/")
    bypass_proxy_for_loopback()
    try:
        status, headers = fetch(base + "/")
    except OSError as e:
        log(f"the kiosk at {base} cannot be reached: {e}")
        return 2
    if status not in (200, 503):
        log(f"the kiosk at {base} answers GET / with HTTP {status}")
        return 2

    state: dict = {}
    workdir = Path(tempfile.mkdtemp(prefix="cubby-kiosk-test-"))
    log(f"work dir {workdir}; kiosk at {base}")
    idle_text = os.environ.get("KIOSK_IDLE_SECONDS", "").strip() or "60"
    if not idle_text.isdigit() or int(idle_text) < 3:
        log(f"KIOSK_IDLE_SECONDS must be a whole number of seconds, at least 3, not {idle_text!r}")
        return 2
    idle = int(idle_text)
    state["idle"] = str(idle)
    axe = AxeAudit(default_axe_script(args.axe_script or os.environ.get("AXE_SCRIPT")))
    suite = Suite(workdir, axe, source=__file__)
    drivers: list[webdriver.Chrome] = []
    try:
        try:
            js = Page(d := make_driver(workdir, "js", javascript=True), base, "js")
            drivers.append(d)
            nojs = Page(d := make_driver(workdir, "nojs", javascript=False, through_devtools=True), base, "nojs",
                        scripts_off_by_devtools=True)
            drivers.append(d)
            # Until step (f), no page of the JavaScript browser leaves by itself in the middle of a check.
            block_idle_script(js.d, blocked=True)
        except WebDriverException as e:
            log(f"Chromium did not start: {e.msg}")
            return 2

        en, es = TEXT["en"], TEXT["es"]

        # ---- the response headers --------------------------------------------------------------

        def security_headers():
            status, headers = fetch(base + "/?lang=en")
            expect(status == 200, f"GET / answers HTTP {status} (is the unit locked down?)")
            for name, value in SECURITY_HEADERS.items():
                expect(headers.get(name) == value, f"{name}: {headers.get(name)!r}, expected {value!r}")
            status, headers, script = fetch(base + IDLE_SCRIPT, body=True)
            expect(status == 200, f"GET {IDLE_SCRIPT} answers HTTP {status}")
            expect(headers.get("Content-Type") == "text/javascript; charset=utf-8",
                   f"{IDLE_SCRIPT} comes as {headers.get('Content-Type')!r}")
            for name, value in SECURITY_HEADERS.items():
                expect(headers.get(name) == value, f"{name} on {IDLE_SCRIPT}: {headers.get(name)!r}")
            for word in ("data-idle-seconds", '"keydown"', '"pointerdown"', '"touchstart"', '"input"', '"/?idle=1"'):
                expect(word in script, f"{IDLE_SCRIPT} does not mention {word}")

        # ---- (a) the start screen ----------------------------------------------------------------

        def start_english():
            js.get("/?lang=en")
            js.expect_page("/", en["start"], 200, lang="en")
            expect(js.idle_return() is None, "the start screen goes back to the start by itself")
            pin = js.el("#pin")
            expect(pin.get_attribute("inputmode") == "numeric", "the PIN field does not ask for the numeric keypad")
            expect(pin.get_attribute("autocomplete") == "off", "the PIN field allows autocomplete")
            state["pin_length"] = int(pin.get_attribute("maxlength") or "0")
            expect(state["pin_length"] > 0, "the PIN field has no maxlength")
            active = js.d.switch_to.active_element.get_attribute("id")
            expect(active == "qr", f"the focused field is {active!r}, not the scanner's field 'qr'")
            for field in ("pin", "qr", "rfid"):
                expect(js.has(f"label[for={field}]"), f"the {field} field has no label")
            expect(js.d.find_element(By.LINK_TEXT, en["courier_button"]).get_attribute("href").endswith("/courier"),
                   "no courier button")
            small = js.small_targets()
            expect(not small, f"touch targets under {MIN_TARGET_PX}px: {small}")
            suite.audit(js, "start (en)")
            return f"PIN length {state['pin_length']}"

        def start_spanish():
            js.get("/?lang=en")
            js.follow("Español")
            js.expect_page("/", es["start"], 200, lang="es")
            expect(js.d.find_element(By.LINK_TEXT, es["courier_button"]).is_displayed(), "no courier button in Spanish")
            expect(js.has_button(es["pin_button"]), "the PIN button is not in Spanish")
            suite.audit(js, "start (es)")
            # The choice sticks across pages.
            js.get("/courier")
            expect(js.lang() == "es", "the courier page is not in Spanish after the switch")
            js.get("/")
            js.follow("English")
            js.expect_page("/", en["start"], 200, lang="en")

        suite.step("security headers of the start page and the idle script", security_headers, [])
        suite.step("a. the start screen in English", start_english, [js])
        suite.step("a. the language switch to Spanish and back", start_spanish, [js])
        started_ok = ("a. the start screen in English",)

        # ---- (b) wrong codes -------------------------------------------------------------------

        def wrong_pin_typed():
            js.get("/")
            bad = wrong_pin(env["KIOSK_GOOD_PIN"], state["pin_length"])
            js.fill("pin", bad)
            js.click_button(en["pin_button"])
            js.expect_page("/pickup", en["start"], 403, lang="en")
            expect(js.alert() == en["rejected"], f"unexpected failure text: {js.alert()!r}")
            expect(bad not in js.d.page_source, "the failure page shows the code")
            expect(js.idle_return() == state["idle"], f"the failure page's idle timeout is {js.idle_return()!r}")
            note = en["idle_note"].format(idle)
            expect(js.text("#idle-note") == note, f"the failure page says {js.text('#idle-note')!r}, not {note!r}")
            state["failure_html"] = js.el("main [role=alert]").get_attribute("outerHTML")
            suite.audit(js, "pickup failure")

        def wrong_qr_scanned():
            js.get("/")
            token = "NOT-A-CUBBY-TOKEN-" + str(int(time.time()))
            js.scan(token)
            js.expect_page("/pickup", en["start"], 403)
            expect(js.alert() == en["rejected"], f"a scanned wrong QR code gets {js.alert()!r}")
            expect(js.el("main [role=alert]").get_attribute("outerHTML") == state.get("failure_html"),
                   "the failure for a QR code differs from the one for a PIN")
            expect(token not in js.d.page_source, "the failure page shows the scanned code")

        suite.step("b. a wrong PIN gets the generic failure", wrong_pin_typed, [js], needs=started_ok)
        suite.step("b. a wrong QR code, scanned, gets the same failure", wrong_qr_scanned, [js],
                   needs=("b. a wrong PIN gets the generic failure",))

        # ---- (c) a courier ---------------------------------------------------------------------

        def courier_sign_in():
            js.get("/")
            js.follow(en["courier_button"])
            js.expect_page("/courier", en["sign_in_title"], 200, lang="en")
            field = js.el("#credential")
            expect(field.get_attribute("type") == "password", "the credential field is not a password field")
            expect(js.idle_return() == state["idle"], "the sign-in page does not go back to the start when idle")
            suite.audit(js, "courier sign-in")
            js.fill("credential", env["KIOSK_COURIER_TOKEN"])
            js.click_button(en["sign_in"])
            js.expect_page("/courier/dropoff", en["dropoff_title"], 200)
            cookie = next((c for c in js.d.get_cookies() if c["name"] == "cubby_kiosk_courier"), None)
            expect(cookie is not None, "no courier session cookie")
            expect(cookie.get("httpOnly") and cookie.get("sameSite") == "Strict" and cookie.get("path") == "/",
                   f"the session cookie's attributes: {cookie}")
            expect(re.fullmatch(r"[0-9a-f]{32}", cookie["value"]), "the session cookie is not 128 random bits in hex")
            for size in ("S", "M", "L", "XL"):
                expect(js.has(f"input[type=radio][name=size][value={size}]"), f"no size {size}")
            small = js.small_targets()
            expect(small == [], f"touch targets under {MIN_TARGET_PX}px: {small}")
            suite.audit(js, "courier drop-off form")

        def two_dropoffs():
            stamp = time.strftime("%H%M%S")
            seen = []
            for n, size in ((1, "S"), (2, "M")):
                number = f"1ZKIOSK{stamp}{n}"
                js.fill("tracking", number)
                js.fill("recipient", env["KIOSK_RECIPIENT_ID"])
                js.el(f"label[for=size-{size}]").click()
                js.click_button(en["dropoff_button"])
                js.expect_page("/courier/dropoff", en["dropoff_title"], 200)
                result = js.text("main .result[role=status]") if js.has("main .result[role=status]") else ""
                m = re.fullmatch(en["put_parcel"], result)
                expect(m and m.group(1) == number, f"drop-off {n}: result {result!r}; alert {js.alert()!r}")
                seen.append(m.group(2))
                expect(js.el("#tracking").get_attribute("value") == "", "the form is not empty for the next parcel")
                if n == 1:
                    suite.audit(js, "courier drop-off result")
            state["dropoff_compartments"] = seen
            expect(len(set(seen)) == 2, f"both parcels went to the same compartment: {seen}")
            return f"compartments {seen}"

        def courier_done():
            js.click_button(en["done"])
            js.expect_page("/courier/done", en["signed_out_title"], 200)
            expect(en["signed_out"] in js.text("main"), "no sign-out message")
            expect(js.d.get_cookie("cubby_kiosk_courier") is None, "the session cookie is still set")
            suite.audit(js, "courier signed out")
            js.get("/courier/dropoff")
            expect(js.path_only == "/courier", f"/courier/dropoff after Done shows {js.path}")
            expect(not js.has("#tracking"), "the drop-off form is still reachable")

        suite.step("c. a courier signs in", courier_sign_in, [js], needs=started_ok)
        suite.step("c. two drop-offs in a row", two_dropoffs, [js], needs=("c. a courier signs in",))
        suite.step("c. Done signs the courier out", courier_done, [js], needs=("c. a courier signs in",))

        # ---- (d) without JavaScript ------------------------------------------------------------

        def javascript_off():
            check_javascript_off(nojs, js)

        def pin_flow_without_js():
            nojs.get("/?lang=en")
            nojs.expect_page("/", en["start"], 200, lang="en")
            nojs.fill("pin", wrong_pin(env["KIOSK_GOOD_PIN"], state.get("pin_length", len(env["KIOSK_GOOD_PIN"]))))
            nojs.click_button(en["pin_button"])
            nojs.expect_page("/pickup", en["start"], 403)
            expect(nojs.alert() == en["rejected"], f"unexpected failure text without JavaScript: {nojs.alert()!r}")
            nojs.fill("pin", env["KIOSK_GOOD_PIN"])
            nojs.click_button(en["pin_button"])
            nojs.expect_page("/pickup", en["opened_title"], 200)
            message = nojs.text("main .result[role=status]")
            m = re.fullmatch(en["opened"], message)
            expect(m, f"the good PIN did not open a door: {message!r}")
            expect(nojs.idle_return() == state["idle"], "the opened page does not go back to the start when idle")
            suite.audit(nojs, "pickup opened")
            nojs.follow("Done")
            nojs.expect_page("/", en["start"], 200)
            nojs.d.get(SCRIPT_PROBE)
            expect(nojs.text("#probe") == "off", "JavaScript is on again after the axe audit")
            return f"compartment {m.group(1)} opened"

        suite.step("d. JavaScript is really off in the second browser", javascript_off, [nojs, js])
        suite.step("d. without JavaScript: a wrong PIN, then the good PIN opens a door", pin_flow_without_js, [nojs],
                   needs=("d. JavaScript is really off in the second browser",) + started_ok)

        # ---- (f) back to the start when idle, with JavaScript on --------------------------------

        def idle_return_alone():
            block_idle_script(js.d, blocked=False)
            js.get("/?lang=es")
            js.get("/courier")
            loaded = time.monotonic()
            js.expect_page("/courier", es["sign_in_title"], 200, lang="es")
            expect(js.idle_return() == state["idle"], f"the sign-in page's idle timeout is {js.idle_return()!r}")
            expect(js.d.get_cookie("cubby_kiosk_lang") is not None, "the language switch set no cookie")
            waited = js.wait_for_idle_return(loaded, idle)
            expect(waited >= idle - 1, f"back at the start after {waited:.1f} s, before the {idle} s timeout")
            js.expect_page("/", en["start"], 200, lang="en")
            expect(js.d.get_cookie("cubby_kiosk_lang") is None, "the last visitor's language is still remembered")
            expect(js.idle_return() is None, "the start screen goes back to the start by itself")
            return f"back at the start after {waited:.1f} s, in the default language"

        def idle_typing_keeps_page():
            block_idle_script(js.d, blocked=False)
            js.get("/?lang=en")
            # A PIN of spaces: the kiosk refuses it as missing without asking the unit, so it is no guess.
            js.fill("pin", "   ")
            js.click_button(en["pin_button"])
            js.expect_page("/pickup", en["start"], 400, lang="en")
            expect(js.alert() == en["code_missing"], f"unexpected text for an empty PIN: {js.alert()!r}")
            expect(js.idle_return() == state["idle"], "the failure page does not go back to the start when idle")
            page = js.d.find_element(By.TAG_NAME, "html")
            pin = js.el("#pin")
            pin.clear()
            typing = idle + max(3, idle // 2)
            keys = [str(n % 10) if n % 3 != 2 else Keys.BACKSPACE for n in range(typing)]
            start = time.monotonic()
            for n, key in enumerate(keys):
                # One key a second, on the clock rather than after the last one, so the gaps stay at 1 s.
                time.sleep(max(0.0, start + n - time.monotonic()))
                expect(not gone(page) and js.path_only == "/pickup",
                       f"the page went to {js.path} {time.monotonic() - start:.1f} s into the typing, "
                       f"with a key every second (idle timeout {idle} s)")
                pin.send_keys(key)
            last_key = time.monotonic()
            expect(last_key - start > idle, f"typed for only {last_key - start:.1f} s")
            expect(not gone(page), "the page went away with the last key")
            typed = pin.get_attribute("value")
            waited = js.wait_for_idle_return(last_key, idle)
            expect(waited >= idle - 1, f"back at the start {waited:.1f} s after the last key, before the {idle} s timeout")
            js.expect_page("/", en["start"], 200, lang="en")
            expect(js.alert() is None, "the start screen still shows the failure")
            return (f"stayed {last_key - start:.0f} s while typing ({len(keys)} keys, field {typed!r}); "
                    f"back at the start {waited:.1f} s after the last key")

        suite.step("f. JavaScript on: a page left alone goes back to the start, and the language resets",
                   idle_return_alone, [js], needs=started_ok)
        suite.step("f. JavaScript on: typing in the PIN field keeps the page; it goes back once the typing stops",
                   idle_typing_keeps_page, [js], needs=started_ok)
    finally:
        quit_all(drivers)

    return suite.report(started, args.keep, page_width=32, pages_word="page states")


if __name__ == "__main__":
    sys.exit(browsing.main(run, __doc__))
