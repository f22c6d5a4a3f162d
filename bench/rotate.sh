#!/usr/bin/env bash
# A whole `certgen rotate` (new RSA 2048 key and certificate, addKey, a token with the new
# certificate, the swap of the files and the .cer, removeKey of the old one, the re-read that
# confirms it) against `certgen serve --replication-delay 0`, next to the anchor "what a script
# does" (bench/rotate_anchor.sh: openssl req -x509 + certgen proof + curl POST addKey), each as
# a whole process, in the same hyperfine run. Each rotate run renews the certificate the
# previous run made (--renew-within 3650 makes a 365-day certificate due at once), so every run
# does the full work. The anchor registers its keys on a second app of the same service.
# Results: bench/out/rotate.json (hyperfine) and a markdown table with the ratio on the terminal.
#
# Needs: hyperfine (apt-get install -y hyperfine), openssl, curl. Run from anywhere:
# RUNS=30 bench/rotate.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --release --quiet
bin="$root/target/release/certgen"
runs="${RUNS:-30}"

work="$(mktemp -d)"
serve_pid=""
cleanup() {
    if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

tenant=contoso.onmicrosoft.com
rot_app=6f1c5e8a-0000-4000-8000-0000000000b1
anchor_app=6f1c5e8a-0000-4000-8000-0000000000b2
"$bin" new --cn certgen-bench-rotate --out "$work" --name rot >/dev/null
"$bin" new --cn certgen-bench-anchor --out "$work" --name anchor >/dev/null
printf '[[tenant]]\nid = "%s"\n\n[[app]]\nclient_id = "%s"\ncertificates = ["rot.cer"]\n\n[[app]]\nclient_id = "%s"\ncertificates = ["anchor.cer"]\n' \
    "$tenant" "$rot_app" "$anchor_app" >"$work/serve.toml"

"$bin" serve --listen 127.0.0.1:0 --state-dir "$work/state" --config "$work/serve.toml" \
    --replication-delay 0 >"$work/ready" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
ready="$(head -n1 "$work/ready")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$ready" "$1"; }
ca="$(field ca_file)"
graph="$(field graph)"
host="${graph%/v1.0}"

export CERTGEN_CACHE_DIR="$work/cache"
rotate=("$bin" rotate --tenant "$tenant" --client-id "$rot_app" --cert "$work/rot.crt"
    --key "$work/rot.key" --authority-host "$host" --ca-file "$ca" --renew-within 3650 --wait 30)
anchor=(--tenant "$tenant" --client-id "$anchor_app" --cert "$work/anchor.crt"
    --key "$work/anchor.key" --authority-host "$host" --ca-file "$ca")

# The anchor's inputs: the application object id (as a script would look it up) and a Graph
# token, got once; then check that both commands work before timing anything.
export BIN="$bin" WORK="$work" CA="$ca" GRAPH="$graph"
OID="$("$bin" credential list "${anchor[@]}" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["application"]["id"])')"
TOKEN="$("$bin" token "${anchor[@]}")"
export OID TOKEN
"${rotate[@]}" --json | grep -q '"action": *"rotated"'
bash bench/rotate_anchor.sh

mkdir -p bench/out
quote() { printf '%q ' "$@"; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup 2 --runs "$runs" --export-json bench/out/rotate.json \
    -n "certgen rotate (whole rotation)" "$(quote "${rotate[@]}")" \
    -n "script: openssl req + certgen proof + curl addKey" "bash $root/bench/rotate_anchor.sh"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# Every rotation left the app with exactly one certificate, the one in rot.crt.
"$bin" credential list --tenant "$tenant" --client-id "$rot_app" --cert "$work/rot.crt" \
    --key "$work/rot.key" --authority-host "$host" --ca-file "$ca" --json |
    python3 -c 'import json,sys; k=json.load(sys.stdin)["keyCredentials"]; assert len(k)==1 and k[0]["this_machine"], k'

python3 - bench/out/rotate.json <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
ms = lambda v: v * 1000
print()
print("| command | min | median | mean ± σ | max | runs |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['command']} | {ms(r['min']):.1f} ms | {ms(r['median']):.1f} ms | "
          f"{ms(r['mean']):.1f} ± {ms(r['stddev']):.1f} ms | {ms(r['max']):.1f} ms | {len(r['times'])} |")
rotate, script = rows
print()
print(f"certgen rotate median / script median = {rotate['median'] / script['median']:.2f}x")
PY
