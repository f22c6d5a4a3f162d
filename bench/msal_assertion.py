"""The anchor of bench/assertion.sh: one client assertion signed by MSAL for Python's own
assertion builder, as a whole process (interpreter start, imports, key load, signing), the
same work `certgen assertion` does as a whole process.

usage: msal_assertion.py PS256|RS256 KEY_PEM CERT_PEM CLIENT_ID AUDIENCE
"""
import hashlib
import ssl
import sys

from msal.oauth2cli.assertion import JwtAssertionCreator

alg, key_path, cert_path, client_id, audience = sys.argv[1:6]
with open(key_path) as f:
    key = f.read()
with open(cert_path) as f:
    der = ssl.PEM_cert_to_DER_cert(f.read())
# MSAL pairs PS256 with x5t#S256 and RS256 with x5t, as certgen does.
if alg == "PS256":
    creator = JwtAssertionCreator(key, "PS256", sha256_thumbprint=hashlib.sha256(der).hexdigest())
else:
    creator = JwtAssertionCreator(key, "RS256", sha1_thumbprint=hashlib.sha1(der).hexdigest())
sys.stdout.write(creator.create_normal_assertion(audience=audience, issuer=client_id).decode() + "\n")
