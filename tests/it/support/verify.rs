//! Test helpers shared by the verify tests (tests/it/library/verify*.rs, tests/it/cli/verify.rs, tests/it/serve/verify_serve.rs): RSA keys made in the test, tokens signed with them,
//! and a stub identity provider (metadata + JWKS on 127.0.0.1:0, counting metadata and key-set fetches per version).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certgen::key::{KeyKind, PrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

pub use super::{now, signing_input};

pub const TENANT: &str = "11111111-1111-1111-1111-111111111111";
pub const OTHER_TENANT: &str = "22222222-2222-2222-2222-222222222222";
pub const API: &str = "33333333-3333-3333-3333-333333333333";
pub const CLIENT: &str = "44444444-4444-4444-4444-444444444444";

/// An RSA-2048 signing key with its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// SubjectPublicKeyInfo PEM: the bytes a confused validator would use as an HMAC secret.
    pub public_pem: String,
}

impl TestKey {
    pub fn new(kid: &str) -> TestKey {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = pair.as_der().expect("PKCS#8").as_ref().to_vec();
        let spki = pair.public_key().as_der().expect("SPKI").as_ref().to_vec();
        let key = PrivateKey::from_pkcs8_der(&pkcs8).expect("parse key");
        let KeyKind::Rsa { n, e, .. } = key.kind() else {
            panic!("not RSA")
        };
        TestKey {
            kid: kid.to_string(),
            encoding: EncodingKey::from_rsa_der(key.rsa_pkcs1_der().expect("pkcs1")),
            jwk: json!({
                "kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
                "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
            }),
            public_pem: pem::encode(&pem::Pem::new("PUBLIC KEY", spki)),
        }
    }

    /// An RS256 token with `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(
            &json!({"typ": "JWT", "alg": "RS256", "kid": self.kid}),
            claims,
        )
    }

    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &self.encoding, Algorithm::RS256)
            .expect("sign");
        format!("{input}.{sig}")
    }
}

/// The claims of a v2 app-only token as Entra writes them.
pub fn v2_claims(issuer: &str, tid: &str, roles: &[&str]) -> Value {
    let t = now();
    json!({
        "aud": API, "iss": issuer, "iat": t - 60, "nbf": t - 60, "exp": t + 3600,
        "azp": CLIENT, "azpacr": "2", "idtyp": "app", "oid": "55555555-5555-5555-5555-555555555555",
        "sub": "55555555-5555-5555-5555-555555555555", "tid": tid, "roles": roles,
        "uti": "abc", "ver": "2.0",
    })
}

/// The claims of a v1 app-only token (`iss` in the sts.windows.net form, `appid`).
pub fn v1_claims(issuer: &str, tid: &str, roles: &[&str]) -> Value {
    let t = now();
    json!({
        "aud": format!("api://{API}"), "iss": issuer, "idp": issuer, "iat": t - 60,
        "nbf": t - 60, "exp": t + 3600, "appid": CLIENT, "appidacr": "2",
        "oid": "55555555-5555-5555-5555-555555555555", "sub": "55555555-5555-5555-5555-555555555555",
        "tid": tid, "roles": roles, "ver": "1.0",
    })
}

/// A stub identity provider: per-tenant v2 and v1 metadata and one key set, on 127.0.0.1:0.
pub struct Idp {
    pub base: String,
    state: Arc<IdpState>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        // Dropping a runtime inside an async test would panic; let it wind down on its own.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

struct IdpState {
    base: String,
    keys: Mutex<Vec<Value>>,
    fetches: AtomicUsize,
    metadata_fetches: Mutex<HashMap<String, usize>>,
    jwks_fetches: Mutex<HashMap<String, usize>>,
    /// While set, both metadata documents answer 503 (the fetch still counts).
    metadata_down: AtomicBool,
}

impl Idp {
    pub fn start(keys: &[&TestKey]) -> Idp {
        Idp::serve(keys, None)
    }

    /// The same over HTTPS with a fresh self-signed localhost certificate, written to
    /// `ca_path` (PEM) for `--ca-file`.
    pub fn start_tls(keys: &[&TestKey], ca_path: &std::path::Path) -> Idp {
        use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
        let made = generate(&NewCertificate {
            subject: Subject::common_name("stub idp").expect("subject"),
            sans: vec!["localhost".into(), "127.0.0.1".into()],
            days: 1,
            key_size: KeySize::Rsa2048,
            profile: Profile::TlsServer,
        })
        .expect("certificate");
        std::fs::write(ca_path, made.cert.to_pem()).expect("write CA");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![made.cert.der().to_vec().into()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(made.key.pkcs8_der().to_vec().into()),
            )
            .expect("TLS config");
        Idp::serve(keys, Some(Arc::new(config)))
    }

    fn serve(keys: &[&TestKey], tls: Option<Arc<rustls::ServerConfig>>) -> Idp {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        // std bind + from_std inside the runtime: block_on would panic inside an async test.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(IdpState {
            base: base.clone(),
            keys: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
            fetches: AtomicUsize::new(0),
            metadata_fetches: Mutex::new(HashMap::new()),
            jwks_fetches: Mutex::new(HashMap::new()),
            metadata_down: AtomicBool::new(false),
        });
        let app = Router::new()
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(v2_metadata),
            )
            .route(
                "/{tenant}/.well-known/openid-configuration",
                get(v1_metadata),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(v2_jwks))
            .route("/{tenant}/discovery/keys", get(v1_jwks))
            .with_state(state.clone());
        runtime.spawn(async move {
            match tls {
                Some(config) => {
                    let config = axum_server::tls_rustls::RustlsConfig::from_config(config);
                    if let Ok(server) = axum_server::from_tcp_rustls(listener, config) {
                        let _ = server.serve(app.into_make_service()).await;
                    }
                }
                None => {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        let _ = axum::serve(listener, app).await;
                    }
                }
            }
        });
        Idp {
            base,
            state,
            runtime: Some(runtime),
        }
    }

    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base)
    }

    pub fn v2_issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.base)
    }

    pub fn jwks_uri(&self, tenant: &str) -> String {
        format!("{}/{tenant}/discovery/v2.0/keys", self.base)
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        *self.state.keys.lock().expect("lock") = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    /// Key-set documents served so far (all tenants, both versions).
    pub fn jwks_fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Metadata documents served so far for `which` ("v1" or "v2"), all tenants.
    pub fn metadata_fetches(&self, which: &str) -> usize {
        count(&self.state.metadata_fetches, which)
    }

    /// Key-set documents served so far from `which` ("v1" or "v2") key URL, all tenants.
    pub fn jwks_fetches_of(&self, which: &str) -> usize {
        count(&self.state.jwks_fetches, which)
    }

    /// Every request the stub answered, by version: `[v1 metadata, v1 keys, v2 metadata, v2 keys]`.
    pub fn fetches_by_version(&self) -> [usize; 4] {
        [
            self.metadata_fetches("v1"),
            self.jwks_fetches_of("v1"),
            self.metadata_fetches("v2"),
            self.jwks_fetches_of("v2"),
        ]
    }

    /// Makes both metadata documents answer 503 (`true`) or work again (`false`).
    pub fn set_metadata_down(&self, down: bool) {
        self.state.metadata_down.store(down, Ordering::SeqCst);
    }
}

fn count(map: &Mutex<HashMap<String, usize>>, which: &str) -> usize {
    *map.lock().expect("lock").get(which).unwrap_or(&0)
}

fn bump(map: &Mutex<HashMap<String, usize>>, which: &str) {
    *map.lock().expect("lock").entry(which.into()).or_default() += 1;
}

/// Entra's v1 issuer form.
pub fn v1_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

async fn v2_metadata(
    State(s): State<Arc<IdpState>>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, StatusCode> {
    bump(&s.metadata_fetches, "v2");
    if s.metadata_down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(json!({
        "issuer": format!("{}/{tenant}/v2.0", s.base),
        "jwks_uri": format!("{}/{tenant}/discovery/v2.0/keys", s.base),
        "token_endpoint": format!("{}/{tenant}/oauth2/v2.0/token", s.base),
        "id_token_signing_alg_values_supported": ["RS256"],
    })))
}

async fn v1_metadata(
    State(s): State<Arc<IdpState>>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, StatusCode> {
    bump(&s.metadata_fetches, "v1");
    if s.metadata_down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(json!({
        "issuer": v1_issuer(&tenant),
        "jwks_uri": format!("{}/{tenant}/discovery/keys", s.base),
        "token_endpoint": format!("{}/{tenant}/oauth2/token", s.base),
    })))
}

async fn v2_jwks(State(s): State<Arc<IdpState>>) -> Json<Value> {
    jwks(&s, "v2")
}

async fn v1_jwks(State(s): State<Arc<IdpState>>) -> Json<Value> {
    jwks(&s, "v1")
}

/// Both versions serve the same keys, as Entra does.
fn jwks(s: &IdpState, which: &str) -> Json<Value> {
    s.fetches.fetch_add(1, Ordering::SeqCst);
    bump(&s.jwks_fetches, which);
    Json(json!({ "keys": *s.keys.lock().expect("lock") }))
}
