#!/usr/bin/env bash
# The anchor of bench/rotate.sh: what a hand-written renewal script does, as far as such scripts
# usually go — a new key and certificate with openssl, and addKey posted with curl. The proof of
# possession is made by `certgen proof` (a shell script has no JWT signer; the rest of the
# script would need one). Nothing else: no check that the new certificate gets a token, no
# swap of the files, no removeKey of the old one.
# Environment (set by bench/rotate.sh): BIN, WORK, OID, GRAPH, CA, TOKEN.
set -euo pipefail
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=certgen-bench-anchor -days 365 \
    -keyout "$WORK/anchor-new.key" -out "$WORK/anchor-new.crt" 2>/dev/null
proof="$("$BIN" proof --object-id "$OID" --cert "$WORK/anchor.crt" --key "$WORK/anchor.key")"
key="$(openssl x509 -in "$WORK/anchor-new.crt" -outform DER | base64 -w0)"
printf '{"keyCredential":{"type":"AsymmetricX509Cert","usage":"Verify","key":"%s"},"passwordCredential":null,"proof":"%s"}' \
    "$key" "$proof" |
    curl -sf --cacert "$CA" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        --data-binary @- "$GRAPH/applications/$OID/addKey" >/dev/null
