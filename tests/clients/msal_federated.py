#!/usr/bin/env python3
"""Gets tokens from `certgen serve` through a federated credential with MSAL for Python and
Azure Identity for Python: the outside token (a GitHub Actions-like OIDC token) is handed over
unchanged as the client assertion, as azure/login and WorkloadIdentityCredential do.

Run by tests/it/serve/federation.rs. Environment: AUTHORITY (service URL + tenant), CA_FILE,
CLIENT_ID, SCOPE, FEDERATED_TOKEN (the outside JWT). Prints one JSON object, for each client
{"access_token": ...} or the error; exit 0 when every client got a token.
"""

import json
import os
import sys

import msal

# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`.
os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CA_FILE"]
os.environ.pop("CURL_CA_BUNDLE", None)
token = os.environ["FEDERATED_TOKEN"]
scope = os.environ["SCOPE"]
results = {}

app = msal.ConfidentialClientApplication(
    os.environ["CLIENT_ID"],
    client_credential={"client_assertion": token},
    authority=os.environ["AUTHORITY"],
    instance_discovery=False,
    validate_authority=False,
    verify=os.environ["CA_FILE"],
)
r = app.acquire_token_for_client(scopes=[scope])
results["msal"] = (
    {"access_token": r["access_token"]}
    if "access_token" in r
    else {k: r.get(k) for k in ("error", "error_description", "error_codes")}
)

try:
    from azure.identity import ClientAssertionCredential
except ImportError:
    ClientAssertionCredential = None
if ClientAssertionCredential is not None:
    host, tenant = os.environ["AUTHORITY"].rsplit("/", 1)
    try:
        credential = ClientAssertionCredential(
            tenant, os.environ["CLIENT_ID"], lambda: token,
            authority=host, disable_instance_discovery=True,
        )
        results["azure_identity"] = {"access_token": credential.get_token(scope).token}
    except Exception as e:  # reported, not raised: the test shows which client failed
        results["azure_identity"] = {"error": f"{type(e).__name__}: {e}"}

print(json.dumps(results))
sys.exit(0 if all("access_token" in v for v in results.values()) else 1)
