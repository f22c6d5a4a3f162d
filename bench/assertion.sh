#!/usr/bin/env bash
# certgen assertion vs MSAL for Python's JwtAssertionCreator, each as a whole process, same
# key, same run. Prints hyperfine's table and a markdown summary (medians, ratios) for
# BENCHMARKS.md. Needs: openssl, python3 (venv), hyperfine (apt-get install -y hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
fi
bench/.venv/bin/pip install -q --disable-pip-version-check msal
cargo build --release -q

out=bench/out/assertion
rm -rf "$out" && mkdir -p "$out"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$out/key.pem" -out "$out/cert.pem" \
  -subj /CN=bench -days 30 2>/dev/null

client=97e0a5b7-d745-40b6-94fe-5f77d35c6e05
tenant=72f988bf-86f1-41af-91ab-2d7cd011db47
aud="https://login.microsoftonline.com/$tenant/oauth2/v2.0/token"
certgen="target/release/certgen assertion --client-id $client --tenant $tenant --cert $out/cert.pem --key $out/key.pem"
msal="bench/.venv/bin/python bench/msal_assertion.py"

# Both must produce a verifiable assertion before they are timed.
$certgen >/dev/null
$msal PS256 "$out/key.pem" "$out/cert.pem" $client "$aud" >/dev/null

hyperfine -N --warmup 5 --min-runs 30 --export-json "$out/hyperfine.json" \
  -n "certgen PS256" "$certgen --alg PS256" \
  -n "certgen RS256" "$certgen --alg RS256" \
  -n "msal PS256" "$msal PS256 $out/key.pem $out/cert.pem $client $aud" \
  -n "msal RS256" "$msal RS256 $out/key.pem $out/cert.pem $client $aud"

python3 - "$out/hyperfine.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print()
print("| alg | certgen median | MSAL Python median | ratio |")
print("|---|---|---|---|")
for alg in ("PS256", "RS256"):
    c, m = r[f"certgen {alg}"]["median"], r[f"msal {alg}"]["median"]
    print(f"| {alg} | {c*1000:.2f} ms | {m*1000:.1f} ms | {m/c:.0f}x |")
PY
