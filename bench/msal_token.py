"""One fresh client-credentials exchange with MSAL for Python, as a whole process.

The anchor of bench/token.sh: the same certificate, app and scope as `certgen token
--force-refresh`, against the same `certgen serve`. MSAL's token cache lives in memory, so
every process makes a real exchange (discovery + token request), as a cron job or CI step would.
Environment: AUTHORITY, CLIENT_ID, CERT (PEM certificate), KEY (PEM key), CA (PEM to trust).
"""
import os
import sys

import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes

with open(os.environ["CERT"], "rb") as f:
    cert_pem = f.read()
with open(os.environ["KEY"], "rb") as f:
    key_pem = f.read()
# requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override `verify=`, so a machine-wide bundle
# in either would win over the service's CA: point both at it.
os.environ["REQUESTS_CA_BUNDLE"] = os.environ["CA"]
os.environ.pop("CURL_CA_BUNDLE", None)

thumbprint = x509.load_pem_x509_certificate(cert_pem).fingerprint(hashes.SHA1()).hex()

app = msal.ConfidentialClientApplication(
    os.environ["CLIENT_ID"],
    authority=os.environ["AUTHORITY"],
    client_credential={"private_key": key_pem.decode(), "thumbprint": thumbprint},
    # The local service is not a Microsoft cloud: no instance discovery, trust its CA.
    instance_discovery=False,
    validate_authority=False,
    verify=os.environ["CA"],
)
result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
if "access_token" not in result:
    sys.exit(f"msal: {result.get('error')}: {result.get('error_description')}")
print(result["access_token"])
