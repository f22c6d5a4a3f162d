//! A scripted stub token endpoint on 127.0.0.1:0, shared by `library/token_client.rs` (the library
//! client) and `cli/token.rs` (the binary): it answers each request from a script (then with
//! a fresh token), and records the request target and form of each, so tests can count
//! requests and read what was sent. It runs on its own runtime, so tests stay synchronous.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Form, Router};
use serde_json::json;

/// Variables that would change what `certgen token` does; tests remove them all.
pub const CLEAN_ENV: [&str; 20] = [
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_AUTHORITY_HOST",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "XDG_CACHE_HOME",
    "CERTGEN_CACHE_DIR",
];

/// The path the stub is addressed with in tests.
pub const TOKEN_PATH: &str = "/tenant/oauth2/v2.0/token";

/// One scripted answer.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

pub fn reply(status: u16, body: impl Into<String>) -> Reply {
    Reply {
        status,
        headers: vec![("content-type", "application/json; charset=utf-8".into())],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

/// A 429/5xx with `Retry-After`.
pub fn busy(status: u16, retry_after: &str) -> Reply {
    let mut r = reply(status, r#"{"error":"temporarily_unavailable"}"#);
    r.headers.push(("retry-after", retry_after.into()));
    r
}

/// A JWT-shaped access token numbered `n` (unsigned: only its claims are ever read).
pub fn fake_jwt(n: u32) -> String {
    let input = super::signing_input(
        &json!({"alg": "RS256", "typ": "JWT"}),
        &json!({"aud": "00000003-0000-0000-c000-000000000000", "roles": ["Application.Read.All"], "n": n}),
    );
    format!("{input}.c2lnbmF0dXJl")
}

/// A v2 success answer carrying `fake_jwt(n)`.
pub fn ok(n: u32) -> Reply {
    reply(
        200,
        json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": fake_jwt(n)})
            .to_string(),
    )
}

/// What the stub received: request target and form fields.
pub type Request = (String, Vec<(String, String)>);

#[derive(Default)]
struct Seen {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Request>>,
}

pub struct Stub {
    addr: SocketAddr,
    scheme: &'static str,
    seen: Arc<Seen>,
    _runtime: tokio::runtime::Runtime,
}

impl Stub {
    /// Plain HTTP.
    pub fn start(replies: Vec<Reply>) -> Stub {
        Stub::launch(replies, None)
    }

    /// HTTPS with this certificate and PKCS#8 key (PEM).
    pub fn start_tls(replies: Vec<Reply>, cert_pem: &str, key_pem: &str) -> Stub {
        Stub::launch(replies, Some((cert_pem.to_string(), key_pem.to_string())))
    }

    fn launch(replies: Vec<Reply>, tls: Option<(String, String)>) -> Stub {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let seen = Arc::new(Seen {
            replies: Mutex::new(replies.into()),
            ..Default::default()
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(answer).with_state(seen.clone());
        let scheme = match tls {
            None => {
                runtime.spawn(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(listener, app).await
                });
                "http"
            }
            Some((cert, key)) => {
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                let config = runtime
                    .block_on(axum_server::tls_rustls::RustlsConfig::from_pem(
                        cert.into_bytes(),
                        key.into_bytes(),
                    ))
                    .unwrap();
                let server = runtime
                    .block_on(async { axum_server::from_tcp_rustls(listener, config) })
                    .unwrap();
                runtime.spawn(server.serve(app.into_make_service()));
                "https"
            }
        };
        Stub {
            addr,
            scheme,
            seen,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:PORT` (or https).
    pub fn host(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The token URL the tests post to.
    pub fn url(&self) -> String {
        format!("{}{TOKEN_PATH}", self.host())
    }

    /// Queues one more answer (one that must name the stub's own address, say).
    pub fn push(&self, reply: Reply) {
        self.seen.replies.lock().unwrap().push_back(reply);
    }

    pub fn count(&self) -> usize {
        self.seen.requests.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.requests.lock().unwrap().clone()
    }
}

async fn answer(
    State(seen): State<Arc<Seen>>,
    uri: Uri,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let n = {
        let mut requests = seen.requests.lock().unwrap();
        requests.push((uri.to_string(), form));
        requests.len() as u32
    };
    let next = seen.replies.lock().unwrap().pop_front();
    let r = next.unwrap_or_else(|| ok(n));
    tokio::time::sleep(r.delay).await;
    let mut response = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
    for (name, value) in r.headers {
        response.headers_mut().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

/// A form field's value.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
