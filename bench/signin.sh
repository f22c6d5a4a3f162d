#!/usr/bin/env bash
# Full user sign-ins against `certgen serve` (no browser): authorize -> code -> token with PKCE
# and a client secret, per second and its p50/p99, by benches/signin.rs (tokio + reqwest,
# keep-alive connections); in the same run, against the same service, two anchors:
#   - client-credential grants by the same tool, same workers and secret (one token signed per
#     grant, where a sign-in signs an access token and an id_token);
#   - the same sign-in loop done by MSAL for Python (bench/msal_signin.py), one at a time;
# and `openssl speed rsa2048` (one core), since each sign-in signs two RS256 tokens.
#
#   bench/signin.sh [SIGN_INS] [WORKERS] [MSAL_SIGN_INS] [FILL]      (default 3000 8 200 0)
#
# FILL > 0 makes that many sign-ins before measuring, so serve's in-memory store already holds
# that many refresh tokens (its capacity is 20,000 per kind).
#
# serve's CPU time per exchange (from /proc/PID/stat) is reported next to each rate: on a
# shared machine it moves far less than the rates do.
# Needs python3 with venv (bench/.venv is made here and gets msal). serve runs with TLS on a
# free loopback port and --auto-sign-in, so /authorize answers 302 with a code at once.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-3000}"
C="${2:-8}"
MSAL_N="${3:-200}"
FILL="${4:-0}"

# One build for both: the bench target brings dev-dependencies, and a separate plain
# `cargo build --release` would unify features differently and rebuild much of the tree.
cargo build --release --quiet --bin certgen --bench signin
BIN="$PWD/target/release/certgen"
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet msal
fi

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

TENANT=22222222-2222-2222-2222-222222222222
CLIENT_ID=c0ffee00-0000-4000-8000-0000000000b2
REDIRECT_URI=http://localhost:5000/getAToken
cat >"$WORK/serve.toml" <<TOML
[[tenant]]
id = "$TENANT"
domains = ["contoso.example"]

[[user]]
user_principal_name = "adele@contoso.example"
display_name = "Adele Vance"

[[app]]
client_id = "$CLIENT_ID"
display_name = "Flask web app"
secret_env = ["CERTGEN_BENCH_SECRET"]
redirect_uris = ["$REDIRECT_URI"]
TOML
export CERTGEN_BENCH_SECRET="bench-secret-$RANDOM$RANDOM"

"$BIN" serve --listen 127.0.0.1:0 --state-dir "$WORK/state" --config "$WORK/serve.toml" \
  --auto-sign-in adele@contoso.example >"$WORK/ready" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
[ -s "$WORK/ready" ] || { echo "serve did not start: $(cat "$WORK/serve.log")" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/ready" "$1"; }
AUTHORITY="$(field authority)"
CA="$(field ca_file)"

tool() { cargo bench --quiet --bench signin -- --authority "$AUTHORITY" --ca-file "$CA" \
  --client-id "$CLIENT_ID" --redirect-uri "$REDIRECT_URI" "$@" 2>"$WORK/tool.err" | grep '^RESULT' \
  || { cat "$WORK/tool.err" >&2; exit 1; }; }
msal_loop() { AUTHORITY="$AUTHORITY" CA="$CA" CLIENT_ID="$CLIENT_ID" REDIRECT_URI="$REDIRECT_URI" \
  bench/.venv/bin/python bench/msal_signin.py "$@"; }
# serve's own CPU time (user + system, clock ticks) from /proc: per exchange it does not depend
# on how much of the shared machine the clients and other work took.
serve_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
# measure NAME COMMAND...: one RESULT line, with serve's CPU milliseconds per exchange added.
measure() {
  local name="$1"; shift
  local before after line
  before=$(serve_ticks)
  line=$("$@")
  after=$(serve_ticks)
  local ok
  ok=$(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$line")
  line="$line serve_cpu_ms=$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v ok="$ok" \
    'BEGIN { printf "%.3f", t * 1000 / hz / ok }')"
  echo "$line" | tee "$WORK/$name"
}

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$FILL" -gt 0 ]; then
  echo "== $FILL sign-ins first (not measured): serve then holds that many refresh tokens"
  tool --requests "$FILL" --concurrency "$C" >/dev/null
fi
echo "== sign-ins, 1 worker ($((N / 4)))"
measure seq tool --requests "$((N / 4))" --concurrency 1
echo "== sign-ins, $C workers ($N)"
measure par tool --requests "$N" --concurrency "$C"
echo "== client_credentials grants, $C workers ($N) (anchor)"
measure cc tool --requests "$N" --concurrency "$C" --grant client_credentials
echo "== MSAL Python sign-ins, one at a time ($MSAL_N) (anchor)"
measure msal msal_loop "$MSAL_N"
PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== openssl speed -seconds 3 rsa2048 (single core, same run)"
SIGN_RATE=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')
echo "openssl rsa2048 sign/s: $SIGN_RATE"

python3 - "$WORK"/seq "$WORK"/par "$WORK"/cc "$WORK"/msal "$C" "$PEAK_RSS_KB" "$SIGN_RATE" <<'PY'
import sys
def read(path):
    line = open(path).read().split()
    return {k: v for k, v in (f.split("=", 1) for f in line[1:])}
seq, par, cc, msal = (read(p) for p in sys.argv[1:5])
c, rss = sys.argv[5], int(sys.argv[6])
print()
print("| run | per second | p50 | p99 | serve CPU per exchange | ok / errors |")
print("|---|---:|---:|---:|---:|---:|")
for name, r in [("sign-ins, 1 worker", seq), (f"sign-ins, {c} workers", par),
                (f"client_credentials grants, {c} workers (anchor)", cc),
                ("MSAL Python sign-ins, 1 at a time (anchor)", msal)]:
    print(f"| {name} | {float(r['per_s']):.0f} | {r['p50_ms']} ms | {r['p99_ms']} ms "
          f"| {r['serve_cpu_ms']} ms | {r['ok']} / {r['errors']} |")
print()
print(f"serve CPU per sign-in ÷ per client_credentials grant ({c} workers): "
      f"{float(par['serve_cpu_ms']) / float(cc['serve_cpu_ms']):.2f}")
print()
print(f"sign-ins/s ÷ client_credentials grants/s ({c} workers): {float(par['per_s']) / float(cc['per_s']):.0%}")
print(f"MSAL Python p50 ÷ tool p50 (1 at a time): {float(msal['p50_ms']) / float(seq['p50_ms']):.1f}x")
print(f"serve peak RSS (VmHWM): {rss // 1024} MiB")
# A sign-in signs two RS256 tokens (access + id; the refresh token is opaque).
print(f"token signatures/s in sign-ins ({c} workers) ÷ openssl one-core sign/s: "
      f"{2 * float(par['per_s']) / float(sys.argv[7]):.0%}")
PY
