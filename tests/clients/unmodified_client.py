#!/usr/bin/env python3
"""A daemon written for Entra, run unchanged against `certgen serve --proxy`: the authority is
the real https://login.microsoftonline.com/<tenant>, every library setting is its default
(instance discovery on, authority validation on, the system trust store), and only the
environment differs — HTTPS_PROXY and REQUESTS_CA_BUNDLE, as serve's ready line says.

Run by tests/it/serve/proxy.rs. Inputs (environment):

  TENANT         the tenant id
  CLIENT_ID      the app's client id
  SCOPE          e.g. https://graph.microsoft.com/.default
  CERT_PEM       the app certificate (PEM); KEY_PEM its private key; THUMBPRINT its SHA-1 hex
  CLIENT_SECRET  the app's client secret
  AUTHORITY_SUFFIX  "" or "/" (MSAL Python then asks for {authority}//v2.0/...)
  AUTHORITY_HOST    optional, instead of https://login.microsoftonline.com (a config value)

Prints one JSON object: for MSAL (certificate, secret) and Azure Identity (CertificateCredential,
ClientSecretCredential), {"access_token": ...} or {"error": ...}. Exit 0 when all got a token.
"""

import json
import os
import sys
import tempfile

import msal

TENANT = os.environ["TENANT"]
CLIENT_ID = os.environ["CLIENT_ID"]
SCOPE = os.environ["SCOPE"]
# AUTHORITY_HOST plays the part of a config value, as AZURE_AUTHORITY_HOST does for Azure
# Identity: the code stays the same.
AUTHORITY = (
    os.environ.get("AUTHORITY_HOST", "https://login.microsoftonline.com")
    + "/"
    + TENANT
    + os.environ.get("AUTHORITY_SUFFIX", "")
)


def msal_token(credential):
    # As the Python daemon sample does it: nothing but the client id, authority and credential.
    app = msal.ConfidentialClientApplication(
        CLIENT_ID, authority=AUTHORITY, client_credential=credential
    )
    result = app.acquire_token_for_client(scopes=[SCOPE])
    if "access_token" in result:
        return {"access_token": result["access_token"]}
    return {k: result.get(k) for k in ("error", "error_description", "error_codes")}


def azure_identity_token(make):
    token = make().get_token(SCOPE)
    return {"access_token": token.token}


def attempt(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # reported, not raised: the test shows which client failed and why
        return {"error": "client_exception", "error_description": f"{type(e).__name__}: {e}"}


def main():
    with open(os.environ["KEY_PEM"]) as f:
        key = f.read()
    with open(os.environ["CERT_PEM"]) as f:
        cert = f.read()
    secret = os.environ["CLIENT_SECRET"]
    results = {
        "msal_certificate": attempt(
            msal_token,
            {"private_key": key, "thumbprint": os.environ["THUMBPRINT"], "public_certificate": cert},
        ),
        "msal_secret": attempt(msal_token, secret),
    }
    from azure.identity import CertificateCredential, ClientSecretCredential

    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as pem:
        pem.write(cert + key)
    try:
        results["azure_identity_certificate"] = attempt(
            azure_identity_token,
            lambda: CertificateCredential(TENANT, CLIENT_ID, certificate_path=pem.name),
        )
        results["azure_identity_secret"] = attempt(
            azure_identity_token, lambda: ClientSecretCredential(TENANT, CLIENT_ID, secret)
        )
    finally:
        os.unlink(pem.name)
    print(json.dumps(results))
    return 0 if all("access_token" in v for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
