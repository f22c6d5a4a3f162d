//! `certgen verify` as users run it: exit codes, one error line, stdout only on success, and a
//! token made entirely by the openssl CLI.

mod common;

use std::path::Path;
use std::process::Command as Std;

use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use serde_json::{json, Value};
use tempfile::TempDir;

const ISSUER: &str = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0";

fn certgen() -> Command {
    Command::cargo_bin("certgen").expect("binary")
}

fn jwks_file(dir: &TempDir, keys: &[&TestKey]) -> String {
    let path = dir.path().join("keys.json");
    let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    std::fs::write(&path, doc.to_string()).expect("write jwks");
    path.display().to_string()
}

/// Runs verify with a JWKS file and returns (exit code, stdout, stderr).
fn verify_with_file(token: &str, extra: &[&str]) -> (i32, String, String) {
    let key = TestKey::new("k1");
    let dir = TempDir::new().unwrap();
    let file = jwks_file(&dir, &[&key]);
    let token = token.replace(
        "{signed}",
        &key.sign(&v2_claims(ISSUER, TENANT, &["Data.Read"])),
    );
    let out = certgen()
        .args([
            "verify",
            &token,
            "--audience",
            API,
            "--jwks-file",
            &file,
            "--issuer",
            ISSUER,
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_rejected(code: i32, stdout: &str, stderr: &str, reason: &str) {
    assert_eq!(code, 1, "stderr: {stderr}");
    assert!(
        stdout.is_empty(),
        "nothing on stdout when rejected: {stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: token rejected: {reason}")),
        "{stderr}"
    );
}

#[test]
fn valid_token_human_output() {
    let (code, stdout, stderr) = verify_with_file("{signed}", &["--require-role", "Data.Read"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty());
    assert!(
        stdout.starts_with("valid      RS256 signature (kid k1), issuer "),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("client     {CLIENT}")), "{stdout}");
    assert!(stdout.contains("roles      Data.Read"), "{stdout}");
    assert!(stdout.contains("expires    "), "{stdout}");
}

#[test]
fn json_is_one_document_with_header_and_claims() {
    let (code, stdout, _) = verify_with_file("{signed}", &["--json"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(doc["valid"], json!(true));
    assert_eq!(doc["header"]["kid"], json!("k1"));
    assert_eq!(doc["claims"]["aud"], json!(API));
    assert_eq!(doc["claims"]["roles"], json!(["Data.Read"]));
}

#[test]
fn token_from_stdin_with_bearer_prefix_or_token_response() {
    let key = TestKey::new("k1");
    let dir = TempDir::new().unwrap();
    let file = jwks_file(&dir, &[&key]);
    let token = key.sign(&v2_claims(ISSUER, TENANT, &[]));
    let args = [
        "verify",
        "-",
        "--audience",
        API,
        "--jwks-file",
        &file,
        "--issuer",
        ISSUER,
    ];
    certgen()
        .args(args)
        .write_stdin(format!("  Bearer {token}\n\n"))
        .assert()
        .success();
    let response = json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token});
    certgen()
        .args(args)
        .write_stdin(response.to_string())
        .assert()
        .success();
}

#[test]
fn rejections_are_one_precise_line() {
    let (c, o, e) = verify_with_file("{signed}", &["--require-role", "Data.Write"]);
    assert_rejected(c, &o, &e, "missing required role \"Data.Write\"");

    let (c, o, e) = verify_with_file("not-a-token", &[]);
    assert_rejected(c, &o, &e, "not a JWT: 1 part");

    let none = format!(
        "{}.",
        signing_input(
            &json!({"alg": "none", "kid": "k1"}),
            &v2_claims(ISSUER, TENANT, &[])
        )
    );
    let (c, o, e) = verify_with_file(&none, &[]);
    assert_rejected(c, &o, &e, "alg \"none\"");
}

#[test]
fn audience_issuer_and_leeway_flags() {
    let key = TestKey::new("k1");
    let dir = TempDir::new().unwrap();
    let file = jwks_file(&dir, &[&key]);
    let mut claims = v2_claims(ISSUER, TENANT, &[]);
    claims["exp"] = json!(now() - 100);
    let token = key.sign(&claims);
    let run = |aud: &str, iss: &str, leeway: &str| {
        let out = certgen()
            .args(["verify", &token, "--audience", aud, "--jwks-file", &file])
            .args(["--issuer", iss, "--leeway", leeway])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(API, ISSUER, "300").0,
        0,
        "expired 100 s ago, 300 s leeway"
    );
    let (c, o, e) = run(API, ISSUER, "0");
    assert_rejected(c, &o, &e, "expired at ");
    let (c, o, e) = run("api://other", ISSUER, "300");
    assert_rejected(c, &o, &e, "audience");
    let (c, o, e) = run(API, "https://sts.windows.net/x/", "300");
    assert_rejected(c, &o, &e, "issuer");
}

#[test]
fn usage_errors_exit_2() {
    let dir = TempDir::new().unwrap();
    let file = jwks_file(&dir, &[&TestKey::new("k1")]);
    // A key set alone does not say whose tokens to accept.
    let out = certgen()
        .args(["verify", "a.b.c", "--audience", API, "--jwks-file", &file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: --jwks-file needs --issuer"));
    // No key source.
    certgen()
        .args(["verify", "a.b.c", "--audience", API])
        .assert()
        .code(2);
    // Two key sources.
    certgen()
        .args(["verify", "a.b.c", "--audience", API, "--jwks-file", &file])
        .args([
            "--authority",
            "https://login.microsoftonline.com/x",
            "--issuer",
            ISSUER,
        ])
        .assert()
        .code(2);
    // Plain http to another host.
    let out = certgen()
        .args([
            "verify",
            "a.b.c",
            "--audience",
            API,
            "--authority",
            "http://idp.example/t",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain http"));
}

#[test]
fn authority_discovery_through_the_stub() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let authority = idp.authority(TENANT);
    let v2 = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]));
    let out = certgen()
        .args([
            "verify",
            &v2,
            "--audience",
            API,
            "--authority",
            &authority,
            "--json",
        ])
        .args(["--require-role", "Data.Read"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["claims"]["ver"], json!("2.0"));

    let v1 = key.sign(&v1_claims(&v1_issuer(TENANT), TENANT, &[]));
    let out = certgen()
        .args([
            "verify",
            &v1,
            "--audience",
            &format!("api://{API}"),
            "--authority",
            &authority,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("issuer https://sts.windows.net/"));

    let other = key.sign(&v2_claims(&idp.v2_issuer(OTHER_TENANT), OTHER_TENANT, &[]));
    let out = certgen()
        .args([
            "verify",
            &other,
            "--audience",
            API,
            "--authority",
            &authority,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_rejected(
        out.status.code().unwrap_or(-1),
        &String::from_utf8_lossy(&out.stdout),
        &stderr,
        &format!("token is from tenant {OTHER_TENANT}"),
    );
}

#[test]
fn unreachable_authority_exits_4_and_bad_answer_exits_3() {
    let out = certgen()
        .args([
            "verify",
            "a.b.c",
            "--audience",
            API,
            "--authority",
            "http://127.0.0.1:9/t",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: cannot reach http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration"
        ),
        "{stderr}"
    );
    let idp = Idp::start(&[]);
    let out = certgen()
        .args([
            "verify",
            "a.b.c",
            "--audience",
            API,
            "--authority",
            &format!("{}/a/b", idp.base),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Std::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Key, JWKS modulus and RS256 signature all made by the openssl CLI: certgen verify accepts it
/// and refuses it once one payload byte changes.
#[test]
fn token_signed_by_openssl_is_accepted() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k.pem",
        ],
        d,
    );
    let modulus =
        String::from_utf8(openssl(&["rsa", "-in", "k.pem", "-noout", "-modulus"], d)).unwrap();
    let n = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
    let jwks = json!({"keys": [{"kty": "RSA", "use": "sig", "kid": "ossl", "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB"}]});
    std::fs::write(d.join("keys.json"), jwks.to_string()).unwrap();

    let input = signing_input(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "ossl"}),
        &v2_claims(ISSUER, TENANT, &[]),
    );
    std::fs::write(d.join("input"), &input).unwrap();
    let sig = openssl(&["dgst", "-sha256", "-sign", "k.pem", "input"], d);
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
    let keys = d.join("keys.json").display().to_string();
    certgen()
        .args([
            "verify",
            &token,
            "--audience",
            API,
            "--jwks-file",
            &keys,
            "--issuer",
            ISSUER,
        ])
        .assert()
        .success();
    let (head, rest) = input.split_once('.').unwrap();
    let mut payload = URL_SAFE_NO_PAD.decode(rest).unwrap();
    let at = payload.iter().position(|&b| b == b'2').unwrap();
    payload[at] = b'3';
    let tampered = format!(
        "{head}.{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(&sig)
    );
    let out = certgen()
        .args([
            "verify",
            &tampered,
            "--audience",
            API,
            "--jwks-file",
            &keys,
            "--issuer",
            ISSUER,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("signature does not verify with key \"ossl\""));
}

#[test]
fn https_authority_trusted_through_ca_file() {
    let dir = TempDir::new().unwrap();
    let ca = dir.path().join("ca.pem");
    let key = TestKey::new("k1");
    let idp = Idp::start_tls(&[&key], &ca);
    assert!(idp.base.starts_with("https://127.0.0.1:"));
    let token = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]));
    let authority = idp.authority(TENANT);
    certgen()
        .args([
            "verify",
            &token,
            "--audience",
            API,
            "--authority",
            &authority,
        ])
        .args(["--ca-file", &ca.display().to_string()])
        .assert()
        .success();
    // Without the CA the TLS handshake fails: the provider cannot be reached (exit 4).
    let out = certgen()
        .args([
            "verify",
            &token,
            "--audience",
            API,
            "--authority",
            &authority,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot reach https://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(
        stderr
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with("hint: "),
        "{stderr}"
    );
    eprintln!("{stderr}");
}
