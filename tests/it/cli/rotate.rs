//! `certgen rotate` against a real `certgen serve`: a whole rotation and the one-line answer when
//! nothing is due; SIGKILL after each step in turn (a debug-build kill point), then a re-run
//! that ends where an uninterrupted run ends, with a working certificate at every moment; the
//! replication delay waited out, or a `--wait` too short that leaves the old files in place
//! for the next run to complete. Each credential layout rotate renews: `--cert`/`--key` (the
//! key encrypted or not), one PEM holding both, a PKCS#12 file (modern or legacy), each with
//! the `.cer` that `certgen new` wrote beside it; openssl judges the files it leaves.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

use serde_json::Value;

use crate::support::serve::*;
use crate::support::{certgen, openssl, openssl_output, p, write_password, PASSWORD};

const ROT_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000b1";

/// How the credential being renewed is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `certgen new`'s app.crt and app.key.
    Pair,
    /// The same with the key encrypted (`--encrypt-key`), password in pw.txt.
    EncryptedPair,
    /// app.crt and app.key in one PEM file, app.pem, passed as `--cert` alone.
    Pem,
    /// `certgen new --pfx`: app.pfx, modern PKCS#12, password in pw.txt.
    Pfx,
    /// `certgen new --legacy-pfx`: app.pfx, 3DES and a SHA-1 MAC.
    LegacyPfx,
}

impl Form {
    /// The file that holds the certificate (and names the marker and the lock).
    fn primary(self) -> &'static str {
        match self {
            Form::Pair | Form::EncryptedPair => "app.crt",
            Form::Pem => "app.pem",
            Form::Pfx | Form::LegacyPfx => "app.pfx",
        }
    }

    fn has_password(self) -> bool {
        matches!(self, Form::EncryptedPair | Form::Pfx | Form::LegacyPfx)
    }

    fn is_pfx(self) -> bool {
        matches!(self, Form::Pfx | Form::LegacyPfx)
    }

    /// Every file the swap replaces.
    fn files(self) -> Vec<&'static str> {
        match self {
            Form::Pair | Form::EncryptedPair => vec!["app.crt", "app.key", "app.cer"],
            _ => vec![self.primary(), "app.cer"],
        }
    }

    /// The credential flags for the files with `suffix` ("", ".next", ".previous").
    fn flags(self, suffix: &str) -> Vec<(&'static str, String)> {
        self.flags_of(
            &format!("{}{suffix}", self.primary()),
            &format!("app.key{suffix}"),
        )
    }

    /// The credential flags for a certificate file (or single file) and, of a pair, a key.
    fn flags_of(self, primary: &str, key: &str) -> Vec<(&'static str, String)> {
        match self {
            Form::Pair | Form::EncryptedPair => {
                vec![("--cert", primary.to_string()), ("--key", key.to_string())]
            }
            Form::Pem => vec![("--cert", primary.to_string())],
            Form::Pfx | Form::LegacyPfx => vec![("--pfx", primary.to_string())],
        }
    }
}

struct Setup {
    form: Form,
    dir: tempfile::TempDir,
    server: Server,
    /// The certificate file (or single file) and the `.cer` as `certgen new` wrote them.
    original: Vec<u8>,
    original_cer: Vec<u8>,
}

impl Setup {
    fn new(serve_args: &[&str]) -> Setup {
        Setup::of(Form::Pair, serve_args)
    }

    /// A 10-day certificate made by `certgen new` (with its `.cer`), stored as `form` says and
    /// registered on ROT_APP in a fresh serve.
    fn of(form: Form, serve_args: &[&str]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let pw = write_password(d);
        let mut new = certgen();
        new.args([
            "new",
            "--cn",
            "rotating-daemon",
            "--name",
            "app",
            "--days",
            "10",
        ])
        .arg("--out")
        .arg(d);
        match form {
            Form::Pair | Form::Pem => {}
            Form::EncryptedPair => {
                new.arg("--encrypt-key");
            }
            Form::Pfx => {
                new.arg("--pfx");
            }
            Form::LegacyPfx => {
                new.arg("--legacy-pfx");
            }
        }
        if form.has_password() {
            new.arg("--password-file").arg(&pw);
        }
        let out = new.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The service reads the registered certificate from a copy: only the files under test
        // stay under their names.
        std::fs::copy(d.join("app.crt"), d.join("registered.crt")).unwrap();
        match form {
            Form::Pair | Form::EncryptedPair => {}
            Form::Pem => {
                let mut pem = std::fs::read(d.join("app.crt")).unwrap();
                pem.extend(std::fs::read(d.join("app.key")).unwrap());
                std::fs::write(d.join("app.pem"), pem).unwrap();
                crate::support::private(&d.join("app.pem"));
            }
            Form::Pfx | Form::LegacyPfx => {}
        }
        if form != Form::Pair && form != Form::EncryptedPair {
            std::fs::remove_file(d.join("app.crt")).unwrap();
            std::fs::remove_file(d.join("app.key")).unwrap();
        }
        let config = d.join("serve.toml");
        std::fs::write(
            &config,
            format!(
                "[[tenant]]\nid = \"{TENANT}\"\n\n[[app]]\nclient_id = \"{ROT_APP}\"\n\
                 certificates = [\"registered.crt\"]\n"
            ),
        )
        .unwrap();
        let mut args = vec!["--config", config.to_str().unwrap()];
        args.extend_from_slice(serve_args);
        let server = Server::start_keys_of(&fixture().state, &args);
        let original = std::fs::read(d.join(form.primary())).unwrap();
        let original_cer = std::fs::read(d.join("app.cer")).unwrap();
        Setup {
            form,
            dir,
            server,
            original,
            original_cer,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `certgen COMMAND` with the credential `flags` on ROT_APP at the service.
    fn command_with(&self, command: &str, flags: &[(&str, String)], args: &[&str]) -> Command {
        let mut cmd = certgen();
        cmd.arg(command)
            .args(args)
            .args(["--tenant", TENANT, "--client-id", ROT_APP])
            .args(["--authority-host", &self.server.base()])
            .env("CERTGEN_CACHE_DIR", self.path("cache"));
        for (flag, file) in flags {
            cmd.arg(flag).arg(self.path(file));
        }
        if self.form.has_password() && !args.contains(&"--password-file") {
            cmd.arg("--password-file").arg(self.path("pw.txt"));
        }
        if let Some(ca) = self.server.ready["ca_file"].as_str() {
            cmd.args(["--ca-file", ca]);
        }
        cmd
    }

    fn command(&self, command: &str, args: &[&str]) -> Command {
        self.command_with(command, &self.form.flags(""), args)
    }

    fn rotate(&self, args: &[&str]) -> Output {
        self.command("rotate", args).output().unwrap()
    }

    /// Whether the credential `flags` name gets a Graph token (no cache).
    fn gets_token_with(&self, flags: &[(&str, String)]) -> bool {
        flags.iter().all(|(_, f)| self.path(f).exists())
            && self
                .command_with("token", flags, &["--no-cache"])
                .output()
                .unwrap()
                .status
                .success()
    }

    fn gets_token(&self, suffix: &str) -> bool {
        self.gets_token_with(&self.form.flags(suffix))
    }

    /// The thumbprints registered on the app, read with the current files.
    fn registered(&self) -> Vec<String> {
        let out = self
            .command("credential", &["list", "--json"])
            .output()
            .unwrap();
        let doc = stdout_json(&out);
        doc["keyCredentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["thumbprint"].as_str().unwrap().to_string())
            .collect()
    }

    /// The SHA-1 thumbprint of the current certificate, as openssl reads it from the file.
    fn thumbprint(&self) -> String {
        if self.form.is_pfx() {
            let certs = crate::support::openssl_pkcs12_certs(
                &self.path("app.pfx"),
                PASSWORD,
                self.form == Form::LegacyPfx,
            );
            let all = crate::support::openssl_thumbprints_of_pem_text(&certs);
            assert_eq!(all.len(), 1, "{certs}");
            all[0].sha1.clone()
        } else {
            thumbprint_of(&self.path(self.form.primary()))
        }
    }

    /// Where an uninterrupted rotation ends: the files hold a new, working certificate and
    /// its key, the old ones are kept as .previous, nothing is staged, the `.cer` holds the new
    /// certificate, and the app has the new one only.
    fn assert_rotated(&self) {
        let primary = self.form.primary();
        assert_eq!(
            std::fs::read(self.path(&format!("{primary}.previous"))).unwrap(),
            self.original
        );
        assert_ne!(std::fs::read(self.path(primary)).unwrap(), self.original);
        for file in self.form.files() {
            let next = format!("{file}.next");
            assert!(!self.path(&next).exists(), "{next} is left");
        }
        let marker = format!("{primary}.remove-pending");
        assert!(!self.path(&marker).exists(), "{marker} is left");
        assert!(self.gets_token(""));
        let thumbprint = self.thumbprint();
        assert_eq!(self.registered(), std::slice::from_ref(&thumbprint));
        assert!(!self.gets_token(".previous"));

        // The portal's copy follows (openssl reads it as DER), the old one kept beside it.
        let cer = openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            p(&self.path("app.cer")),
            "-noout",
            "-fingerprint",
            "-sha1",
        ]);
        assert_eq!(
            cer.trim().replace(':', ""),
            format!("sha1 Fingerprint={thumbprint}")
        );
        assert_eq!(
            std::fs::read(self.path("app.cer.previous")).unwrap(),
            self.original_cer
        );
        self.assert_openssl_pairs_key_and_certificate();
    }

    /// openssl opens the renewed files as the old ones opened (the same password, the same
    /// PKCS#12 flavour, the key still encrypted if it was), finds a key that belongs to the
    /// certificate, and the files holding a key are private.
    fn assert_openssl_pairs_key_and_certificate(&self) {
        use std::os::unix::fs::PermissionsExt;
        let pass = format!("pass:{PASSWORD}");
        let (cert, key) = match self.form {
            Form::Pair | Form::EncryptedPair => (self.path("app.crt"), self.path("app.key")),
            Form::Pem => (self.path("app.pem"), self.path("app.pem")),
            Form::Pfx | Form::LegacyPfx => {
                let legacy = self.form == Form::LegacyPfx;
                let pfx = self.path("app.pfx");
                let mut info = vec!["pkcs12", "-info", "-noout", "-in", p(&pfx)];
                info.extend(["-passin", &pass]);
                if legacy {
                    info.push("-legacy");
                }
                let out = openssl_output(&info);
                assert!(out.status.success(), "{out:?}");
                // openssl 3.0 prints the -info lines on stderr.
                let text = String::from_utf8_lossy(&out.stderr).to_string()
                    + &String::from_utf8_lossy(&out.stdout);
                let mac = if legacy { "MAC: sha1" } else { "MAC: sha256" };
                assert!(text.contains(mac), "{text}");
                let mut export = vec!["pkcs12", "-in", "app.pfx", "-nodes", "-passin", &pass];
                if legacy {
                    export.push("-legacy");
                }
                let both = crate::support::openssl_in(self.dir.path(), &export);
                std::fs::write(self.path("exported.pem"), both).unwrap();
                (self.path("exported.pem"), self.path("exported.pem"))
            }
        };
        let key_text = std::fs::read_to_string(&key).unwrap();
        assert_eq!(
            key_text.contains("ENCRYPTED PRIVATE KEY"),
            self.form == Form::EncryptedPair,
            "{key_text}"
        );
        let modulus = |args: &[&str]| openssl(args).trim().to_string();
        assert_eq!(
            modulus(&[
                "rsa",
                "-in",
                p(&key),
                "-passin",
                &pass,
                "-noout",
                "-modulus"
            ]),
            modulus(&["x509", "-in", p(&cert), "-noout", "-modulus"])
        );
        let holder = match self.form {
            Form::Pair | Form::EncryptedPair => "app.key",
            other => other.primary(),
        };
        let mode = std::fs::metadata(self.path(holder))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{holder}");
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

/// `old` and `new` of --json: exactly the contract's `{"thumbprint", "keyId"}`.
fn assert_key_shape(key: &Value) {
    let mut fields: Vec<&str> = key
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {key}"))
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["keyId", "thumbprint"], "{key}");
}

#[test]
fn a_rotation_end_to_end_then_one_line_when_nothing_is_due() {
    let s = Setup::new(&[]);
    let old = s.thumbprint();
    let doc = stdout_json(&s.rotate(&["--json"]));
    assert_eq!(doc["action"], "rotated");
    assert_eq!(doc["old"]["thumbprint"], old);
    assert_eq!(doc["new"]["thumbprint"], s.thumbprint());
    assert_eq!(doc["old_removed"], true);
    assert!(doc["new"]["keyId"].is_string());
    assert!(doc["old"]["keyId"].is_string());
    assert_key_shape(&doc["old"]);
    assert_key_shape(&doc["new"]);
    s.assert_rotated();

    // Nothing due now: exit 0, one line naming the certificate's end (as openssl reads it)
    // and the date renewal starts (RFC 3339).
    let out = s.rotate(&[]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("nothing to do: "), "{text}");
    let (_, not_after) = crate::support::openssl_dates(&s.path("app.crt"));
    assert!(
        text.contains(&format!("{} is valid until {not_after};", s.thumbprint())),
        "{text}"
    );
    let renew_from = text.trim().rsplit(' ').next().unwrap();
    assert!(
        time::OffsetDateTime::parse(renew_from, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{text}"
    );
    let doc = stdout_json(&s.rotate(&["--json"]));
    assert_eq!(doc["action"], "none");
    assert_eq!(doc["new"], Value::Null);
    assert_key_shape(&doc["old"]);

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
    assert_eq!(s.registered(), [s.thumbprint()]);
}

#[test]
fn a_pkcs12_file_is_renewed_in_place_with_the_same_password_and_flavour() {
    // Modern, the password in a file; legacy, the password on stdin (read once for the whole
    // run: the loads, the token requests and the new file all need it).
    for (form, password_file) in [(Form::Pfx, "pw.txt"), (Form::LegacyPfx, "-")] {
        let s = Setup::of(form, &[]);
        let pw = s.path(password_file);
        let pw_arg = if password_file == "-" { "-" } else { p(&pw) };
        let run = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--password-file", pw_arg]);
            s.command("rotate", &all)
                .write_stdin(format!("{PASSWORD}\n"))
                .output()
                .unwrap()
        };

        // A wrong password: one error naming where it came from, nothing written.
        std::fs::write(s.path("wrong.txt"), "not-the-password\n").unwrap();
        crate::support::private(&s.path("wrong.txt"));
        let wrong = s.path("wrong.txt");
        let out = s
            .command("rotate", &["--password-file", p(&wrong)])
            .output()
            .unwrap();
        let error = crate::support::assert_clean_failure(&out, 1);
        assert!(
            error.contains("wrong password for the PKCS#12 file")
                && error.contains(&format!(
                    "(the password came from the file {})",
                    wrong.display()
                )),
            "{error}"
        );
        assert!(!s.path("app.pfx.next").exists());

        let out = run(&["--dry-run"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{form:?}: {err}");
        assert!(err.contains("app.pfx.next, register"), "{form:?}: {err}");
        assert!(err.contains("app.pfx.previous and "), "{form:?}: {err}");
        assert!(!s.path("app.pfx.next").exists());

        let old = s.thumbprint();
        let out = run(&["--json"]);
        for text in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(text);
            assert!(
                !text.contains(PASSWORD),
                "{form:?}: the password is shown: {text}"
            );
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("now hold") && err.contains("app.pfx and ") && err.contains("app.cer"),
            "{form:?}: {err}"
        );
        let doc = stdout_json(&out);
        assert_eq!(doc["action"], "rotated", "{form:?}");
        assert_eq!(doc["old"]["thumbprint"], old);
        assert_eq!(doc["new"]["thumbprint"], s.thumbprint());
        assert_key_shape(&doc["new"]);
        s.assert_rotated();

        let out = run(&[]);
        assert!(out.status.success(), "{form:?}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("nothing to do: "));
    }
}

#[test]
fn a_combined_pem_and_an_encrypted_key_are_renewed_as_they_were() {
    for form in [Form::Pem, Form::EncryptedPair] {
        let s = Setup::of(form, &[]);
        let old = s.thumbprint();
        let out = s.rotate(&["--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains(PASSWORD), "{form:?}: {err}");
        let doc = stdout_json(&out);
        assert_eq!(doc["action"], "rotated", "{form:?}");
        assert_eq!(doc["old"]["thumbprint"], old);
        assert_eq!(doc["new"]["thumbprint"], s.thumbprint());
        s.assert_rotated();
    }
}

#[test]
fn killed_after_each_step_the_next_run_completes_the_rotation() {
    // 4a: after the first rename of the swap (a pair's key; the PKCS#12 file), 4b: after the
    // second (a pair's certificate), each time with the `.cer` still to follow.
    let runs = [
        (Form::Pair, &["1", "2", "3", "4a", "4b", "4"][..]),
        (Form::Pfx, &["1", "2", "3", "4a", "4"][..]),
    ];
    for (form, steps) in runs {
        for step in steps {
            let s = Setup::of(form, &[]);
            let out = s
                .command("rotate", &[])
                .env("CERTGEN_TEST_ROTATE_KILL_AFTER", step)
                .output()
                .unwrap();
            assert_eq!(out.status.signal(), Some(9), "{form:?} {step}: {out:?}");

            // The app has a working certificate whose key is on disk, whatever the step; every
            // file is whole (the loads and openssl below read them all).
            let primary = form.primary();
            let candidates = [
                form.flags(""),
                form.flags(".next"),
                form.flags_of(&format!("{primary}.next"), "app.key"),
            ];
            assert!(
                candidates.iter().any(|c| s.gets_token_with(c)),
                "{form:?} {step}: no working certificate on disk"
            );

            let doc = stdout_json(&s.rotate(&["--json"]));
            assert_eq!(doc["action"], "resumed", "{form:?} {step}");
            s.assert_rotated();
        }
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
    assert!(s.gets_token(""));
    let doc = stdout_json(&s.rotate(&["--json", "--wait", "30"]));
    assert_eq!(doc["action"], "resumed");
    s.assert_rotated();
}

#[test]
fn keep_old_leaves_the_old_certificate_registered_and_working() {
    let s = Setup::new(&[]);
    let old = s.thumbprint();
    let doc = stdout_json(&s.rotate(&["--keep-old", "--json"]));
    assert_eq!(doc["action"], "rotated");
    assert_eq!(doc["old_removed"], false);
    let new = s.thumbprint();
    assert_ne!(new, old);
    assert_eq!(s.registered(), [old, new]);
    assert!(!s.path("app.crt.remove-pending").exists());
    // Another machine still holding the old pair keeps getting tokens.
    assert!(s.gets_token(".previous"));
}

/// Issue 20: the rehearsal does not lock the machine out. A rotation against serve, then serve
/// killed (SIGKILL) and started again on its state folder: the new certificate still gets
/// tokens, the old one is refused with AADSTS700027, and only the new one is registered.
#[test]
fn a_rotation_survives_serve_being_killed_and_started_again() {
    let mut s = Setup::new(&[]);
    let doc = stdout_json(&s.rotate(&["--json"]));
    assert_eq!(doc["action"], "rotated");
    let state = s.server.state.clone();
    s.server.sigkill();
    s.server = Server::start_in(&state, &["--config", p(&s.path("serve.toml"))]);
    assert!(s.gets_token(""));
    assert_eq!(s.registered(), [s.thumbprint()]);
    let old = s
        .command_with("token", &s.form.flags(".previous"), &["--no-cache"])
        .output()
        .unwrap();
    assert!(!old.status.success());
    let err = String::from_utf8_lossy(&old.stderr);
    assert!(err.contains("AADSTS700027"), "{err}");
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
    assert_eq!(s.registered(), [s.thumbprint()]);
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

/// Every file of a folder with its contents, to compare before and after a run.
fn folder(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_dry_run_or_a_run_with_nothing_due_leaves_the_folder_as_it_was() {
    let s = Setup::new(&[]);
    let before = folder(s.dir.path());
    let out = s.rotate(&["--dry-run"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(folder(s.dir.path()), before, "--dry-run changed the folder");
    let out = s.rotate(&["--renew-within", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("nothing to do: "));
    assert_eq!(
        folder(s.dir.path()),
        before,
        "a run with nothing due changed the folder"
    );
}

fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// A key `root:daemon 0640` and a certificate owned by `daemon` keep their owner, group and
/// mode through a rotation, so the daemon still reads its new key (as certbot keeps a renewed
/// key's group and mode). Giving a file to another user takes root.
#[test]
fn a_rotation_keeps_each_files_owner_group_and_mode() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        // CI runs as root: there a missing root is a failure, not a skip.
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "needs root");
        eprintln!("skipped: giving files to another user needs root");
        return;
    }
    let s = Setup::new(&[]);
    let (daemon, group) = (1, 1);
    let set = |name: &str, uid: u32, gid: u32, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::os::unix::fs::chown(s.path(name), Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(s.path(name), std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set("app.key", 0, group, 0o640);
    set("app.crt", daemon, daemon, 0o644);
    set("app.cer", daemon, daemon, 0o444);
    let out = s.rotate(&["--json"]);
    assert_eq!(stdout_json(&out)["action"], "rotated", "{out:?}");
    assert_ne!(std::fs::read(s.path("app.crt")).unwrap(), s.original);
    for (file, want) in [
        ("app.key", (0, group, 0o640)),
        ("app.crt", (daemon, daemon, 0o644)),
        ("app.cer", (daemon, daemon, 0o444)),
        ("app.key.previous", (0, group, 0o640)),
        ("app.crt.previous", (daemon, daemon, 0o644)),
    ] {
        assert_eq!(owner_and_mode(&s.path(file)), want, "{file}");
    }
    assert!(s.gets_token(""));
    assert_eq!(s.registered(), [s.thumbprint()]);
}

/// `--cert` and `--key` given as symbolic links: the files they point to are renewed and the
/// links stay links, so whatever else reads the targets gets the new certificate too.
#[test]
fn symlinked_files_are_renewed_where_the_links_point() {
    let s = Setup::new(&[]);
    let real = s.path("real");
    std::fs::create_dir(&real).unwrap();
    for name in ["app.crt", "app.key", "app.cer"] {
        std::fs::rename(s.path(name), real.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(real.join("app.crt"), s.path("app.crt")).unwrap();
    std::os::unix::fs::symlink("real/app.key", s.path("app.key")).unwrap();
    let out = s.rotate(&["--json"]);
    assert_eq!(stdout_json(&out)["action"], "rotated", "{out:?}");
    for (link, target) in [
        ("app.crt", real.join("app.crt")),
        ("app.key", "real/app.key".into()),
    ] {
        let meta = std::fs::symlink_metadata(s.path(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link} is no longer a link");
        assert_eq!(std::fs::read_link(s.path(link)).unwrap(), target);
    }
    assert_ne!(std::fs::read(real.join("app.crt")).unwrap(), s.original);
    assert_eq!(
        std::fs::read(real.join("app.crt.previous")).unwrap(),
        s.original
    );
    let new = thumbprint_of(&real.join("app.crt"));
    assert_eq!(thumbprint_of(&s.path("app.crt")), new);
    assert_eq!(s.registered(), [new]);
    assert!(s.gets_token(""));
}
