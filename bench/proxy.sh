#!/usr/bin/env bash
# MSAL for Python's acquire_token_for_client through `certgen serve --proxy` (authority
# untouched, HTTPS_PROXY + REQUESTS_CA_BUNDLE) against the same service reached directly
# (authority = its own URL), same service, same run, rounds interleaved so machine load hits
# both alike. Aim: proxy / direct <= 1.2.
#
# Needs: python3 with venv (bench/.venv gets `pip install msal cryptography`).
# Usage: bench/proxy.sh [ITERATIONS_PER_ROUND] [ROUNDS]   (defaults 100, 3)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
iterations="${1:-100}"
rounds="${2:-3}"
cargo build --release --quiet
bin="$root/target/release/certgen"

if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet msal cryptography
fi

work="$(mktemp -d)"
serve_pid=""
cleanup() {
    if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

client_id=6f1c2a3b-4d5e-4f60-8172-839405a6b7c8
tenant=2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718
"$bin" new --cn certgen-bench --out "$work" --name app >/dev/null

"$bin" serve --listen 127.0.0.1:0 --proxy 127.0.0.1:0 --state-dir "$work/state" \
    --tenant "$tenant" --app "$client_id=$work/app.cer" >"$work/ready" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 200); do [ -s "$work/ready" ] && break; sleep 0.05; done
ready="$(head -n1 "$work/ready")"
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); [v:=v[k] for k in sys.argv[2:]]; print(v)' "$ready" "$@"; }

unset_vars=(-u HTTP_PROXY -u http_proxy -u https_proxy -u NO_PROXY -u no_proxy -u CURL_CA_BUNDLE
    -u HTTPS_PROXY -u REQUESTS_CA_BUNDLE -u SSL_CERT_FILE)
common=(TENANT="$tenant" CLIENT_ID="$client_id" CERT="$work/app.crt" KEY="$work/app.key"
    ITERATIONS="$iterations")
run() {
    if [ "$1" = direct ]; then
        env "${unset_vars[@]}" "${common[@]}" MODE=direct \
            DIRECT_BASE="https://$(field listen)" CA="$(field ca_file)" \
            bench/.venv/bin/python bench/proxy_msal.py
    else
        env "${unset_vars[@]}" "${common[@]}" MODE=proxy HTTPS_PROXY="$(field env HTTPS_PROXY)" \
            REQUESTS_CA_BUNDLE="$(field env REQUESTS_CA_BUNDLE)" \
            bench/.venv/bin/python bench/proxy_msal.py
    fi
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $iterations iterations x $rounds rounds per route" >&2
mkdir -p bench/out
: >bench/out/proxy.jsonl
for r in $(seq "$rounds"); do
    run direct | tee -a bench/out/proxy.jsonl
    run proxy | tee -a bench/out/proxy.jsonl
done
python3 - bench/out/proxy.jsonl <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {m: [r for r in rows if r["mode"] == m] for m in ("direct", "proxy")}
med = {m: statistics.median(r["median_ms"] for r in rs) for m, rs in by.items()}
print()
print("| route | median per acquire_token_for_client (median of rounds) | p90 (worst round) | rounds |")
print("|---|---:|---:|---:|")
for m, rs in by.items():
    print(f"| {m} | {med[m]:.2f} ms | {max(r['p90_ms'] for r in rs):.2f} ms | {len(rs)} |")
print()
print(f"proxy / direct = {med['proxy'] / med['direct']:.2f}x (aim <= 1.2)")
PY
