#!/usr/bin/env python3
"""Users signing in to `certgen serve` from a real browser, the way the Flask web-app sample does.

A tiny web app in the shape of the Flask sample (routes /, /login, /getAToken, /logout), on
http.server, signs users in with MSAL for Python (`initiate_auth_code_flow` +
`acquire_token_by_auth_code_flow`); headless Chromium, driven by Selenium through Debian's
chromedriver, plays the user. Run by tests/it/serve/signin_browser.rs (and usable by hand).

Steps, in order: form_post sign-in with a secret (the sign-in page photographed and checked),
refresh, Graph /v1.0/me, logout, query sign-in with a certificate, a sign-in answered by serve's
session, the device-code flow on its page, and a sign-in in a second browser running no script.

Protocol: the app binds 127.0.0.1:APP_PORT (env, default 0 = a free port) and prints
`{"app_port": N}`; the caller registers http://localhost:N/getAToken for the web app, starts
serve, then writes one JSON line of settings on stdin:

  authority            serve's URL with the tenant (https://127.0.0.1:PORT/TENANT)
  ca_file              the PEM serve's TLS certificate is trusted from (its ready line's ca_file)
  client_id            the confidential web app
  client_secret        its secret
  key_pem, thumbprint  its certificate's private key (PEM file) and SHA-1 thumbprint (hex)
  public_client_id     a public client, for the device-code flow
  user                 the UPN to pick on the sign-in page
  scopes               e.g. ["User.Read"]
  out_dir              where the screenshots go
  chromium, chromedriver  optional: the binaries (default /usr/bin/chromium, /usr/bin/chromedriver)

It prints one JSON line: each step's outcome ("steps": name -> true/false, "errors": name ->
text) and what was seen along the way (claims, the nonce MSAL sent, page checks). Exit status 0
when every step passed. No refresh token or secret is printed; tokens are, so the caller can
verify their signatures with serve's keys.
"""

import base64
import hashlib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import traceback
import urllib.parse
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msal
import requests

# response_mode=query is one of the modes under test; MSAL's warning recommending form_post
# would only be noise on stderr.
warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")

# The flags CI runs Chromium with; none weakens TLS. Trust in serve's certificate comes from
# an NSS database in a private HOME (see `nss_home`), as a user would add it on a desktop.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# A phone's viewport: the sign-in page must be readable there (issue 14), so it is shown and
# photographed at this size.
PHONE = (390, 844)
WAIT = 30  # seconds any page may take; only a ceiling, never a measured time
MAX_FORM = 64 * 1024


def jwt_claims(token):
    """The payload of a JWT, unverified (the Rust side verifies signatures with serve's keys)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class WebApp:
    """The web app: one MSAL ConfidentialClientApplication per credential kind, as a Flask app
    built with either a secret or a certificate would have."""

    def __init__(self, settings, port):
        self.base = f"http://localhost:{port}"
        self.redirect_uri = f"{self.base}/getAToken"
        self.scopes = settings.get("scopes", ["User.Read"])
        common = dict(
            authority=settings["authority"],
            # serve is not a Microsoft cloud host: no instance discovery, no validation.
            instance_discovery=False,
            validate_authority=False,
            verify=settings["ca_file"],
        )
        with open(settings["key_pem"]) as f:
            key = f.read()
        self.msal = {
            "secret": msal.ConfidentialClientApplication(
                settings["client_id"], client_credential=settings["client_secret"], **common
            ),
            "certificate": msal.ConfidentialClientApplication(
                settings["client_id"],
                client_credential={"private_key": key, "thumbprint": settings["thumbprint"]},
                **common,
            ),
        }
        # The Flask sample keeps the flow in the session cookie. A form_post answer is a
        # cross-site POST (serve at https://127.0.0.1 → http://localhost), on which Chromium
        # withholds SameSite=Lax cookies, so the flow is kept here keyed by its `state` —
        # what the redirect carries back — and no cookie is needed.
        self.flows = {}
        self.results = []  # (credential kind, flow, MSAL result), in order
        self.lock = threading.Lock()

    def login(self, query):
        kind = query.get("cred", "secret")
        mode = query.get("mode", "form_post")
        flow = self.msal[kind].initiate_auth_code_flow(
            self.scopes,
            redirect_uri=self.redirect_uri,
            response_mode=mode,
        )
        with self.lock:
            self.flows[flow["state"]] = (kind, flow)
        return flow["auth_uri"]

    def redeem(self, params):
        with self.lock:
            kind, flow = self.flows.pop(params.get("state"), (None, None))
        if flow is None:
            return None, {"error": "unknown_state", "error_description": "no flow for this state"}
        result = self.msal[kind].acquire_token_by_auth_code_flow(flow, params)
        with self.lock:
            self.results.append((kind, flow, result))
        return kind, result


def handler_for(app):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass  # stdout carries the JSON result; stderr stays for real failures

        def page(self, status, body):
            data = f"<!doctype html><html><head><title>web app</title></head><body>{body}</body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/":
                self.page(200, '<h1 id="index">Signed out</h1><a href="/login">Sign in</a>')
            elif url.path == "/login":
                self.send_response(302)
                self.send_header("Location", app.login(query))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/getAToken":
                self.finish_sign_in(query)
            else:
                self.page(404, "not found")

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if url.path != "/getAToken" or length > MAX_FORM:
                self.page(404, "not found")
                return
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            self.finish_sign_in(form)

        def finish_sign_in(self, params):
            try:
                kind, result = app.redeem(params)
            except Exception as e:  # shown on the page and reported; the driver waits for it
                kind, result = None, {"error": "client_exception", "error_description": repr(e)}
            if "id_token_claims" in result:
                claims = result["id_token_claims"]
                self.page(
                    200,
                    f'<h1 id="hello">Hello, {html.escape(claims.get("name", ""))}</h1>'
                    f'<p id="upn">{html.escape(claims.get("preferred_username", ""))}</p>'
                    f'<p id="cred">{html.escape(kind)}</p>',
                )
            else:
                self.page(
                    200,
                    f'<h1 id="error">{html.escape(str(result.get("error")))}</h1>'
                    f'<pre>{html.escape(str(result.get("error_description")))}</pre>',
                )

    return Handler


def nss_home(ca_file, certutil):
    """A HOME whose NSS database trusts serve's certificate: Chromium on Linux reads user trust
    from ~/.pki/nssdb. serve's certificate is self-signed (CA:FALSE), so it is added as a trusted
    peer ("P"), the trust a user gives one server's certificate."""
    home = tempfile.mkdtemp(prefix="certgen-chromium-home-")
    db = os.path.join(home, ".pki", "nssdb")
    os.makedirs(db)
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        [certutil, "-A", "-d", f"sql:{db}", "-n", "certgen serve", "-t", "P,,", "-i", ca_file],
        check=True,
        capture_output=True,
    )
    return home


def start_browser(settings, home, scripts=True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    if not scripts:
        # A content setting (not a flag): pages run no script, WebDriver still drives them.
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.binary_location = settings.get("chromium", "/usr/bin/chromium")
    # An explicit driver path: Selenium Manager (which would try to download one) never runs.
    service = Service(
        executable_path=settings.get("chromedriver", "/usr/bin/chromedriver"),
        env={**os.environ, "HOME": home},
    )
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_window_size(*PHONE)
    return driver


# Every visible control must have an accessible name from a label (for= or wrapping),
# aria-label, aria-labelledby, or — for buttons — its text or value.
UNLABELED_JS = r"""
const out = [];
for (const el of document.querySelectorAll('input, select, textarea, button')) {
  if (el.type === 'hidden') continue;
  const r = el.getBoundingClientRect(), s = getComputedStyle(el);
  // Radios and checkboxes styled away are still controls if their label is visible.
  const labels = Array.from(el.labels || []);
  const shown = (r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none')
    || labels.some(l => l.getBoundingClientRect().width > 0);
  if (!shown) continue;
  const text = t => (t || '').replace(/\s+/g, ' ').trim();
  let name = labels.map(l => text(l.textContent)).join(' ');
  if (!name) name = text(el.getAttribute('aria-label'));
  if (!name && el.getAttribute('aria-labelledby'))
    name = el.getAttribute('aria-labelledby').split(/\s+/)
      .map(id => text((document.getElementById(id) || {}).textContent)).join(' ').trim();
  if (!name && (el.tagName === 'BUTTON')) name = text(el.textContent);
  if (!name && ['submit', 'button', 'reset'].includes(el.type)) name = text(el.value);
  if (!name) out.push(el.outerHTML.slice(0, 200));
}
return out;
"""


def check_page(driver, name, out_dir):
    """Screenshot (PNG) and accessibility facts of the page on screen."""
    path = os.path.join(out_dir, f"{name}.png")
    driver.save_screenshot(path)
    return {
        "screenshot": path,
        "url": driver.current_url,
        "unlabeled": driver.execute_script(UNLABELED_JS),
        "controls": driver.execute_script(
            "return document.querySelectorAll('input:not([type=hidden]), select, textarea, button').length"
        ),
        # Readable on a phone: nothing wider than the viewport forces sideways scrolling.
        "horizontal_overflow": driver.execute_script(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth"
        ),
    }


class Run:
    def __init__(self, settings, app, driver):
        self.s = settings
        self.app = app
        self.d = driver
        self.report = {"steps": {}, "errors": {}}

    def step(self, name, fn):
        try:
            fn()
            self.report["steps"][name] = True
        except Exception as e:  # reported per step, so one failure does not hide the others
            self.report["steps"][name] = False
            self.report["errors"][name] = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"

    def wait(self, condition):
        from selenium.common.exceptions import TimeoutException, WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        # A condition may read the page while it is being replaced (a form posting, a
        # redirect); Chromium then answers with a stale element, a node "that does not belong
        # to the document" or a destroyed script context. That is "not yet": a page that never
        # comes still ends in the timeout below, which says where the browser stopped.
        try:
            return WebDriverWait(self.d, WAIT, ignored_exceptions=(WebDriverException,)).until(condition)
        except TimeoutException:
            # Say where the browser got stuck: the page serve or the app showed instead.
            body = self.d.find_elements(By.TAG_NAME, "body")
            text = body[0].text[:500] if body else self.d.page_source[:500]
            raise AssertionError(f"waited {WAIT} s at {self.d.current_url}: {text!r}") from None

    def on_sign_in_page(self):
        from selenium.webdriver.common.by import By

        return bool(self.d.find_elements(By.ID, "signin")) and bool(
            self.d.find_elements(By.CSS_SELECTOR, 'input[type=radio][name=user]')
        )

    def pick_user(self):
        """On serve's sign-in page: choose the configured user by clicking its label, as a
        person would, then Sign in."""
        from selenium.webdriver.common.by import By

        radio = self.d.find_element(By.CSS_SELECTOR, f'input[type=radio][name=user][value="{self.s["user"]}"]')
        self.d.find_element(By.CSS_SELECTOR, f'label[for="{radio.get_attribute("id")}"]').click()
        if not radio.is_selected():
            raise AssertionError("clicking the user's label did not select its radio button")
        self.d.find_element(By.ID, "signin").click()

    def sign_in(self, mode, cred, photograph=None):
        """/login on the app → serve (sign-in page, unless serve's session answers) → back to
        the app, which redeems the code. Returns what was seen."""
        from selenium.webdriver.common.by import By

        query = {"mode": mode, "cred": cred}
        before = len(self.app.results)
        self.d.get(f"{self.app.base}/login?{urllib.parse.urlencode(query)}")
        at_app = lambda d: d.current_url.startswith(self.app.base) and d.find_elements(By.CSS_SELECTOR, "#hello, #error")
        self.wait(lambda d: at_app(d) or self.on_sign_in_page())
        seen = {"page_shown": False}
        if not at_app(self.d):
            seen["page_shown"] = True
            if photograph:
                self.report.setdefault("pages", {})[photograph] = check_page(self.d, photograph, self.s["out_dir"])
            self.pick_user()
            self.wait(at_app)
        if self.d.find_elements(By.ID, "error"):
            raise AssertionError(f"the app could not redeem the code: {self.d.find_element(By.TAG_NAME, 'body').text}")
        seen["page_text"] = self.d.find_element(By.ID, "hello").text
        kind, flow, result = self.app.results[before]
        auth = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(flow["auth_uri"]).query))
        seen.update(
            credential=kind,
            response_mode=auth.get("response_mode"),
            code_challenge_method=auth.get("code_challenge_method"),
            client_info_requested=auth.get("client_info"),
            scope_sent=auth.get("scope"),
            # MSAL sends SHA-256(hex) of its own random nonce and requires the id_token to echo it.
            nonce_sent=auth.get("nonce"),
            nonce_is_msal_hash=auth.get("nonce") == hashlib.sha256(flow["nonce"].encode()).hexdigest(),
            id_token=result.get("id_token"),
            id_token_claims=result.get("id_token_claims"),
            access_token=result.get("access_token"),
            access_token_claims=jwt_claims(result["access_token"]),
            scope_granted=result.get("scope"),
            has_refresh_token="refresh_token" in result,
            client_info_returned="client_info" in result,
        )
        return seen

    def refresh_tokens(self, app):
        return sorted(rt["secret"] for rt in app.token_cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))

    def run(self):
        r = self.report
        secret_app = self.app.msal["secret"]

        def form_post():
            r["form_post"] = self.sign_in("form_post", "secret", photograph="signin")

        def refresh():
            before = self.refresh_tokens(secret_app)
            accounts = secret_app.get_accounts(username=self.s["user"])
            if len(accounts) != 1:
                raise AssertionError(f"MSAL has {len(accounts)} accounts for {self.s['user']}")
            result = secret_app.acquire_token_silent(self.app.scopes, accounts[0], force_refresh=True)
            if not result or "access_token" not in result:
                raise AssertionError(f"refresh failed: {result}")
            after = self.refresh_tokens(secret_app)
            r["refresh"] = {
                "home_account_id": accounts[0]["home_account_id"],
                "refresh_tokens_before": len(before),
                "new_refresh_token": bool(after) and after != before,
                "access_token": result["access_token"],
                "access_token_claims": jwt_claims(result["access_token"]),
            }
            if not r["refresh"]["new_refresh_token"]:
                raise AssertionError("the refresh answer carried no new refresh token")

        def me():
            token = r["refresh"]["access_token"] if "refresh" in r else r["form_post"]["access_token"]
            base = self.s["authority"].rsplit("/", 1)[0]
            resp = requests.get(
                f"{base}/v1.0/me",
                headers={"Authorization": f"Bearer {token}"},
                verify=self.s["ca_file"],
                timeout=WAIT,
            )
            r["me"] = {"status": resp.status_code, "body": resp.json() if resp.content else None}
            if resp.status_code != 200:
                raise AssertionError(f"/v1.0/me answered {resp.status_code}: {resp.text}")

        def logout():
            post = f"{self.app.base}/"
            url = (
                f"{self.s['authority']}/oauth2/v2.0/logout?"
                + urllib.parse.urlencode({"post_logout_redirect_uri": post})
            )
            from selenium.webdriver.common.by import By

            self.d.get(url)
            self.wait(lambda d: d.current_url.startswith(self.app.base) and d.find_elements(By.ID, "index"))
            r["logout"] = {"landed": self.d.current_url}

        def certificate():
            # After logout serve has no session: the page is shown again; query mode this time.
            r["certificate"] = self.sign_in("query", "certificate")

        def session():
            # serve's session cookie answers /authorize without the page (no prompt).
            r["session"] = self.sign_in("query", "secret")

        def device():
            r["device"] = self.device_flow()

        def no_script():
            r["no_script"] = self.sign_in_without_scripts()

        for name, fn in [
            ("form_post", form_post),
            ("refresh", refresh),
            ("me", me),
            ("logout", logout),
            ("certificate", certificate),
            ("session", session),
            ("device", device),
            ("no_script", no_script),
        ]:
            self.step(name, fn)
        return r

    def sign_in_without_scripts(self):
        """The sign-in page and the form_post answer in a browser that runs no script: the user
        picks an account, and the answer page's <noscript> Continue button (shown only when
        scripts are off) posts the code to the app."""
        from selenium.webdriver.common.by import By

        driver = start_browser(self.s, self.s["home"], scripts=False)
        outer, self.d = self.d, driver
        try:
            before = len(self.app.results)
            self.d.get(f"{self.app.base}/login?mode=form_post&cred=secret")
            self.wait(lambda d: self.on_sign_in_page())
            self.pick_user()
            self.wait(lambda d: d.find_elements(By.ID, "continue"))
            seen = {"continue_shown": self.d.find_element(By.ID, "continue").is_displayed()}
            self.d.find_element(By.ID, "continue").click()
            self.wait(lambda d: d.current_url.startswith(self.app.base) and d.find_elements(By.CSS_SELECTOR, "#hello, #error"))
            if self.d.find_elements(By.ID, "error"):
                raise AssertionError(f"the app could not redeem the code: {self.d.find_element(By.TAG_NAME, 'body').text}")
            seen["page_text"] = self.d.find_element(By.ID, "hello").text
            seen["credential"] = self.app.results[before][0]
            return seen
        finally:
            self.d = outer
            driver.quit()

    def device_flow(self):
        from selenium.webdriver.common.by import By

        s = self.s
        public = msal.PublicClientApplication(
            s["public_client_id"],
            authority=s["authority"],
            instance_discovery=False,
            validate_authority=False,
            verify=s["ca_file"],
        )
        flow = public.initiate_device_flow(scopes=self.app.scopes)
        if "user_code" not in flow:
            raise AssertionError(f"devicecode failed: {flow}")
        seen = {k: flow.get(k) for k in ("user_code", "verification_uri", "interval", "expires_in", "message")}
        box = {}
        poller = threading.Thread(
            target=lambda: box.update(result=public.acquire_token_by_device_flow(flow)), daemon=True
        )
        poller.start()
        try:
            self.d.get(flow["verification_uri"])
            self.wait(lambda d: d.find_elements(By.ID, "user_code"))
            self.report.setdefault("pages", {})["devicelogin"] = check_page(self.d, "devicelogin", s["out_dir"])
            self.d.find_element(By.ID, "user_code").send_keys(flow["user_code"])
            self.d.find_element(By.ID, "next").click()
            done = lambda d: "signed in" in d.find_element(By.TAG_NAME, "body").text.lower() and not self.on_sign_in_page()
            self.wait(lambda d: self.on_sign_in_page() or done(d))
            seen["page_shown"] = self.on_sign_in_page()
            if seen["page_shown"]:
                self.pick_user()
                self.wait(done)
            seen["final_page_text"] = self.d.find_element(By.TAG_NAME, "body").text
        except BaseException:
            # MSAL's documented way to stop polling: the flow "expires" at its next poll.
            flow["expires_at"] = 0
            raise
        finally:
            # MSAL polls every `interval` (5 s): the token comes at the next poll after sign-in.
            poller.join(timeout=WAIT)
        result = box.get("result") or {}
        if "access_token" not in result:
            raise AssertionError(f"the device flow gave no token: {result}")
        seen.update(
            id_token=result.get("id_token"),
            id_token_claims=result.get("id_token_claims"),
            access_token=result["access_token"],
            access_token_claims=jwt_claims(result["access_token"]),
            has_refresh_token="refresh_token" in result,
        )
        return seen


def main():
    port = int(os.environ.get("APP_PORT", "0"))
    # Bound before serve starts, so the redirect URI can be registered with the real port; the
    # handler is set once the settings arrive (nothing is served before that).
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    print(json.dumps({"app_port": server.server_address[1]}), flush=True)
    settings = json.loads(sys.stdin.readline())
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`, so a
    # machine-wide bundle in either would silently win over verify= above.
    os.environ["REQUESTS_CA_BUNDLE"] = settings["ca_file"]
    os.environ.pop("CURL_CA_BUNDLE", None)
    app = WebApp(settings, server.server_address[1])
    server.RequestHandlerClass = handler_for(app)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    import selenium

    report = {"msal_version": msal.__version__, "selenium_version": selenium.__version__}
    home = nss_home(settings["ca_file"], settings.get("certutil", shutil.which("certutil") or "certutil"))
    driver = None
    try:
        settings["home"] = home
        driver = start_browser(settings, home)
        report["browser_version"] = driver.capabilities.get("browserVersion")
        report.update(Run(settings, app, driver).run())
    except Exception as e:  # the browser did not start: still one JSON line for the caller
        report.setdefault("steps", {})["browser"] = False
        report.setdefault("errors", {})["browser"] = f"{type(e).__name__}: {e}"
    finally:
        if driver is not None:
            driver.quit()
        server.shutdown()
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(report), flush=True)
    return 0 if report["steps"] and all(report["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
