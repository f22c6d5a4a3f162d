#!/usr/bin/env bash
# certgen call with a cached token vs curl with the same token, each as a whole process, against
# the same `certgen serve` Graph endpoint (GET /v1.0/users, 20 users), same run.
# Results: bench/out/call.json (hyperfine) and a markdown table with the ratio on the terminal.
#
# Needs: hyperfine (apt-get install -y hyperfine), curl. Run from anywhere: bench/call.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --release --quiet
bin="$root/target/release/certgen"

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
{
    printf '[[tenant]]\nid = "%s"\n\n' "$tenant"
    printf '[[app]]\nclient_id = "%s"\ncertificates = ["%s"]\n' "$client_id" "$work/app.cer"
    printf '[app.roles]\n"https://graph.microsoft.com" = ["User.Read.All"]\n'
    for i in $(seq 20); do
        printf '\n[[user]]\nuser_principal_name = "user%02d@contoso.example"\n' "$i"
        printf 'display_name = "User %02d"\nmail = "user%02d@contoso.example"\n' "$i" "$i"
    done
} >"$work/serve.toml"

"$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" --config "$work/serve.toml" \
    >"$work/ready" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
ready="$(head -n1 "$work/ready")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
ca="$(field ca_file)"
graph="$(field graph)"
host="${graph%/v1.0}"

export CERTGEN_CACHE_DIR="$work/cache"
options=(--tenant "$tenant" --client-id "$client_id" --cert "$work/app.crt" --key "$work/app.key"
    --authority-host "$host" --ca-file "$ca" --alg RS256)
# Fill the cache once (the same token both commands send), and check both get the users.
token="$("$bin" token "${options[@]}" --scope https://graph.microsoft.com/.default)"
"$bin" call "$graph/users" "${options[@]}" | grep -q user20@contoso.example
curl -sf --cacert "$ca" -H "Authorization: Bearer $token" "$graph/users" | grep -q user20@contoso.example

mkdir -p bench/out
quote() { printf '%q ' "$@"; }
hyperfine -N --warmup 10 --min-runs 200 --export-json bench/out/call.json \
    -n "certgen call (cached token)" "$(quote "$bin" call "$graph/users" "${options[@]}")" \
    -n "curl (same token)" \
    "$(quote curl -sf --cacert "$ca" -H "Authorization: Bearer $token" "$graph/users")"

python3 - bench/out/call.json <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
ms = lambda v: v * 1000
print()
print("| command | min | median | mean ± σ | runs |")
print("|---|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['command']} | {ms(r['min']):.1f} ms | {ms(r['median']):.1f} ms | "
          f"{ms(r['mean']):.1f} ± {ms(r['stddev']):.1f} ms | {len(r['times'])} |")
by = {r["command"]: r for r in rows}
c, k = by["certgen call (cached token)"], by["curl (same token)"]
print()
print(f"certgen call median / curl median = {c['median'] / k['median']:.2f}x (aim: <= 1.5x)")
PY
