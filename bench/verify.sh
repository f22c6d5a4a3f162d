#!/usr/bin/env bash
# certgen verify: access-token validations per second in-process with a warm key set (one core),
# next to the raw RSA-2048 verify rate measured in the same run, twice: aws-lc-rs inside the
# benchmark binary, and `openssl speed` (the anchor nobody here wrote).
#
#   bench/verify.sh [ITERATIONS]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"

echo "== cargo bench --bench verify -- $n"
out="$(cargo bench --quiet --bench verify -- "$n" 2>/dev/null)"
echo "$out"

echo "== openssl speed -seconds 3 rsa2048"
speed="$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $NF}')"
echo "openssl_rsa2048_verify/s  $speed"

file_rate="$(echo "$out" | awk '/^validate_file\/s/ {print $2}')"
uri_rate="$(echo "$out" | awk '/^validate_jwks_uri\/s/ {print $2}')"
awk -v f="$file_rate" -v u="$uri_rate" -v o="$speed" 'BEGIN {
  printf "ratio validate_file / openssl verify      %.2f\n", f / o
  printf "ratio validate_jwks_uri / openssl verify  %.2f\n", u / o
}'
