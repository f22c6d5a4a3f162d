//! Helpers shared by the integration tests, each in one place: running certgen, running openssl
//! (the independent judge), the one shape every failure must have, and JWS pieces put together
//! by hand. The submodules hold what one area needs: a running `certgen serve` with
//! openssl-made credentials ([`serve`]), a scripted token endpoint ([`token_stub`]), and keys,
//! tokens and a stub identity provider for validation ([`verify`]).

#![allow(dead_code)] // not every helper is used by every build of the tests

pub mod graph;
pub mod require;
pub mod serve;
pub mod token_stub;
pub mod verify;

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
pub use require::{require, wait_until};

pub const PASSWORD: &str = "certgen-test";

/// The built `certgen` as a plain process, for tests that spawn it or pipe into it: none of the
/// Azure, proxy or cache variables of whoever runs the tests ([`token_stub::CLEAN_ENV`] and every
/// `AZURE_*`), and stdin not a terminal. The one place tests make a certgen command.
pub fn certgen_process() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_certgen"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AZURE_") {
            cmd.env_remove(k);
        }
    }
    for var in token_stub::CLEAN_ENV {
        cmd.env_remove(var);
    }
    cmd.stdin(std::process::Stdio::null());
    cmd
}

/// [`certgen_process`] with assert_cmd's assertions.
pub fn certgen() -> Command {
    Command::from_std(certgen_process())
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// A path as the `&str` the openssl helpers take (test paths are UTF-8).
pub fn p(path: &Path) -> &str {
    path.to_str().expect("UTF-8 test path")
}

/// Runs openssl; its output, whatever the exit status.
pub fn openssl_output(args: &[&str]) -> Output {
    openssl_command(args).output().unwrap_or_else(|e| {
        panic!("openssl ({e}): the tests need the openssl CLI (apt-get install openssl)")
    })
}

/// Runs openssl, which must succeed; returns stdout.
pub fn openssl(args: &[&str]) -> String {
    String::from_utf8(openssl_succeeds(openssl_command(args), args)).expect("openssl prints text")
}

/// Runs openssl in `dir` (relative paths in ARGS are in it), which must succeed; returns stdout.
pub fn openssl_in(dir: &Path, args: &[&str]) -> Vec<u8> {
    let mut cmd = openssl_command(args);
    cmd.current_dir(dir);
    openssl_succeeds(cmd, args)
}

fn openssl_command(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(args);
    cmd
}

fn openssl_succeeds(mut cmd: std::process::Command, args: &[&str]) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("openssl ({e}): the tests need the openssl CLI (apt-get install openssl)")
    });
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Whether openssl succeeds with these arguments.
pub fn openssl_ok(args: &[&str]) -> bool {
    openssl_output(args).status.success()
}

/// Writes the fixtures' password, with a newline as `echo` leaves it, to DIR/pw.txt.
pub fn write_password(dir: &Path) -> PathBuf {
    let path = dir.join("pw.txt");
    std::fs::write(&path, format!("{PASSWORD}\n")).unwrap();
    private(&path);
    path
}

/// chmod 600, as a secret file should be (certgen warns about one others can read).
pub fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The four thumbprint forms of one certificate, as openssl computes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub sha1: String,
    pub sha256: String,
    pub x5t: String,
    pub x5t_s256: String,
}

impl Expected {
    pub fn form(&self, format: &str) -> &str {
        match format {
            "sha1" => &self.sha1,
            "sha256" => &self.sha256,
            "x5t" => &self.x5t,
            "x5t-s256" => &self.x5t_s256,
            other => panic!("no form {other}"),
        }
    }
}

/// `openssl x509 -fingerprint` of the first certificate in `file` (PEM or DER), and the base64url
/// forms computed here from openssl's bytes.
pub fn openssl_thumbprints(file: &Path) -> Expected {
    let inform = if std::fs::read(file).unwrap().starts_with(&[0x30]) {
        "DER"
    } else {
        "PEM"
    };
    let fp = |alg: &str| {
        let out = openssl(&[
            "x509",
            "-in",
            p(file),
            "-inform",
            inform,
            "-noout",
            "-fingerprint",
            alg,
        ]);
        // "sha1 Fingerprint=AB:CD:…"
        let (_, hex) = out.trim().split_once('=').expect("fingerprint line");
        hex.replace(':', "")
    };
    let sha1 = fp("-sha1");
    let sha256 = fp("-sha256");
    Expected {
        x5t: URL_SAFE_NO_PAD.encode(hex_bytes(&sha1)),
        x5t_s256: URL_SAFE_NO_PAD.encode(hex_bytes(&sha256)),
        sha1,
        sha256,
    }
}

/// The thumbprints of every certificate in a PEM text, in order (openssl reads one at a time).
pub fn openssl_thumbprints_of_pem_text(pem: &str) -> Vec<Expected> {
    let dir = tempfile::tempdir().unwrap();
    pem_certificates(pem)
        .iter()
        .enumerate()
        .map(|(i, block)| {
            let p = dir.path().join(format!("{i}.pem"));
            std::fs::write(&p, block).unwrap();
            openssl_thumbprints(&p)
        })
        .collect()
}

/// The `BEGIN CERTIFICATE` blocks of a PEM text, each with its armour.
pub fn pem_certificates(pem: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let end = rest[start..].find(END).expect("complete block") + start + END.len();
        out.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    out
}

/// The certificates of a PKCS#12 file as `openssl pkcs12 -nokeys` lists them.
pub fn openssl_pkcs12_certs(file: &Path, password: &str, legacy: bool) -> String {
    let pass = format!("pass:{password}");
    let mut args = vec!["pkcs12", "-in", p(file), "-nokeys", "-passin", &pass];
    if legacy {
        args.push("-legacy");
    }
    openssl(&args)
}

pub fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `openssl x509 -dates -dateopt iso_8601` as RFC 3339 ("2026-11-21T12:01:56Z").
pub fn openssl_dates(cert: &Path) -> (String, String) {
    let out = openssl(&[
        "x509",
        "-in",
        p(cert),
        "-noout",
        "-dates",
        "-dateopt",
        "iso_8601",
    ]);
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .expect("date line")
            .replace(' ', "T")
    };
    (get("notBefore="), get("notAfter="))
}

/// `openssl x509 -serial`: upper-case hex.
pub fn openssl_serial(cert: &Path) -> String {
    let out = openssl(&["x509", "-in", p(cert), "-noout", "-serial"]);
    out.trim()
        .strip_prefix("serial=")
        .expect("serial line")
        .to_string()
}

/// The failure shape of the contract: the exit code, nothing on stdout, exactly one `error:`
/// line first on stderr, then only `hint:` lines, and no panic. Returns the error line.
pub fn assert_clean_failure(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout must be empty, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "an error line on stderr");
    assert!(lines[0].starts_with("error: "), "first line: {stderr}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("error:")).count(),
        1,
        "exactly one error line: {stderr}"
    );
    assert!(
        lines[1..].iter().all(|l| l.starts_with("hint: ")),
        "only hints follow: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "no panic: {stderr}"
    );
    lines[0].to_string()
}

/// The names in a folder, sorted (hidden temp files included, so leftovers show).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// One `read`, again when a signal interrupts it. All tests share one process, and a handler
/// some test installs (tokio's SIGCHLD, for one) interrupts blocking reads elsewhere; a socket
/// with a read timeout is never restarted automatically (signal(7)).
pub fn read_once(from: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match from.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// What a finished run of certgen gave, as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout as the one JSON document it must be.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).expect("one JSON document on stdout")
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
        }
    }
}

/// Seconds since the Unix epoch, as JWT claims count time.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// `base64url(header).base64url(claims)`: the JWS signing input, put together by hand so tests
/// can send any header or claim form.
pub fn signing_input(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

pub fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "certgen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout")
}

/// Runs certgen with ARGS on a pseudo-terminal (util-linux `script`), as a user at a
/// keyboard would: for each (prompt, answer) it waits until the prompt is on the screen, then
/// types the answer. Returns (exit code, everything the terminal showed); `None` when `script`
/// is missing (see [`require`]).
pub fn certgen_on_terminal(
    dir: &Path,
    args: &[&str],
    typing: &[(&str, &str)],
) -> Option<(i32, String)> {
    use std::io::Write;
    require::script()?;
    use std::time::{Duration, Instant};
    let bin = assert_cmd::cargo::cargo_bin("certgen");
    let mut command = format!("'{}'", bin.display());
    for a in args {
        command.push_str(&format!(" '{a}'"));
    }
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env_remove("AZURE_CLIENT_CERTIFICATE_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script is installed");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = screen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = read_once(&mut stdout, &mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    for (n, (prompt, answer)) in typing.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(20);
        // The n-th prompt of the run (prompts may repeat, as in "type it again").
        while shown().matches(prompt).count()
            <= typing[..n].iter().filter(|t| t.0 == *prompt).count()
        {
            assert!(
                Instant::now() < deadline,
                "no prompt {prompt:?}; screen: {}",
                shown()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // rpassword prints the prompt, then turns echo off: give it that moment.
        std::thread::sleep(Duration::from_millis(100));
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = shown().replace("\r\n", "\n");
    Some((status.code().unwrap_or(-1), text))
}

/// The permission bits of a file or folder (with setuid, setgid and sticky).
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The effective user id the tests run as (`id -u`).
pub fn euid() -> u32 {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A config of `tests/fixtures/` with each `{NAME}` placeholder replaced by its value (the
/// constants the tests also use), so the TOML reads as a file and cannot drift from them.
pub fn toml_fixture(name: &str, values: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (key, value) in values {
        let placeholder = format!("{{{key}}}");
        assert!(text.contains(&placeholder), "{name} has no {placeholder}");
        text = text.replace(&placeholder, value);
    }
    let left = text.split('{').skip(1).find(|rest| {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        !word.is_empty() && rest[word.len()..].starts_with('}')
    });
    assert!(
        left.is_none(),
        "{name}: a placeholder is not filled: {left:?}"
    );
    text
}
