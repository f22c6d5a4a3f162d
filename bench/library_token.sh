#!/bin/sh
# certgen's library get_token against azure_identity 1.x in one process, against a running
# `certgen serve` (bench/library-token/src/main.rs). Builds release binaries first.
set -eu
cd "$(dirname "$0")/.."
cargo build --release --bin certgen
bin="${CARGO_TARGET_DIR:-target}/release/certgen"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
cd bench/library-token
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-../../target}/bench-library-token" cargo run --release -q -- "$bin"
