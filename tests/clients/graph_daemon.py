#!/usr/bin/env python3
"""The Python daemon sample's whole job (Azure-Samples/ms-identity-python-daemon, 2-Call-MsGraph-
WithCertificate): MSAL gets an app-only token for Microsoft Graph with a certificate, then
`requests` calls the Graph endpoint with it — here against `certgen serve`.

Run by the Graph tests (and usable by hand). Everything comes from environment variables:

  AUTHORITY    the service URL with the tenant, e.g. https://127.0.0.1:8443/<tenant>
  CA_FILE      the PEM file the service's TLS certificate is trusted from (ca_file)
  CLIENT_ID    the app's client id
  KEY_PEM      the app's private key (PEM)
  THUMBPRINT   the certificate's SHA-1 thumbprint, hex
  ENDPOINT     the Graph URL to call, e.g. https://127.0.0.1:8443/v1.0/users

Prints one JSON object on stdout: {"status": HTTP status, "body": the answer's JSON} or
{"error": ..., "error_description": ...} when no token was issued.
"""

import json
import os

import msal
import requests


def main():
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`, so a
    # machine-wide bundle in either variable would silently win over verify= below.
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CA_FILE"]
    os.environ.pop("CURL_CA_BUNDLE", None)
    with open(os.environ["KEY_PEM"]) as f:
        private_key = f.read()
    app = msal.ConfidentialClientApplication(
        os.environ["CLIENT_ID"],
        authority=os.environ["AUTHORITY"],
        client_credential={"thumbprint": os.environ["THUMBPRINT"], "private_key": private_key},
        # The service is not a Microsoft cloud host: no instance discovery, no validation.
        instance_discovery=False,
        validate_authority=False,
        verify=os.environ["CA_FILE"],
    )
    result = app.acquire_token_silent(["https://graph.microsoft.com/.default"], account=None)
    if not result:
        result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    if "access_token" not in result:
        print(json.dumps({"error": result.get("error"),
                          "error_description": result.get("error_description")}))
        return
    # The sample's call, as written there (plus the CA the service's certificate is trusted from).
    response = requests.get(
        os.environ["ENDPOINT"],
        headers={"Authorization": "Bearer " + result["access_token"]},
        verify=os.environ["CA_FILE"],
    )
    print(json.dumps({"status": response.status_code, "body": response.json()}))


if __name__ == "__main__":
    main()
