#!/bin/sh
# certgen's library get_token against azure_identity 1.x in one process, against a running
# `certgen serve` (bench/library-token/src/main.rs). Builds release binaries first.
set -eu
cd "$(dirname "$0")/.."
# CERTGEN=path uses that binary for the emulator instead of building a release one.
if [ -z "${CERTGEN:-}" ]; then
  cargo build --release --bin certgen
  CERTGEN="${CARGO_TARGET_DIR:-target}/release/certgen"
fi
bin="$CERTGEN"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
cd bench/library-token
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../../target}/bench-library-token" cargo run --release -q -- "$bin"
