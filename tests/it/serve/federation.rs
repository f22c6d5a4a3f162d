//! Workload identity federation in `certgen serve`: an app's federated identity credentials
//! (from the config and through Graph), the outside issuers it trusts (a config `[[issuer]]`
//! with a JWKS file, an issuer on this machine found by OIDC discovery), and the exchange with
//! each of Entra's refusals, each made by a test that makes the client's mistake.
//!
//! Outside tokens are signed here with jsonwebtoken and keys made by the openssl CLI, never
//! with certgen's code; the loopback issuer is a small axum server in the test.

use std::path::PathBuf;
use std::process::Command;

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::graph::{claims_of, ADMIN};
use crate::support::openssl;
use crate::support::serve::*;

/// Has one federated credential (GitHub, main branch) and nothing else.
const FED_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000f1";
/// A secret only: no federated credential.
const PLAIN_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000f2";
const GH: &str = "https://token.actions.githubusercontent.com";
/// Trusted too ([[issuer]]) but named by no credential.
const GITLAB: &str = "https://gitlab.example.com";
const SUBJECT: &str = "repo:contoso/app:ref:refs/heads/main";
const AUD: &str = "api://AzureADTokenExchange";
const KID: &str = "gh-key-1";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// The JWK of a fixture key (its modulus read by the openssl CLI; exponent 65537).
fn jwk(cred: &Cred, kid: &str) -> Value {
    let out = openssl(&[
        "x509",
        "-in",
        cred.cert_pem.to_str().unwrap(),
        "-noout",
        "-modulus",
    ]);
    let hex_n = out
        .trim()
        .strip_prefix("Modulus=")
        .expect("openssl -modulus");
    let n = hex::decode(hex_n).unwrap();
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
           "n": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, n),
           "e": "AQAB"})
}

fn jwks() -> Value {
    json!({"keys": [jwk(&fixture().main, KID)]})
}

/// A config with FED_APP (its GitHub credential plus `more_federated`), PLAIN_APP, a Graph
/// admin, and GitHub's and GitLab's names trusted with the JWKS of the fixture's `main` key.
fn config(more_federated: &str) -> PathBuf {
    let dir = fixture()
        .dir
        .join(format!("fed-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("gh.jwks.json"), jwks().to_string()).unwrap();
    let text = format!(
        r#"
[[tenant]]
id = "{TENANT}"

[[app]]
client_id = "{FED_APP}"
display_name = "deployer"
[[app.federated]]
name = "main-branch"
issuer = "{GH}"
subject = "{SUBJECT}"
audiences = ["{AUD}"]
{more_federated}

[[app]]
client_id = "{PLAIN_APP}"
display_name = "plain"
secret_env = ["{SECRET_VAR}"]

[[app]]
client_id = "{ADMIN}"
display_name = "admin"
secret_env = ["{SECRET_VAR}"]
[app.roles]
"https://graph.microsoft.com" = ["Application.ReadWrite.All"]

[[issuer]]
url = "{GH}"
jwks_file = "gh.jwks.json"

[[issuer]]
url = "{GITLAB}"
jwks_file = "gh.jwks.json"
"#
    );
    let path = dir.join("fed.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(more_federated: &str) -> Server {
    let config = config(more_federated);
    Server::start_keys_of(&fixture().state, &["--config", config.to_str().unwrap()])
}

/// An outside token as GitHub Actions makes one (5 minutes), signed with `cred` under `kid`.
fn outside_token(iss: &str, sub: &str, aud: &str, kid: &str, cred: &Cred, exp_in: i64) -> String {
    let now = now();
    let claims = json!({
        "iss": iss, "sub": sub, "aud": aud,
        "jti": uuid::Uuid::new_v4().to_string(),
        "repository": "contoso/app", "ref": "refs/heads/main",
        "iat": now, "nbf": now - 5, "exp": now + exp_in,
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    sign_rsa(&header, &claims, &cred.key_pkcs1, Algorithm::RS256)
}

fn gh_token(sub: &str) -> String {
    outside_token(GH, sub, AUD, KID, &fixture().main, 300)
}

async fn exchange(s: &Server, client_id: &str, jwt: &str) -> (u16, Value) {
    s.post_token(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("scope", GRAPH_SCOPE),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt),
    ])
    .await
}

fn description(got: &(u16, Value)) -> &str {
    got.1["error_description"].as_str().unwrap_or_default()
}

/// The token serve issued, verified with its published keys: it is FED_APP's, and shows a
/// client assertion as its credential (`2`, as Entra shows certificates and assertions).
async fn assert_issued_to(s: &Server, got: &(u16, Value), client_id: &str) {
    assert_eq!(got.0, 200, "{}", got.1);
    let token = got.1["access_token"].as_str().unwrap();
    let keys = s.get_json(&s.field("jwks_uri")).await;
    let claims = verify_with_keys(token, &keys, Some("https://graph.microsoft.com"), None);
    assert_eq!(claims["appid"], client_id, "{claims}");
    assert_eq!(claims["appidacr"], "2", "{claims}");
}

#[tokio::test]
async fn a_github_token_is_exchanged_through_a_config_issuer() {
    let s = start("");
    let got = exchange(&s, FED_APP, &gh_token(SUBJECT)).await;
    assert_issued_to(&s, &got, FED_APP).await;
}

#[tokio::test]
async fn a_wrong_subject_is_700213() {
    let s = start("");
    let sub = "repo:contoso/app:ref:refs/heads/feature";
    let got = exchange(&s, FED_APP, &gh_token(sub)).await;
    assert_refusal(&got, 401, "invalid_client", 700213);
    assert!(description(&got).contains(&format!("assertion subject '{sub}'")));
}

#[tokio::test]
async fn a_subject_differing_only_in_case_is_7002138() {
    let s = start("");
    let got = exchange(
        &s,
        FED_APP,
        &gh_token("repo:Contoso/App:ref:refs/heads/main"),
    )
    .await;
    assert_refusal(&got, 401, "invalid_client", 7002138);
    assert!(description(&got).contains("case-insensitive comparison"));
}

#[tokio::test]
async fn a_wrong_issuer_is_700211() {
    let s = start("");
    // GitLab is trusted and signs validly, but no credential names it.
    let jwt = outside_token(GITLAB, SUBJECT, AUD, KID, &fixture().main, 300);
    let got = exchange(&s, FED_APP, &jwt).await;
    assert_refusal(&got, 401, "invalid_client", 700211);
    assert!(description(&got).contains(&format!("assertion issuer '{GITLAB}'")));
    // The trailing `/` AKS users miss is a different issuer, as in Entra.
    let jwt = outside_token(&format!("{GH}/"), SUBJECT, AUD, KID, &fixture().main, 300);
    assert_refusal(
        &exchange(&s, FED_APP, &jwt).await,
        401,
        "invalid_client",
        700211,
    );
}

#[tokio::test]
async fn a_wrong_audience_is_700212() {
    let s = start("");
    let jwt = outside_token(
        GH,
        SUBJECT,
        "https://github.com/contoso",
        KID,
        &fixture().main,
        300,
    );
    let got = exchange(&s, FED_APP, &jwt).await;
    assert_refusal(&got, 401, "invalid_client", 700212);
    assert!(description(&got).contains("audience 'https://github.com/contoso'"));
}

#[tokio::test]
async fn several_differences_are_the_generic_70021() {
    let s = start("");
    let jwt = outside_token(GITLAB, "project_path:x", AUD, KID, &fixture().main, 300);
    let got = exchange(&s, FED_APP, &jwt).await;
    assert_refusal(&got, 401, "invalid_client", 70021);
    assert!(description(&got).contains("Assertion Subject: 'project_path:x'"));
}

#[tokio::test]
async fn an_expired_token_is_700024() {
    let s = start("");
    // Expired ten minutes ago: past the five minutes of clock skew allowed.
    let jwt = outside_token(GH, SUBJECT, AUD, KID, &fixture().main, -600);
    let got = exchange(&s, FED_APP, &jwt).await;
    assert_refusal(&got, 401, "invalid_client", 700024);
    assert!(description(&got).contains("not within its valid time range"));
}

#[tokio::test]
async fn a_key_not_in_the_issuers_set_is_7000272() {
    let s = start("");
    let jwt = outside_token(GH, SUBJECT, AUD, "rotated-away", &fixture().other, 300);
    let got = exchange(&s, FED_APP, &jwt).await;
    assert_refusal(&got, 401, "invalid_client", 7000272);
    assert!(description(&got).contains(&format!(
        "identifier rotated-away used to sign the federated credential could not be found in \
         the metadata of identity provider {GH}"
    )));
    // The right kid with another key's signature is refused too.
    let forged = outside_token(GH, SUBJECT, AUD, KID, &fixture().other, 300);
    assert_eq!(exchange(&s, FED_APP, &forged).await.0, 400);
}

#[tokio::test]
async fn an_app_without_federated_credentials_is_70025() {
    let s = start("");
    let got = exchange(&s, PLAIN_APP, &gh_token(SUBJECT)).await;
    assert_refusal(&got, 401, "invalid_client", 70025);
    assert!(description(&got).contains(&format!(
        "The client 'plain'({PLAIN_APP}) has no configured federated identity credentials."
    )));
}

#[tokio::test]
async fn a_plain_entra_token_is_700222() {
    let s = start("");
    // A token serve issued itself (an app's, not a managed identity's).
    let (status, body) = s
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", PLAIN_APP),
            ("client_secret", SECRET),
            ("scope", GRAPH_SCOPE),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    let entra = body["access_token"].as_str().unwrap();
    let got = exchange(&s, FED_APP, entra).await;
    assert_refusal(&got, 401, "invalid_client", 700222);
    assert!(description(&got).contains("AAD-issued tokens may not be used"));
}

#[tokio::test]
async fn an_issuer_on_no_reachable_host_is_90061() {
    // A loopback port nobody listens on: its metadata cannot be read.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("http://127.0.0.1:{port}");
    let elsewhere = "https://oidc.example.net/issuer";
    let s = start(&format!(
        "[[app.federated]]\nname = \"closed\"\nissuer = \"{closed}\"\nsubject = \"{SUBJECT}\"\n\
         [[app.federated]]\nname = \"elsewhere\"\nissuer = \"{elsewhere}\"\nsubject = \"{SUBJECT}\"\n"
    ));
    for iss in [closed.as_str(), elsewhere] {
        let jwt = outside_token(iss, SUBJECT, AUD, KID, &fixture().main, 300);
        let got = exchange(&s, FED_APP, &jwt).await;
        assert_refusal(&got, 400, "invalid_request", 90061);
        assert!(description(&got).contains("Request to External OIDC endpoint failed."));
    }
}

/// A loopback issuer whose metadata fails is asked once: the requests that follow get the same
/// 90061 at once, instead of each waiting on an issuer that may never answer.
#[tokio::test]
async fn a_failed_issuer_is_not_asked_again_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}/", listener.local_addr().unwrap());
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let app = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { axum::http::StatusCode::SERVICE_UNAVAILABLE }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let s = start(&format!(
        "[[app.federated]]\nname = \"down\"\nissuer = \"{issuer}\"\nsubject = \"{SUBJECT}\"\n"
    ));
    let jwt = outside_token(&issuer, SUBJECT, AUD, KID, &fixture().main, 300);
    for _ in 0..3 {
        let got = exchange(&s, FED_APP, &jwt).await;
        assert_refusal(&got, 400, "invalid_request", 90061);
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

/// A tiny OIDC issuer on this machine: discovery and JWKS, as the azure-workload-identity
/// docs publish for a self-managed cluster. Serves until the test's runtime ends.
/// `jwks_uri`: where the discovery document sends the keys' reader (default: this server).
async fn loopback_issuer(keys: Value, jwks_uri: Option<&str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}/");
    let discovery = json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri.map_or_else(|| format!("{base}/openid/v1/jwks"), str::to_string),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(discovery) }),
        )
        .route(
            "/openid/v1/jwks",
            axum::routing::get(move || async move { axum::Json(keys) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

#[tokio::test]
async fn a_loopback_issuer_is_found_by_discovery() {
    let issuer = loopback_issuer(jwks(), None).await;
    let sub = "system:serviceaccount:default:workload";
    let s = start(&format!(
        "[[app.federated]]\nname = \"cluster\"\nissuer = \"{issuer}\"\nsubject = \"{sub}\"\n"
    ));
    let jwt = outside_token(&issuer, sub, AUD, KID, &fixture().main, 3600);
    let got = exchange(&s, FED_APP, &jwt).await;
    assert_issued_to(&s, &got, FED_APP).await;
    // Cached: the same again, and a kid the issuer does not publish is 7000272.
    assert_issued_to(&s, &exchange(&s, FED_APP, &jwt).await, FED_APP).await;
    let unknown = outside_token(&issuer, sub, AUD, "nope", &fixture().main, 3600);
    assert_refusal(
        &exchange(&s, FED_APP, &unknown).await,
        401,
        "invalid_client",
        7000272,
    );
}

/// A loopback issuer whose discovery document sends the key reader to another host is not
/// followed there: 90061, and nothing leaves the machine.
#[tokio::test]
async fn a_jwks_uri_off_this_machine_is_not_fetched() {
    let issuer = loopback_issuer(jwks(), Some("https://keys.example.net/jwks")).await;
    let s = start(&format!(
        "[[app.federated]]\nname = \"cluster\"\nissuer = \"{issuer}\"\nsubject = \"{SUBJECT}\"\n"
    ));
    let jwt = outside_token(&issuer, SUBJECT, AUD, KID, &fixture().main, 300);
    let got = exchange(&s, FED_APP, &jwt).await;
    assert_refusal(&got, 400, "invalid_request", 90061);
    assert!(
        description(&got).contains("is not on this machine"),
        "{}",
        description(&got)
    );
}

/// MSAL for Python and Azure Identity's ClientAssertionCredential, handed the outside token as
/// the client assertion (what azure/login and WorkloadIdentityCredential do), get tokens
/// through the credential.
#[tokio::test]
async fn python_clients_exchange_a_federated_token() {
    let Some(python) = python() else { return };
    let s = start("");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/msal_federated.py"
    );
    let out = Command::new(python)
        .arg(script)
        .env("AUTHORITY", format!("{}/{TENANT}", s.base()))
        .env("CA_FILE", s.field("ca_file"))
        .env("CLIENT_ID", FED_APP)
        .env("SCOPE", GRAPH_SCOPE)
        .env("FEDERATED_TOKEN", gh_token(SUBJECT))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a client got no token: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    for client in ["msal", "azure_identity"] {
        let got = (200, json!({"access_token": result[client]["access_token"]}));
        assert_issued_to(&s, &got, FED_APP).await;
    }
}

// Graph: /applications/{id}/federatedIdentityCredentials.

async fn admin_token(s: &Server) -> String {
    crate::support::graph::graph().token(s, ADMIN).await
}

async fn graph(
    s: &Server,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    prefer: bool,
) -> (u16, Value) {
    let headers: &[(&str, &str)] = if prefer {
        &[("Prefer", "create-if-missing")]
    } else {
        &[]
    };
    crate::support::graph::graph()
        .send_with(s, method, &format!("/v1.0{path}"), token, body, headers)
        .await
}

/// FED_APP's application object id, read through Graph.
async fn app_object_id(s: &Server, token: &str) -> String {
    let (status, body) = graph(
        s,
        Method::GET,
        &format!("/applications(appId='{FED_APP}')"),
        token,
        None,
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn fic(name: &str, sub: &str) -> Value {
    json!({"name": name, "issuer": GH, "subject": sub, "audiences": [AUD], "description": "ci"})
}

#[tokio::test]
async fn graph_creates_lists_reads_updates_and_deletes_federated_credentials() {
    let s = start("");
    let token = admin_token(&s).await;
    let app = app_object_id(&s, &token).await;
    let coll = format!("/applications/{app}/federatedIdentityCredentials");

    let (status, made) = graph(
        &s,
        Method::POST,
        &coll,
        &token,
        Some(fic("release", "repo:contoso/app:environment:prod")),
        false,
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let keys: Vec<&str> = made
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(&keys[..2], ["@odata.context", "@odata.id"], "{made}");
    assert_eq!(
        made["@odata.context"],
        format!(
            "{}/v1.0/$metadata#applications('{app}')/federatedIdentityCredentials/$entity",
            s.base()
        )
    );
    assert!(made["@odata.id"].as_str().unwrap().ends_with(&format!(
        "/directoryObjects/$/Microsoft.DirectoryServices.Application('{app}')/federatedIdentityCredentials/{id}"
    )));
    assert_eq!(made["audiences"], json!([AUD]));
    assert_eq!(made["description"], "ci");

    // Listed (the config's and the new one), by appId too, and filtered.
    let (status, list) = graph(
        &s,
        Method::GET,
        &format!("/applications(appId='{FED_APP}')/federatedIdentityCredentials"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main-branch", "release"]);
    let (_, filtered) = graph(
        &s,
        Method::GET,
        &format!("{coll}?$filter=subject%20eq%20'{SUBJECT}'"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!(
        filtered["value"].as_array().map(Vec::len),
        Some(1),
        "{filtered}"
    );
    assert_eq!(filtered["value"][0]["name"], "main-branch");

    // By id and by name.
    let (status, one) = graph(
        &s,
        Method::GET,
        &format!("{coll}/{id}"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!((status, one["name"].clone()), (200, json!("release")));
    let (status, one) = graph(
        &s,
        Method::GET,
        &format!("{coll}(name='release')"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!((status, one["id"].clone()), (200, json!(id)));

    // PATCH by id: 204; the name cannot change.
    let (status, _) = graph(
        &s,
        Method::PATCH,
        &format!("{coll}/{id}"),
        &token,
        Some(json!({"subject": "repo:contoso/app:environment:staging"})),
        false,
    )
    .await;
    assert_eq!(status, 204);
    let (_, one) = graph(
        &s,
        Method::GET,
        &format!("{coll}/{id}"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!(one["subject"], "repo:contoso/app:environment:staging");
    let (status, err) = graph(
        &s,
        Method::PATCH,
        &format!("{coll}/{id}"),
        &token,
        Some(json!({"name": "renamed"})),
        false,
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("'name' is read-only"));

    // PATCH by name: without Prefer a missing name is 404; with it, created (201) then updated (204).
    let upsert = format!("{coll}(name='nightly')");
    let body = json!({"issuer": GH, "subject": "repo:contoso/app:ref:refs/heads/nightly", "audiences": [AUD]});
    let (status, _) = graph(
        &s,
        Method::PATCH,
        &upsert,
        &token,
        Some(body.clone()),
        false,
    )
    .await;
    assert_eq!(status, 404);
    let (status, made) = graph(&s, Method::PATCH, &upsert, &token, Some(body), true).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["name"], "nightly");
    let (status, _) = graph(
        &s,
        Method::PATCH,
        &upsert,
        &token,
        Some(json!({"description": "nightly builds"})),
        true,
    )
    .await;
    assert_eq!(status, 204);
    let (_, one) = graph(&s, Method::GET, &upsert, &token, None, false).await;
    assert_eq!(one["description"], "nightly builds");

    // The credential made through Graph is used by the exchange at once.
    let got = exchange(
        &s,
        FED_APP,
        &gh_token("repo:contoso/app:ref:refs/heads/nightly"),
    )
    .await;
    assert_issued_to(&s, &got, FED_APP).await;

    // DELETE by id and by name.
    let (status, _) = graph(
        &s,
        Method::DELETE,
        &format!("{coll}/{id}"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = graph(
        &s,
        Method::GET,
        &format!("{coll}/{id}"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = graph(&s, Method::DELETE, &upsert, &token, None, false).await;
    assert_eq!(status, 204);
    let refused = exchange(
        &s,
        FED_APP,
        &gh_token("repo:contoso/app:ref:refs/heads/nightly"),
    )
    .await;
    assert_refusal(&refused, 401, "invalid_client", 700213);
}

#[tokio::test]
async fn graph_refuses_what_entra_refuses() {
    let s = start("");
    let token = admin_token(&s).await;
    let app = app_object_id(&s, &token).await;
    let coll = format!("/applications/{app}/federatedIdentityCredentials");
    let refused = |body: Value| {
        let (s, coll, token) = (&s, &coll, &token);
        async move {
            let (status, err) = graph(s, Method::POST, coll, token, Some(body), false).await;
            assert_eq!(status, 400, "{err}");
            assert_eq!(err["error"]["code"], "Request_BadRequest", "{err}");
            err["error"]["message"].as_str().unwrap().to_string()
        }
    };
    for bad in [
        "ab",
        "-starts-with-dash",
        "has space",
        "dot.ted",
        &"n".repeat(121),
    ] {
        assert!(refused(fic(bad, "s")).await.contains("is invalid"), "{bad}");
    }
    let mut two = fic("two-audiences", "s");
    two["audiences"] = json!([AUD, "api://other"]);
    assert!(refused(two).await.contains("exactly one audience"));
    assert!(refused(fic("long-subject", &"s".repeat(601)))
        .await
        .contains("too long"));
    assert!(refused(fic("same-pair", SUBJECT))
        .await
        .contains("Issuer and subject combination"));
    assert!(refused(fic("main-branch", "other"))
        .await
        .contains("already exists"));
    let mut unknown = fic("unknown-prop", "u");
    unknown["claimsMatchingExpression"] = json!({"value": "x"});
    assert!(refused(unknown).await.contains("does not exist"));

    // 20 per application: the config's one and 19 more, then the 21st is refused.
    for i in 0..19 {
        let (status, body) = graph(
            &s,
            Method::POST,
            &coll,
            &token,
            Some(fic(&format!("env-{i}"), &format!("s{i}"))),
            false,
        )
        .await;
        assert_eq!(status, 201, "{i}: {body}");
    }
    assert!(refused(fic("the-21st", "s21")).await.contains("at most 20"));

    // Writing needs Application.ReadWrite.All: PLAIN_APP has no Graph role.
    let (_, plain) = s
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", PLAIN_APP),
            ("client_secret", SECRET),
            ("scope", GRAPH_SCOPE),
        ])
        .await;
    let weak = plain["access_token"].as_str().unwrap();
    let (status, err) = graph(&s, Method::POST, &coll, weak, Some(fic("nope", "n")), false).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "Authorization_RequestDenied");
}

#[tokio::test]
async fn deleting_the_application_deletes_its_credentials() {
    let s = start("");
    let token = admin_token(&s).await;
    let app = app_object_id(&s, &token).await;
    let (status, _) = graph(
        &s,
        Method::DELETE,
        &format!("/applications/{app}"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = graph(
        &s,
        Method::GET,
        &format!("/applications/{app}/federatedIdentityCredentials"),
        &token,
        None,
        false,
    )
    .await;
    assert_eq!(status, 404);
    let got = exchange(&s, FED_APP, &gh_token(SUBJECT)).await;
    assert_eq!(got.1["error_codes"], json!([700016]), "{}", got.1);
}

/// Credentials made through Graph are kept by the state folder's directory: a restart with
/// the same config still has them, and the exchange still works.
#[tokio::test]
async fn graph_credentials_are_kept_across_a_restart() {
    let config = config("");
    let state = fresh_state(&fixture().state);
    let args = ["--config", config.to_str().unwrap()];
    let sub = "repo:contoso/app:environment:prod";
    {
        let s = Server::start_in(&state, &args);
        let token = admin_token(&s).await;
        let app = app_object_id(&s, &token).await;
        let (status, body) = graph(
            &s,
            Method::POST,
            &format!("/applications/{app}/federatedIdentityCredentials"),
            &token,
            Some(fic("prod", sub)),
            false,
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let s = Server::start_in(&state, &args);
    let token = admin_token(&s).await;
    let app = app_object_id(&s, &token).await;
    let (_, list) = graph(
        &s,
        Method::GET,
        &format!("/applications/{app}/federatedIdentityCredentials"),
        &token,
        None,
        false,
    )
    .await;
    let names: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main-branch", "prod"]);
    assert_issued_to(&s, &exchange(&s, FED_APP, &gh_token(sub)).await, FED_APP).await;
    // The issued token's claims name the app (decoded by the test's own base64).
    let got = exchange(&s, FED_APP, &gh_token(SUBJECT)).await;
    assert_eq!(
        claims_of(got.1["access_token"].as_str().unwrap())["appid"],
        FED_APP
    );
}

#[test]
fn config_mistakes_are_one_error_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("name = \"ab\"", "federated credential 'ab'"),
        (
            "name = \"ok-name\"\naudiences = [\"a\", \"b\"]",
            "exactly one audience",
        ),
    ];
    for (entry, want) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(
            &path,
            format!(
                "[[app]]\nclient_id = \"{FED_APP}\"\n[[app.federated]]\n{entry}\nissuer = \"{GH}\"\nsubject = \"s\"\n"
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_certgen"))
            .args(["serve", "--http", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path().join("state"))
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{entry}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains(want), "{stderr}");
    }
}

/// A managed identity's token as serve (Entra) would issue it for `api://AzureADTokenExchange`,
/// signed here by jsonwebtoken with the state folder's token-signing key: only a user-assigned
/// identity's is accepted (Entra's one exception to 700222).
fn managed_identity_token(s: &Server, principal: &str, mirid: &str) -> String {
    let state = &fixture().state;
    let cert = state.join("signing-cert.pem");
    let der = openssl_der(&cert);
    let kid = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        <sha1::Sha1 as sha2::Digest>::digest(&der),
    );
    let pem = std::fs::read(state.join("signing-key.pem")).unwrap();
    let now = now();
    let claims = json!({
        "aud": "fb60f99c-7a34-4190-8149-302f77469936",
        "iss": format!("{}/{TENANT}/v2.0", s.base()),
        "sub": principal, "oid": principal, "tid": TENANT, "idtyp": "app",
        "xms_mirid": mirid, "iat": now, "nbf": now, "exp": now + 3600, "ver": "2.0",
    });
    let header = jsonwebtoken::Header {
        kid: Some(kid),
        ..jsonwebtoken::Header::new(Algorithm::RS256)
    };
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap()
}

fn openssl_der(cert: &std::path::Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(cert)
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[tokio::test]
async fn a_user_assigned_managed_identitys_token_is_a_federated_credential() {
    let principal = "5c4b3a29-0000-4000-8000-00000000aa01";
    let s = start(&format!(
        "[[app.federated]]\nname = \"uami\"\n\
         issuer = \"https://login.microsoftonline.com/{TENANT}/v2.0\"\nsubject = \"{principal}\"\n"
    ));
    let uami = "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/builder";
    let got = exchange(&s, FED_APP, &managed_identity_token(&s, principal, uami)).await;
    assert_issued_to(&s, &got, FED_APP).await;
    // A system-assigned identity's token is refused, as Entra refuses it.
    let system =
        "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm1";
    let got = exchange(&s, FED_APP, &managed_identity_token(&s, principal, system)).await;
    assert_refusal(&got, 401, "invalid_client", 700222);
}
