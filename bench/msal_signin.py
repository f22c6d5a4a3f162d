"""Full sign-ins (authorize -> code -> token, no browser) done by MSAL for Python, in a loop.

The anchor of bench/signin.sh: what a Flask web app's server does per sign-in —
`initiate_auth_code_flow`, the browser's GET of the authorize URL (here `requests`, serve
started with --auto-sign-in answers 302 with the code), `acquire_token_by_auth_code_flow` with
a client secret — against the same `certgen serve`, one application object and one HTTP
session for the whole loop, as a web app process keeps them.

Environment: AUTHORITY, CA, CLIENT_ID, REDIRECT_URI, CERTGEN_BENCH_SECRET; argument: N.
Prints `RESULT kind=msal_signin ok=… per_s=… p50_ms=… p99_ms=… max_ms=…`.
"""
import math
import os
import sys
import time
import urllib.parse
import warnings

import msal
import requests

# response_mode=query on purpose: the code is read from the 302 without a browser. MSAL's
# warning recommending form_post would only be noise.
warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override `verify=`: point both at serve's CA.
os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CA"]
os.environ.pop("CURL_CA_BUNDLE", None)
app = msal.ConfidentialClientApplication(
    os.environ["CLIENT_ID"],
    authority=os.environ["AUTHORITY"],
    client_credential=os.environ["CERTGEN_BENCH_SECRET"],
    instance_discovery=False,
    validate_authority=False,
    verify=os.environ["CA"],
)
browser = requests.Session()
browser.verify = os.environ["CA"]


def sign_in():
    flow = app.initiate_auth_code_flow(
        ["User.Read"], redirect_uri=os.environ["REDIRECT_URI"], response_mode="query"
    )
    answer = browser.get(flow["auth_uri"], allow_redirects=False, timeout=30)
    location = answer.headers.get("Location")
    if answer.status_code != 302 or not location:
        sys.exit(f"authorize answered {answer.status_code}: {answer.text[:300]}")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    result = app.acquire_token_by_auth_code_flow(flow, params)
    if "id_token_claims" not in result:
        sys.exit(f"msal: {result.get('error')}: {result.get('error_description')}")


sign_in()  # discovery and connections set up before timing
times = []
started = time.perf_counter()
for _ in range(n):
    t = time.perf_counter()
    sign_in()
    times.append(time.perf_counter() - t)
wall = time.perf_counter() - started
times.sort()
pct = lambda p: times[max(1, math.ceil(p / 100 * len(times))) - 1] * 1000
print(
    f"RESULT kind=msal_signin ok={n} errors=0 concurrency=1 per_s={n / wall:.1f} "
    f"p50_ms={pct(50):.2f} p99_ms={pct(99):.2f} max_ms={times[-1] * 1000:.2f}"
)
