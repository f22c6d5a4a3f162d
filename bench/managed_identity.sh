#!/usr/bin/env bash
# Benchmark (not a test): managed-identity tokens per second from `certgen serve`'s IMDS
# endpoint against client-credentials grants per second (a client secret, so each side costs
# one RSA signature and no verify), in the same run on the same server, rounds interleaved
# (A B A B …) so the machine's drift hits both alike. Expect a ratio near 1.0.
#
#   bench/managed_identity.sh [SECONDS_PER_ROUND] [ROUNDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-5}"
ROUNDS="${2:-3}"
CONNECTIONS="${3:-8}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/certgen"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

TENANT=11111111-1111-1111-1111-111111111111
APP=6f1c5e8a-0000-4000-8000-0000000000b2
MI=5e5e5e5e-0000-4000-8000-0000000000b3
cat >"$WORK/bench.toml" <<TOML
[[tenant]]
id = "$TENANT"

[[app]]
client_id = "$APP"
secret_env = ["BENCH_SECRET"]
[app.roles]
"https://graph.microsoft.com" = ["User.Read.All"]

[[managed_identity]]
kind = "system"
client_id = "$MI"
[managed_identity.roles]
"https://graph.microsoft.com" = ["User.Read.All"]
TOML

BENCH_SECRET=bench-secret "$BIN" serve --http --listen 127.0.0.1:0 --state-dir "$WORK/state" \
  --config "$WORK/bench.toml" >"$WORK/ready" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/ready" "$1"; }
LISTEN=$(field 'd["listen"]')
IMDS=$(field 'd["env"]["AZURE_POD_IDENTITY_AUTHORITY_HOST"]')
GRANT_URL="http://$LISTEN/$TENANT/oauth2/v2.0/token"
MI_URL="$IMDS/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com"
BODY="grant_type=client_credentials&client_id=$APP&client_secret=bench-secret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"

# One of each first: the comparison is only meaningful if both succeed.
[ "$(curl -s -o /dev/null -w '%{http_code}' -d "$BODY" "$GRANT_URL")" = 200 ] || { echo "the grant failed" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Metadata: true' "$MI_URL")" = 200 ] || { echo "the MI token failed" >&2; exit 1; }

script() {  # method, body, header → a wrk script counting non-200 answers
  cat <<LUA
wrk.method = "$1"
wrk.body = "$2"
wrk.headers["$3"] = "$4"
non200 = 0
response = function(status, headers, body) if status ~= 200 then non200 = non200 + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %d\n", summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
}
script POST "$BODY" Content-Type application/x-www-form-urlencoded >"$WORK/grant.lua"
script GET "" Metadata true >"$WORK/mi.lua"

run() {  # lua, url → tokens/s (fails on any error)
  local out
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$1" "$2" | grep '^RESULT')
  [ "$(cut -d' ' -f3 <<<"$out")" = 0 ] || { echo "errors in $2: $out" >&2; exit 1; }
  cut -d' ' -f2 <<<"$out"
}

echo "== $ROUNDS rounds of wrk -t1 -c$CONNECTIONS -d${DURATION}s each, interleaved; release build, 2 cores shared with wrk"
MI_ALL=(); GRANT_ALL=()
for r in $(seq "$ROUNDS"); do
  M=$(run "$WORK/mi.lua" "$MI_URL"); G=$(run "$WORK/grant.lua" "$GRANT_URL")
  MI_ALL+=("$M"); GRANT_ALL+=("$G")
  printf 'round %d: managed identity %8.1f tokens/s   client credentials %8.1f grants/s   ratio %.2f\n' \
    "$r" "$M" "$G" "$(python3 -c "print($M / $G)")"
done
python3 - "${MI_ALL[*]}" "${GRANT_ALL[*]}" <<'PY'
import statistics, sys
mi = [float(x) for x in sys.argv[1].split()]
grant = [float(x) for x in sys.argv[2].split()]
ratios = [m / g for m, g in zip(mi, grant)]
print(f"median: managed identity {statistics.median(mi):.1f}/s, client credentials "
      f"{statistics.median(grant):.1f}/s, ratio MI/grant {statistics.median(ratios):.2f} "
      f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
PY
echo "load average        $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
