#!/usr/bin/env bash
# serve's CPU time per client-credentials grant, in RSA-2048 signatures (not a test). Each
# grant verifies the client's RS256 assertion and signs one RS256 access token, so the sign is
# the floor; the figure is (serve's CPU per grant) × (one core's sign rate), both measured in
# the same run:
#   - serve's CPU: user + system ticks of its process from /proc/PID/stat, before and after a
#     wrk load of keep-alive connections posting a client-assertion grant (only grants answered
#     200 are counted, and the first must succeed);
#   - the sign rate: aws-lc-rs's, through the very path serve signs with
#     (bench/sign_rate.rs: certgen::jose::SigningKey, per CPU second), measured before the
#     first round and after each (a round divides by the mean of the two around it), and
#     `openssl speed`'s once at the end.
# CPU time rather than rates: the machine is shared, and per grant it moves far less than the
# rates do (though still by several per cent under heavy load). The load runs ROUNDS times
# against the one service; each round and the median are printed.
#
#   bench/grant_cpu.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]     (default 10 8 3)
#   GRANT_CPU_HTTP=1 bench/grant_cpu.sh …      plain HTTP (`serve --http`) instead of TLS
#   GRANT_CPU_BIN=path bench/grant_cpu.sh …    measure that certgen binary (no build; for A/B)
#   GRANT_CPU_FRESH=N bench/grant_cpu.sh …     send N different assertions in turn (each with
#                                              its own jti and signature) rather than one: a
#                                              client making a new assertion per request
#   GRANT_CPU_PERF=file bench/grant_cpu.sh …   also `perf record` serve during round 1 (the
#                                              profile costs serve CPU too: that round's figure
#                                              is then not comparable)
#   GRANT_CPU_STRACE=file bench/grant_cpu.sh … count serve's system calls in round 1 instead
#
# The assertion is made with the openssl CLI (RS256, x5t), valid for a day; serve runs without
# --strict, so the same assertion is accepted again and again (no replay guard on this path),
# which is how MSAL Python and MSAL Node use one (they keep it for minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS="${2:-8}"
ROUNDS="${3:-3}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# One build for both: the bench target brings dev-dependencies, and a separate plain
# `cargo build --release` would unify features differently and rebuild much of the tree.
cargo build --release --quiet --bin certgen --bench sign_rate
BIN="${GRANT_CPU_BIN:-$TARGET/release/certgen}"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

CLIENT_ID=6f1c5e8a-0000-4000-8000-0000000000c1
TENANT=11111111-1111-1111-1111-111111111111
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/app.key" -out "$WORK/app.crt" \
  -subj /CN=bench -days 2 2>/dev/null

TRANSPORT=()
[ -n "${GRANT_CPU_HTTP:-}" ] && TRANSPORT=(--http)
"$BIN" serve "${TRANSPORT[@]}" --listen 127.0.0.1:0 --state-dir "$WORK/state" --tenant "$TENANT" \
  --app "$CLIENT_ID=$WORK/app.crt" >"$WORK/ready" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
[ -s "$WORK/ready" ] || { echo "serve did not start: $(cat "$WORK/serve.log")" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/ready" "$1"; }
URL="$(field token_endpoint)"
CURL_CA=()
[ -z "${GRANT_CPU_HTTP:-}" ] && CURL_CA=(--cacert "$(field ca_file)")

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
X5T=$(openssl x509 -in "$WORK/app.crt" -outform DER | openssl dgst -sha1 -binary | b64url)
NOW=$(date +%s)
HEADER=$(printf '{"alg":"RS256","typ":"JWT","x5t":"%s"}' "$X5T" | b64url)
# body JTI: a grant request with an assertion whose jti is JTI.
body() {
  local payload sig
  payload=$(printf '{"aud":"%s","iss":"%s","sub":"%s","jti":"%s","nbf":%d,"exp":%d}' \
    "$URL" "$CLIENT_ID" "$CLIENT_ID" "$1" "$NOW" "$((NOW + 86400))" | b64url)
  sig=$(printf '%s.%s' "$HEADER" "$payload" | openssl dgst -sha256 -sign "$WORK/app.key" -binary | b64url)
  echo "grant_type=client_credentials&client_id=$CLIENT_ID&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=$HEADER.$payload.$sig"
}
BODY=$(body bench)
FRESH="${GRANT_CPU_FRESH:-0}"
: >"$WORK/bodies.lua"
for i in $(seq "$FRESH"); do echo "bodies[$i] = \"$(body "bench-$i")\"" >>"$WORK/bodies.lua"; done

# One request first: the benchmark is only meaningful if grants succeed.
STATUS=$(curl -s "${CURL_CA[@]}" -o "$WORK/first.json" -w '%{http_code}' -d "$BODY" "$URL")
[ "$STATUS" = 200 ] || { echo "the first grant failed ($STATUS): $(cat "$WORK/first.json")" >&2; exit 1; }

cat >"$WORK/grant.lua" <<EOF
wrk.method = "POST"
wrk.body = "$BODY"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
bodies = {}
$(cat "$WORK/bodies.lua")
n = 0
if #bodies > 0 then
  request = function()
    n = n % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[n])
  end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d socket_errors=%d rps=%.1f\n",
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6)))
end
EOF

serve_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
HZ=$(getconf CLK_TCK)
# One core's sign rate before the first round and after each: a round's figure divides by the
# mean of the two around it, as the machine's load (and so every per-operation CPU time) drifts.
sign_rate() {
  cargo bench --quiet --bench sign_rate -- 1.5 2>/dev/null | grep '^RESULT' | tee "$WORK/sign_rate" \
    | sed -E 's/.*sign_per_s=([0-9.]+).*/\1/'
}
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $ROUNDS × wrk -t1 -c$CONNECTIONS -d${DURATION}s POST $URL (keep-alive, RS256 assertion)," \
  "each between two measures of aws-lc-rs's one-core sign rate"
: >"$WORK/rounds"
SIGN_BEFORE=$(sign_rate)
for round in $(seq "$ROUNDS"); do
  PERF_PID=""
  if [ -n "${GRANT_CPU_PERF:-}" ] && [ "$round" = 1 ]; then
    perf record -q -F 999 --call-graph dwarf,16384 -o "$GRANT_CPU_PERF" -p "$SERVER_PID" 2>/dev/null &
    PERF_PID=$!
  elif [ -n "${GRANT_CPU_STRACE:-}" ] && [ "$round" = 1 ]; then
    strace -c -f -o "$GRANT_CPU_STRACE" -p "$SERVER_PID" 2>/dev/null &
    PERF_PID=$!
  fi
  before=$(serve_ticks)
  line=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/grant.lua" "$URL" | grep '^RESULT')
  after=$(serve_ticks)
  if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
  SIGN_AFTER=$(sign_rate)
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")
  grants=$((requests - non2xx))
  [ "$grants" -gt 0 ] || { echo "no grant succeeded: $line" >&2; exit 1; }
  us=$(awk -v t="$((after - before))" -v hz="$HZ" -v g="$grants" 'BEGIN { printf "%.1f", t * 1e6 / hz / g }')
  sign=$(awk -v a="$SIGN_BEFORE" -v b="$SIGN_AFTER" 'BEGIN { printf "%.1f", (a + b) / 2 }')
  echo "round $round: $line grants=$grants serve_cpu_us_per_grant=$us sign_per_s=$sign"
  echo "$us $sign" >>"$WORK/rounds"
  SIGN_BEFORE=$SIGN_AFTER
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
REFUSED=$(grep -c ' 40[0-9] \| 50[0-9] ' "$WORK/serve.log" || true)

echo "== the last aws-lc-rs measure (serve's signing path, per CPU second), and openssl speed"
cat "$WORK/sign_rate"
openssl speed -seconds 3 rsa2048 2>/dev/null | tee "$WORK/speed.out" | tail -2
OPENSSL_SIGN=$(awk '/^rsa 2048 bits/ {print $(NF-1)}' "$WORK/speed.out")

python3 - "$WORK/rounds" "$OPENSSL_SIGN" "$REFUSED" "${GRANT_CPU_HTTP:+http}" "$FRESH" <<'PY'
import statistics, sys
rounds = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
openssl = float(sys.argv[2])
cpu = statistics.median(us for us, _ in rounds)
sign = statistics.median(s for _, s in rounds)
sigs = [us * s / 1e6 for us, s in rounds]
print()
print(f"transport                      {'plain HTTP' if sys.argv[4] else 'TLS'}, "
      + (f"{sys.argv[5]} different assertions in turn" if sys.argv[5] != "0" else "one assertion sent again and again"))
print(f"serve CPU per grant (rounds)   {', '.join(f'{us:.1f}' for us, _ in rounds)} µs (median {cpu:.1f})")
print(f"RSA-2048 sign, one core        aws-lc-rs {sign:.0f}/s ({1e6 / sign:.1f} µs, median of rounds), "
      f"openssl {openssl:.0f}/s ({1e6 / openssl:.1f} µs, once at the end)")
print(f"refusals in serve's log        {sys.argv[3]}")
print(f"signatures per grant           {statistics.median(sigs):.3f} (aws-lc-rs, median)   rounds: "
      + ", ".join(f"{x:.3f}" for x in sigs) + f";  {cpu * openssl / 1e6:.3f} by openssl's rate")
PY
