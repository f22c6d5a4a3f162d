#!/usr/bin/env python3
"""Gets tokens from `certgen serve` with MSAL for Python (and, when installed, Azure Identity
for Python), the way a daemon would from Entra.

Run by tests/it/serve/msal.rs (and usable by hand). Everything comes from environment variables:

  AUTHORITY      the service URL with the tenant, e.g. https://127.0.0.1:8443/<tenant>
  CA_FILE        the PEM file the service's TLS certificate is trusted from (ca_file)
  CLIENT_ID      the app's client id
  SCOPE          e.g. api://orders/.default
  CERT_PEM       the app certificate (PEM)      } certificate by private key + SHA-1
  KEY_PEM        its private key (PEM)           } thumbprint: RS256 with x5t
  THUMBPRINT     SHA-1 thumbprint, hex           }
  PFX_PATH       optional: PKCS#12 of the same certificate -> MSAL uses PS256 with x5t#S256
  PFX_PASSWORD   its password
  CLIENT_SECRET  optional: the app's client secret

With azure-identity installed, CertificateCredential (CERT_PEM + KEY_PEM joined into one PEM)
and ClientSecretCredential are tried too, with the authority host set to the service.

Prints one JSON object on stdout: for each credential tried, either {"access_token": ...}
or {"error": ..., "error_description": ...}. Exit status 0 when every attempt got a token.
"""

import json
import os
import sys

import msal


def app_for(credential):
    return msal.ConfidentialClientApplication(
        os.environ["CLIENT_ID"],
        client_credential=credential,
        authority=os.environ["AUTHORITY"],
        # The service is not a Microsoft cloud host: no instance discovery, no validation.
        instance_discovery=False,
        validate_authority=False,
        # Trust the service's own certificate (REQUESTS_CA_BUNDLE would work as well).
        verify=os.environ["CA_FILE"],
    )


def attempt(credential):
    try:
        result = app_for(credential).acquire_token_for_client(scopes=[os.environ["SCOPE"]])
    except Exception as e:  # a client-side failure is a result worth reporting, not a crash
        return {"error": "client_exception", "error_description": f"{type(e).__name__}: {e}"}
    if "access_token" in result:
        return {"access_token": result["access_token"], "token_type": result.get("token_type")}
    return {
        "error": result.get("error"),
        "error_description": result.get("error_description"),
        "error_codes": result.get("error_codes"),
    }


def azure_identity_attempts(cert_and_key):
    try:
        from azure.identity import CertificateCredential, ClientSecretCredential
    except ImportError:
        return {}
    authority = os.environ["AUTHORITY"]
    host, tenant = authority.rsplit("/", 1)
    common = {"authority": host, "disable_instance_discovery": True}
    results = {}
    credentials = {
        "azure_identity_certificate": lambda: CertificateCredential(
            tenant, os.environ["CLIENT_ID"], certificate_data=cert_and_key.encode(), **common
        ),
    }
    if os.environ.get("CLIENT_SECRET"):
        credentials["azure_identity_secret"] = lambda: ClientSecretCredential(
            tenant, os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], **common
        )
    for name, make in credentials.items():
        try:
            results[name] = {"access_token": make().get_token(os.environ["SCOPE"]).token}
        except Exception as e:  # reported, not raised: the test shows which client failed
            results[name] = {"error": "client_exception", "error_description": f"{type(e).__name__}: {e}"}
    return results


def main():
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`, so a
    # machine-wide bundle in either variable would silently win over verify= above.
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CA_FILE"]
    os.environ.pop("CURL_CA_BUNDLE", None)
    results = {}
    with open(os.environ["KEY_PEM"]) as f:
        key = f.read()
    with open(os.environ["CERT_PEM"]) as f:
        cert = f.read()
    results["certificate_thumbprint"] = attempt(
        {"private_key": key, "thumbprint": os.environ["THUMBPRINT"], "public_certificate": cert}
    )
    if os.environ.get("PFX_PATH"):
        results["certificate_pfx"] = attempt(
            {
                "private_key_pfx_path": os.environ["PFX_PATH"],
                "passphrase": os.environ.get("PFX_PASSWORD", "").encode(),
            }
        )
    if os.environ.get("CLIENT_SECRET"):
        results["secret"] = attempt(os.environ["CLIENT_SECRET"])
    results.update(azure_identity_attempts(cert + key))
    results["msal_version"] = msal.__version__
    print(json.dumps(results))
    ok = all("access_token" in v for k, v in results.items() if isinstance(v, dict))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
