//! `certgen verify` and the example API against tokens issued by a real `certgen serve` (TLS,
//! port 0, its own CA): the offline loop serve → token → protected API.
//!
//! Tokens are requested with reqwest (a client secret, and a client assertion signed in the
//! test), as any client would; the validator finds issuer and keys through the served metadata.

use crate::protected_api;

use crate::support::serve::*;
use crate::support::{certgen, Run};
use certgen::verify::{Validator, ValidatorOptions, VerifyError};
use serde_json::{json, Value};

async fn token(server: &Server, scope: &str) -> String {
    let (status, body) = server.secret_grant(SECRET, scope).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

async fn assertion_token(server: &Server, scope: &str) -> String {
    let jwt = rs256(server, &fixture().main);
    let (status, body) = server.assertion_grant(&jwt, scope).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// `certgen verify TOKEN --authority A --ca-file F ARGS…`
fn verify(server: &Server, token: &str, args: &[&str]) -> Run {
    let out = certgen()
        .args(["verify", token, "--authority", &server.field("authority")])
        .args(["--ca-file", &server.field("ca_file")])
        .args(args)
        .output()
        .expect("run");
    Run::from(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_token_from_serve_validates_through_its_metadata() {
    let server = Server::start();
    for token in [
        token(&server, "api://orders/.default").await,
        assertion_token(&server, "api://orders/.default").await,
    ] {
        let run = verify(
            &server,
            &token,
            &[
                "--audience",
                ORDERS_API,
                "--require-role",
                "Orders.Read",
                "--json",
            ],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let doc: Value = serde_json::from_str(&run.stdout).expect("JSON");
        assert_eq!(doc["claims"]["ver"], json!("2.0"));
        assert_eq!(doc["claims"]["azp"], json!(APP));
        assert_eq!(
            doc["claims"]["iss"],
            json!(format!("{}/{TENANT}/v2.0", server.base()))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_token_from_serve_uses_the_v1_document() {
    let server = Server::start();
    let token = token(&server, "api://legacy/.default").await;
    let run = verify(
        &server,
        &token,
        &[
            "--audience",
            "api://legacy",
            "--audience",
            LEGACY_API,
            "--require-role",
            "Legacy.Use",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("issuer {}/{TENANT}/\n", server.base())),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("client     {APP}")),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_audience_missing_role_and_foreign_resource() {
    let server = Server::start();
    let orders = token(&server, "api://orders/.default").await;
    let run = verify(&server, &orders, &["--audience", LEGACY_API]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with(&format!(
            "error: token rejected: audience \"{ORDERS_API}\" is not accepted"
        )),
        "{}",
        run.stderr
    );
    let run = verify(
        &server,
        &orders,
        &["--audience", ORDERS_API, "--require-role", "Orders.Write"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: token rejected: missing required role \"Orders.Write\" (token has roles \"Orders.Read\")\n"
    );
    // A Graph token presented to the orders API (the confused deputy).
    let graph = token(&server, "https://graph.microsoft.com/.default").await;
    let run = verify(&server, &graph, &["--audience", ORDERS_API]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("audience \"https://graph.microsoft.com\""),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_validator_with_the_served_ca() {
    let server = Server::start();
    let options = ValidatorOptions::new([ORDERS_API]).ca_file(server.field("ca_file"));
    let validator = Validator::from_authority(&server.field("authority"), options.clone())
        .await
        .expect("validator");
    let good = token(&server, "api://orders/.default").await;
    let valid = validator.validate(&good).await.expect("valid");
    assert_eq!(valid.client_id(), Some(APP));
    assert_eq!(valid.roles(), vec!["Orders.Read"]);
    // Tampered: the roles claim rewritten, the signature kept.
    let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let mut claims = valid.claims.clone();
    claims.insert("roles".into(), json!(["Orders.Read", "Orders.Write"]));
    parts[1] = base64_url(&Value::Object(claims).to_string());
    assert!(matches!(
        validator.validate(&parts.join(".")).await,
        Err(VerifyError::BadSignature { .. })
    ));
    // Without the CA the service cannot be trusted.
    let mut untrusted = options;
    untrusted.ca_file = None;
    let e = Validator::from_authority(&server.field("authority"), untrusted)
        .await
        .err()
        .expect("refused");
    assert!(matches!(e, VerifyError::Unreachable { .. }), "{e}");
}

/// The example API (in-process, real HTTP on 127.0.0.1:0) trusting `server`, requiring `role`.
async fn start_api(server: &Server, role: &str) -> String {
    let options = ValidatorOptions::new([ORDERS_API])
        .require_role(role)
        .ca_file(server.field("ca_file"));
    let validator = Validator::from_authority(&server.field("authority"), options)
        .await
        .expect("validator");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, protected_api::app(validator)).await;
    });
    url
}

/// GET `url` with an optional bearer token: (status, WWW-Authenticate, JSON body).
async fn call(url: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, challenge, resp.json().await.unwrap_or(Value::Null))
}

/// The README's offline loop: serve → token → the example protected API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_loop_serve_token_protected_api() {
    let server = Server::start();
    let api = start_api(&server, "Orders.Read").await;
    let orders = assertion_token(&server, "api://orders/.default").await;
    let (status, _, body) = call(&api, Some(&orders)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], json!(format!("Hello, {APP}!")));

    assert_eq!(call(&api, None).await.0, 401);
    assert_eq!(call(&api, None).await.1, "Bearer");

    // A token for another API is refused with the reason.
    let legacy = token(&server, "api://legacy/.default").await;
    let (status, challenge, _) = call(&api, Some(&legacy)).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\"audience"),
        "{challenge}"
    );

    // The app was granted Orders.Read only.
    let writers = start_api(&server, "Orders.Write").await;
    let (status, challenge, _) = call(&writers, Some(&orders)).await;
    assert_eq!(status, 403);
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\""),
        "{challenge}"
    );
}

fn base64_url(text: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    URL_SAFE_NO_PAD.encode(text)
}
