//! Real clients against `certgen serve`: MSAL for Python (tests/clients/msal_client.py) gets
//! tokens with a certificate (PEM key + thumbprint: RS256/x5t; PKCS#12: PS256/x5t#S256) and
//! with a secret, and so does Azure Identity for Python when it is installed. Runs when CERTGEN_TEST_PYTHON names a Python with `msal` installed (.ci/run
//! sets it up in a venv); otherwise it says it was skipped and passes.

use std::process::Command;

use crate::support::serve::*;
use serde_json::Value;

fn run_msal(python: &str, server: &Server, pfx: &std::path::Path) -> (bool, Value) {
    let f = fixture();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/msal_client.py");
    let out = Command::new(python)
        .arg(script)
        .env("AUTHORITY", format!("{}/{TENANT}", server.base()))
        .env("CA_FILE", server.field("ca_file"))
        .env("CLIENT_ID", APP)
        .env("SCOPE", "api://orders/.default")
        .env("CERT_PEM", &f.main.cert_pem)
        .env("KEY_PEM", &f.main.key_pem)
        .env("THUMBPRINT", f.main.thumbprint_hex())
        .env("PFX_PATH", pfx)
        .env("PFX_PASSWORD", "msal-test")
        .env("CLIENT_SECRET", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the MSAL script printed no JSON: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), result)
}

fn make_pfx(dir: &std::path::Path) -> std::path::PathBuf {
    let f = fixture();
    let pfx = dir.join("main.pfx");
    let ok = Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:msal-test", "-inkey"])
        .arg(&f.main.key_pem)
        .arg("-in")
        .arg(&f.main.cert_pem)
        .arg("-out")
        .arg(&pfx)
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl pkcs12 -export");
    pfx
}

#[tokio::test]
async fn msal_python_gets_tokens_with_certificate_and_secret() {
    let Some(python) = python() else { return };
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let pfx = make_pfx(dir.path());
    let (ok, result) = run_msal(&python, &s, &pfx);
    assert!(ok, "MSAL did not get every token: {result}");

    let iss = format!("{}/{TENANT}/v2.0", s.base());
    for (mode, acr) in [
        ("certificate_thumbprint", "2"),
        ("certificate_pfx", "2"),
        ("secret", "1"),
    ] {
        let token = result[mode]["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{mode}: {result}"));
        let claims = s.verified(token, ORDERS_API, &iss).await;
        assert_eq!(claims["azp"], APP, "{mode}");
        assert_eq!(claims["azpacr"], acr, "{mode}");
    }
}

/// MSAL Python pads `x5t` and sends float times: `--strict` catches exactly that, while the
/// secret (no assertion) still works.
#[tokio::test]
async fn msal_python_assertions_are_not_rfc_strict() {
    let Some(python) = python() else { return };
    let s = Server::with_args(&["--strict"]);
    let dir = tempfile::tempdir().unwrap();
    let pfx = make_pfx(dir.path());
    let (ok, result) = run_msal(&python, &s, &pfx);
    assert!(!ok, "{result}");
    assert_eq!(
        result["certificate_thumbprint"]["error_codes"][0], 50027,
        "{result}"
    );
    let d = result["certificate_thumbprint"]["error_description"]
        .as_str()
        .unwrap();
    assert!(d.contains("--strict"), "{d}");
    assert!(result["secret"]["access_token"].is_string(), "{result}");
}
