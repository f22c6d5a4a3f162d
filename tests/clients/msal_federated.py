#!/usr/bin/env python3
"""Gets a token from `certgen serve` with MSAL for Python through a federated credential: the
outside token (a GitHub Actions-like OIDC token) is handed to MSAL unchanged as the
client_assertion, as azure/login and Azure Identity's WorkloadIdentityCredential do.

Run by tests/it/serve/federation.rs. Environment: AUTHORITY, CA_FILE, CLIENT_ID, SCOPE, and
FEDERATED_TOKEN (the outside JWT). Prints {"access_token": ...} or the error; exit 0 on a token.
"""

import json
import os
import sys

import msal

# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`.
os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CA_FILE"]
os.environ.pop("CURL_CA_BUNDLE", None)

app = msal.ConfidentialClientApplication(
    os.environ["CLIENT_ID"],
    client_credential={"client_assertion": os.environ["FEDERATED_TOKEN"]},
    authority=os.environ["AUTHORITY"],
    instance_discovery=False,
    validate_authority=False,
    verify=os.environ["CA_FILE"],
)
result = app.acquire_token_for_client(scopes=[os.environ["SCOPE"]])
if "access_token" in result:
    print(json.dumps({"access_token": result["access_token"]}))
    sys.exit(0)
print(json.dumps({k: result.get(k) for k in ("error", "error_description", "error_codes")}))
sys.exit(1)
