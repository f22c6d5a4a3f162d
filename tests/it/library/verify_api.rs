//! The example protected API (`examples/protected_api.rs`) over real HTTP on 127.0.0.1:0.
//!
//! The example's own source is compiled into the test binary (`#[path]` in main.rs), so the
//! router tested here is exactly the one `cargo run --example protected_api` serves, without
//! building and spawning the example binary; `verify_example.rs` runs the binary itself (flags, ready line, SIGTERM).

use crate::protected_api;

use crate::support::verify::*;
use certgen::verify::{Validator, ValidatorOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    async fn start(idp: &Idp, role: &str) -> Api {
        let validator = Validator::from_authority(
            &idp.authority(TENANT),
            ValidatorOptions::new([API]).require_role(role),
        )
        .await
        .expect("validator");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, protected_api::app(validator)).await;
        });
        Api {
            url,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str, auth: Option<&str>) -> (StatusCode, Option<String>, Value) {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, challenge, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_token_gets_200_with_the_callers_claims() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let api = Api::start(&idp, "Data.Read").await;
    let token = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]));
    let (status, challenge, body) = api.get("/", Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(challenge, None);
    assert_eq!(body["message"], json!(format!("Hello, {CLIENT}!")));
    assert_eq!(body["claims"]["aud"], json!(API));
    assert_eq!(body["roles"], json!(["Data.Read"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_gets_401_with_a_plain_bearer_challenge() {
    let idp = Idp::start(&[&TestKey::new("k1")]);
    let api = Api::start(&idp, "Data.Read").await;
    let (status, challenge, _) = api.get("/", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    let (status, challenge, _) = api.get("/", Some("Basic dXNlcjpwYXNz")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    let (status, _, body) = api.get("/health", None).await;
    assert_eq!((status, body), (StatusCode::OK, json!("ok")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_invalid_token_with_the_reason() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let api = Api::start(&idp, "Data.Read").await;
    let mut expired = v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]);
    expired["exp"] = json!(now() - 3600);
    let stranger = TestKey::new("k1");
    let cases = [
        (key.sign(&expired), "expired at "),
        (
            stranger.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"])),
            "signature does not verify with key 'k1'",
        ),
        ("garbage".to_string(), "not a JWT"),
    ];
    for (token, reason) in cases {
        let (status, challenge, body) = api.get("/", Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let challenge = challenge.expect("WWW-Authenticate");
        assert!(
            challenge.starts_with(&format!(
                "Bearer error=\"invalid_token\", error_description=\"{reason}"
            )),
            "{challenge}"
        );
        assert_eq!(body["error"], json!("invalid_token"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_role_gets_403_insufficient_scope() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let api = Api::start(&idp, "Data.Write").await;
    let token = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]));
    let (status, challenge, body) = api.get("/", Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer error=\"insufficient_scope\", error_description=\"missing required role 'Data.Write' (token has roles 'Data.Read')\"")
    );
    assert_eq!(body["error"], json!("insufficient_scope"));
}
