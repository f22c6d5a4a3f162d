#!/bin/sh
# Benchmarks `certgen new` and `certgen thumbprint` against the openssl CLI, each pair in the
# same hyperfine run so the ratio holds even when the machine's speed drifts.
#
#   sh bench/new_thumbprint.sh            # from the repository root
#
# 1. `certgen new` (RSA 2048, --force into one folder) vs
#    `openssl req -x509 -newkey rsa:2048 -nodes …`. RSA key generation time varies a lot from
#    run to run (it searches for primes), hence 30 runs each.
# 2. `certgen thumbprint` over 1,000 certificate files in ONE call vs
#    `openssl x509 -fingerprint -noout -in F` for 10 files (a loop of 10 processes).
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}

if ! command -v hyperfine >/dev/null 2>&1; then
    apt-get install -y hyperfine || { apt-get update && apt-get install -y hyperfine; }
fi
cargo build --release --quiet
BIN=$(pwd)/target/release/certgen

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/new-certgen" "$WORK/new-openssl" "$WORK/certs"

echo "== certgen new vs openssl req -x509 (RSA 2048), $RUNS runs each"
hyperfine --runs "$RUNS" --warmup 3 --export-json "$WORK/new.json" \
    -n "certgen new" "$BIN new --cn x --days 365 --out $WORK/new-certgen --force" \
    -n "openssl req -x509" "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=x -days 365 -keyout $WORK/new-openssl/k -out $WORK/new-openssl/c"

echo "== making 1,000 distinct certificates (one key, openssl) for the thumbprint run"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/k.pem" 2>/dev/null
i=0
while [ $i -lt 1000 ]; do
    n=$(printf '%04d' $i)
    openssl req -x509 -key "$WORK/k.pem" -subj "/CN=bench $n" -set_serial $((i + 1)) -days 3650 \
        -out "$WORK/certs/c$n.pem" 2>/dev/null
    i=$((i + 1))
done
TEN=""
for n in 0000 0001 0002 0003 0004 0005 0006 0007 0008 0009; do TEN="$TEN $WORK/certs/c$n.pem"; done

echo "== certgen thumbprint (1,000 files, one call) vs openssl x509 -fingerprint (10 files, 10 calls)"
hyperfine --runs "$RUNS" --warmup 3 --export-json "$WORK/thumb.json" \
    -n "certgen thumbprint x1000" "$BIN thumbprint --format sha1 $WORK/certs/*.pem" \
    -n "openssl x509 -fingerprint x10" "for f in $TEN; do openssl x509 -fingerprint -noout -in \$f; done"

python3 - "$WORK/new.json" "$WORK/thumb.json" <<'PY'
import json, sys
new = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
thumb = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
ms = lambda r: r["median"] * 1000
c, o = new["certgen new"], new["openssl req -x509"]
print(f"\nnew:        certgen median {ms(c):.1f} ms (min {c['min']*1000:.1f}, max {c['max']*1000:.1f}); "
      f"openssl median {ms(o):.1f} ms (min {o['min']*1000:.1f}, max {o['max']*1000:.1f}); "
      f"certgen/openssl = {ms(c)/ms(o):.2f}")
c, o = thumb["certgen thumbprint x1000"], thumb["openssl x509 -fingerprint x10"]
print(f"thumbprint: certgen 1000 files median {ms(c):.1f} ms = {ms(c)/1000*1000:.1f} us/cert; "
      f"openssl 10 files median {ms(o):.1f} ms = {ms(o)/10:.2f} ms/cert; "
      f"per-certificate openssl/certgen = {(ms(o)/10)/(ms(c)/1000):.0f}x; "
      f"whole command certgen(1000)/openssl(10) = {ms(c)/ms(o):.2f}")
PY
