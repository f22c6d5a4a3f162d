#!/usr/bin/env bash
# certgen token as a whole process: answered from the cache, and a fresh exchange against
# `certgen serve` next to MSAL for Python's acquire_token_for_client against the same service,
# in the same run. Results: bench/out/token.md (hyperfine markdown) and the terminal.
#
# Needs: hyperfine (apt-get install -y hyperfine), python3 with venv (bench/.venv is made here
# and gets `pip install msal`). Run from anywhere: bench/token.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --quiet
bin="$root/target/release/certgen"

if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet msal
fi

work="$(mktemp -d)"
serve_pid=""
cleanup() {
    if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

client_id=6f1c2a3b-4d5e-4f60-8172-839405a6b7c8
tenant=contoso.onmicrosoft.com
"$bin" new --cn certgen-bench --out "$work" --name app >/dev/null

# The service, on a free port, with TLS; its ready line tells the port and the CA file.
"$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" --tenant "$tenant" \
    --app "$client_id=$work/app.cer" >"$work/ready" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
ready="$(head -n1 "$work/ready")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
listen="$(field listen)"
ca="$(field ca_file)"
host="https://$listen"

export CERTGEN_CACHE_DIR="$work/cache"
token=("$bin" token --tenant "$tenant" --client-id "$client_id" --cert "$work/app.crt"
    --key "$work/app.key" --authority-host "$host" --ca-file "$ca" --alg RS256)
# Fill the cache once, and check both clients get a token before timing anything.
"${token[@]}" >/dev/null
AUTHORITY="$host/$tenant" CLIENT_ID="$client_id" CERT="$work/app.crt" KEY="$work/app.key" CA="$ca" \
    bench/.venv/bin/python bench/msal_token.py >/dev/null

mkdir -p bench/out
quote() { printf '%q ' "$@"; }
hyperfine --warmup 5 --min-runs 100 -N --export-json bench/out/token-cache.json \
    -n "certgen token (cache hit)" "$(quote "${token[@]}")"
hyperfine --warmup 3 --min-runs 30 --export-json bench/out/token-fresh.json \
    -n "certgen token --force-refresh" "$(quote "${token[@]}") --force-refresh" \
    -n "MSAL Python acquire_token_for_client" \
    "AUTHORITY=$host/$tenant CLIENT_ID=$client_id CERT=$work/app.crt KEY=$work/app.key CA=$ca bench/.venv/bin/python bench/msal_token.py"

python3 - bench/out/token-cache.json bench/out/token-fresh.json <<'PY'
import json, sys
rows = [r for f in sys.argv[1:] for r in json.load(open(f))["results"]]
ms = lambda r: r["median"] * 1000
print()
print("| command | median | mean ± σ | runs |")
print("|---|---:|---:|---:|")
for r in rows:
    print(f"| {r['command']} | {ms(r):.1f} ms | {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f} ms | {len(r['times'])} |")
fresh = {r["command"]: r for r in rows}
c, m = fresh["certgen token --force-refresh"], fresh["MSAL Python acquire_token_for_client"]
print()
print(f"fresh exchange: MSAL Python median / certgen median = {ms(m) / ms(c):.1f}x")
PY
