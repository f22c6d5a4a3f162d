//! `certgen decode`, on the encoded assertion published in Microsoft's certificate-credentials
//! page (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials) and on tokens broken in each way a copy-paste breaks them.

use assert_cmd::Command;
use serde_json::{json, Value};

use crate::support::certgen;

/// Header and payload exactly as the doc prints them. The doc elides the middle of the
/// signature ("Gh95kHCOEGq5E_ArMBbDXhwKR577scxYaoJ1P{a lot of characters here}KKJDEg"); the two
/// visible pieces are joined here, which keeps it base64url.
const DOC_ASSERTION: &str = "eyJhbGciOiJQUzI1NiIsIng1dCNTMjU2IjoiZ3g4dEd5c3lqY1JxS2pGUG5kN1JGd3Z3WkkwIn0.eyJhdWQiOiJodHRwczpcL1wvbG9naW4ubWljcm9zb2Z0b25saW5lLmNvbVwvam1wcmlldXJob3RtYWlsLm9ubWljcm9zb2Z0LmNvbVwvb2F1dGgyXC90b2tlbiIsImV4cCI6MTQ4NDU5MzM0MSwiaXNzIjoiOTdlMGE1YjctZDc0NS00MGI2LTk0ZmUtNWY3N2QzNWM2ZTA1IiwianRpIjoiMjJiM2JiMjYtZTA0Ni00MmRmLTljOTYtNjVkYmQ3MmMxYzgxIiwibmJmIjoxNDg0NTkyNzQxLCJzdWIiOiI5N2UwYTViNy1kNzQ1LTQwYjYtOTRmZS01Zjc3ZDM1YzZlMDUifQ.Gh95kHCOEGq5E_ArMBbDXhwKR577scxYaoJ1PKKJDEg";

fn doc_header() -> Value {
    json!({"alg":"PS256","x5t#S256":"gx8tGysyjcRqKjFPnd7RFwvwZI0"})
}

fn doc_claims() -> Value {
    json!({
        "aud": "https://login.microsoftonline.com/jmprieurhotmail.onmicrosoft.com/oauth2/token",
        "exp": 1484593341,
        "iss": "97e0a5b7-d745-40b6-94fe-5f77d35c6e05",
        "jti": "22b3bb26-e046-42df-9c96-65dbd72c1c81",
        "nbf": 1484592741,
        "sub": "97e0a5b7-d745-40b6-94fe-5f77d35c6e05"
    })
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn published_assertion_as_text() {
    let text = stdout_of(certgen().args(["decode", DOC_ASSERTION]));
    // Every header field and claim, with the doc's escaped slashes decoded.
    for needle in [
        r#""alg": "PS256""#,
        r#""x5t#S256": "gx8tGysyjcRqKjFPnd7RFwvwZI0""#,
        r#""aud": "https://login.microsoftonline.com/jmprieurhotmail.onmicrosoft.com/oauth2/token""#,
        r#""jti": "22b3bb26-e046-42df-9c96-65dbd72c1c81""#,
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    // 1484593341 and 1484592741 in UTC (`date -u -d @1484593341`), long in the past.
    let exp_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("exp "))
        .unwrap();
    assert!(exp_line.contains("2017-01-16T19:02:21Z"), "{exp_line}");
    assert!(exp_line.contains("(expired ") && exp_line.ends_with(" days ago)"));
    let nbf_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("nbf "))
        .unwrap();
    assert!(nbf_line.contains("2017-01-16T18:52:21Z (") && nbf_line.ends_with(" days ago)"));
    assert!(text.lines().any(|l| l.contains("signature: NOT checked")));
}

#[test]
fn published_assertion_as_json_from_stdin() {
    for args in [&["decode", "--json"][..], &["decode", "-", "--json"][..]] {
        let text = stdout_of(
            certgen()
                .args(args)
                .write_stdin(format!("Bearer {DOC_ASSERTION}\r\n")),
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            doc,
            json!({"header": doc_header(), "claims": doc_claims(), "signature_verified": false})
        );
    }
}

#[test]
fn an_assertion_made_now_shows_when_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem",
            "-subj", "/CN=d", "-days", "2",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(ok.status.success());
    let jwt = stdout_of(
        certgen()
            .current_dir(dir.path())
            .env_remove("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
            .env_remove("AZURE_AUTHORITY_HOST")
            .args([
                "assertion",
                "--client-id",
                "97e0a5b7-d745-40b6-94fe-5f77d35c6e05",
                "--tenant",
                "contoso.onmicrosoft.com",
                "--cert",
                "c.pem",
                "--key",
                "k.pem",
                "--lifetime",
                "3000",
            ]),
    );
    let text = stdout_of(certgen().arg("decode").write_stdin(jwt));
    let exp_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("exp "))
        .unwrap();
    assert!(
        exp_line.ends_with("(in 49 min)") || exp_line.ends_with("(in 50 min)"),
        "{exp_line}"
    );
    assert!(text.contains(r#""typ": "JWT""#));
}

#[test]
fn broken_tokens_are_one_error_line() {
    let header = "eyJhbGciOiJQUzI1NiIsIng1dCNTMjU2IjoiZ3g4dEd5c3lqY1JxS2pGUG5kN1JGd3Z3WkkwIn0";
    let cases = [
        ("abc.def".to_string(), "expected 3 parts"),
        (format!("{header}.e30.x.y.z"), "encrypted token (JWE"),
        (format!("{header}.e3+0.sig"), "claims is not base64url"),
        (format!("{header}.bm90IGpzb24.sig"), "claims is not JSON"),
        ("bm90.e30.sig".to_string(), "header is not JSON"),
        (
            format!("{header}.e30.a"),
            "signature is not valid base64url",
        ),
        ("   ".to_string(), "empty"),
    ];
    for (token, needle) in cases {
        let out = certgen().arg("decode").write_stdin(token).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(out.stdout.is_empty());
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(needle),
            "{needle}: {stderr}"
        );
        assert!(lines[1..].iter().all(|l| l.starts_with("hint: ")));
    }
}
