#!/usr/bin/env bash
# serve's CPU time per federated-credential exchange against per certificate-assertion grant
# (not a test). Both grants are answered by one serve: the certificate grant verifies the app's
# RS256 assertion and signs a token; the exchange verifies an outside RS256 token (GitHub's
# issuer name, trusted through a config [[issuer]] whose JWKS is parsed once at start) against
# the app's federated credential and signs a token. The figure is serve's user + system ticks
# (/proc/PID/stat) over a wrk load of keep-alive connections, per grant answered 200, each
# kind measured ROUNDS times in turn (A B A B …); the ratio is of the medians.
#
#   bench/federation_cpu.sh [DURATION_SECONDS] [CONNECTIONS] [ROUNDS]     (default 10 8 3)
#   FEDERATION_CPU_FRESH=N bench/federation_cpu.sh …   N different tokens of each kind in turn
#                                                       (each its own jti and signature)
#
# Tokens are made with the openssl CLI (RS256), valid for a day; no --strict.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS="${2:-8}"
ROUNDS="${3:-3}"
FRESH="${FEDERATION_CPU_FRESH:-0}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin certgen
BIN="$TARGET/release/certgen"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

CLIENT_ID=6f1c5e8a-0000-4000-8000-0000000000c1
TENANT=11111111-1111-1111-1111-111111111111
ISSUER=https://token.actions.githubusercontent.com
SUBJECT=repo:contoso/app:ref:refs/heads/main
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/app.key" -out "$WORK/app.crt" \
  -subj /CN=bench -days 2 2>/dev/null
openssl genrsa -out "$WORK/issuer.key" 2048 2>/dev/null
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
N=$(openssl rsa -in "$WORK/issuer.key" -noout -modulus | sed 's/^Modulus=//' | xxd -r -p | b64url)
printf '{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"gh-1","n":"%s","e":"AQAB"}]}' "$N" \
  >"$WORK/issuer.jwks.json"
cat >"$WORK/serve.toml" <<TOML
[[tenant]]
id = "$TENANT"
[[app]]
client_id = "$CLIENT_ID"
certificates = ["app.crt"]
[[app.federated]]
name = "main-branch"
issuer = "$ISSUER"
subject = "$SUBJECT"
[[issuer]]
url = "$ISSUER"
jwks_file = "issuer.jwks.json"
TOML

"$BIN" serve --listen 127.0.0.1:0 --state-dir "$WORK/state" --config "$WORK/serve.toml" \
  >"$WORK/ready" 2>"$WORK/serve.log" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
[ -s "$WORK/ready" ] || { echo "serve did not start: $(cat "$WORK/serve.log")" >&2; exit 1; }
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/ready" "$1"; }
URL="$(field token_endpoint)"
CA="$(field ca_file)"

NOW=$(date +%s)
X5T=$(openssl x509 -in "$WORK/app.crt" -outform DER | openssl dgst -sha1 -binary | b64url)
jws() { # HEADER_JSON PAYLOAD_JSON KEY
  local h p s
  h=$(printf '%s' "$1" | b64url)
  p=$(printf '%s' "$2" | b64url)
  s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$3" -binary | b64url)
  printf '%s.%s.%s' "$h" "$p" "$s"
}
form() { echo "grant_type=client_credentials&client_id=$CLIENT_ID&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=$1"; }
cert_body() {
  form "$(jws "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"$X5T\"}" \
    "{\"aud\":\"$URL\",\"iss\":\"$CLIENT_ID\",\"sub\":\"$CLIENT_ID\",\"jti\":\"$1\",\"nbf\":$NOW,\"exp\":$((NOW + 86400))}" \
    "$WORK/app.key")"
}
fed_body() {
  form "$(jws '{"alg":"RS256","typ":"JWT","kid":"gh-1"}' \
    "{\"aud\":\"api://AzureADTokenExchange\",\"iss\":\"$ISSUER\",\"sub\":\"$SUBJECT\",\"jti\":\"$1\",\"repository\":\"contoso/app\",\"nbf\":$NOW,\"iat\":$NOW,\"exp\":$((NOW + 86400))}" \
    "$WORK/issuer.key")"
}

for kind in cert fed; do
  body=$("${kind}_body" bench)
  status=$(curl -s --cacert "$CA" -o "$WORK/first.json" -w '%{http_code}' -d "$body" "$URL")
  [ "$status" = 200 ] || { echo "the first $kind grant failed ($status): $(cat "$WORK/first.json")" >&2; exit 1; }
  {
    echo "wrk.method = \"POST\""
    echo "wrk.body = \"$body\""
    echo 'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"'
    echo "bodies = {}"
    for i in $(seq "$FRESH"); do echo "bodies[$i] = \"$("${kind}_body" "bench-$i")\""; done
    cat <<'LUA'
n = 0
if #bodies > 0 then
  request = function()
    n = n % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[n])
  end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d rps=%.1f\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6)))
end
LUA
  } >"$WORK/$kind.lua"
done

serve_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
HZ=$(getconf CLK_TCK)
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $ROUNDS × (certificate, federated) wrk -t1 -c$CONNECTIONS -d${DURATION}s POST $URL"
: >"$WORK/rounds"
for round in $(seq "$ROUNDS"); do
  for kind in cert fed; do
    before=$(serve_ticks)
    line=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/$kind.lua" "$URL" | grep '^RESULT')
    after=$(serve_ticks)
    requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
    non2xx=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")
    grants=$((requests - non2xx))
    [ "$grants" -gt 0 ] && [ "$non2xx" = 0 ] || { echo "$kind: refusals: $line" >&2; exit 1; }
    us=$(awk -v t="$((after - before))" -v hz="$HZ" -v g="$grants" 'BEGIN { printf "%.1f", t * 1e6 / hz / g }')
    echo "round $round $kind: $line serve_cpu_us_per_grant=$us"
    echo "$kind $us" >>"$WORK/rounds"
  done
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$WORK/rounds" "$FRESH" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = {k: statistics.median(float(us) for kk, us in rows if kk == k) for k in ("cert", "fed")}
print()
print("tokens                          " + (f"{sys.argv[2]} different ones of each kind in turn" if sys.argv[2] != "0" else "one of each kind sent again and again"))
print(f"certificate grant, serve CPU    {med['cert']:.1f} µs (median)")
print(f"federated exchange, serve CPU   {med['fed']:.1f} µs (median)")
print(f"federated / certificate         {med['fed'] / med['cert']:.3f}")
PY
