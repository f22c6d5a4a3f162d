//! What any command does with hostile or mistaken input: shared cache folders, closed pipes,
//! endless or device inputs, flags from other tools, secrets given in the wrong place, and
//! messages that say which file or source was wrong and what to do.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::certgen_process as certgen;
use crate::support::serve::*;
use crate::support::token_stub;
use crate::support::{euid, mode};
use serde_json::Value;

fn succeeded(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `certgen token` with a secret for APP at `server`, its cache in `cache`.
fn secret_token(server: &Server, cache: &Path, secret_file: &Path) -> Command {
    let mut cmd = certgen();
    cmd.env("CERTGEN_CACHE_DIR", cache)
        .args(["token", "--tenant", TENANT, "--client-id", APP])
        .args(["--authority-host", &server.base()])
        .args(["--ca-file", &server.field("ca_file")])
        .arg("--secret-file")
        .arg(secret_file)
        .args(["--scope", "api://orders/.default"]);
    cmd
}

fn write_secret(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("secret.txt");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

// Item 2: a shared (1777) folder keeps its mode; certgen works in a private subfolder of it.
#[test]
fn a_shared_cache_folder_keeps_its_mode_and_the_token_goes_to_a_private_subfolder() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let secret = write_secret(dir.path());

    let out = secret_token(&server, &shared, &secret).output().unwrap();
    succeeded(&out);
    assert_eq!(mode(&shared), 0o1777, "the shared folder was chmodded");
    let private = shared.join(format!("certgen-{}", euid()));
    assert_eq!(mode(&private), 0o700);
    let entries: Vec<_> = std::fs::read_dir(&private).unwrap().collect();
    assert_eq!(entries.len(), 1, "one cache entry in {}", private.display());

    // The second run finds the token there: no second request reaches the service.
    let out = secret_token(&server, &shared, &secret).output().unwrap();
    succeeded(&out);
    let posts = server
        .log_text()
        .lines()
        .filter(|l| l.contains(" POST "))
        .count();
    assert_eq!(posts, 1, "{}", server.log_text());

    // An existing folder of the user's (0755) is used as it is, not chmodded.
    let own = dir.path().join("own");
    std::fs::create_dir(&own).unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = secret_token(&server, &own, &secret).output().unwrap();
    succeeded(&out);
    assert_eq!(mode(&own), 0o755);
    assert_eq!(std::fs::read_dir(&own).unwrap().count(), 1);

    // Folders certgen makes are 0700, every level of them.
    let deep = dir.path().join("a/b/c");
    let out = secret_token(&server, &deep, &secret).output().unwrap();
    succeeded(&out);
    for level in ["a", "a/b", "a/b/c"] {
        assert_eq!(mode(&dir.path().join(level)), 0o700, "{level}");
    }
}

// Item 2: a private subfolder someone else prepared (here: writable by all) is not trusted.
#[test]
fn a_subfolder_others_can_write_to_is_refused_not_used() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    let planted = shared.join(format!("certgen-{}", euid()));
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
    let secret = write_secret(dir.path());
    let out = secret_token(&server, &shared, &secret).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("other users may write to it")
            && stderr.contains("without the token cache"),
        "{stderr}"
    );
    assert_eq!(mode(&planted), 0o777, "not chmodded either");
    assert_eq!(std::fs::read_dir(&planted).unwrap().count(), 0);
}

// Item 10: a closed stdout (`| head -1`) ends a command quietly, for every command that prints.
#[test]
fn a_closed_stdout_is_a_quiet_exit_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pipe.sh");
    std::fs::write(
        &script,
        "set -o pipefail\n\"$CERTGEN\" \"$@\" | head -c 1 >/dev/null\n",
    )
    .unwrap();
    let out = certgen()
        .current_dir(dir.path())
        .args(["new", "--cn", "c", "--days", "1"])
        .output()
        .unwrap();
    succeeded(&out);
    for args in [
        vec!["completions", "bash"],
        vec!["completions", "zsh"],
        vec!["completions", "fish"],
        vec!["thumbprint", "c.crt", "--json"],
    ] {
        // Repeated: the reader must be gone before the writer writes, which a short run
        // may miss; a failure shows in any run.
        for _ in 0..5 {
            let out = Command::new("bash")
                .arg(&script)
                .args(&args)
                .current_dir(dir.path())
                .env("CERTGEN", env!("CARGO_BIN_EXE_certgen"))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{args:?}: {stderr}");
            assert!(stderr.is_empty(), "{args:?}: {stderr}");
        }
    }
    // And with the reader gone before certgen starts writing.
    let mut child = certgen()
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
}

// Item 10: what `certgen token` prints in each --output form is what `certgen decode` reads.
#[test]
fn every_token_output_form_pipes_into_decode() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = write_secret(dir.path());
    for form in ["token", "header", "json"] {
        let out = secret_token(&server, &dir.path().join("cache"), &secret)
            .args(["--output", form])
            .output()
            .unwrap();
        succeeded(&out);
        let mut decode = certgen()
            .args(["decode", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        decode.stdin.take().unwrap().write_all(&out.stdout).unwrap();
        let decoded = decode.wait_with_output().unwrap();
        assert!(
            decoded.status.success(),
            "--output {form}: {}",
            String::from_utf8_lossy(&decoded.stderr)
        );
        let doc: Value = serde_json::from_slice(&decoded.stdout).unwrap();
        assert_eq!(doc["claims"]["azp"], APP, "--output {form}");
    }
    // JSON that is not certgen's says what is missing.
    let out = certgen()
        .args(["decode", r#"{"token": "x"}"#])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("access_token"),
        "{stderr}"
    );
}

// Item 11: value names are case-insensitive everywhere, as --alg already was.
#[test]
fn format_and_output_values_ignore_case() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(
        &certgen()
            .current_dir(dir.path())
            .args(["new", "--cn", "c", "--days", "1"])
            .output()
            .unwrap(),
    );
    let upper = certgen()
        .current_dir(dir.path())
        .args(["thumbprint", "--format", "SHA1", "c.crt"])
        .output()
        .unwrap();
    succeeded(&upper);
    let lower = certgen()
        .current_dir(dir.path())
        .args(["thumbprint", "--format", "sha1", "c.crt"])
        .output()
        .unwrap();
    assert_eq!(upper.stdout, lower.stdout);
    // And the value is the one openssl computes.
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in", "c.crt"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout).replace(':', "");
    let printed = String::from_utf8_lossy(&upper.stdout);
    assert!(fp.trim().ends_with(printed.trim()), "{fp} vs {printed}");
}

// Item 11: a leeway that would switch expiry off is refused; `--authority …/v2.0` works.
#[test]
fn verify_refuses_a_huge_leeway_and_takes_an_authority_with_v2_suffix() {
    let out = certgen()
        .args([
            "verify",
            "x.y.z",
            "--audience",
            "a",
            "--jwks-file",
            "k.json",
        ])
        .args(["--issuer", "i", "--leeway", "99999999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("3600"),
        "{stderr}"
    );

    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = write_secret(dir.path());
    let out = secret_token(&server, &dir.path().join("cache"), &secret)
        .output()
        .unwrap();
    succeeded(&out);
    let token = String::from_utf8(out.stdout).unwrap();
    for authority in [
        server.field("authority") + "/v2.0",
        server.field("authority") + "/v2.0/",
    ] {
        let out = certgen()
            .args(["verify", token.trim(), "--audience", ORDERS_API])
            .args([
                "--authority",
                &authority,
                "--ca-file",
                &server.field("ca_file"),
            ])
            .output()
            .unwrap();
        succeeded(&out);
    }
}

// Item 11: help that reads well on an 80-column terminal, and says how to install completions.
#[test]
fn help_examples_fit_80_columns_and_completions_say_how_to_install() {
    for cmd in [
        "new",
        "thumbprint",
        "assertion",
        "token",
        "decode",
        "verify",
        "serve",
    ] {
        let out = certgen().args([cmd, "--help"]).output().unwrap();
        succeeded(&out);
        let help = String::from_utf8(out.stdout).unwrap();
        let examples = help.split_once("Examples:").map(|(_, e)| e).unwrap_or("");
        for line in examples.lines() {
            assert!(line.chars().count() <= 80, "{cmd} --help: {line}");
        }
    }
    let out = certgen().args(["completions", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for shell_line in [
        "certgen completions bash > ~/.local/share/bash-completion/completions/certgen",
        "certgen completions zsh > ~/.zfunc/_certgen",
        "certgen completions fish > ~/.config/fish/completions/certgen.fish",
    ] {
        assert!(help.contains(shell_line), "{help}");
    }
}

/// `certgen ARGS` under a 1 GiB address-space limit (`ulimit -v`) with stdin from `stdin`
/// (a shell redirection or pipe); (exit code, stderr) and how long it took.
fn bounded_run(stdin: &str, args: &str) -> (Option<i32>, String, Duration) {
    let start = std::time::Instant::now();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -v 1048576; {stdin} \"$CERTGEN\" {args}"))
        .env("CERTGEN", env!("CARGO_BIN_EXE_certgen"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

// Item 1: endless or device inputs are refused within their limit, in bounded memory and time.
#[test]
fn endless_inputs_are_refused_with_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let zero_link = dir.path().join("keys.json");
    std::os::unix::fs::symlink("/dev/zero", &zero_link).unwrap();
    let config = dir.path().join("serve.toml");
    // Sparse: one byte past the 64 MiB bound costs no disk.
    std::fs::File::create(&config)
        .and_then(|f| f.set_len(64 * 1024 * 1024 + 1))
        .unwrap();
    let cases: Vec<(String, String, &str)> = vec![
        ("".into(), "decode < /dev/zero".into(), "larger than 256 KiB, the most certgen reads for a token"),
        ("yes |".into(), "decode".into(), "larger than 256 KiB, the most certgen reads for a token"),
        ("yes |".into(), "verify - --audience a --jwks-file k.json --issuer i".into(), "larger than 256 KiB"),
        (
            "".into(),
            "verify x.y.z --audience a --issuer i --jwks-file /dev/zero".into(),
            "/dev/zero: cannot read the JWKS file: it is a device, not a regular file holding a JWKS",
        ),
        (
            "".into(),
            format!("verify x.y.z --audience a --issuer i --jwks-file {}", zero_link.display()),
            "it is a device, not a regular file holding a JWKS",
        ),
        (
            "".into(),
            "verify x.y.z --audience a --authority https://127.0.0.1:9/t --ca-file /dev/zero".into(),
            "it is a device, not a regular file holding a CA bundle",
        ),
        (
            "".into(),
            "serve --config /dev/zero".into(),
            "cannot read /dev/zero: it is a device, not a regular file holding a configuration file",
        ),
        (
            "".into(),
            format!("serve --config {}", config.display()),
            "larger than 64 MiB, the most certgen reads for a configuration file",
        ),
    ];
    for (stdin, args, needle) in cases {
        let (code, stderr, took) = bounded_run(&stdin, &args);
        assert!(
            matches!(code, Some(1) | Some(2)),
            "{stdin} certgen {args}: exit {code:?}: {stderr}"
        );
        assert!(stderr.starts_with("error: "), "{args}: {stderr}");
        assert!(stderr.contains(needle), "{args}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args}: {stderr}");
        assert!(took < Duration::from_secs(10), "{args}: took {took:?}");
    }
}

// Item 1: a cache entry that is a link to /dev/zero, or a FIFO, is set aside at once.
#[test]
fn a_cache_entry_that_is_not_a_file_is_set_aside_at_once() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let secret = write_secret(dir.path());
    succeeded(&secret_token(&server, &cache, &secret).output().unwrap());
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    for kind in ["link to /dev/zero", "FIFO"] {
        std::fs::remove_file(&entry).unwrap();
        if kind == "FIFO" {
            assert!(Command::new("mkfifo")
                .arg(&entry)
                .status()
                .unwrap()
                .success());
        } else {
            std::os::unix::fs::symlink("/dev/zero", &entry).unwrap();
        }
        let start = std::time::Instant::now();
        let mut cmd = secret_token(&server, &cache, &secret);
        let out = cmd.output().unwrap();
        assert!(start.elapsed() < Duration::from_secs(10), "{kind}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{kind}: {stderr}");
        assert!(
            stderr.contains("warning: the cached token") && stderr.contains("not a regular file"),
            "{kind}: {stderr}"
        );
        // Set aside, and the fresh token took its place.
        assert!(
            std::fs::symlink_metadata(&entry).unwrap().is_file(),
            "{kind}"
        );
        std::fs::remove_file(entry.with_extension("json.corrupt")).unwrap();
    }
}

// Item 4: flags from az/MSAL get a hint toward the safe source, and never echo a value.
#[test]
fn az_and_msal_style_flags_point_to_the_safe_source() {
    let secret = "Abc8Q~not-a-real-secret-0123456789abcdefgh";
    for (args, hint) in [
        (
            vec!["token", "--client-id", "x", "--client-secret", secret],
            "use --secret-file FILE, --secret-file - (stdin) or AZURE_CLIENT_SECRET",
        ),
        (
            vec!["token", &format!("--client-secret={secret}")],
            "use --secret-file FILE",
        ),
        (
            vec!["token", "--password", secret],
            "use --password-file FILE, --password-file - (stdin) or AZURE_CLIENT_CERTIFICATE_PASSWORD",
        ),
        (
            vec!["new", "--cn", "x", "--password", secret],
            "use --password-file FILE",
        ),
        (vec!["token", "--json"], "hint: use --output json"),
    ] {
        let out = certgen().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: unexpected argument '--"), "{stderr}");
        assert!(stderr.contains(hint), "{args:?}: {stderr}");
        assert!(!stderr.contains("--client-id'"), "clap's guess: {stderr}");
        assert!(!stderr.contains(secret), "the value was echoed: {stderr}");
    }
}

// Item 11: `thumbprint file.key` says the file holds only a key, and what to give instead.
#[test]
fn thumbprint_of_a_key_file_says_it_is_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let der = dir.path().join("k.der");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let key = fixtures.join("rsa.key");
    assert!(Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&der)
        .status()
        .unwrap()
        .success());
    for file in [key, fixtures.join("rsa-pkcs1.key"), der] {
        let out = certgen().arg("thumbprint").arg(&file).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("holds no certificate (only a private key)")
                && stderr.contains("hint: thumbprints belong to certificates"),
            "{}: {stderr}",
            file.display()
        );
    }
}

// Item 4: a value given where a file or variable name was expected is never printed.
#[test]
fn a_secret_given_instead_of_a_file_or_variable_name_is_never_printed() {
    let secret = "Abc8Q~not-a-real-secret-0123456789abcdefgh";
    let password = "P@ss-not-a-file";
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Vec<String>> = vec![
        [
            "token",
            "--tenant",
            TENANT,
            "--client-id",
            APP,
            "--secret-file",
            secret,
        ]
        .map(String::from)
        .to_vec(),
        ["thumbprint", "x.pfx", "--password-file", password]
            .map(String::from)
            .to_vec(),
        ["new", "--cn", "x", "--pfx", "--password-file", password]
            .map(String::from)
            .to_vec(),
        ["serve", "--http", "--listen", "127.0.0.1:0", "--app-secret"]
            .map(String::from)
            .into_iter()
            .chain([format!("{APP}={secret}")])
            .collect(),
    ];
    std::fs::write(dir.path().join("x.pfx"), b"not a pfx").unwrap();
    for args in cases {
        let out = certgen()
            .current_dir(dir.path())
            .env("CERTGEN_CACHE_DIR", dir.path().join("cache"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            !stderr.contains(secret) && !stderr.contains(password),
            "{args:?} echoed the value: {stderr}"
        );
        assert!(!stdout.contains(secret) && !stdout.contains(password));
        assert!(stderr.contains("hint: "), "{args:?}: {stderr}");
    }
}

// Item 4: a secret or password file other users can read gets a warning.
#[test]
fn a_world_readable_secret_file_gets_a_warning() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = write_secret(dir.path());
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = secret_token(&server, &dir.path().join("cache"), &secret)
        .output()
        .unwrap();
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: ")
            && stderr.contains("other users can read")
            && stderr.contains("chmod 600"),
        "{stderr}"
    );
    // A private one: no warning.
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = secret_token(&server, &dir.path().join("cache2"), &secret)
        .output()
        .unwrap();
    succeeded(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("other users can read"));
}

// Item 5: another OAuth server's client ids need not be GUIDs; Entra's still must be.
#[test]
fn a_non_guid_client_id_is_taken_toward_another_token_endpoint() {
    use base64::Engine;
    let stub = token_stub::Stub::start(vec![]);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let dir = tempfile::tempdir().unwrap();
    let out = certgen()
        .env("CERTGEN_CACHE_DIR", dir.path())
        .args([
            "token",
            "--token-endpoint",
            &stub.url(),
            "--client-id",
            "peer-client",
        ])
        .arg("--cert")
        .arg(fixtures.join("rsa.crt"))
        .arg("--key")
        .arg(fixtures.join("rsa.key"))
        .args(["--scope", "api://peer/.default"])
        .output()
        .unwrap();
    succeeded(&out);
    let (_, form) = &stub.requests()[0];
    assert_eq!(token_stub::field(form, "client_id"), Some("peer-client"));
    let assertion = token_stub::field(form, "client_assertion").unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(assertion.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "peer-client");
    assert_eq!(claims["sub"], "peer-client");
    assert_eq!(claims["aud"], stub.url());

    let out = certgen()
        .env("CERTGEN_CACHE_DIR", dir.path())
        .args(["token", "--tenant", TENANT, "--client-id", "peer-client"])
        .arg("--cert")
        .arg(fixtures.join("rsa.crt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a GUID"));
}

// Item 11: the ready line's whole authority given as --authority-host is refused with the
// split it meant (it used to become …/TENANT/TENANT/… and a bare 404).
#[test]
fn an_authority_host_ending_in_a_tenant_says_how_to_split_it() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = write_secret(dir.path());
    let authority = server.field("authority");
    let out = certgen()
        .env("CERTGEN_CACHE_DIR", dir.path().join("cache"))
        .args(["token", "--tenant", TENANT, "--client-id", APP])
        .args(["--authority-host", &authority])
        .args(["--ca-file", &server.field("ca_file")])
        .arg("--secret-file")
        .arg(&secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ends with a tenant"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "hint: use --authority-host {} --tenant {TENANT}",
            server.base()
        )),
        "{stderr}"
    );
    // And the split it suggests works.
    let out = certgen()
        .env("CERTGEN_CACHE_DIR", dir.path().join("cache"))
        .args(["token", "--tenant", TENANT, "--client-id", APP])
        .args(["--authority-host", &server.base()])
        .args(["--ca-file", &server.field("ca_file")])
        .arg("--secret-file")
        .arg(&secret)
        .output()
        .unwrap();
    succeeded(&out);
}

// Item 11: a wrong PKCS#12 or key password says where it came from (a stale variable, often).
#[test]
fn a_wrong_password_says_where_it_came_from() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let f = |name: &str| fixtures.join(name).into_os_string();
    let runs: [Vec<std::ffi::OsString>; 2] = [
        vec!["thumbprint".into(), f("modern.pfx")],
        vec![
            "assertion".into(),
            "--tenant".into(),
            TENANT.into(),
            "--client-id".into(),
            APP.into(),
            "--cert".into(),
            f("rsa.crt"),
            "--key".into(),
            f("rsa-encrypted.key"),
        ],
    ];
    for args in runs {
        let out = certgen()
            .args(&args)
            .env("AZURE_CLIENT_CERTIFICATE_PASSWORD", "stale-password")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(
                "the password came from the environment variable AZURE_CLIENT_CERTIFICATE_PASSWORD"
            ),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("stale-password"), "{stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw.txt");
    std::fs::write(&pw, "wrong\n").unwrap();
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = certgen()
        .args([
            "assertion",
            "--tenant",
            TENANT,
            "--client-id",
            APP,
            "--cert",
        ])
        .arg(fixtures.join("combined-encrypted.pem"))
        .arg("--password-file")
        .arg(&pw)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("the password came from the file {}", pw.display())),
        "{stderr}"
    );
}

// Item 11: verify explains a TLS failure in the same words as token, with the same hint.
#[test]
fn verify_explains_an_untrusted_certificate_like_token() {
    let server = Server::start();
    let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJ2ZXIiOiIyLjAifQ.c2ln";
    let out = certgen()
        .args(["verify", token, "--audience", ORDERS_API])
        .args(["--authority", &server.field("authority")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TLS: the certificate of 127.0.0.1 is not trusted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: ") && stderr.contains("--ca-file"),
        "{stderr}"
    );
    assert!(!stderr.contains("client error (Connect)"), "{stderr}");
}

// Item 11: a key that does not belong to the certificate: each file named by its role.
#[test]
fn a_key_certificate_mismatch_names_which_file_is_which() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let (cert, key) = (fixtures.join("rsa.crt"), fixtures.join("leaf.key"));
    let out = certgen()
        .args([
            "assertion",
            "--tenant",
            TENANT,
            "--client-id",
            APP,
            "--cert",
        ])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "(key {}, certificate {}) are not a pair",
            key.display(),
            cert.display()
        )),
        "{stderr}"
    );
}
