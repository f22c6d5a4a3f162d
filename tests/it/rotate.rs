//! `certgen rotate` against a real `certgen serve`: a whole rotation and the one-line answer when
//! nothing is due; SIGKILL after each step in turn (a debug-build kill point), then a re-run
//! that ends where an uninterrupted run ends, with a working certificate at every moment; the
//! replication delay waited out, or a `--wait` too short that leaves the old files in place
//! for the next run to complete.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

use serde_json::Value;

use crate::support::certgen;
use crate::support::serve::*;

const ROT_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000b1";

struct Setup {
    dir: tempfile::TempDir,
    server: Server,
    original: Vec<u8>,
}

impl Setup {
    /// A 10-day certificate made by `certgen new`, registered on ROT_APP in a fresh serve.
    fn new(serve_args: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let out = certgen()
            .args([
                "new",
                "--cn",
                "rotating-daemon",
                "--name",
                "app",
                "--days",
                "10",
                "--out",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.path().join("serve.toml");
        std::fs::write(
            &config,
            format!(
                "[[tenant]]\nid = \"{TENANT}\"\n\n[[app]]\nclient_id = \"{ROT_APP}\"\n\
                 certificates = [\"app.crt\"]\n"
            ),
        )
        .unwrap();
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(serve_args);
        let server = Server::start_in(&fixture().state, &args);
        let original = std::fs::read(dir.path().join("app.crt")).unwrap();
        Setup {
            dir,
            server,
            original,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, command: &str, cert: &str, key: &str, args: &[&str]) -> Command {
        let mut cmd = certgen();
        cmd.arg(command)
            .args(args)
            .args(["--tenant", TENANT, "--client-id", ROT_APP])
            .arg("--cert")
            .arg(self.path(cert))
            .arg("--key")
            .arg(self.path(key))
            .args(["--authority-host", &self.server.base()])
            .env("CERTGEN_CACHE_DIR", self.path("cache"));
        if let Some(ca) = self.server.ready["ca_file"].as_str() {
            cmd.args(["--ca-file", ca]);
        }
        cmd
    }

    fn certgen(&self, command: &str, cert: &str, key: &str, args: &[&str]) -> Output {
        self.command(command, cert, key, args).output().unwrap()
    }

    fn rotate(&self, args: &[&str]) -> Output {
        self.certgen("rotate", "app.crt", "app.key", args)
    }

    /// Whether a pair of files gets a Graph token (no cache).
    fn gets_token(&self, cert: &str, key: &str) -> bool {
        self.path(cert).exists()
            && self.path(key).exists()
            && self
                .certgen("token", cert, key, &["--no-cache"])
                .status
                .success()
    }

    /// The thumbprints registered on the app, read with whichever local pair works.
    fn registered(&self) -> Vec<String> {
        let out = self.certgen("credential", "app.crt", "app.key", &["list", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["keyCredentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["thumbprint"].as_str().unwrap().to_string())
            .collect()
    }

    fn thumbprint(&self, name: &str) -> String {
        thumbprint_of(&self.path(name))
    }

    /// Where an uninterrupted rotation ends: the files hold a new, working certificate, the old
    /// one is kept as .previous, nothing is staged, and the app has the new one only.
    fn assert_rotated(&self) {
        assert_eq!(
            std::fs::read(self.path("app.crt.previous")).unwrap(),
            self.original
        );
        assert_ne!(std::fs::read(self.path("app.crt")).unwrap(), self.original);
        for gone in ["app.crt.next", "app.key.next", "app.crt.remove-pending"] {
            assert!(!self.path(gone).exists(), "{gone} is left");
        }
        assert!(self.gets_token("app.crt", "app.key"));
        assert_eq!(self.registered(), [self.thumbprint("app.crt")]);
        assert!(!self.gets_token("app.crt.previous", "app.key.previous"));
    }
}

fn thumbprint_of(path: &Path) -> String {
    crate::support::openssl_thumbprints(path).sha1
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_rotation_end_to_end_then_one_line_when_nothing_is_due() {
    let s = Setup::new(&[]);
    let old = s.thumbprint("app.crt");
    let doc = stdout_json(&s.rotate(&["--json"]));
    assert_eq!(doc["action"], "rotated");
    assert_eq!(doc["old"]["thumbprint"], old);
    assert_eq!(doc["new"]["thumbprint"], s.thumbprint("app.crt"));
    assert_eq!(doc["old_removed"], true);
    assert!(doc["new"]["keyId"].is_string());
    s.assert_rotated();

    // Nothing due now: exit 0, one line naming the date renewal starts (RFC 3339).
    let out = s.rotate(&[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("nothing to do: "), "{text}");
    let renew_from = text.trim().rsplit(' ').next().unwrap();
    assert!(
        time::OffsetDateTime::parse(renew_from, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{text}"
    );
    let doc = stdout_json(&s.rotate(&["--json"]));
    assert_eq!(doc["action"], "none");
    assert_eq!(doc["new"], Value::Null);

    // --dry-run when due changes nothing.
    let s = Setup::new(&[]);
    let out = s.rotate(&["--dry-run"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("would make"));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("dry run: ") && text.contains("is due"),
        "{text}"
    );
    assert_eq!(std::fs::read(s.path("app.crt")).unwrap(), s.original);
    assert!(!s.path("app.crt.next").exists());
    assert_eq!(s.registered(), [s.thumbprint("app.crt")]);
}

#[test]
fn killed_after_each_step_the_next_run_completes_the_rotation() {
    for step in ["1", "2", "3", "4a", "4"] {
        let s = Setup::new(&[]);
        let out = s
            .command("rotate", "app.crt", "app.key", &[])
            .env("CERTGEN_TEST_ROTATE_KILL_AFTER", step)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(9), "step {step}: {out:?}");

        // The app has a working certificate whose key is on disk, whatever the step.
        let working = [
            ("app.crt", "app.key"),
            ("app.crt.next", "app.key.next"),
            ("app.crt.next", "app.key"),
        ]
        .iter()
        .any(|(c, k)| s.gets_token(c, k));
        assert!(working, "step {step}: no working certificate on disk");

        let doc = stdout_json(&s.rotate(&["--json"]));
        assert_eq!(doc["action"], "resumed", "step {step}");
        s.assert_rotated();
    }
}

#[test]
fn the_replication_delay_is_waited_out_or_a_short_wait_keeps_the_old_files() {
    let s = Setup::new(&["--replication-delay", "5"]);
    let out = s.rotate(&["--wait", "30"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waiting for the new certificate to get a token"),
        "{err}"
    );
    s.assert_rotated();

    let s = Setup::new(&["--replication-delay", "5"]);
    let out = s.rotate(&["--wait", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("got no token within 1 s"), "{err}");
    assert!(err.contains("run again"), "{err}");
    assert_eq!(std::fs::read(s.path("app.crt")).unwrap(), s.original);
    assert!(s.gets_token("app.crt", "app.key"));
    let doc = stdout_json(&s.rotate(&["--json", "--wait", "30"]));
    assert_eq!(doc["action"], "resumed");
    s.assert_rotated();
}

#[test]
fn keep_old_leaves_the_old_certificate_registered_and_working() {
    let s = Setup::new(&[]);
    let old = s.thumbprint("app.crt");
    let doc = stdout_json(&s.rotate(&["--keep-old", "--json"]));
    assert_eq!(doc["action"], "rotated");
    assert_eq!(doc["old_removed"], false);
    let new = s.thumbprint("app.crt");
    assert_ne!(new, old);
    assert_eq!(s.registered(), [old, new]);
    assert!(!s.path("app.crt.remove-pending").exists());
    // Another machine still holding the old pair keeps getting tokens.
    assert!(s.gets_token("app.crt.previous", "app.key.previous"));
}

/// The refusal of a run that finds the lock held: one error line, exit 1.
fn assert_refused_as_overlapping(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<_> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("another certgen rotate is running on"),
        "{err}"
    );
    assert!(!err.contains("rotate 1/5"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_second_run_on_the_same_files_is_refused_while_the_first_holds_the_lock() {
    // A lock held by another process (this one, through flock(2) as any tool would take it).
    let s = Setup::new(&[]);
    let key = std::fs::read(s.path("app.key")).unwrap();
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(s.path("app.crt.rotate.lock"))
        .unwrap();
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor owned by `holder`, which outlives the call.
    let rc = unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0);
    assert_refused_as_overlapping(&s.rotate(&[]));
    assert_eq!(std::fs::read(s.path("app.crt")).unwrap(), s.original);
    assert_eq!(std::fs::read(s.path("app.key")).unwrap(), key);
    for absent in [
        "app.crt.next",
        "app.key.next",
        "app.crt.previous",
        "app.crt.remove-pending",
    ] {
        assert!(!s.path(absent).exists(), "{absent}");
    }
    assert_eq!(s.registered(), [s.thumbprint("app.crt")]);
    drop(holder);
    assert_eq!(stdout_json(&s.rotate(&["--json"]))["action"], "rotated");
    s.assert_rotated();

    // Two real runs: the first waits out the replication delay in step 3 while the second
    // starts; the second touches nothing and the first completes as if alone.
    let s = Setup::new(&["--replication-delay", "5"]);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| s.rotate(&["--json", "--wait", "30"]));
        let start = std::time::Instant::now();
        while !s.path("app.crt.next").exists() {
            assert!(
                start.elapsed().as_secs() < 20,
                "the first run staged nothing"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let staged = std::fs::read(s.path("app.crt.next")).unwrap();
        assert_refused_as_overlapping(&s.rotate(&["--wait", "30"]));
        assert_eq!(std::fs::read(s.path("app.crt")).unwrap(), s.original);
        assert_eq!(std::fs::read(s.path("app.crt.next")).unwrap(), staged);
        let first = first.join().unwrap();
        assert_eq!(stdout_json(&first)["action"], "rotated");
        assert_eq!(std::fs::read(s.path("app.crt")).unwrap(), staged);
    });
    s.assert_rotated();
}
