#!/usr/bin/env bash
# Full user sign-ins against `certgen serve` (no browser): authorize -> code -> token with PKCE
# and a client secret, per second and its p50/p99, by benches/signin.rs (tokio + reqwest,
# keep-alive connections); in the same run, against the same service, two anchors:
#   - client-credential grants by the same tool, same workers and secret (one token signed per
#     grant, where a sign-in signs an access token and an id_token);
#   - the same sign-in loop done by MSAL for Python (bench/msal_signin.py), one at a time;
# and `openssl speed rsa2048` (one core), since each sign-in signs two RS256 tokens.
#
#   bench/signin.sh [SIGN_INS] [WORKERS] [MSAL_SIGN_INS]      (default 3000 8 200)
#
# Needs python3 with venv (bench/.venv is made here and gets msal). serve runs with TLS on a
# free loopback port and --auto-sign-in, so /authorize answers 302 with a code at once.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-3000}"
C="${2:-8}"
MSAL_N="${3:-200}"

cargo build --release --quiet
cargo bench --quiet --bench signin --no-run
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

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== sign-ins, 1 worker ($((N / 4)))"
tool --requests "$((N / 4))" --concurrency 1 | tee "$WORK/seq"
echo "== sign-ins, $C workers ($N)"
tool --requests "$N" --concurrency "$C" | tee "$WORK/par"
echo "== client_credentials grants, $C workers ($N) (anchor)"
tool --requests "$N" --concurrency "$C" --grant client_credentials | tee "$WORK/cc"
echo "== MSAL Python sign-ins, one at a time ($MSAL_N) (anchor)"
AUTHORITY="$AUTHORITY" CA="$CA" CLIENT_ID="$CLIENT_ID" REDIRECT_URI="$REDIRECT_URI" \
  bench/.venv/bin/python bench/msal_signin.py "$MSAL_N" | tee "$WORK/msal"
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
print("| run | per second | p50 | p99 | ok / errors |")
print("|---|---:|---:|---:|---:|")
for name, r in [("sign-ins, 1 worker", seq), (f"sign-ins, {c} workers", par),
                (f"client_credentials grants, {c} workers (anchor)", cc),
                ("MSAL Python sign-ins, 1 at a time (anchor)", msal)]:
    print(f"| {name} | {float(r['per_s']):.0f} | {r['p50_ms']} ms | {r['p99_ms']} ms | {r['ok']} / {r['errors']} |")
print()
print(f"sign-ins/s ÷ client_credentials grants/s ({c} workers): {float(par['per_s']) / float(cc['per_s']):.0%}")
print(f"MSAL Python p50 ÷ tool p50 (1 at a time): {float(msal['p50_ms']) / float(seq['p50_ms']):.1f}x")
print(f"serve peak RSS (VmHWM): {rss // 1024} MiB")
# A sign-in signs two RS256 tokens (access + id; the refresh token is opaque).
print(f"token signatures/s in sign-ins ({c} workers) ÷ openssl one-core sign/s: "
      f"{2 * float(par['per_s']) / float(sys.argv[7]):.0%}")
PY
