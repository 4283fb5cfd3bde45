"""What Cubby's headless-browser tests share: the Chromium driver, the page helpers, axe-core, the
step runner and the closing report.

Imported by portal_test.py (the management portal) and kiosk_test.py (a locker unit's kiosk page);
not run on its own. Each test keeps what only it checks, and the words and pages it checks them on.

  make_driver   headless Chromium on the loopback only; scripts off through the profile or DevTools
  Page          one browser: navigation, queries, forms, waiting for the next page, expect_page
  AxeAudit      axe-core on the page shown, with its tags, impacts and table
  Suite         named steps (PASS/FAIL/SKIP, screenshots on a failure), axe checks, and the summary
  main          the command line both tests take: [--keep] [--axe-script PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import time
import traceback
import urllib.parse
import urllib.request
from pathlib import Path

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING_IMPACTS = ("critical", "serious")
IMPACTS = ("critical", "serious", "moderate", "minor")

# Only loopback: the browser resolves no host name but localhost and gets no proxy.
CHROME_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1024", "--lang=en-US",
    "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--disable-domain-reliability", "--no-first-run", "--no-default-browser-check",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]

# A page that says "on" only when its script runs.
SCRIPT_PROBE = "data:text/html,<p id=probe>off</p><script>document.getElementById('probe').textContent='on'</script>"

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class CheckFailed(AssertionError):
    pass


def expect(cond, message: str):
    if not cond:
        raise CheckFailed(message)


def log(msg: str = ""):
    print(msg, flush=True)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def bypass_proxy_for_loopback():
    """Selenium's own calls to chromedriver stay off any proxy."""
    for var in ("NO_PROXY", "no_proxy"):
        os.environ[var] = ",".join(filter(None, [os.environ.get(var, ""), "127.0.0.1,localhost"]))


# ---------------------------------------------------------------------------------------------
# The browser


def make_driver(workdir: Path, name: str, javascript: bool, through_devtools: bool = False) -> webdriver.Chrome:
    """Headless Chromium with its profile and chromedriver log in `workdir`. Without `javascript`, scripts
    are off through the profile's content setting, or with `through_devtools` through DevTools: that holds
    across navigations, and the axe audit can lift it for the page already shown (axe-core needs timers)
    and set it again (Page(..., scripts_off_by_devtools=True))."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROME_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={workdir / ('profile-' + name)}")
    if not javascript and not through_devtools:
        opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver_path = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    service = Service(driver_path, log_output=str(workdir / f"chromedriver-{name}.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    if not javascript and through_devtools:
        set_scripts(driver, enabled=False)
    return driver


def set_scripts(driver: webdriver.Chrome, enabled: bool):
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": not enabled})


def quit_all(drivers: list[webdriver.Chrome]):
    for d in drivers:
        try:
            d.quit()
        except Exception:  # noqa: BLE001
            pass


def gone(element) -> bool:
    """Whether the page that held `element` has been replaced. While a navigation is under way Chromium
    may answer a query about the old node with an inspector error instead of "stale": that counts too."""
    try:
        element.is_enabled()
        return False
    except WebDriverException:  # StaleElementReferenceException is one of these
        return True


def xpath_literal(s: str) -> str:
    if "'" not in s:
        return f"'{s}'"
    if '"' not in s:
        return f'"{s}"'
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in s.split("'")) + ")"


class Page:
    """One browser on the pages under test. A test subclasses it: `alert_css` finds the error alert,
    and `follow_waits_for_load` says whether `follow` waits for the next page to finish loading or only
    for the old one to go. `scripts_off_by_devtools`: the browser was made with
    make_driver(..., javascript=False, through_devtools=True)."""

    alert_css = "[role=alert]"
    follow_waits_for_load = True

    def __init__(self, driver: webdriver.Chrome, base: str, name: str, scripts_off_by_devtools: bool = False):
        self.d = driver
        self.base = base.rstrip("/")
        self.name = name
        self.scripts_off_by_devtools = scripts_off_by_devtools

    def get(self, path_or_url: str):
        self.d.get(path_or_url if path_or_url.startswith("http") else self.base + path_or_url)

    @property
    def path(self) -> str:
        u = urllib.parse.urlsplit(self.d.current_url)
        return u.path + (("?" + u.query) if u.query else "")

    @property
    def path_only(self) -> str:
        return urllib.parse.urlsplit(self.d.current_url).path

    def status(self):
        """The HTTP status of the document shown (Navigation Timing; works with page scripts off too)."""
        return self.d.execute_script(
            "const e = performance.getEntriesByType('navigation')[0]; return e ? e.responseStatus : null;")

    def el(self, css: str):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def els(self, css: str):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def has(self, css: str) -> bool:
        return bool(self.els(css))

    def text(self, css: str) -> str:
        return self.el(css).text.strip()

    def h1(self) -> str:
        return self.text("main h1")

    def lang(self) -> str:
        return self.el("html").get_attribute("lang") or ""

    def alert(self) -> str | None:
        found = self.els(self.alert_css)
        return found[0].text.strip() if found else None

    def fill(self, element_id: str, value: str):
        e = self.d.find_element(By.ID, element_id)
        e.clear()
        e.send_keys(value)

    def wait_for_new_page(self, old, loaded: bool = True):
        """Waits until the page that held `old` (its <html>) is replaced and, with `loaded`, the next one
        has loaded."""
        WebDriverWait(self.d, 20).until(lambda _: gone(old))
        if loaded:
            WebDriverWait(self.d, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")

    def follow(self, link_text: str):
        old = self.d.find_element(By.TAG_NAME, "html")
        self.d.find_element(By.XPATH, f"//a[normalize-space()={xpath_literal(link_text)}]").click()
        self.wait_for_new_page(old, loaded=self.follow_waits_for_load)

    def expect_page(self, path: str, h1: str, status: int | None = 200, lang: str | None = None):
        """`path` is the exact path, or a regular expression for it when it starts with '^'."""
        ok = re.fullmatch(path, self.path_only) if path.startswith("^") else self.path_only == path
        expect(ok, f"expected to be on {path}, but the browser is on {self.path}")
        expect(self.h1() == h1, f"expected the heading {h1!r} on {path}, got {self.h1()!r}")
        if status is not None:
            got = self.status()
            expect(got == status, f"expected HTTP {status} for {path}, got {got}")
        if lang is not None:
            expect(self.lang() == lang, f"expected <html lang={lang!r}> on {path}, got {self.lang()!r}")


def check_javascript_off(nojs: Page, js: Page):
    """Scripts do not run in `nojs` and do run in `js`."""
    nojs.d.get(SCRIPT_PROBE)
    expect(nojs.text("#probe") == "off", "JavaScript runs in the browser that should have it off")
    js.d.get(SCRIPT_PROBE)
    expect(js.text("#probe") == "on", "JavaScript does not run in the main browser")


# ---------------------------------------------------------------------------------------------
# axe-core


def default_axe_script(explicit: str | None) -> str:
    """AXE_SCRIPT / --axe-script; else the axe-core 4.x bundled by selenium-axe-python, if installed;
    else the one bundled by axe-selenium-python."""
    if explicit:
        return explicit
    try:
        import selenium_axe_python  # axe-core 4.x

        candidate = Path(selenium_axe_python.__file__).parent / "axe-core" / "axe.min.js"
        if candidate.is_file():
            return str(candidate)
    except ImportError:
        pass
    import axe_selenium_python.axe as bundled

    return bundled._DEFAULT_SCRIPT


class AxeAudit:
    """axe-core runs. `name_unknown_tags`: the first run's log line also names the tags of AXE_TAGS the
    version does not know (they are left out either way). `ignore_known_false_positives`: findings that
    known_false_positive names go to the row's "ignored" list instead of its violations."""

    def __init__(self, script: str, name_unknown_tags: bool = False, ignore_known_false_positives: bool = False):
        self.script = script
        self.name_unknown_tags = name_unknown_tags
        self.ignore_known_false_positives = ignore_known_false_positives
        self.version = "?"
        self.tags: list[str] | None = None
        self.rows: list[dict] = []

    def run(self, page: Page, name: str) -> dict:
        """Runs axe-core on the current page; records and returns a row (never raises)."""
        row = {"page": name, "path": page.path_only, "counts": dict.fromkeys(IMPACTS, 0), "violations": [],
               "ignored": [], "incomplete": 0, "passes": 0, "error": None}
        if page.scripts_off_by_devtools:
            set_scripts(page.d, enabled=True)  # for the page already shown; no navigation happens meanwhile
        try:
            Axe(page.d, self.script).inject()
            if self.tags is None:
                self.version = page.d.execute_script("return axe.version")
                known = set(page.d.execute_script(
                    "return [].concat.apply([], axe.getRules().map(function (r) { return r.tags; }));"))
                self.tags = [t for t in AXE_TAGS if t in known]
                dropped = [t for t in AXE_TAGS if t not in known]
                log(f"    axe-core {self.version} ({self.script}); tags {self.tags}"
                    + (f"; this version does not know {dropped}" if dropped and self.name_unknown_tags else ""))
            options = json.dumps({"runOnly": {"type": "tag", "values": self.tags}})
            # Like Axe.run, but a rejected promise is reported instead of ending in a script timeout.
            result = page.d.execute_async_script(
                "var done = arguments[arguments.length - 1];"
                f"axe.run(document, {options}).then(function (r) {{ done({{ok: r}}); }},"
                " function (e) { done({error: String(e)}); });")
            if "error" in result:
                raise RuntimeError(result["error"])
            r = result["ok"]
            row["incomplete"] = len(r.get("incomplete", []))
            row["passes"] = len(r.get("passes", []))
            for v in r["violations"]:
                if self.ignore_known_false_positives:
                    real = [n for n in v["nodes"] if not self.known_false_positive(v["id"], n)]
                    if len(real) < len(v["nodes"]):
                        row["ignored"].append({**v, "nodes": [n for n in v["nodes"] if n not in real]})
                    if not real:
                        continue
                    v = {**v, "nodes": real}
                row["violations"].append(v)
                row["counts"][v.get("impact") or "minor"] += 1
        except Exception as e:  # noqa: BLE001 - an axe failure is a finding, not a crash
            row["error"] = f"{type(e).__name__}: {e}".splitlines()[0]
        finally:
            if page.scripts_off_by_devtools:
                set_scripts(page.d, enabled=False)
        self.rows.append(row)
        return row

    def known_false_positive(self, rule: str, node: dict) -> bool:
        """Findings of axe-core before 4.0 (3.1.1 ships in axe-selenium-python 2.1.6) that later
        versions and the HTML autofill rules accept: the tokens "one-time-code" and "off", and
        "username" on an email field."""
        major = self.version.split(".")[0]
        if rule != "autocomplete-valid" or not major.isdigit() or int(major) >= 4:
            return False
        html = node.get("html", "")
        return ('autocomplete="one-time-code"' in html or 'autocomplete="off"' in html
                or ('type="email"' in html and 'autocomplete="username"' in html))

    @staticmethod
    def blocking(row: dict) -> list[dict]:
        return [v for v in row["violations"] if v.get("impact") in BLOCKING_IMPACTS]

    @staticmethod
    def describe(v: dict) -> str:
        lines = [f"      [{v.get('impact')}] {v['id']}: {v['help']} ({v.get('helpUrl', '')})"]
        for n in v["nodes"]:
            lines.append(f"          target {' '.join(map(str, n['target']))}: {n.get('html', '')[:160]}")
            summary = (n.get("failureSummary") or "").replace("\n", " ").strip()
            if summary:
                lines.append(f"            {summary[:300]}")
        return "\n".join(lines)

    def table(self, page_width: int, pages_word: str):
        """Logs the violations per page by impact."""
        log("\n==== axe-core " + self.version + f" (tags {', '.join(self.tags or [])}); "
            f"failing impacts: {', '.join(BLOCKING_IMPACTS)}")
        log(f"  {'page':<{page_width}} {'crit':>4} {'ser':>4} {'mod':>4} {'min':>4} {'review':>6}")
        for row in self.rows:
            c = row["counts"]
            if row["error"]:
                log(f"  {row['page']:<{page_width}} did not run: {row['error']}")
            else:
                log(f"  {row['page']:<{page_width}} {c['critical']:>4} {c['serious']:>4} {c['moderate']:>4} "
                    f"{c['minor']:>4} {row['incomplete']:>6}")
        totals = {k: sum(r["counts"][k] for r in self.rows) for k in IMPACTS}
        log(f"  {len(self.rows)} {pages_word}; violations: " + ", ".join(f"{k} {v}" for k, v in totals.items()))


# ---------------------------------------------------------------------------------------------
# The run


class Suite:
    """The steps of one test. `source` is the test script's file: a step that fails with an unexpected
    error names the script's line it came from."""

    def __init__(self, workdir: Path, axe: AxeAudit, source: str):
        self.workdir = workdir
        self.axe = axe
        self.source = source
        self.results: list[tuple[str, str, str]] = []  # (name, PASS/FAIL/SKIP, detail)
        self.failed_steps: set[str] = set()
        self.shots = 0

    def screenshot(self, page: Page | None, name: str) -> str:
        if page is None:
            return ""
        self.shots += 1
        base = self.workdir / f"fail-{self.shots:02d}-{slug(name)}"
        try:
            page.d.save_screenshot(str(base) + ".png")
            Path(str(base) + ".html").write_text(page.d.page_source)
            return f"{base}.png (page at {page.d.current_url}; HTML in {base}.html)"
        except WebDriverException as e:
            return f"(no screenshot: {e.msg})"

    def step(self, name: str, fn, pages: list[Page], needs: tuple[str, ...] = ()):
        missing = [n for n in needs if n in self.failed_steps]
        if missing:
            self.failed_steps.add(name)
            self.results.append((name, "SKIP", f"needs {', '.join(missing)}"))
            log(f"SKIP {name} (needs {', '.join(missing)})")
            return
        log(f"---- {name}")
        started = time.time()
        try:
            detail = fn() or ""
            self.results.append((name, "PASS", detail))
            log(f"PASS {name} ({time.time() - started:.1f} s){': ' + detail if detail else ''}")
        except Exception as e:  # noqa: BLE001
            self.failed_steps.add(name)
            where = [self.screenshot(p, name) for p in pages]
            if isinstance(e, CheckFailed):
                msg = str(e)
            else:
                text = (e.msg if isinstance(e, WebDriverException) and e.msg else str(e)) or ""
                frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == self.source]
                at = f" (at line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
                msg = f"{type(e).__name__}: {text.splitlines()[0] if text else ''}{at}"
            detail = msg + "".join(f"\n    screenshot: {w}" for w in where if w)
            self.results.append((name, "FAIL", detail))
            log(f"FAIL {name}: {detail}")

    def audit(self, page: Page, name: str):
        """axe-core on the page shown now; a serious or critical violation is a failed check."""
        row = self.axe.run(page, name)
        check = f"axe: {name}"
        counts = ", ".join(f"{k} {row['counts'][k]}" for k in IMPACTS)
        if row["error"]:
            self.results.append((check, "FAIL", f"axe did not run: {row['error']}"))
            log(f"    axe {name}: did not run: {row['error']}")
            return
        log(f"    axe {name} ({row['path']}): {counts}; needs review {row['incomplete']}, rules passed {row['passes']}")
        for v in row["violations"]:
            log(AxeAudit.describe(v))
        for v in row["ignored"]:
            targets = ", ".join(" ".join(map(str, n["target"])) for n in v["nodes"])
            log(f"      (ignored: known false positive of axe-core {self.axe.version}) {v['id']} on {targets}")
        blocking = AxeAudit.blocking(row)
        if blocking:
            shot = self.screenshot(page, check)
            self.results.append((check, "FAIL", f"{len(blocking)} serious/critical violation(s): "
                                 + ", ".join(v["id"] for v in blocking) + f"\n    screenshot: {shot}"))
        else:
            self.results.append((check, "PASS", counts))

    def report(self, started: float, keep: bool, page_width: int, pages_word: str, on_failure=None) -> int:
        """The axe table, then PASS/FAIL per check and the closing line; keeps the work dir after a failure
        or with `keep` (`on_failure` logs more first). Returns the exit code: 0 when everything passed."""
        self.axe.table(page_width, pages_word)
        log("\n==== results")
        for name, status, detail in self.results:
            log(f"{status:<4} {name}" + (f"\n     {detail.splitlines()[0]}" if status != "PASS" and detail else ""))
        passed = sum(1 for _, s, _ in self.results if s == "PASS")
        failed = sum(1 for _, s, _ in self.results if s == "FAIL")
        skipped = sum(1 for _, s, _ in self.results if s == "SKIP")
        log(f"\nruntime {time.time() - started:.0f} s")
        if failed or skipped or keep:
            if (failed or skipped) and on_failure is not None:
                on_failure()
            log(f"work dir kept: {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        log(f"{'PASS' if not failed and not skipped else 'FAIL'}: {passed} passed, {failed} failed"
            + (f", {skipped} skipped" if skipped else ""))
        return 0 if not failed and not skipped else 1


def main(run, doc: str) -> int:
    """Parses the options both tests take and calls `run(args)`; `doc` is the test's module docstring."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary work dir even when everything passed")
    parser.add_argument("--axe-script", help="the axe-core script to inject (default: see AXE_SCRIPT)")
    args = parser.parse_args()
    try:
        return run(args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
