//! What a real-client test needs from the machine (a Python venv, node and its packages,
//! Chromium, the example binary, `script`, openssl), found in one place. Nothing here installs
//! or builds anything: `.ci/run` does that before `cargo test`.
//!
//! On a developer machine a test whose prerequisite is missing says "skipped: …" and returns;
//! under `CI=true` it fails instead, so a CI job whose setup broke cannot pass by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Whether the tests run on CI (`CI=true`, as GitHub Actions, GitLab CI and most others set it).
pub fn ci() -> bool {
    matches!(
        std::env::var("CI")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Ok("true" | "1" | "yes")
    )
}

/// The one decision for a prerequisite: `Some` when found; when missing, a panic under
/// `CI=true` and otherwise `None` after saying "skipped: WHY" (the test then returns).
pub fn require<T>(found: Result<T, String>) -> Option<T> {
    match found {
        Ok(t) => Some(t),
        Err(why) if ci() => {
            panic!("CI=true and a prerequisite is missing: {why} (.ci/run installs it)")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// The Python of `CERTGEN_TEST_PYTHON` (.ci/run makes a venv with msal, azure-identity,
/// requests, PyJWT, cryptography and selenium), checked to import `modules`.
/// Each set of modules is checked once per run.
pub fn python(modules: &[&str]) -> Option<String> {
    static FOUND: Mutex<Vec<(String, Result<String, String>)>> = Mutex::new(Vec::new());
    let key = modules.join(", ");
    let found = {
        let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
        match found.iter().find(|(k, _)| *k == key) {
            Some((_, r)) => r.clone(),
            None => {
                let r = find_python(modules);
                found.push((key, r.clone()));
                r
            }
        }
    };
    require(found)
}

fn find_python(modules: &[&str]) -> Result<String, String> {
    let python = match std::env::var("CERTGEN_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            return Err(format!(
                "CERTGEN_TEST_PYTHON not set (a Python with {})",
                modules.join(", ")
            ))
        }
    };
    if modules.is_empty() {
        return Ok(python);
    }
    let imports = Command::new(&python)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .output();
    match imports {
        Ok(o) if o.status.success() => Ok(python),
        Ok(o) => Err(format!(
            "{python} cannot import {}: {}",
            modules.join(", "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("CERTGEN_TEST_PYTHON={python} does not run: {e}")),
    }
}

/// tests/clients/node with its packages installed (`npm ci` there; .ci/run does it), and node.
pub fn node_clients() -> Option<PathBuf> {
    require(find_node_clients())
}

fn find_node_clients() -> Result<PathBuf, String> {
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("node not found (needed for @azure/identity and MSAL Node)".into()),
    }
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/node"));
    for package in ["@azure/identity", "@azure/msal-node"] {
        if !dir.join("node_modules").join(package).is_dir() {
            return Err(format!(
                "{package} not installed: run `npm ci` in {}",
                dir.display()
            ));
        }
    }
    Ok(dir)
}

/// A program on PATH, checked by running it with `args` (any exit status counts: it ran).
pub fn program(name: &str, args: &[&str], install: &str) -> Option<()> {
    require(find_program(name, args, install))
}

fn find_program(name: &str, args: &[&str], install: &str) -> Result<(), String> {
    match Command::new(name).args(args).output() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{name} not found ({e}; {install})")),
    }
}

/// The Azure CLI of `CERTGEN_TEST_AZ` (.ci/run installs `azure-cli` from PyPI in its own venv).
/// Only its presence is checked: running `az --version` would ask the internet for the latest
/// version.
pub fn azure_cli() -> Option<PathBuf> {
    require(match std::env::var("CERTGEN_TEST_AZ") {
        Ok(p) if Path::new(&p).is_file() => Ok(PathBuf::from(p)),
        Ok(p) if !p.is_empty() => Err(format!("CERTGEN_TEST_AZ={p} is not a file")),
        _ => Err("CERTGEN_TEST_AZ not set (the Azure CLI's az; .ci/run installs it)".into()),
    })
}

/// util-linux `script`, which gives certgen a pseudo-terminal.
pub fn script() -> Option<()> {
    program("script", &["--version"], "apt-get install util-linux")
}

/// The openssl CLI, the independent judge of most tests.
pub fn openssl() -> Option<()> {
    program("openssl", &["version"], "apt-get install openssl")
}

/// A file that must exist (a browser, its driver).
pub fn file(path: &str, install: &str) -> Option<PathBuf> {
    require(if Path::new(path).exists() {
        Ok(PathBuf::from(path))
    } else {
        Err(format!("{path} not found ({install})"))
    })
}

/// An example of this package, built by `cargo build --example NAME` (and by `cargo test`, which
/// builds examples; .ci/run builds it explicitly): it sits in `examples/` beside the certgen
/// binary the tests run.
pub fn example(name: &str) -> Option<PathBuf> {
    let profile_dir = Path::new(env!("CARGO_BIN_EXE_certgen"))
        .parent()
        .expect("the certgen binary is in a profile directory");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    require(if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not built (cargo build --example {name})",
            path.display()
        ))
    })
}

/// Polls `cond` every 10 ms until it holds; panics with `what` after `timeout`. For waits on
/// something another process or thread does, in place of a fixed sleep.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "not within {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
