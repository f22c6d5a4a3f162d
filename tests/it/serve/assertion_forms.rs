//! The forms of assertions real clients send: accepted leniently by default (as Entra does)
//! and refused with `--strict` (RFC form only, each `jti` once).

use crate::support::serve::*;
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

const SCOPE: &str = "api://orders/.default";

fn rs256_header(x5t: String) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "x5t": x5t})
}

/// The header forms of MSAL Python (padded base64url), the Rust SDK (standard base64, padded)
/// and MSAL.NET (`x5c` as one string).
fn lenient_headers(f: &Fixture) -> Vec<(&'static str, Value, Algorithm)> {
    vec![
        (
            "padded base64url x5t",
            rs256_header(URL_SAFE.encode(f.main.sha1())),
            Algorithm::RS256,
        ),
        (
            "standard base64 x5t",
            rs256_header(b64_std(&f.main.sha1())),
            Algorithm::RS256,
        ),
        (
            "padded x5t#S256",
            json!({"alg": "PS256", "x5t#S256": URL_SAFE.encode(f.main.sha256())}),
            Algorithm::PS256,
        ),
        (
            "x5c as a string",
            json!({"alg": "PS256", "x5t#S256": f.main.x5t_s256(), "x5c": b64_std(&f.main.cert_der)}),
            Algorithm::PS256,
        ),
    ]
}

/// Times as MSAL Python (floats, no nbf) and MSAL.NET (strings) send them.
fn lenient_claims(server: &Server) -> Vec<(&'static str, Value)> {
    let n = now();
    let mut floats = claims(server);
    floats["iat"] = json!(n as f64 + 0.25);
    floats["exp"] = json!(n as f64 + 600.5);
    floats.as_object_mut().unwrap().remove("nbf");
    let mut strings = claims(server);
    strings["nbf"] = json!(n.to_string());
    strings["exp"] = json!((n + 600).to_string());
    strings.as_object_mut().unwrap().remove("iat");
    let mut no_jti = claims(server);
    no_jti.as_object_mut().unwrap().remove("jti");
    vec![
        ("float times, no nbf", floats),
        ("string times", strings),
        ("no jti", no_jti),
    ]
}

#[tokio::test]
async fn lenient_by_default() {
    let s = Server::start();
    let f = fixture();
    for (what, header, alg) in lenient_headers(f) {
        let jwt = sign_rsa(&header, &claims(&s), &f.main.key_pkcs1, alg);
        let (status, body) = s.assertion_grant(&jwt, SCOPE).await;
        assert_eq!(status, 200, "{what}: {body}");
    }
    for (what, c) in lenient_claims(&s) {
        let jwt = sign_rsa(
            &rs256_header(f.main.x5t()),
            &c,
            &f.main.key_pkcs1,
            Algorithm::RS256,
        );
        let (status, body) = s.assertion_grant(&jwt, SCOPE).await;
        assert_eq!(status, 200, "{what}: {body}");
    }
    // aud by tenant domain and in the issuer form; the same assertion twice (MSAL Python
    // re-sends a cached assertion for minutes, and Entra does not refuse it).
    let mut c = claims(&s);
    c["aud"] = json!(format!("{}/{TENANT_DOMAIN}/v2.0", s.base()));
    let jwt = sign_rsa(
        &rs256_header(f.main.x5t()),
        &c,
        &f.main.key_pkcs1,
        Algorithm::RS256,
    );
    for _ in 0..2 {
        let (status, body) = s.assertion_grant(&jwt, SCOPE).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn strict_accepts_the_rfc_form() {
    let s = Server::with_args(&["--strict"]);
    let f = fixture();
    let x5c = json!([b64_std(&f.main.cert_der)]);
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": f.main.x5t_s256(), "x5c": x5c});
    let jwt = sign_rsa(&header, &claims(&s), &f.main.key_pkcs1, Algorithm::PS256);
    let (status, body) = s.assertion_grant(&jwt, SCOPE).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.assertion_grant(&rs256(&s, &f.main), SCOPE).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn strict_refuses_each_lenient_form() {
    let s = Server::with_args(&["--strict"]);
    let f = fixture();
    for (what, header, alg) in lenient_headers(f) {
        let jwt = sign_rsa(&header, &claims(&s), &f.main.key_pkcs1, alg);
        let got = s.assertion_grant(&jwt, SCOPE).await;
        assert_refusal(&got, 400, "invalid_request", 50027);
        let d = got.1["error_description"].as_str().unwrap();
        assert!(d.contains("--strict"), "{what}: {d}");
    }
    for (what, c) in lenient_claims(&s) {
        let jwt = sign_rsa(
            &rs256_header(f.main.x5t()),
            &c,
            &f.main.key_pkcs1,
            Algorithm::RS256,
        );
        let got = s.assertion_grant(&jwt, SCOPE).await;
        assert_refusal(&got, 400, "invalid_request", 50027);
        let d = got.1["error_description"].as_str().unwrap();
        assert!(d.contains("--strict"), "{what}: {d}");
    }
}

#[tokio::test]
async fn strict_refuses_padded_x5t() {
    let s = Server::with_args(&["--strict"]);
    let f = fixture();
    let jwt = sign_rsa(
        &rs256_header(URL_SAFE.encode(f.main.sha1())),
        &claims(&s),
        &f.main.key_pkcs1,
        Algorithm::RS256,
    );
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 400, "invalid_request", 50027);
    assert!(got.1["error_description"]
        .as_str()
        .unwrap()
        .contains("without padding"));
}

#[tokio::test]
async fn strict_refuses_float_times() {
    let s = Server::with_args(&["--strict"]);
    let f = fixture();
    let mut c = claims(&s);
    c["exp"] = json!(now() as f64 + 600.5);
    let jwt = sign_rsa(
        &rs256_header(f.main.x5t()),
        &c,
        &f.main.key_pkcs1,
        Algorithm::RS256,
    );
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 400, "invalid_request", 50027);
    assert!(got.1["error_description"]
        .as_str()
        .unwrap()
        .contains("'exp' must be an integer"));
}

#[tokio::test]
async fn strict_refuses_a_replayed_jti() {
    let s = Server::with_args(&["--strict"]);
    let f = fixture();
    let jwt = rs256(&s, &f.main);
    let (status, body) = s.assertion_grant(&jwt, SCOPE).await;
    assert_eq!(status, 200, "{body}");
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 400, "invalid_request", 50027);
    assert!(got.1["error_description"]
        .as_str()
        .unwrap()
        .contains("already used"));
    // A new assertion (new jti) is fine.
    let (status, _) = s.assertion_grant(&rs256(&s, &f.main), SCOPE).await;
    assert_eq!(status, 200);
}
