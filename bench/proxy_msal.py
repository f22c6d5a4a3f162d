"""MSAL for Python's acquire_token_for_client, timed in one process: `direct` (authority =
certgen serve's own URL, discovery off, its CA trusted) or `proxy` (the untouched authority
https://login.microsoftonline.com/<tenant>, HTTPS_PROXY and REQUESTS_CA_BUNDLE from serve's
ready line already in the environment). Each iteration is a new ConfidentialClientApplication,
so each makes a real exchange (discovery document + token request on fresh connections), as a
daemon's start does. Prints one JSON line: per-iteration milliseconds (median, p90, mean).

Environment: MODE (direct|proxy), ITERATIONS, TENANT, DIRECT_BASE, CLIENT_ID, CERT, KEY, CA
(the direct route's ca_file).
"""
import json
import os
import statistics
import sys
import time

import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes

with open(os.environ["CERT"], "rb") as f:
    cert_pem = f.read()
with open(os.environ["KEY"], "rb") as f:
    key_pem = f.read().decode()
thumbprint = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA1()).hex()
credential = {"private_key": key_pem, "thumbprint": thumbprint}
mode = os.environ["MODE"]
tenant = os.environ["TENANT"]
client_id = os.environ["CLIENT_ID"]


def app():
    if mode == "direct":
        return msal.ConfidentialClientApplication(
            client_id,
            authority=f"{os.environ['DIRECT_BASE']}/{tenant}",
            client_credential=credential,
            instance_discovery=False,
            validate_authority=False,
            verify=os.environ["CA"],
        )
    return msal.ConfidentialClientApplication(
        client_id,
        authority=f"https://login.microsoftonline.com/{tenant}",
        client_credential=credential,
    )


times = []
for _ in range(int(os.environ["ITERATIONS"])):
    start = time.perf_counter()
    result = app().acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    times.append((time.perf_counter() - start) * 1000)
    if "access_token" not in result:
        sys.exit(f"msal ({mode}): {result.get('error')}: {result.get('error_description')}")
times.sort()
print(json.dumps({
    "mode": mode,
    "iterations": len(times),
    "median_ms": statistics.median(times),
    "p90_ms": times[int(len(times) * 0.9) - 1],
    "mean_ms": statistics.fmean(times),
}))
