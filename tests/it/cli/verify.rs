//! `certgen verify` as users run it: exit codes, one error line, stdout only on success, and a
//! token made entirely by the openssl CLI.

use crate::support::verify::*;
use crate::support::{certgen, openssl_in, Run};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use tempfile::TempDir;

const ISSUER: &str = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0";

/// What one run of `certgen verify` showed.
/// How `certgen verify` refuses a token: exit 1, one line, nothing on stdout.
trait Rejected {
    fn assert_rejected(&self, reason: &str);
}

impl Rejected for Run {
    fn assert_rejected(&self, reason: &str) {
        assert_eq!(self.code, 1, "stderr: {}", self.stderr);
        assert!(
            self.stdout.is_empty(),
            "stdout when rejected: {}",
            self.stdout
        );
        assert_eq!(self.stderr.lines().count(), 1, "one line: {}", self.stderr);
        assert!(
            self.stderr
                .starts_with(&format!("error: token rejected: {reason}")),
            "{}",
            self.stderr
        );
    }
}

/// `certgen verify ARGS…` with `stdin` fed in.
fn verify(args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = certgen();
    cmd.arg("verify").args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input.to_string());
    }
    Run::from(cmd.output().expect("run certgen"))
}

/// A key and its JWKS file, for `--jwks-file` runs.
struct FileKeys {
    key: TestKey,
    path: String,
    _dir: TempDir,
}

impl FileKeys {
    fn new() -> FileKeys {
        let key = TestKey::new("k1");
        let dir = TempDir::new().expect("tempdir");
        let path = dir.path().join("keys.json");
        std::fs::write(&path, json!({"keys": [key.jwk]}).to_string()).expect("write jwks");
        FileKeys {
            key,
            path: path.display().to_string(),
            _dir: dir,
        }
    }

    /// TOKEN --audience API --jwks-file F --issuer ISSUER
    fn args<'a>(&'a self, token: &'a str) -> Vec<&'a str> {
        vec![
            token,
            "--audience",
            API,
            "--jwks-file",
            &self.path,
            "--issuer",
            ISSUER,
        ]
    }

    fn verify(&self, token: &str, extra: &[&str]) -> Run {
        let mut args = self.args(token);
        args.extend(extra);
        verify(&args, None)
    }

    fn token(&self, roles: &[&str]) -> String {
        self.key.sign(&v2_claims(ISSUER, TENANT, roles))
    }
}

#[test]
fn valid_token_human_output() {
    let keys = FileKeys::new();
    let out = keys.verify(
        &keys.token(&["Data.Read"]),
        &["--require-role", "Data.Read"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty());
    for line in [
        "valid      RS256 signature (kid k1), issuer ",
        &format!("client     {CLIENT}"),
        "roles      Data.Read",
        "expires    ",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in {}", out.stdout);
    }
}

#[test]
fn json_is_one_document_with_header_and_claims() {
    let keys = FileKeys::new();
    let doc = keys.verify(&keys.token(&["Data.Read"]), &["--json"]).json();
    assert_eq!(doc["valid"], json!(true));
    assert_eq!(doc["header"]["kid"], json!("k1"));
    assert_eq!(doc["claims"]["aud"], json!(API));
    assert_eq!(doc["claims"]["roles"], json!(["Data.Read"]));
}

#[test]
fn token_from_stdin_with_bearer_prefix_or_token_response() {
    let keys = FileKeys::new();
    let token = keys.token(&[]);
    let args = keys.args("-");
    let out = verify(&args, Some(&format!("  Bearer {token}\n\n")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let response = json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token});
    let out = verify(&args, Some(&response.to_string()));
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn rejections_are_one_precise_line() {
    let keys = FileKeys::new();
    keys.verify(
        &keys.token(&["Data.Read"]),
        &["--require-role", "Data.Write"],
    )
    .assert_rejected("missing required role \"Data.Write\"");
    keys.verify("not-a-token", &[])
        .assert_rejected("not a JWT: 1 part");
    let claims = v2_claims(ISSUER, TENANT, &[]);
    let none = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "kid": "k1"}), &claims)
    );
    keys.verify(&none, &[]).assert_rejected("alg \"none\"");
}

#[test]
fn audience_issuer_and_leeway_flags() {
    let keys = FileKeys::new();
    let mut claims = v2_claims(ISSUER, TENANT, &[]);
    claims["exp"] = json!(now() - 100);
    let token = keys.key.sign(&claims);
    let run = |aud: &str, iss: &str, leeway: &str| {
        let args = [
            &token,
            "--audience",
            aud,
            "--jwks-file",
            &keys.path,
            "--issuer",
            iss,
        ];
        let mut all = args.to_vec();
        all.extend(["--leeway", leeway]);
        verify(&all, None)
    };
    assert_eq!(
        run(API, ISSUER, "300").code,
        0,
        "expired 100 s ago, 300 s leeway"
    );
    run(API, ISSUER, "0").assert_rejected("expired at ");
    // A v2 token refused for an api:// audience also gets a hint about v2 audiences.
    let aud = run("api://other", ISSUER, "300");
    assert_eq!(aud.code, 1, "{}", aud.stderr);
    assert!(aud.stdout.is_empty(), "{}", aud.stdout);
    assert!(
        aud.stderr.starts_with("error: token rejected: audience"),
        "{}",
        aud.stderr
    );
    run(API, "https://sts.windows.net/x/", "300").assert_rejected("issuer");
}

#[test]
fn usage_errors_exit_2() {
    let keys = FileKeys::new();
    // A key set alone does not say whose tokens to accept.
    let out = verify(
        &["a.b.c", "--audience", API, "--jwks-file", &keys.path],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.starts_with("error: --jwks-file needs --issuer"),
        "{}",
        out.stderr
    );
    // No key source; two key sources.
    assert_eq!(verify(&["a.b.c", "--audience", API], None).code, 2);
    let mut args = keys.args("a.b.c");
    args.extend(["--authority", "https://login.microsoftonline.com/x"]);
    assert_eq!(verify(&args, None).code, 2);
    // Plain http to another host.
    let out = verify(
        &[
            "a.b.c",
            "--audience",
            API,
            "--authority",
            "http://idp.example/t",
        ],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("plain http"), "{}", out.stderr);
}

#[test]
fn authority_discovery_through_the_stub() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let authority = idp.authority(TENANT);
    let v2 = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]));
    let out = verify(
        &[
            &v2,
            "--audience",
            API,
            "--authority",
            &authority,
            "--json",
            "--require-role",
            "Data.Read",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["claims"]["ver"], json!("2.0"));
    // [v1 metadata, v1 keys, v2 metadata, v2 keys]: a run reads what its token needs, no more.
    assert_eq!(idp.fetches_by_version(), [0, 0, 1, 1]);

    let v1 = key.sign(&v1_claims(&v1_issuer(TENANT), TENANT, &[]));
    let v1_audience = format!("api://{API}");
    let out = verify(
        &[&v1, "--audience", &v1_audience, "--authority", &authority],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("issuer https://sts.windows.net/"),
        "{}",
        out.stdout
    );
    assert_eq!(
        idp.fetches_by_version(),
        [1, 1, 1, 1],
        "the v1 run read v1 only"
    );

    let other = key.sign(&v2_claims(&idp.v2_issuer(OTHER_TENANT), OTHER_TENANT, &[]));
    verify(
        &[&other, "--audience", API, "--authority", &authority],
        None,
    )
    .assert_rejected(&format!("token is from tenant {OTHER_TENANT}"));
}

#[test]
fn unreachable_authority_exits_4_and_bad_answer_exits_3() {
    // A well-formed token: a malformed one is rejected before any request is made.
    let token = TestKey::new("k1").sign(&v2_claims("https://issuer", TENANT, &[]));
    let out = verify(
        &[
            &token,
            "--audience",
            API,
            "--authority",
            "http://127.0.0.1:9/t",
        ],
        None,
    );
    assert_eq!(out.code, 4);
    assert!(
        out.stderr.starts_with(
            "error: cannot reach http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration: "
        ),
        "{}",
        out.stderr
    );
    let idp = Idp::start(&[]);
    let wrong = format!("{}/a/b", idp.base);
    let out = verify(&[&token, "--audience", API, "--authority", &wrong], None);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 404"), "{}", out.stderr);
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
    let ca = ca.display().to_string();
    let out = verify(
        &[
            &token,
            "--audience",
            API,
            "--authority",
            &authority,
            "--ca-file",
            &ca,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Without the CA the TLS handshake fails: the provider cannot be reached (exit 4).
    let out = verify(
        &[&token, "--audience", API, "--authority", &authority],
        None,
    );
    assert_eq!(out.code, 4);
    assert!(
        out.stderr
            .starts_with("error: cannot reach https://127.0.0.1:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("certificate"), "{}", out.stderr);
    assert!(out.stderr.contains("\nhint: "), "{}", out.stderr);
}

/// Key, JWKS modulus and RS256 signature all made by the openssl CLI: certgen verify accepts it
/// and refuses it once one payload byte changes.
#[test]
fn token_signed_by_openssl_is_accepted() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    openssl_in(
        d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k.pem",
        ],
    );
    let modulus = String::from_utf8(openssl_in(
        d,
        &["rsa", "-in", "k.pem", "-noout", "-modulus"],
    ))
    .unwrap();
    let n = hex::decode(modulus.trim().trim_start_matches("Modulus=")).unwrap();
    let jwk = json!({"kty": "RSA", "use": "sig", "kid": "ossl", "n": URL_SAFE_NO_PAD.encode(n), "e": "AQAB"});
    std::fs::write(d.join("keys.json"), json!({"keys": [jwk]}).to_string()).unwrap();

    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "ossl"});
    let input = signing_input(&header, &v2_claims(ISSUER, TENANT, &[]));
    std::fs::write(d.join("input"), &input).unwrap();
    let sig = URL_SAFE_NO_PAD.encode(openssl_in(
        d,
        &["dgst", "-sha256", "-sign", "k.pem", "input"],
    ));
    let keys = d.join("keys.json").display().to_string();
    let check = |token: &str| {
        verify(
            &[
                token,
                "--audience",
                API,
                "--jwks-file",
                &keys,
                "--issuer",
                ISSUER,
            ],
            None,
        )
    };
    let out = check(&format!("{input}.{sig}"));
    assert_eq!(out.code, 0, "{}", out.stderr);

    let (head, rest) = input.split_once('.').unwrap();
    let mut payload = URL_SAFE_NO_PAD.decode(rest).unwrap();
    let at = payload.iter().position(|&b| b == b'2').unwrap();
    payload[at] = b'3';
    check(&format!("{head}.{}.{sig}", URL_SAFE_NO_PAD.encode(payload)))
        .assert_rejected("signature does not verify with key \"ossl\"");
}
