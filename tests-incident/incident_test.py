#!/usr/bin/env python3
"""An incident end to end, with real processes: `cubby demo` (its units are child processes), an SMTP relay
(aiosmtpd, STARTTLS), the recording SMS gateway (scripts/sms-gateway.py, standing in for an SMS provider), rsyslog
over TLS, and a webhook receiver that verifies signatures with `standardwebhooks`.

  1. Two super-administrators are on call (the first by email and SMS, the second by email; escalation after a
     shortened delay). A tamper signal at unit 1 locks the unit down; the first contact's email and SMS, the syslog
     record and the `alert.raised` webhook arrive.
  2. Nobody acknowledges: after the delay the second contact is paged, and `alert.escalated` names them.
  3. The page's link leads to the alert page behind the sign-in; opening it acknowledges nothing. The first contact
     signs in (password and authenticator code) and acknowledges: no further page arrives.
  4. Releasing the lockdown with an API key is refused (`403 step_up_required`); in the portal it is released by the
     signed-in contact, whose code is fresh.
  5. Unit 2's process is killed: a `unit_offline` alert is raised within the configured time; started again, the
     unit's return resolves it.

Usage: incident_test.py CUBBY_BINARY [--port N]. Needs aiosmtpd, standardwebhooks, pyotp, rsyslog with
rsyslog-gnutls, openssl.
"""
import argparse
import email
import email.policy
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pyotp

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DELAY = 3  # the escalation delay of the test, in seconds
PASSWORD = "violet tram under lantern"


def fail(why):
    print(f"incident-test: FAIL: {why}", file=sys.stderr)
    raise SystemExit(1)


def log(msg):
    print(f"incident-test: {msg}", flush=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """HTTP to the server: API calls with a bearer token, and a browser-like portal session with cookies."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect(), urllib.request.ProxyHandler({}))

    def request(self, method, path, body=None, token=None, form=None):
        headers = {}
        data = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.base
            data = urllib.parse.urlencode(form, doseq=True).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=10) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            return 0, str(e), {}

    def api(self, method, path, token, body=None):
        status, text, _ = self.request(method, path, body=body, token=token)
        return status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)

    def page(self, path):
        return self.request("GET", path)

    @staticmethod
    def csrf(html):
        m = re.search(r'name="csrf" value="([^"]+)"', html)
        if not m:
            fail("no anti-forgery token on the page")
        return m.group(1)

    def post_form(self, path, page_path, fields):
        status, html, _ = self.page(page_path)
        if status != 200:
            fail(f"{page_path} answered {status}")
        return self.request("POST", path, form={"csrf": self.csrf(html), **fields})


def wait(cond, what, timeout=20.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        time.sleep(step)
    fail(f"timed out waiting for {what}")


def ready_port(path, proc):
    def read():
        if proc.poll() is not None:
            fail(f"{path} exited: {open(path).read()[-2000:]}")
        try:
            m = re.search(r"^READY (\d+)", open(path).read(), re.M)
        except FileNotFoundError:
            return None
        return int(m.group(1)) if m else None
    return wait(read, f"{os.path.basename(path)} to be ready")


def free_tcp(port):
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cubby")
    parser.add_argument("--port", type=int, default=18460)
    args = parser.parse_args()
    cubby = os.path.abspath(args.cubby)
    port = args.port
    edge_port, kiosk, control, syslog_port, hook_port = port + 1, port + 2, port + 4, port + 8, port + 9
    work = tempfile.mkdtemp(prefix="cubby-incident-")
    procs = []

    def spawn(cmd, logname, env=None, cwd=None):
        out = open(os.path.join(work, logname), "ab")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd or work,
                             start_new_session=True)
        procs.append(p)
        return p

    try:
        run(cubby, work, port, edge_port, kiosk, control, syslog_port, hook_port, spawn)
    except SystemExit:
        for name in ("server.log", "rsyslog.log", "smtp.log", "sms.log", "receiver.log"):
            path = os.path.join(work, name)
            if os.path.exists(path):
                print(f"--- {name} ---\n" + open(path, errors="replace").read()[-3000:], file=sys.stderr)
        raise
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-9", "-f", os.path.join(work, "cubby-data")], check=False)
        subprocess.run(["rm", "-rf", work], check=False)


def start_rsyslog(work, syslog_port, spawn):
    def ssl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=work)
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-subj", "/CN=Cubby incident test CA", "-days", "2")
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "syslog.key",
        "-out", "syslog.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(work, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    ssl("x509", "-req", "-in", "syslog.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "syslog.pem", "-days", "2", "-extfile", "ext.cnf")
    os.makedirs(os.path.join(work, "rsyslog"), exist_ok=True)
    conf = f"""
global(workDirectory="{work}/rsyslog" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="{work}/ca.pem" DefaultNetstreamDriverCertFile="{work}/syslog.pem"
       DefaultNetstreamDriverKeyFile="{work}/syslog.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
template(name="fields" type="string" string="%msgid%\\t%msg%\\n")
ruleset(name="siem") {{ action(type="omfile" file="{work}/records.log" template="fields") }}
input(type="imtcp" address="127.0.0.1" port="{syslog_port}" ruleset="siem")
"""
    with open(os.path.join(work, "rsyslog.conf"), "w") as f:
        f.write(conf)
    spawn(["rsyslogd", "-n", "-f", f"{work}/rsyslog.conf", "-i", f"{work}/rsyslog.pid"], "rsyslog.log")
    wait(lambda: not free_tcp(syslog_port), "rsyslog to listen")


def run(cubby, work, port, edge_port, kiosk, control, syslog_port, hook_port, spawn):
    start_rsyslog(work, syslog_port, spawn)
    smtp = spawn([sys.executable, f"{REPO}/tests-mail/smtp_server.py", "--tls", "starttls", "--dir", f"{work}/mail",
                  "--make-certs"], "smtp.log")
    smtp_port = ready_port(f"{work}/smtp.log", smtp)
    sms = spawn([sys.executable, f"{REPO}/scripts/sms-gateway.py", "--token", "gw-token", "--record",
                 f"{work}/sms.jsonl"], "sms.log")
    sms_port = ready_port(f"{work}/sms.log", sms)
    with open(f"{work}/secrets.json", "w") as f:
        json.dump({}, f)
    spawn([sys.executable, f"{REPO}/tests-webhooks/receiver.py", "--port", str(hook_port), "--secrets",
           f"{work}/secrets.json", "--log", f"{work}/received.jsonl"], "receiver.log")
    wait(lambda: not free_tcp(hook_port), "the webhook receiver to listen")

    env = dict(os.environ)
    env.update({
        "CUBBY_SMTP_URL": f"smtp://cubby:s3cret%3Ap%40ss@localhost:{smtp_port}?tls=starttls",
        "CUBBY_SMTP_FROM": "Cubby Alerts <alerts@example.org>", "CUBBY_SMTP_CA_FILE": f"{work}/mail/ca.pem",
        "CUBBY_SMS_URL": f"http://127.0.0.1:{sms_port}/messages", "CUBBY_SMS_TOKEN": "gw-token",
        "CUBBY_SYSLOG_URL": f"tls://127.0.0.1:{syslog_port}?format=ocsf", "CUBBY_SYSLOG_CA_FILE": f"{work}/ca.pem",
        "CUBBY_SIEM_INTERVAL_MS": "100", "CUBBY_WEBHOOK_ALLOW_PRIVATE": "true", "CUBBY_OUTBOX_INTERVAL_MS": "100",
        "CUBBY_ALERTS_PAGE_INTERVAL_MS": "200", "CUBBY_UNITS_OFFLINE_AFTER_SECONDS": "5",
    })
    server = spawn([cubby, "demo", "--port", str(port), "--edge-port", str(edge_port), "--kiosk-port", str(kiosk),
                    "--control-port", str(control)], "server.log", env=env)
    base = f"http://127.0.0.1:{port}"
    c = Client(base)

    def healthy():
        if server.poll() is not None:
            fail("cubby demo exited early")
        return c.request("GET", "/healthz")[0] == 200 if os.path.exists(f"{work}/cubby-data/demo.json") else False
    wait(healthy, "the demo to answer", timeout=60)
    manifest = json.load(open(f"{work}/cubby-data/demo.json"))
    admin = manifest["adminToken"]
    site = manifest["siteId"]
    unit1, unit2 = manifest["units"][0]["id"], manifest["units"][1]["id"]
    wait(lambda: c.request("GET", "/api/v1/units/" + unit1, token=admin)[0] == 200, "unit 1")
    control_ok = Client(f"http://127.0.0.1:{control}")
    wait(lambda: control_ok.request("GET", "/status")[0] == 200, "unit 1's simulator")

    # Two on-call staff members; the first enrolls (password and authenticator) so that she can answer in the portal.
    def console(*a):
        r = subprocess.run([cubby, *a], cwd=work, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            fail(f"cubby {' '.join(a)}: {r.stderr or r.stdout}")
        return r.stdout
    out = console("admin", "create", "--email", "first@example.org", "--role", "super-admin")
    link = re.search(r"(http://\S+/admin/enroll\?token=\S+)", out).group(1)
    console("admin", "create", "--email", "second@example.org", "--role", "super-admin")
    console("admin", "phone", "--email", "first@example.org", "--phone", "+1 617 555 0101")
    totp = enroll(c, link)
    sign_in(c, "first@example.org", totp)

    # The webhook subscription and the on-call list.
    status, sub = c.api("POST", "/api/v1/webhooks", admin, {
        "url": f"http://127.0.0.1:{hook_port}/ok/incident",
        "events": ["alert.raised", "alert.escalated", "alert.acknowledged", "security.lockdown"]})
    if status != 201:
        fail(f"subscribing answered {status}: {sub}")
    with open(f"{work}/secrets.json", "w") as f:
        json.dump({"incident": [sub["secret"]]}, f)
    status, policy = c.api("PUT", f"/api/v1/sites/{site}/on-call", admin, {
        "escalationDelaySeconds": DELAY,
        "contacts": [{"email": "first@example.org", "channels": ["email", "sms"]},
                     {"email": "second@example.org", "channels": ["email"]}]})
    if status != 200:
        fail(f"the on-call list answered {status}: {policy}")
    first_id, second_id = (x["accountId"] for x in policy["contacts"])

    # 1. The tamper signal.
    t0 = time.monotonic()
    answer = control_ok.request("POST", "/tamper?kind=pry", body={})
    if answer[0] not in (200, 202):
        fail(f"the unit's simulator refused the tamper signal: {answer[:2]}")
    arrived = {}

    def mails():
        d = f"{work}/mail"
        out = []
        for n in range(1, 100):
            if not os.path.exists(f"{d}/{n}.json"):
                break
            meta = json.load(open(f"{d}/{n}.json"))
            msg = email.message_from_bytes(open(f"{d}/{n}.eml", "rb").read(), policy=email.policy.default)
            out.append((meta["rcpt_tos"], msg))
        return out

    def sms_lines():
        try:
            return [json.loads(x) for x in open(f"{work}/sms.jsonl") if x.strip()]
        except FileNotFoundError:
            return []

    def hooks():
        try:
            return [json.loads(x) for x in open(f"{work}/received.jsonl") if x.strip()]
        except FileNotFoundError:
            return []

    def records():
        try:
            return [x.split("\t", 1) for x in open(f"{work}/records.log") if "\t" in x]
        except FileNotFoundError:
            return []

    def hook_types():
        return [h["type"] for h in hooks()]

    def all_arrived():
        now = time.monotonic() - t0
        if "email" not in arrived and any("first@example.org" in to for to, _ in mails()):
            arrived["email"] = now
        if "sms" not in arrived and sms_lines():
            arrived["sms"] = now
        if "syslog" not in arrived and any(r[0] == "unit.tamper" for r in records()):
            arrived["syslog"] = now
        if "webhook" not in arrived and "alert.raised" in hook_types():
            arrived["webhook"] = now
        return len(arrived) == 4
    wait(all_arrived, "the email, the SMS, the syslog record and the webhook", timeout=30)
    log("tamper → " + ", ".join(f"{k} after {v * 1000:.0f} ms" for k, v in sorted(arrived.items(), key=lambda x: x[1])))

    status, unit = c.api("GET", f"/api/v1/units/{unit1}", admin)
    if not unit.get("lockedDown"):
        fail(f"unit 1 is not locked down: {unit}")
    status, alerts = c.api("GET", "/api/v1/alerts", admin)
    tamper = next((a for a in alerts["alerts"] if a["kind"] == "tamper" and a["unitId"] == unit1), None)
    if not tamper:
        fail(f"no tamper alert: {alerts}")
    alert_path = f"/admin/alerts/{tamper['id']}"
    to, msg = next((to, m) for to, m in mails() if "first@example.org" in to)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    for want in ("Tamper signal", manifest["units"][0]["name"], "locked down", base + alert_path, "UTC"):
        if want not in text:
            fail(f"the page's email does not say {want!r}:\n{text}")
    if not msg["Subject"].startswith("[CRITICAL] Tamper signal"):
        fail(f"the page's subject is {msg['Subject']!r}")
    sms = sms_lines()[0]
    if sms["to"] != "+16175550101" or base + alert_path not in sms["text"] or "locked down" not in sms["text"]:
        fail(f"the page's SMS: {sms}")
    raised = next(h for h in hooks() if h["type"] == "alert.raised")
    if raised["data"]["alertId"] != tamper["id"]:
        fail(f"alert.raised names another alert: {raised}")
    if not all(h["verified"] and all(h["verified"]) for h in hooks()):
        fail("a webhook delivery does not verify with standardwebhooks")

    # 2. Nobody acknowledges: the second contact, after the delay.
    wait(lambda: any("second@example.org" in to for to, _ in mails()), "the escalation to the second contact",
         timeout=DELAY + 10)
    escalated_after = time.monotonic() - t0
    if escalated_after < DELAY:
        fail(f"escalated after {escalated_after:.1f} s, before the {DELAY} s delay")
    wait(lambda: "alert.escalated" in hook_types(), "alert.escalated")
    escalated = next(h for h in hooks() if h["type"] == "alert.escalated")
    if escalated["data"]["accountId"] != second_id or escalated["data"]["alertId"] != tamper["id"]:
        fail(f"alert.escalated: {escalated}")
    log(f"no acknowledgement: the second contact paged after {escalated_after:.1f} s (delay {DELAY} s)")

    # 3. The link asks for the sign-in; opening it acknowledges nothing. The first contact acknowledges.
    status, _, headers = Client(base).page(alert_path)
    if status not in (302, 303) or "/admin/sign-in" not in headers.get("Location", ""):
        fail(f"the alert page without a session answered {status} {headers.get('Location')}")
    status, html, _ = c.page(alert_path)
    if status != 200 or "Tamper" not in html and "tamper" not in html:
        fail(f"the alert page answered {status}")
    if c.api("GET", f"/api/v1/alerts/{tamper['id']}", admin)[1]["acknowledgedAt"] is not None:
        fail("opening the alert page acknowledged it")
    status, _, headers = c.post_form(f"{alert_path}/acknowledge", alert_path, {"note": "on my way", "back": "alert"})
    if status not in (302, 303):
        fail(f"acknowledging answered {status}")
    acked_at = time.monotonic()
    detail = c.api("GET", f"/api/v1/alerts/{tamper['id']}", admin)[1]
    if detail["acknowledgedBy"] != first_id or detail["acknowledgeNote"] != "on my way":
        fail(f"the alert after acknowledging: {detail}")
    wait(lambda: "alert.acknowledged" in hook_types(), "alert.acknowledged")
    pages_then = (len(mails()), len(sms_lines()))
    time.sleep(2 * DELAY + 1)
    if (len(mails()), len(sms_lines())) != pages_then:
        fail(f"pages arrived after the acknowledgement: {len(mails())} emails, {len(sms_lines())} SMS")
    log(f"acknowledged in the portal; nothing more arrived in {time.monotonic() - acked_at:.0f} s")

    # 4. Release: not with an API key; in the portal by a person with a fresh code.
    status, body = c.api("POST", f"/api/v1/units/{unit1}/lockdown/release", admin)
    if status != 403 or body.get("error") != "step_up_required":
        fail(f"releasing with an API key answered {status} {body}")
    code = fresh_code(totp)
    status, _, _ = c.post_form(f"/admin/units/{unit1}/release-lockdown", "/admin/dashboard", {"code": code})
    if status not in (302, 303):
        fail(f"releasing in the portal answered {status}")
    wait(lambda: not c.api("GET", f"/api/v1/units/{unit1}", admin)[1].get("lockedDown"), "the release")
    log("release: refused to an API key (step_up_required), done in the portal with a fresh code")

    # 5. Unit 2 goes silent.
    pids = subprocess.run(["pgrep", "-f", f"{work}/cubby-data/edge-unit-2"], capture_output=True, text=True).stdout.split()
    pids = [p for p in pids if "edge\0run" in open(f"/proc/{p}/cmdline").read()]
    if len(pids) != 1:
        fail(f"expected one process of unit 2, found {pids}")
    argv = open(f"/proc/{pids[0]}/cmdline").read().rstrip("\0").split("\0")
    os.kill(int(pids[0]), signal.SIGKILL)
    killed = time.monotonic()

    def offline():
        return next((a for a in c.api("GET", "/api/v1/alerts", admin)[1]["alerts"]
                     if a["kind"] == "unit_offline" and a["unitId"] == unit2), None)
    alert = wait(offline, "the unit-offline alert", timeout=30, step=0.25)
    log(f"unit 2 killed: unit_offline raised after {time.monotonic() - killed:.1f} s (offline after 5 s silent)")
    spawn(argv, "unit2-again.log", env=env)
    wait(lambda: offline() is None, "the unit's return to resolve the alert", timeout=30, step=0.25)
    detail = c.api("GET", f"/api/v1/alerts/{alert['id']}", admin)[1]
    if detail["resolvedAt"] is None:
        fail(f"the offline alert is not resolved: {detail}")
    log("unit 2 started again: its offline alert is resolved")
    log("PASS")


def enroll(c, link):
    path = link.split("://", 1)[1].split("/", 1)[1]
    path = "/" + path
    status, html, _ = c.page(path)
    if status != 200:
        fail(f"the enrollment link answered {status}")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["token"][0]
    status, html, _ = c.request("POST", "/admin/enroll", form={
        "csrf": Client.csrf(html), "token": token, "password": PASSWORD, "confirm": PASSWORD})
    if status != 200:
        fail(f"choosing the password answered {status}")
    uri = re.search(r'otpauth://totp/[^"<\s]+', html).group(0).replace("&amp;", "&")
    secret = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query))["secret"]
    totp = pyotp.TOTP(secret)
    status, html, _ = c.request("POST", "/admin/enroll/confirm", form={
        "csrf": Client.csrf(html), "token": token, "code": fresh_code(totp)})
    if status != 200:
        fail(f"confirming the authenticator answered {status}")
    return totp


USED_STEPS = []


def fresh_code(totp):
    """A code of a time step not used before: each step's code is accepted once per account."""
    while USED_STEPS and int(time.time()) // 30 <= USED_STEPS[-1]:
        time.sleep(0.2)
    USED_STEPS.append(int(time.time()) // 30)
    return totp.now()


def sign_in(c, email_address, totp):
    status, _, headers = c.post_form("/admin/sign-in", "/admin/sign-in", {
        "email": email_address, "password": PASSWORD, "code": fresh_code(totp)})
    if status not in (302, 303) or "dashboard" not in headers.get("Location", ""):
        fail(f"signing in answered {status} {headers.get('Location')}")


if __name__ == "__main__":
    main()
