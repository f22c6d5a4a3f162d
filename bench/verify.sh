#!/usr/bin/env bash
# certgen verify: access-token validations per second in-process with a warm key set (one core),
# next to the raw RSA-2048 verify rate measured in the same run, twice: aws-lc-rs inside the
# benchmark binary, and `openssl speed` (the anchor nobody here wrote), run before and after the
# benchmark; the best of the two is the anchor (the machine is shared, so best-of is the
# least-disturbed figure, as for the benchmark's own rounds).
#
#   bench/verify.sh [ITERATIONS]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"

ossl() { openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $NF}'; }

cargo bench --quiet --bench verify --no-run 2>/dev/null
echo "== openssl speed -seconds 3 rsa2048 (before)"
before="$(ossl)"; echo "openssl_rsa2048_verify/s  $before"
echo "== cargo bench --bench verify -- $n"
out="$(cargo bench --quiet --bench verify -- "$n" 2>/dev/null)"
echo "$out"
echo "== openssl speed -seconds 3 rsa2048 (after)"
after="$(ossl)"; echo "openssl_rsa2048_verify/s  $after"

awk -v out="$out" -v b="$before" -v a="$after" 'BEGIN {
  o = (b > a) ? b : a
  split(out, lines, "\n")
  for (i in lines) {
    split(lines[i], f, " ")
    if (f[1] == "validate_file/s") file = f[2]
    if (f[1] == "validate_jwks_uri/s") uri = f[2]
    if (f[1] == "raw_rsa2048_verify/s") raw = f[2]
  }
  printf "anchor (best openssl verify/s)            %.0f\n", o
  printf "ratio aws-lc raw verify / openssl verify  %.2f\n", raw / o
  printf "ratio validate_file / openssl verify      %.2f\n", file / o
  printf "ratio validate_jwks_uri / openssl verify  %.2f\n", uri / o
}'
