//! What a user reads when something is off: each message says what the input is and names the
//! way out (the flag, the variable, the command), not a generic failure.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use crate::support::graph::{graph, BARE, EXPIRED_APP};
use crate::support::serve::{fixture, Server, APP, TENANT};
use crate::support::token_stub::CLEAN_ENV;
use crate::support::verify::{v2_claims, TestKey, API};
use crate::support::{assert_clean_failure, certgen, fixture as file_fixture, openssl, p, Run};

/// `certgen ARGS` with none of the caller's Azure, proxy or cache variables, the cache in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = certgen();
    for var in CLEAN_ENV {
        cmd.env_remove(var);
    }
    cmd.env("CERTGEN_CACHE_DIR", dir.join("cache"))
        .args(args)
        .write_stdin("");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Against a `certgen serve` whose certificate nothing given trusts: with no `--ca-file`, the
/// hint says to pass one (the ready line's `ca_file`); "an older copy" is said only when a
/// `--ca-file` was given. The platform store here holds another serve's certificate of the same
/// name (`SSL_CERT_FILE`), which is what makes the TLS library answer "bad signature".
#[test]
fn a_tls_failure_without_ca_file_asks_for_it_and_only_a_given_one_is_an_older_copy() {
    let f = fixture();
    let old = Server::start();
    let state = tempfile::tempdir().unwrap();
    let fresh = Server::start_in(&state.path().join("state"), &["--config", p(&f.config)]);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-certs");
    std::fs::create_dir(&empty).unwrap();
    let token = |ca: Option<&str>| {
        let mut cmd = run_in(
            dir.path(),
            &["token", "--tenant", TENANT, "--client-id", APP],
        );
        cmd.args(["--authority-host", &fresh.base(), "--cert"])
            .arg(&f.main.cert_pem)
            .arg("--key")
            .arg(&f.main.key_pem)
            .env("SSL_CERT_FILE", old.field("ca_file"))
            .env("SSL_CERT_DIR", &empty);
        if let Some(ca) = ca {
            cmd.args(["--ca-file", ca]);
        }
        cmd.output().unwrap()
    };

    let out = token(None);
    assert_clean_failure(&out, 4);
    let text = stderr(&out);
    assert!(text.contains("not trusted"), "{text}");
    assert!(
        text.contains("pass --ca-file with the ca_file of its ready line"),
        "{text}"
    );
    assert!(
        !text.contains("older copy"),
        "no --ca-file was given: {text}"
    );

    let out = token(Some(&old.field("ca_file")));
    assert_clean_failure(&out, 4);
    let text = stderr(&out);
    assert!(text.contains("older copy"), "{text}");
}

/// An expired certificate that is still registered: Entra refuses it, and uploading it again
/// cannot help; the hint says to make a new one and upload it, or rotate before expiry.
#[test]
fn an_expired_certificate_is_not_offered_for_upload_again() {
    let g = graph();
    let s = g.start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = run_in(
        dir.path(),
        &["token", "--tenant", TENANT, "--client-id", EXPIRED_APP],
    );
    cmd.args([
        "--authority-host",
        &s.base(),
        "--ca-file",
        &s.field("ca_file"),
    ])
    .arg("--cert")
    .arg(&g.expired.cert_pem)
    .arg("--key")
    .arg(&g.expired.key_pem);
    let r = Run::from(cmd.output().unwrap());
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("AADSTS700027"), "{}", r.stderr);
    assert!(!r.stderr.contains("if it is missing"), "{}", r.stderr);
    assert!(r.stderr.contains("expired on 2020-"), "{}", r.stderr);
    assert!(r.stderr.contains("certgen new"), "{}", r.stderr);
    assert!(r.stderr.contains("certgen rotate"), "{}", r.stderr);
}

/// `http://` sent to serve's TLS port: hyper reads a TLS answer as "invalid HTTP version
/// parsed"; the hint says the server speaks TLS.
#[test]
fn http_to_a_tls_port_says_to_use_https() {
    let f = fixture();
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let plain = format!("http://{}/{TENANT}/oauth2/v2.0/token", s.field("listen"));
    let mut cmd = run_in(
        dir.path(),
        &["token", "--client-id", APP, "--token-endpoint", &plain],
    );
    cmd.arg("--cert")
        .arg(&f.main.cert_pem)
        .arg("--key")
        .arg(&f.main.key_pem);
    let out = cmd.output().unwrap();
    assert_clean_failure(&out, 4);
    let text = stderr(&out);
    assert!(
        text.contains("hint: the server speaks TLS: use https://"),
        "{text}"
    );
}

/// `certgen token` alone names the environment Azure Identity reads as the other way in.
#[test]
fn token_without_arguments_names_the_azure_variables() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["token"]).output().unwrap();
    assert_clean_failure(&out, 2);
    let text = stderr(&out);
    for var in [
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_CLIENT_SECRET",
    ] {
        assert!(text.contains(var), "{var}: {text}");
    }
    assert!(text.contains("--client-id"), "{text}");
}

/// A v2 token's `aud` is the API's client id; `--audience api://…` is a v1 habit.
#[test]
fn a_v2_token_refused_for_an_api_uri_says_its_aud_is_the_client_id() {
    let issuer = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0";
    let key = TestKey::new("k1");
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("keys.json");
    std::fs::write(&jwks, json!({"keys": [key.jwk]}).to_string()).unwrap();
    let token = key.sign(&v2_claims(
        issuer,
        "11111111-1111-1111-1111-111111111111",
        &[],
    ));
    let uri = format!("api://{API}");
    let out = certgen()
        .args([
            "verify",
            &token,
            "--audience",
            &uri,
            "--jwks-file",
            p(&jwks),
        ])
        .args(["--issuer", issuer])
        .output()
        .unwrap();
    let error = assert_clean_failure(&out, 1);
    assert!(error.contains("token rejected"), "{error}");
    let text = stderr(&out);
    let hint = text
        .lines()
        .find(|l| l.contains("v2 token"))
        .unwrap_or_else(|| panic!("a hint about v2 tokens: {text}"));
    assert!(hint.contains("Application (client) ID"), "{hint}");
    assert!(hint.contains(API), "the token's aud is shown: {hint}");
}

/// `certgen decode FILE` with a certificate or key file says what the file is and which command
/// reads it, instead of "not a JWT".
#[test]
fn decode_of_a_certificate_or_key_file_says_what_it_is() {
    for (name, what) in [
        ("rsa.crt", "a certificate (PEM)"),
        ("rsa.cer", "a certificate (DER)"),
        ("rsa.key", "a private key (PEM)"),
        ("combined.pem", "a certificate and a private key (PEM)"),
        ("modern.pfx", "a PKCS#12 file"),
    ] {
        let path = file_fixture(name);
        let out = certgen().args(["decode", p(&path)]).output().unwrap();
        let error = assert_clean_failure(&out, 1);
        assert!(error.contains(what), "{name}: {error}");
        assert!(!error.contains("expected 3 parts"), "{name}: {error}");
        let text = stderr(&out);
        assert!(text.contains("hint: "), "{name}: {text}");
        assert!(text.contains("certgen thumbprint"), "{name}: {text}");
    }
    // Piped in, as `certgen decode < app.crt`.
    let pem = std::fs::read_to_string(file_fixture("rsa.crt")).unwrap();
    let out = certgen().arg("decode").write_stdin(pem).output().unwrap();
    let error = assert_clean_failure(&out, 1);
    assert!(error.contains("a certificate (PEM)"), "{error}");
}

/// A rotation cut short after its addKey, whose `*.next` files were then deleted, leaves a key
/// registered under the certificate's subject that no local file holds: `credential list`
/// marks it and says how to remove it. The same key staged as `FILE.next` is not marked.
#[test]
fn credential_list_marks_a_key_no_local_file_holds() {
    let g = graph();
    let f = fixture();
    let s = g.start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // This machine's files, in a folder of their own (the fixture's are shared).
    let cert = d.join("main.crt");
    let key = d.join("main.key");
    std::fs::copy(&f.main.cert_pem, &cert).unwrap();
    std::fs::copy(&f.main.key_pem, &key).unwrap();
    // What a rotation makes: a new key and certificate with the same subject.
    let orphan = d.join("orphan.crt");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        p(&d.join("orphan.key")),
        "-out",
        p(&orphan),
        "-subj",
        "/CN=main",
        "-days",
        "2",
    ]);
    let credential = |args: &[&str]| {
        let mut cmd = run_in(d, &["credential"]);
        cmd.args(args)
            .args(["--tenant", TENANT, "--client-id", BARE])
            .args(["--cert", p(&cert), "--key", p(&key)])
            .args([
                "--authority-host",
                &s.base(),
                "--ca-file",
                &s.field("ca_file"),
            ]);
        Run::from(cmd.output().unwrap())
    };
    let added = credential(&["add", p(&orphan)]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let key_id = added.stdout.trim().to_string();

    // Staged beside the certificate, as a rotation under way keeps it: not marked.
    let next = d.join("main.crt.next");
    std::fs::copy(&orphan, &next).unwrap();
    let listed = credential(&["list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        !listed.stdout.contains("not on this machine"),
        "{}",
        listed.stdout
    );

    // The .next deleted: marked, with the way to remove it.
    std::fs::remove_file(&next).unwrap();
    let listed = credential(&["list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let line = listed
        .stdout
        .lines()
        .find(|l| l.contains(&key_id))
        .unwrap_or_else(|| panic!("{key_id} listed: {}", listed.stdout));
    assert!(line.contains("(not on this machine)"), "{line}");
    let mine = listed
        .stdout
        .lines()
        .find(|l| l.contains("<- this machine"))
        .unwrap();
    assert!(!mine.contains("not on this machine"), "{mine}");
    assert!(
        listed
            .stderr
            .contains(&format!("certgen credential remove {key_id}")),
        "{}",
        listed.stderr
    );
}

/// `certgen new --pem-bundle` writes NAME.pem, the certificate then the key (0600), which
/// openssl reads, refuses to overwrite without --force, and `certgen token` takes through
/// AZURE_CLIENT_CERTIFICATE_PATH against `certgen serve`.
#[test]
fn new_pem_bundle_is_what_azure_client_certificate_path_takes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let new = |force: bool| {
        let mut cmd = run_in(d, &["new", "--cn", "bundle-app", "--out", p(d), "--json"]);
        cmd.arg("--pem-bundle");
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let out = new(false);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bundle = d.join("bundle-app.pem");
    assert_eq!(doc["files"]["pem"], p(&bundle));
    assert_eq!(
        std::fs::metadata(&bundle).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&bundle).unwrap();
    let (c, k) = (
        text.find("-----BEGIN CERTIFICATE-----").unwrap(),
        text.find("-----BEGIN PRIVATE KEY-----").unwrap(),
    );
    assert!(c < k, "the certificate first, then the key");
    let cert_modulus = openssl(&["x509", "-in", p(&bundle), "-noout", "-modulus"]);
    let key_modulus = openssl(&["rsa", "-in", p(&bundle), "-noout", "-modulus"]);
    assert_eq!(cert_modulus, key_modulus, "the key is the certificate's");
    openssl(&["pkey", "-in", p(&bundle), "-noout"]);
    assert_eq!(
        openssl(&["x509", "-in", p(&bundle), "-noout", "-fingerprint", "-sha1"]),
        openssl(&[
            "x509",
            "-in",
            p(&d.join("bundle-app.crt")),
            "-noout",
            "-fingerprint",
            "-sha1"
        ])
    );

    // It obeys the no-overwrite rule on its own: the other files gone, the bundle kept.
    for ext in ["crt", "cer", "key"] {
        std::fs::remove_file(d.join(format!("bundle-app.{ext}"))).unwrap();
    }
    let refused = new(false);
    let error = assert_clean_failure(&refused, 1);
    assert!(error.contains("bundle-app.pem"), "{error}");
    assert!(!d.join("bundle-app.crt").exists(), "nothing written");
    let forced = new(true);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_ne!(std::fs::read_to_string(&bundle).unwrap(), text, "replaced");

    // The human listing names it too.
    let human = run_in(d, &["new", "--cn", "listed", "--out", p(d), "--pem-bundle"])
        .output()
        .unwrap();
    let listing = String::from_utf8(human.stdout).unwrap();
    assert!(listing.contains("listed.pem"), "{listing}");
    assert!(
        listing.contains("AZURE_CLIENT_CERTIFICATE_PATH"),
        "{listing}"
    );

    // certgen serve registers the new certificate; the bundle alone signs in.
    let app = "6f1c5e8a-0000-4000-8000-0000000000b1";
    let config = d.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[[tenant]]\nid = \"{TENANT}\"\n\n[[app]]\nclient_id = \"{app}\"\ncertificates = [\"bundle-app.crt\"]\n"
        ),
    )
    .unwrap();
    let s = Server::start_keys_of(&fixture().state, &["--config", p(&config)]);
    let out = run_in(
        d,
        &[
            "token",
            "--output",
            "json",
            "--ca-file",
            &s.field("ca_file"),
        ],
    )
    .env("AZURE_TENANT_ID", TENANT)
    .env("AZURE_CLIENT_ID", app)
    .env("AZURE_AUTHORITY_HOST", s.base())
    .env("AZURE_CLIENT_CERTIFICATE_PATH", &bundle)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["claims"]["appid"], app);
    assert_eq!(doc["claims"]["appidacr"], "2", "certificate authentication");
}
