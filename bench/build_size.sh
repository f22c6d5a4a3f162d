#!/bin/sh
# A clean `cargo build` (debug, as a developer's first build) of the same small program — a
# Graph token from a client secret — with certgen (default-features = false) and with
# azure_identity 1.x + azure_core, one after the other in the same run: wall time, crates
# compiled, size of the target folder. Both resolve their dependencies fresh
# (`cargo generate-lockfile`), each in its own target folder. RUNS=n repeats the pair.
set -eu
cd "$(dirname "$0")/build-size"
runs="${RUNS:-1}"
out="${TMPDIR:-/tmp}/certgen-build-size"
rm -rf "$out"; mkdir -p "$out"
i=0
while [ "$i" -lt "$runs" ]; do
  i=$((i + 1))
  for c in certgen azure; do
    (cd "$c" && cargo generate-lockfile -q && cargo fetch -q)
    target="$out/$c-$i"
    start=$(date +%s.%N)
    (cd "$c" && CARGO_TARGET_DIR="$target" cargo build 2> "$out/$c-$i.log")
    end=$(date +%s.%N)
    crates=$(grep -c '^ *Compiling ' "$out/$c-$i.log")
    size=$(du -sm "$target" | cut -f1)
    printf '%s run %s: %.1f s, %s crates compiled, target %s MB (load %s)\n' \
      "$c" "$i" "$(echo "$end - $start" | bc)" "$crates" "$size" "$(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
