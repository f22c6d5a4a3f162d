#!/usr/bin/env bash
# Benchmark of `certgen serve` with an organisation-sized directory (not a test): 10,000 apps in
# the config and 100,000 users in a users_file (bench/directory_gen.py). Measures
#   - the first start (parse + seed an empty state folder) and a later start (same inputs) to
#     the ready line;
#   - client-secret grants/s for the LAST of the 10,000 apps against the only app of a one-app
#     directory, interleaved in the same run with the load tool of bench/serve_load.sh (wrk);
#   - GET /v1.0/users page 2 and page 100 ($top=100, following @odata.nextLink);
#   - GET /v1.0/users/{upn} for the last user;
#   - serve's peak RSS (VmHWM) and the banner's line count.
#
#   bench/directory.sh [APPS] [USERS] [WRK_SECONDS] [ROUNDS] [PAGE]
#
# PAGE (default 100) is the far page compared with page 2; each page is reached by following
# @odata.nextLink from the first, as a client does.
set -euo pipefail
cd "$(dirname "$0")/.."
APPS="${1:-10000}"
USERS="${2:-100000}"
DURATION="${3:-8}"
ROUNDS="${4:-3}"
PAGE="${5:-100}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# CERTGEN_BIN: a binary already built (to try the script on a debug build).
if [ -n "${CERTGEN_BIN:-}" ]; then
  BIN=$CERTGEN_BIN
else
  cargo build --release --quiet
  BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/certgen"
fi

WORK="$(mktemp -d)"
# Each server's pid is in $WORK/NAME.pid (start runs in a command substitution's subshell, so
# a shell array would not see them).
cleanup() {
  for f in "$WORK"/*.pid; do [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export ORG_SECRET="bench-secret-value"

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

GEN=$(python3 bench/directory_gen.py "$WORK/org" --apps "$APPS" --users "$USERS")
ONE_GEN=$(python3 bench/directory_gen.py "$WORK/one" --apps 1 --users 0)
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
TENANT=$(field "$GEN" tenant); LAST_APP=$(field "$GEN" last_app); FIRST_APP=$(field "$GEN" first_app)
LAST_USER=$(field "$GEN" last_user)
echo "== $APPS apps, $USERS users: serve.toml $(du -h "$WORK/org/serve.toml" | cut -f1), users.jsonl $(du -h "$WORK/org/users.jsonl" | cut -f1)"

# start NAME CONFIG STATE: starts serve, waits for its ready file, prints the milliseconds taken.
start() {
  local name=$1 config=$2 state=$3 t0
  rm -f "$WORK/$name.ready"
  t0=$(now_ms)
  "$BIN" serve --http --listen 127.0.0.1:0 --state-dir "$state" --config "$config" \
    --ready-file "$WORK/$name.ready" >/dev/null 2>"$WORK/$name.log" &
  local pid=$!
  echo "$pid" >"$WORK/$name.pid"
  until [ -s "$WORK/$name.ready" ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; exit 1; }
    sleep 0.005
  done
  echo $(( $(now_ms) - t0 ))
}
stop() {
  local pid; pid=$(cat "$WORK/$1.pid"); kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
  rm -f "$WORK/$1.pid"
}
hwm() { awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$(cat "$WORK/$1.pid")/status"; }

FIRST_MS=$(start first "$WORK/org/serve.toml" "$WORK/org-state")
echo "first start: $FIRST_MS ms"
FIRST_HWM=$(hwm first)
FIRST_BANNER=$(wc -l <"$WORK/first.log")
stop first
LATER_RUNS=()
for i in 1 2 3; do
  LATER_RUNS+=("$(start "later$i" "$WORK/org/serve.toml" "$WORK/org-state")")
  [ "$i" = 3 ] || stop "later$i"
done
LATER_MS=$(printf '%s\n' "${LATER_RUNS[@]}" | median)
echo "later starts: ${LATER_RUNS[*]} ms"
BANNER=$(wc -l <"$WORK/later3.log")
grep -q "unchanged since" "$WORK/later3.log" || { echo "the later start parsed again" >&2; exit 1; }
ORG=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$WORK/later3.ready")
mv "$WORK/later3.pid" "$WORK/org.pid"
start one "$WORK/one/serve.toml" "$WORK/one-state" >/dev/null
ONE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$WORK/one.ready")
ONE_APP=$(field "$ONE_GEN" last_app)

grant_body() {
  printf 'grant_type=client_credentials&client_id=%s&client_secret=%s&scope=api%%3A%%2F%%2Forders%%2F.default' "$1" "$ORG_SECRET"
}
lua() {
  cat >"$WORK/$1.lua" <<LUA
wrk.method = "POST"
wrk.body = "$2"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %d\n", summary.requests / (summary.duration / 1e6),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
LUA
}
for pair in "org|$ORG|$LAST_APP" "one|$ONE|$ONE_APP"; do
  IFS='|' read -r name listen app <<<"$pair"
  body=$(grant_body "$app")
  status=$(curl -s -o "$WORK/$name.grant" -w '%{http_code}' -d "$body" "http://$listen/$TENANT/oauth2/v2.0/token" || true)
  [ "$status" = 200 ] || { echo "$name: the first grant failed ($status): $(cat "$WORK/$name.grant")" >&2; exit 1; }
  lua "$name" "$body"
done
ORG_RPS=(); ONE_RPS=()
for r in $(seq "$ROUNDS"); do
  for name in org one; do
    listen=$ORG; [ "$name" = one ] && listen=$ONE
    out=$(wrk -t1 -c8 -d"${DURATION}s" -s "$WORK/$name.lua" "http://$listen/$TENANT/oauth2/v2.0/token" | grep '^RESULT')
    read -r _ rps errors <<<"$out"
    [ "$errors" = 0 ] || { echo "$name: $errors errors" >&2; exit 1; }
    echo "round $r $name: $rps grants/s"
    if [ "$name" = org ]; then ORG_RPS+=("$rps"); else ONE_RPS+=("$rps"); fi
  done
done
ORG_MED=$(printf '%s\n' "${ORG_RPS[@]}" | median)
ONE_MED=$(printf '%s\n' "${ONE_RPS[@]}" | median)

TOKEN=$(curl -s -d "grant_type=client_credentials&client_id=$FIRST_APP&client_secret=$ORG_SECRET&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" \
  "http://$ORG/$TENANT/oauth2/v2.0/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
get_ms() { curl -s -o "$WORK/got" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" "$1"; }
next_link() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("@odata.nextLink",""))' "$WORK/got"; }
times() { for _ in $(seq "${2:-10}"); do get_ms "$1" | awk '{printf "%.2f\n", $2 * 1000}'; done | median; }
read -r code _ <<<"$(get_ms "http://$ORG/v1.0/users/$LAST_USER")"
[ "$code" = 200 ] || { echo "user by UPN: HTTP $code" >&2; exit 1; }
UPN_MS=$(times "http://$ORG/v1.0/users/$LAST_USER")
echo "user by UPN: $UPN_MS ms"
# Before listing the users: a listing may hold a page (or, before keyset paging, every user).
HWM_BEFORE_LIST=$(hwm org)
URL="http://$ORG/v1.0/users?\$top=100"
PAGE2=""
for page in $(seq 1 $((PAGE - 1))); do
  read -r code took <<<"$(get_ms "$URL")"
  [ "$code" = 200 ] || { echo "page $page: HTTP $code" >&2; exit 1; }
  echo "page $page: ${took}s"
  URL=$(next_link)
  [ "$page" = 1 ] && PAGE2=$URL
done
PAGEN=$URL
P2_MS=$(times "$PAGE2" 5)
PN_MS=$(times "$PAGEN" 5)
ORG_HWM=$(hwm org)
LOAD=$(cut -d' ' -f1 /proc/loadavg)

cat <<REPORT
== results ($(date -u +%F), commit $(git rev-parse --short HEAD), load average $LOAD)
| measure | value | anchor | ratio |
|---|---|---|---|
| first start to ready line (empty state folder) | ${FIRST_MS} ms | — | — |
| later start to ready line (same inputs; median of 3: ${LATER_RUNS[*]}) | **${LATER_MS} ms** | 1000 ms | $(awk -v a="$LATER_MS" 'BEGIN {printf "%.2f", a/1000}') (aim < 1) |
| grants/s, last of $APPS apps (median of $ROUNDS: ${ORG_RPS[*]}) | ${ORG_MED} | one-app directory, interleaved: ${ONE_MED} (${ONE_RPS[*]}) | **$(awk -v a="$ORG_MED" -v b="$ONE_MED" 'BEGIN {printf "%.2f", a/b}')** (aim ≥ 0.9) |
| GET /v1.0/users \$top=100, page $PAGE (median of 5) | ${PN_MS} ms | page 2: ${P2_MS} ms | **$(awk -v a="$PN_MS" -v b="$P2_MS" 'BEGIN {printf "%.2f", a/b}')** (aim ≤ 2) |
| GET /v1.0/users/{upn}, last user (median of 10) | **${UPN_MS} ms** | 20 ms | $(awk -v a="$UPN_MS" 'BEGIN {printf "%.2f", a/20}') (aim < 1) |
| serve peak RSS (VmHWM), later start, grants and user lookups | **${HWM_BEFORE_LIST} MiB** | 256 MiB | $(awk -v a="$HWM_BEFORE_LIST" 'BEGIN {printf "%.2f", a/256}') (aim < 1) |
| serve peak RSS (VmHWM) after listing users too | ${ORG_HWM} MiB | 256 MiB | $(awk -v a="$ORG_HWM" 'BEGIN {printf "%.2f", a/256}') (aim < 1) |
| first start's peak RSS | ${FIRST_HWM} MiB | 256 MiB | $(awk -v a="$FIRST_HWM" 'BEGIN {printf "%.2f", a/256}') |
| banner lines (later start / first start) | **${BANNER}** / ${FIRST_BANNER} | 60 | $(awk -v a="$BANNER" 'BEGIN {printf "%.2f", a/60}') (aim < 1) |
REPORT
