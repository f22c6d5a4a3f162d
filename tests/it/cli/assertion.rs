//! `certgen assertion`, checked from outside: every signature is verified by the `openssl` CLI
//! against the certificate's public key, every thumbprint is compared with
//! `openssl x509 -fingerprint`, every `x5c` entry with `openssl x509 -outform DER`. The
//! credentials are made by openssl in a scratch folder, in every form the spec lists.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;

use crate::support::{assert_clean_failure, certgen, now, openssl_output};

const CLIENT_ID: &str = "97e0a5b7-d745-40b6-94fe-5f77d35c6e05";
const TENANT_GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const PASSWORD: &str = "s3cret pass";

/// The scratch folder with every credential form, made once per test run by openssl.
fn fx() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("assertion-credentials");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let sh = |script: &str| {
            let out = std::process::Command::new("sh")
                .arg("-ec")
                .arg(script)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        sh(&format!(
            r#"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj /CN=Test-CA -days 30 \
  -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out leaf.key 2>/dev/null
openssl req -new -key leaf.key -subj /CN=daemon -out leaf.csr
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out leaf.pem 2>/dev/null
openssl pkey -in leaf.key -pubout -out leaf.pub
openssl rsa -in leaf.key -traditional -out leaf.pkcs1.key 2>/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -in leaf.key -passout 'pass:{PASSWORD}' -out leaf.enc.key
openssl x509 -in leaf.pem -outform DER -out leaf.der
openssl pkcs8 -topk8 -nocrypt -in leaf.key -outform DER -out leaf.key.der
cat leaf.pem leaf.key > combined.pem
cat leaf.pem ca.pem leaf.key > chain-combined.pem
openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile ca.pem -passout 'pass:{PASSWORD}' -out modern.pfx
openssl pkcs12 -export -legacy -inkey leaf.key -in leaf.pem -certfile ca.pem -passout 'pass:{PASSWORD}' -out legacy.pfx
openssl pkcs12 -export -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -inkey leaf.key -in leaf.pem \
  -passout 'pass:{PASSWORD}' -out legacy3des.pfx
printf '%s\n' '{PASSWORD}' > pw.txt
printf 'wrong\n' > wrong.txt
chmod 600 pw.txt wrong.txt
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -subj /CN=other -days 30 2>/dev/null
openssl req -x509 -newkey rsa:1024 -nodes -keyout small.key -out small.pem -subj /CN=small -days 30 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem -subj /CN=ec -days 30 2>/dev/null
"#
        ));
        dir
    })
}

fn path(name: &str) -> String {
    fx().join(name).display().to_string()
}

fn run(args: &[&str]) -> Output {
    certgen().args(args).output().unwrap()
}

/// `certgen assertion --client-id CLIENT_ID ARGS…`
fn assertion(args: &[&str]) -> Output {
    assertion_env(&[], args)
}

/// The same with extra environment variables.
fn assertion_env(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = certgen();
    cmd.envs(env.iter().copied())
        .args(["assertion", "--client-id", CLIENT_ID])
        .args(args)
        .output()
        .unwrap()
}

fn ok_jwt(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{text:?}"
    );
    text.trim_end().to_string()
}

/// A refusal: the exit code, nothing on stdout, one `error:` line (plus hints) on stderr.
fn refused(out: &Output, code: i32, needle: &str) {
    let error = assert_clean_failure(out, code);
    assert!(error.contains(needle), "{needle:?} not in {error}");
}

fn b64url_json(part: &str) -> (String, Value) {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    let value = serde_json::from_str(&text).unwrap();
    (text, value)
}

struct Parts {
    header_text: String,
    header: Value,
    claims: Value,
}

fn parts(jwt: &str) -> Parts {
    let p: Vec<&str> = jwt.split('.').collect();
    assert_eq!(p.len(), 3, "{jwt}");
    let (header_text, header) = b64url_json(p[0]);
    let (_, claims) = b64url_json(p[1]);
    Parts {
        header_text,
        header,
        claims,
    }
}

/// Verifies the JWT's signature with `openssl dgst` against `pub_pem`.
fn openssl_verifies(jwt: &str, pub_pem: &str, alg: &str) -> bool {
    openssl_verifies_salt(jwt, pub_pem, alg, "32")
}

/// The same, with the PSS salt length openssl must find.
fn openssl_verifies_salt(jwt: &str, pub_pem: &str, alg: &str, salt: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let input_path = dir.path().join("input.txt");
    let sig_path = dir.path().join("sig.bin");
    std::fs::write(&input_path, input).unwrap();
    std::fs::write(&sig_path, URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    let salt_opt = format!("rsa_pss_saltlen:{salt}");
    let mut args = vec!["dgst", "-sha256"];
    if alg == "PS256" {
        args.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            &salt_opt,
            "-sigopt",
            "rsa_mgf1_md:sha256",
        ]);
    }
    let (i, s) = (
        input_path.display().to_string(),
        sig_path.display().to_string(),
    );
    args.extend(["-verify", pub_pem, "-signature", &s, &i]);
    openssl_output(&args).status.success()
}

/// base64url of the fingerprint bytes `openssl x509 -fingerprint` prints.
fn openssl_x5t(cert: &str, digest: &str) -> String {
    let out = openssl_output(&["x509", "-in", cert, "-noout", "-fingerprint", digest]);
    let text = String::from_utf8(out.stdout).unwrap();
    let hex_part = text.trim().split_once('=').unwrap().1.replace(':', "");
    URL_SAFE_NO_PAD.encode(hex::decode(hex_part).unwrap())
}

fn openssl_der(cert: &str) -> Vec<u8> {
    openssl_output(&["x509", "-in", cert, "-outform", "DER"]).stdout
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && s.chars()
            .enumerate()
            .all(|(i, c)| [8, 13, 18, 23].contains(&i) || matches!(c, '0'..='9' | 'a'..='f'))
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// Every claim rule of the spec, for an assertion made with `lifetime`.
fn check_claims(claims: &Value, aud: &str, lifetime: i64) {
    let obj = claims.as_object().unwrap();
    let mut names: Vec<&str> = obj.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["aud", "exp", "iat", "iss", "jti", "nbf", "sub"]);
    assert_eq!(claims["aud"], aud);
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], claims["iss"]);
    assert!(is_uuid_v4(claims["jti"].as_str().unwrap()), "{claims}");
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().expect("integer iat"),
        claims["nbf"].as_i64().expect("integer nbf"),
        claims["exp"].as_i64().expect("integer exp"),
    );
    assert!(claims["exp"].is_u64() && claims["iat"].is_u64() && claims["nbf"].is_u64());
    assert_eq!(iat, nbf);
    assert_eq!(exp - iat, lifetime);
    let now = now();
    assert!((now - iat).abs() <= 60, "iat {iat} is not now ({now})");
}

fn endpoint(host: &str, tenant: &str) -> String {
    format!("{host}/{tenant}/oauth2/v2.0/token")
}

#[test]
fn ps256_is_the_default_and_openssl_verifies_it() {
    let out = assertion(&[
        "--tenant",
        TENANT_GUID,
        "--cert",
        &path("leaf.pem"),
        "--key",
        &path("leaf.key"),
    ]);
    let jwt = ok_jwt(&out);
    let p = parts(&jwt);
    assert_eq!(
        p.header_text,
        format!(
            r#"{{"alg":"PS256","typ":"JWT","x5t#S256":"{}"}}"#,
            openssl_x5t(&path("leaf.pem"), "-sha256")
        )
    );
    check_claims(
        &p.claims,
        &endpoint("https://login.microsoftonline.com", TENANT_GUID),
        600,
    );
    assert!(openssl_verifies(&jwt, &path("leaf.pub"), "PS256"));
    // The check has teeth: another key, or PKCS#1 v1.5 padding, does not verify.
    let other_pub = fx().join("other.pub");
    openssl_output(&[
        "x509",
        "-in",
        &path("other.pem"),
        "-pubkey",
        "-noout",
        "-out",
        &other_pub.display().to_string(),
    ]);
    assert!(!openssl_verifies(
        &jwt,
        &other_pub.display().to_string(),
        "PS256"
    ));
    assert!(!openssl_verifies(&jwt, &path("leaf.pub"), "RS256"));
    // …and the salt is exactly 32 bytes (RFC 7518 §3.5), not 20 or the maximum.
    assert!(!openssl_verifies_salt(
        &jwt,
        &path("leaf.pub"),
        "PS256",
        "20"
    ));
    assert!(!openssl_verifies_salt(
        &jwt,
        &path("leaf.pub"),
        "PS256",
        "max"
    ));
}

#[test]
fn rs256_uses_x5t_and_openssl_verifies_it() {
    let out = assertion(&[
        "--tenant",
        "contoso.onmicrosoft.com",
        "--cert",
        &path("leaf.pem"),
        "--key",
        &path("leaf.key"),
        "--alg",
        "RS256",
        "--lifetime",
        "300",
    ]);
    let jwt = ok_jwt(&out);
    let p = parts(&jwt);
    assert_eq!(
        p.header_text,
        format!(
            r#"{{"alg":"RS256","typ":"JWT","x5t":"{}"}}"#,
            openssl_x5t(&path("leaf.pem"), "-sha1")
        )
    );
    check_claims(
        &p.claims,
        &endpoint(
            "https://login.microsoftonline.com",
            "contoso.onmicrosoft.com",
        ),
        300,
    );
    assert!(openssl_verifies(&jwt, &path("leaf.pub"), "RS256"));
}

#[test]
fn audience_for_every_cloud_and_explicit_audience() {
    let cases = [
        ("public", "https://login.microsoftonline.com"),
        ("usgov", "https://login.microsoftonline.us"),
        ("china", "https://login.chinacloudapi.cn"),
        (
            "https://login.partner.microsoftonline.cn/",
            "https://login.partner.microsoftonline.cn",
        ),
        ("http://127.0.0.1:8443", "http://127.0.0.1:8443"),
    ];
    for (host, expected) in cases {
        for tenant in [TENANT_GUID, "contoso.onmicrosoft.com"] {
            let out = assertion(&[
                "--tenant",
                tenant,
                "--authority-host",
                host,
                "--cert",
                &path("combined.pem"),
            ]);
            let p = parts(&ok_jwt(&out));
            assert_eq!(p.claims["aud"], endpoint(expected, tenant), "{host}");
        }
    }
    let aud = "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0";
    let out = assertion(&["--audience", aud, "--cert", &path("combined.pem")]);
    check_claims(&parts(&ok_jwt(&out)).claims, aud, 600);
}

#[test]
fn environment_sets_host_and_a_flag_wins_over_its_variable() {
    let out = assertion_env(
        &[
            ("AZURE_AUTHORITY_HOST", "usgov"),
            ("AZURE_TENANT_ID", TENANT_GUID),
        ],
        &["--cert", &path("combined.pem")],
    );
    assert_eq!(
        parts(&ok_jwt(&out)).claims["aud"],
        endpoint("https://login.microsoftonline.us", TENANT_GUID)
    );
    let out = assertion_env(
        &[
            ("AZURE_TENANT_ID", TENANT_GUID),
            ("AZURE_CLIENT_ID", "not-used-because-the-flag-wins"),
        ],
        &["--tenant", "fabrikam.com", "--cert", &path("combined.pem")],
    );
    let claims = parts(&ok_jwt(&out)).claims;
    assert_eq!(
        claims["aud"],
        endpoint("https://login.microsoftonline.com", "fabrikam.com")
    );
    assert_eq!(claims["iss"], CLIENT_ID);
    // --audience overrides AZURE_TENANT_ID instead of conflicting with it.
    let out = assertion_env(
        &[("AZURE_TENANT_ID", TENANT_GUID)],
        &[
            "--audience",
            "https://sts.example.com/token",
            "--cert",
            &path("combined.pem"),
        ],
    );
    assert_eq!(
        parts(&ok_jwt(&out)).claims["aud"],
        "https://sts.example.com/token"
    );
}

#[test]
fn x5c_is_the_chain_leaf_first_as_standard_base64_der() {
    let expected = [openssl_der(&path("leaf.pem")), openssl_der(&path("ca.pem"))];
    let with_flag = assertion(&[
        "--tenant",
        TENANT_GUID,
        "--pfx",
        &path("modern.pfx"),
        "--password-file",
        &path("pw.txt"),
        "--x5c",
    ]);
    // CA first in the file: the chain must still start with the leaf.
    let bundle = fx().join("ca-then-leaf.pem");
    std::fs::write(
        &bundle,
        [
            std::fs::read(fx().join("ca.pem")).unwrap(),
            std::fs::read(fx().join("leaf.pem")).unwrap(),
            std::fs::read(fx().join("leaf.key")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let with_env = assertion_env(
        &[("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true")],
        &[
            "--tenant",
            TENANT_GUID,
            "--cert",
            &bundle.display().to_string(),
        ],
    );
    for out in [with_flag, with_env] {
        let jwt = ok_jwt(&out);
        let p = parts(&jwt);
        let keys: Vec<&String> = p.header.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["alg", "typ", "x5t#S256", "x5c"]);
        let x5c: Vec<Vec<u8>> = p.header["x5c"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| STANDARD.decode(v.as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(x5c, expected);
        assert!(openssl_verifies(&jwt, &path("leaf.pub"), "PS256"));
    }
    // Without the flag or the variable (or with it set to something else), no x5c.
    let out = assertion_env(
        &[("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "0")],
        &[
            "--tenant",
            TENANT_GUID,
            "--cert",
            &path("chain-combined.pem"),
        ],
    );
    assert!(parts(&ok_jwt(&out)).header.get("x5c").is_none());
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
    // A value that is neither on nor off is off too, but said, so a typo does not pass unseen.
    let out = assertion_env(
        &[("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "yes")],
        &[
            "--tenant",
            TENANT_GUID,
            "--cert",
            &path("chain-combined.pem"),
        ],
    );
    assert!(parts(&ok_jwt(&out)).header.get("x5c").is_none());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=yes is not 1 or true, so it is off\n"
    );
}

/// Signs with the given credential arguments (and environment) and checks the result with
/// openssl, for both algorithms.
fn signs_with(args: &[&str], env: &[(&str, &str)]) {
    for alg in ["PS256", "RS256"] {
        let mut cmd = certgen();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["assertion", "--alg", alg]);
        if !env.iter().any(|(k, _)| *k == "AZURE_CLIENT_ID") {
            cmd.args(["--client-id", CLIENT_ID]);
        }
        if !env.iter().any(|(k, _)| *k == "AZURE_TENANT_ID") {
            cmd.args(["--tenant", TENANT_GUID]);
        }
        let out = cmd.args(args).output().unwrap();
        let jwt = ok_jwt(&out);
        assert!(
            openssl_verifies(&jwt, &path("leaf.pub"), alg),
            "{alg} {args:?}"
        );
        let p = parts(&jwt);
        check_claims(
            &p.claims,
            &endpoint("https://login.microsoftonline.com", TENANT_GUID),
            600,
        );
        let (field, digest) = if alg == "PS256" {
            ("x5t#S256", "-sha256")
        } else {
            ("x5t", "-sha1")
        };
        assert_eq!(p.header[field], openssl_x5t(&path("leaf.pem"), digest));
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_pem_key_form() {
    let cert = path("leaf.pem");
    signs_with(&["--cert", &cert, "--key", &path("leaf.key")], &[]);
    signs_with(&["--cert", &cert, "--key", &path("leaf.pkcs1.key")], &[]);
    signs_with(
        &[
            "--cert",
            &cert,
            "--key",
            &path("leaf.enc.key"),
            "--password-file",
            &path("pw.txt"),
        ],
        &[],
    );
    signs_with(
        &["--cert", &cert, "--key", &path("leaf.enc.key")],
        &[("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD)],
    );
    signs_with(&["--cert", &path("combined.pem")], &[]);
    signs_with(
        &["--cert", &path("leaf.der"), "--key", &path("leaf.key.der")],
        &[],
    );
    // The same key in the combined file and in --key is one key, not two.
    signs_with(
        &["--cert", &path("combined.pem"), "--key", &path("leaf.key")],
        &[],
    );
}

#[test]
fn password_from_stdin() {
    let out = certgen()
        .args([
            "assertion",
            "--client-id",
            CLIENT_ID,
            "--tenant",
            TENANT_GUID,
        ])
        .args(["--pfx", &path("modern.pfx"), "--password-file", "-"])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .unwrap();
    assert!(openssl_verifies(&ok_jwt(&out), &path("leaf.pub"), "PS256"));
}

#[test]
fn every_pkcs12_form_and_environment_only() {
    for pfx in ["modern.pfx", "legacy.pfx", "legacy3des.pfx"] {
        signs_with(
            &["--pfx", &path(pfx), "--password-file", &path("pw.txt")],
            &[],
        );
    }
    signs_with(
        &[],
        &[
            ("AZURE_CLIENT_CERTIFICATE_PATH", &path("legacy.pfx")),
            ("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD),
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT_GUID),
        ],
    );
    signs_with(
        &[],
        &[
            ("AZURE_CLIENT_CERTIFICATE_PATH", &path("combined.pem")),
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("AZURE_TENANT_ID", TENANT_GUID),
        ],
    );
}

#[test]
fn json_output_is_one_document_matching_the_jwt() {
    let out = assertion(&[
        "--tenant",
        TENANT_GUID,
        "--cert",
        &path("combined.pem"),
        "--json",
    ]);
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["assertion", "header", "claims"]);
    let jwt = doc["assertion"].as_str().unwrap();
    let p = parts(jwt);
    assert_eq!(doc["header"], p.header);
    assert_eq!(doc["claims"], p.claims);
    assert!(openssl_verifies(jwt, &path("leaf.pub"), "PS256"));
}

#[test]
fn credential_refusals() {
    let with = |extra: &[&str]| assertion(&[&["--tenant", TENANT_GUID][..], extra].concat());
    refused(
        &with(&["--cert", &path("leaf.pem"), "--key", &path("other.key")]),
        1,
        "certificate and key do not match",
    );
    refused(
        &with(&["--cert", &path("ec.pem"), "--key", &path("ec.key")]),
        1,
        "Entra accepts only RSA",
    );
    refused(
        &with(&["--cert", &path("leaf.pem"), "--key", &path("ec.key")]),
        1,
        "Entra accepts only RSA",
    );
    let small = with(&["--cert", &path("small.pem"), "--key", &path("small.key")]);
    refused(&small, 1, "AADSTS50032");
    refused(&small, 1, "1024 bits");
    refused(
        &with(&[
            "--cert",
            &path("leaf.pem"),
            "--key",
            &path("leaf.enc.key"),
            "--password-file",
            &path("wrong.txt"),
        ]),
        1,
        "wrong password",
    );
    refused(
        &with(&[
            "--pfx",
            &path("modern.pfx"),
            "--password-file",
            &path("wrong.txt"),
        ]),
        1,
        "wrong password",
    );
    refused(&with(&["--cert", &path("leaf.pem")]), 1, "no private key");
    refused(
        &with(&["--cert", &path("leaf.key")]),
        1,
        "no certificate found",
    );
    refused(
        &with(&["--cert", &path("combined.pem"), "--key", &path("other.key")]),
        1,
        "ambiguous",
    );
    refused(&with(&[]), 2, "no credential given");
    refused(&with(&["--key", &path("leaf.key")]), 2, "--cert");
    refused(
        &with(&["--cert", &path("leaf.pem"), "--pfx", &path("modern.pfx")]),
        2,
        "cannot be used with",
    );
}

#[test]
fn request_refusals_come_before_any_password() {
    let cred = ["--cert", "/nonexistent/never-read.pem"];
    for multi in ["common", "organizations", "consumers"] {
        let out = assertion(&[&["--tenant", multi][..], &cred].concat());
        refused(&out, 2, "needs a tenant");
    }
    let cases: [(&[&str], &str); 8] = [
        (&["--tenant", "not a tenant"], "neither a GUID nor a domain"),
        (
            &["--tenant", TENANT_GUID, "--lifetime", "59"],
            "out of range",
        ),
        (
            &["--tenant", TENANT_GUID, "--lifetime", "3601"],
            "out of range",
        ),
        (
            &[
                "--tenant",
                TENANT_GUID,
                "--authority-host",
                "http://login.example.com",
            ],
            "not loopback",
        ),
        (&["--audience", "http://10.1.2.3/token"], "not loopback"),
        (
            &["--tenant", TENANT_GUID, "--authority-host", "moon"],
            "neither a cloud name",
        ),
        (&[], "no tenant"),
        (
            &["--tenant", TENANT_GUID, "--audience", "https://x.example/t"],
            "cannot be used with",
        ),
    ];
    for (extra, needle) in cases {
        let out = assertion(&[extra, &cred].concat());
        refused(&out, 2, needle);
    }
    let out = run(&[
        &[
            "assertion",
            "--tenant",
            TENANT_GUID,
            "--client-id",
            "my-daemon-app",
        ][..],
        &cred,
    ]
    .concat());
    refused(&out, 2, "not a GUID");
}

#[test]
fn certificate_outside_its_validity_is_a_warning() {
    // openssl 3.0 cannot back-date a certificate without a CA database; rcgen can.
    let mut params = rcgen::CertificateParams::new(vec!["expired".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("expired.pem");
    std::fs::write(&file, cert.pem() + &key.serialize_pem()).unwrap();
    let out = assertion(&[
        "--tenant",
        TENANT_GUID,
        "--cert",
        &file.display().to_string(),
    ]);
    ok_jwt(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("warning: ") && stderr.contains("expired on 2021-01-01"),
        "{stderr}"
    );
}
