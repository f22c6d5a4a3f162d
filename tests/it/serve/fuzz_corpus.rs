//! Replays the committed fuzz seeds and every input that once crashed a fuzz target
//! (`fuzz/seeds/TARGET/`, `fuzz/regressions/TARGET/`) through the targets' own entry points,
//! on stable, so CI keeps every finding fixed: no panic, and each input within a time bound.

#[path = "../../../fuzz/src/lib.rs"]
mod entries;

use std::path::Path;
use std::time::{Duration, Instant};

/// Generous for a debug build on a loaded machine; a hang or a quadratic blow-up is far above.
const PER_INPUT: Duration = Duration::from_secs(5);

fn replay(target: &str, entry: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for file in dir {
            let path = file.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let start = Instant::now();
            entry(&data);
            let took = start.elapsed();
            assert!(took < PER_INPUT, "{}: took {took:?}", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no corpus kept for the fuzz target {target}");
}

#[test]
fn input_corpus() {
    replay("input", entries::input);
}

#[test]
fn key_corpus() {
    replay("key", entries::key);
}

#[test]
fn jose_corpus() {
    replay("jose", entries::jose);
}

#[test]
fn token_request_corpus() {
    replay("token_request", entries::token_request);
}

#[test]
fn proof_corpus() {
    replay("proof", entries::proof);
}

#[test]
fn config_corpus() {
    replay("config", entries::config);
}

#[test]
fn sign_in_corpus() {
    replay("sign_in", entries::sign_in);
}
