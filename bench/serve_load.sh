#!/usr/bin/env bash
# Load benchmark of `certgen serve` (not a test): token grants per second for valid client
# assertions over keep-alive loopback connections, with p50/p99 latency and the server's peak
# RSS, next to `openssl speed rsa2048` measured in the same run (each grant costs one RSA
# verify and one RSA sign, so the single-core sign rate is the scale).
#
#   bench/serve_load.sh [DURATION_SECONDS] [CONNECTIONS]
#
# The assertion is made here with the openssl CLI (RS256, x5t), valid for a day; the service
# runs without --strict, so the same assertion may be sent again and again.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-15}"
CONNECTIONS="${2:-8}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
BIN="$PWD/target/release/certgen"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

CLIENT_ID=6f1c5e8a-0000-4000-8000-0000000000b1
TENANT=11111111-1111-1111-1111-111111111111
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/app.key" -out "$WORK/app.crt" \
  -subj /CN=bench -days 2 2>/dev/null

"$BIN" serve --http --listen 127.0.0.1:0 --state-dir "$WORK/state" --tenant "$TENANT" \
  --app "$CLIENT_ID=$WORK/app.crt" >"$WORK/ready" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
LISTEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$WORK/ready")
URL="http://$LISTEN/$TENANT/oauth2/v2.0/token"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
X5T=$(openssl x509 -in "$WORK/app.crt" -outform DER | openssl dgst -sha1 -binary | b64url)
NOW=$(date +%s)
HEADER=$(printf '{"alg":"RS256","typ":"JWT","x5t":"%s"}' "$X5T" | b64url)
PAYLOAD=$(printf '{"aud":"%s","iss":"%s","sub":"%s","jti":"bench","nbf":%d,"exp":%d}' \
  "$URL" "$CLIENT_ID" "$CLIENT_ID" "$NOW" "$((NOW + 86400))" | b64url)
SIG=$(printf '%s.%s' "$HEADER" "$PAYLOAD" | openssl dgst -sha256 -sign "$WORK/app.key" -binary | b64url)
ASSERTION="$HEADER.$PAYLOAD.$SIG"
BODY="grant_type=client_credentials&client_id=$CLIENT_ID&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=$ASSERTION"

# One request first: the benchmark is only meaningful if grants succeed.
STATUS=$(curl -s -o "$WORK/first.json" -w '%{http_code}' -d "$BODY" "$URL")
[ "$STATUS" = 200 ] || { echo "the first grant failed ($STATUS): $(cat "$WORK/first.json")" >&2; exit 1; }

cat >"$WORK/grant.lua" <<EOF
wrk.method = "POST"
wrk.body = "$BODY"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
non200 = 0
response = function(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOF

echo "== wrk -t1 -c$CONNECTIONS -d${DURATION}s POST $URL (keep-alive, RS256 assertion, 2 cores shared with wrk)"
wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/grant.lua" "$URL" | tee "$WORK/wrk.out"
PEAK_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
LOG_LINES=$(grep -c ' 200 client=' "$WORK/serve.log" || true)

echo "== openssl speed -seconds 3 rsa2048 (single core, same run)"
openssl speed -seconds 3 rsa2048 2>/dev/null | tee "$WORK/speed.out" | tail -2
SIGN_RATE=$(awk '/^rsa 2048 bits/ {print $(NF-1)}' "$WORK/speed.out")
VERIFY_RATE=$(awk '/^rsa 2048 bits/ {print $NF}' "$WORK/speed.out")

RESULT=$(grep '^RESULT' "$WORK/wrk.out")
RPS=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$RESULT")
echo
echo "grants/s            $RPS"
echo "latency             p50 $(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$RESULT") ms, p99 $(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$RESULT") ms"
echo "errors (non-2xx)    $(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$RESULT") socket, $(grep -c ' 40[0-9] \| 50[0-9] ' "$WORK/serve.log" || true) logged refusals"
echo "peak RSS (VmHWM)    $((PEAK_RSS_KB / 1024)) MiB"
echo "log lines (200)     $LOG_LINES"
echo "openssl rsa2048     sign $SIGN_RATE/s, verify $VERIFY_RATE/s (one core)"
echo "load average        $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
python3 -c "import sys; r, s = float(sys.argv[1]), float(sys.argv[2]); print(f'grants/s vs one-core sign/s: {r / s:.0%}')" "$RPS" "$SIGN_RATE"
