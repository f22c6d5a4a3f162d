//! `certgen serve` refuses as Entra does: one test per refusal, each with the assertion or
//! request crafted here, checking the AADSTS code, the `error` value and the HTTP status.

use crate::support::serve::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

const SCOPE: &str = "api://orders/.default";

fn ps256_with(server: &Server, cred: &Cred, edit: impl FnOnce(&mut Value)) -> String {
    let mut c = claims(server);
    edit(&mut c);
    sign_rsa(
        &json!({"alg": "PS256", "typ": "JWT", "x5t#S256": cred.x5t_s256()}),
        &c,
        &cred.key_pkcs1,
        Algorithm::PS256,
    )
}

fn description(got: &(u16, Value)) -> String {
    got.1["error_description"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn unknown_thumbprint() {
    let s = Server::start();
    let f = fixture();
    let got = s.assertion_grant(&rs256(&s, &f.other), SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 700027);
    let d = description(&got);
    assert!(
        d.contains(&format!(
            "Thumbprint of key used by client: '{}'",
            f.other.thumbprint_hex()
        )),
        "{d}"
    );
    assert!(d.contains("The key was not found"), "{d}");
}

#[tokio::test]
async fn tampered_payload() {
    let s = Server::start();
    let f = fixture();
    let jwt = ps256(&s, &f.main);
    let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    c["exp"] = json!(c["exp"].as_i64().unwrap() + 86_400);
    parts[1] = URL_SAFE_NO_PAD.encode(c.to_string());
    let got = s.assertion_grant(&parts.join("."), SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 700027);
    let d = description(&got);
    assert!(d.contains("invalid signature"), "{d}");
    assert!(d.contains(&hex::encode_upper(f.main.sha256())), "{d}");
}

#[tokio::test]
async fn wrong_signature_key() {
    let s = Server::start();
    let f = fixture();
    // Names the registered certificate, signed with another key.
    let jwt = sign_rsa(
        &json!({"alg": "RS256", "x5t": f.main.x5t()}),
        &claims(&s),
        &f.other.key_pkcs1,
        Algorithm::RS256,
    );
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 700027);
    let d = description(&got);
    assert!(d.contains(&format!("'{}'", f.main.thumbprint_hex())), "{d}");
    assert!(d.contains("Found key 'Start="), "{d}");
}

#[tokio::test]
async fn expired() {
    let s = Server::start();
    let f = fixture();
    let n = now();
    let jwt = ps256_with(&s, &f.main, |c| {
        c["nbf"] = json!(n - 3600);
        c["iat"] = json!(n - 3600);
        c["exp"] = json!(n - 1200);
    });
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 700024);
    let d = description(&got);
    assert!(
        d.contains("Current time: ") && d.contains("expiry time of assertion"),
        "{d}"
    );
}

#[tokio::test]
async fn not_yet_valid() {
    let s = Server::start();
    let f = fixture();
    let n = now();
    let jwt = ps256_with(&s, &f.main, |c| {
        c["nbf"] = json!(n + 1200);
        c["exp"] = json!(n + 1800);
    });
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 700024);
    assert!(description(&got).contains("assertion valid from"));
}

#[tokio::test]
async fn wrong_audience() {
    let s = Server::start();
    let f = fixture();
    // The real Entra endpoint is not this service.
    let jwt = ps256_with(&s, &f.main, |c| {
        c["aud"] = json!(format!(
            "https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
        ));
    });
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 700023);
    assert!(description(&got).contains("audience claim does not match"));
}

#[tokio::test]
async fn two_audiences() {
    let s = Server::start();
    let f = fixture();
    let jwt = ps256_with(&s, &f.main, |c| {
        let aud = c["aud"].clone();
        c["aud"] = json!([aud, format!("{}/{TENANT}/v2.0", s.base())]);
    });
    let got = s.assertion_grant(&jwt, SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 5002741);
    assert!(description(&got).contains("2 audience values provided"));
}

#[tokio::test]
async fn subject_is_not_the_issuer() {
    let s = Server::start();
    let f = fixture();
    let jwt = ps256_with(&s, &f.main, |c| {
        c["sub"] = json!("00000000-0000-0000-0000-000000000000");
    });
    assert_refusal(
        &s.assertion_grant(&jwt, SCOPE).await,
        401,
        "invalid_client",
        50048,
    );
}

#[tokio::test]
async fn alg_none() {
    let s = Server::start();
    let f = fixture();
    let input = signing_input(&json!({"alg": "none", "x5t": f.main.x5t()}), &claims(&s));
    let got = s.assertion_grant(&format!("{input}."), SCOPE).await;
    assert_refusal(&got, 400, "invalid_request", 50027);
    assert!(description(&got).contains("'none'"));
}

#[tokio::test]
async fn alg_hs256() {
    let s = Server::start();
    let f = fixture();
    // The classic confusion attack: HMAC keyed with the public certificate.
    let input = signing_input(&json!({"alg": "HS256", "x5t": f.main.x5t()}), &claims(&s));
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(&f.main.cert_der),
        Algorithm::HS256,
    )
    .unwrap();
    let got = s.assertion_grant(&format!("{input}.{sig}"), SCOPE).await;
    assert_refusal(&got, 400, "invalid_request", 50027);
    assert!(description(&got).contains("'HS256'"));
}

#[tokio::test]
async fn weak_1024_bit_key() {
    let s = Server::start();
    let f = fixture();
    let mut c = claims(&s);
    c["iss"] = json!(WEAK_APP);
    c["sub"] = json!(WEAK_APP);
    // aws-lc refuses to sign with RSA 1024, so the openssl CLI signs this one.
    let input = signing_input(&json!({"alg": "RS256", "x5t": f.weak.x5t()}), &c);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("input"), &input).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&f.weak.key_pem)
        .arg(dir.path().join("input"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let jwt = format!("{input}.{}", URL_SAFE_NO_PAD.encode(out.stdout));
    let got = s
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", WEAK_APP),
            ("scope", SCOPE),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ])
        .await;
    assert_refusal(&got, 401, "invalid_client", 50032);
    assert!(description(&got).contains("RSA 1024"));
}

#[tokio::test]
async fn unknown_client() {
    let s = Server::start();
    let got = s
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "99999999-9999-4999-8999-999999999999"),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ])
        .await;
    assert_refusal(&got, 400, "unauthorized_client", 700016);
    assert!(description(&got).contains("'99999999-9999-4999-8999-999999999999' was not found"));
}

#[tokio::test]
async fn unknown_tenant() {
    let s = Server::start();
    let (status, body) = post_form(
        &s.client(),
        &s.token_url("12345678-1234-4234-8234-123456789012"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ],
    )
    .await;
    assert_refusal(&(status, body), 400, "invalid_request", 90002);
    // Discovery for an unknown tenant answers invalid_tenant, as Entra's does.
    let resp = s
        .client()
        .get(format!(
            "{}/unknown.example/v2.0/.well-known/openid-configuration",
            s.base()
        ))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_refusal(&(status, body), 400, "invalid_tenant", 90002);
}

#[tokio::test]
async fn bad_secret() {
    let s = Server::start();
    let got = s.secret_grant("not-the-secret", SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 7000215);
    assert!(
        !got.1.to_string().contains("not-the-secret"),
        "the secret is never echoed"
    );
    assert!(!s.log_text().contains("not-the-secret"), "nor logged");
}

#[tokio::test]
async fn expired_secret() {
    let s = Server::start();
    let got = s.secret_grant(EXPIRED_SECRET, SCOPE).await;
    assert_refusal(&got, 401, "invalid_client", 7000222);
    let d = description(&got);
    assert!(
        d.contains(&format!(
            "The provided client secret keys for app '{APP}' are expired."
        )),
        "{d}"
    );
    assert!(!got.1.to_string().contains(EXPIRED_SECRET), "never echoed");
    // In HTTP Basic too; and the app's other, current secret still works (a rotation).
    let resp = s
        .client()
        .post(s.token_url(TENANT))
        .basic_auth(APP, Some(EXPIRED_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_refusal(
        &(status, resp.json().await.unwrap()),
        401,
        "invalid_client",
        7000222,
    );
    let (status, body) = s.secret_grant(SECRET, SCOPE).await;
    assert_eq!(status, 200, "{body}");
    assert!(!s.log_text().contains(EXPIRED_SECRET), "nor logged");
}

#[tokio::test]
async fn missing_credential() {
    let s = Server::start();
    let got = s
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("scope", SCOPE),
        ])
        .await;
    assert_refusal(&got, 400, "invalid_request", 7000218);
}

#[tokio::test]
async fn scope_without_default() {
    let s = Server::start();
    let got = s
        .secret_grant(SECRET, "https://graph.microsoft.com/User.Read.All")
        .await;
    assert_refusal(&got, 400, "invalid_scope", 1002012);
    assert!(description(&got).contains("/.default"));
}

#[tokio::test]
async fn scope_naming_no_resource() {
    let s = Server::start();
    let got = s.secret_grant(SECRET, "/.default").await;
    assert_refusal(&got, 400, "invalid_scope", 70011);
}

#[tokio::test]
async fn unknown_resource() {
    let s = Server::start();
    let got = s
        .secret_grant(SECRET, "api://nobody-registered-this/.default")
        .await;
    assert_refusal(&got, 400, "invalid_resource", 500011);
    assert!(description(&got).contains("api://nobody-registered-this"));
}

#[tokio::test]
async fn missing_and_wrong_grant_type() {
    let s = Server::start();
    let missing = s
        .post_token(&[
            ("client_id", APP),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ])
        .await;
    assert_refusal(&missing, 400, "invalid_request", 900144);
    assert!(description(&missing).contains("'grant_type'"));
    let wrong = s
        .post_token(&[
            ("grant_type", "password"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ])
        .await;
    assert_refusal(&wrong, 400, "unsupported_grant_type", 70003);
}

#[tokio::test]
async fn wrong_assertion_type() {
    let s = Server::start();
    let f = fixture();
    let got = s
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("scope", SCOPE),
            ("client_assertion_type", "jwt"),
            ("client_assertion", &ps256(&s, &f.main)),
        ])
        .await;
    assert_refusal(&got, 400, "invalid_request", 900144);
}

#[tokio::test]
async fn get_on_the_token_endpoint() {
    let s = Server::start();
    let resp = s.client().get(s.token_url(TENANT)).send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_refusal(&(status, body), 400, "invalid_request", 900561);
}

#[tokio::test]
async fn garbage_assertion() {
    let s = Server::start();
    for jwt in ["x", "a.b.c", "a.b.c.d", "..", "eyJhbGciOiJQUzI1NiJ9.e30."] {
        let got = s.assertion_grant(jwt, SCOPE).await;
        assert_eq!(got.0 / 100, 4, "{jwt}: {}", got.1);
        assert!(got.1["error_codes"].is_array(), "{jwt}: {}", got.1);
    }
}
