//! Shared by the Graph tests: a `certgen serve` config with users and apps holding (or lacking)
//! Graph roles, an expired certificate made with `openssl ca`, tokens from the service, and
//! the check that an error body has Graph's envelope field by field (https://learn.microsoft.com/en-us/graph/errors).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::openssl;
use super::serve::*;

/// Granted User.Read.All on Graph; certificate `main` and the test secret.
pub const READER: &str = "6f1c5e8a-0000-4000-8000-0000000000a1";
/// No Graph role at all; certificate `main` and the test secret.
pub const BARE: &str = "6f1c5e8a-0000-4000-8000-0000000000a2";
pub const BARE_OBJECT: &str = "0b0b0b0b-0000-4000-8000-0000000000a2";
/// Granted Application.Read.All on Graph; the test secret.
pub const APP_READER: &str = "6f1c5e8a-0000-4000-8000-0000000000a3";
/// Registered with a certificate past its notAfter only.
pub const EXPIRED_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000a4";

/// Granted the Graph roles that write users, groups, members, applications, app role
/// assignments and delegated grants; the test secret.
pub const ADMIN: &str = "6f1c5e8a-0000-4000-8000-0000000000a6";
/// A web app signing users in (the test secret, [`WEB_REDIRECT`]), consented for Graph's
/// User.Read.
pub const WEB: &str = "6f1c5e8a-0000-4000-8000-0000000000a5";
pub const WEB_REDIRECT: &str = "https://app.contoso.example/getAToken";

pub const ADA_ID: &str = "a0a0a0a0-0000-4000-8000-000000000001";
/// The directory's users, in the config's order.
pub const USERS: [&str; 5] = [
    "ada@contoso.example",
    "alan@contoso.example",
    "grace@contoso.example",
    "edsger@contoso.example",
    "barbara@contoso.example",
];

pub struct GraphFixture {
    pub config: PathBuf,
    /// A certificate valid in the first half of 2020 only.
    pub expired: Cred,
}

pub fn graph() -> &'static GraphFixture {
    static G: OnceLock<GraphFixture> = OnceLock::new();
    G.get_or_init(make)
}

/// `openssl ca -selfsign` is the one OpenSSL 3.0 tool that takes explicit past dates.
fn expired_cred(dir: &Path) -> Cred {
    let ca = dir.join("expired-ca");
    std::fs::create_dir_all(&ca).unwrap();
    std::fs::write(ca.join("index.txt"), "").unwrap();
    std::fs::write(ca.join("serial"), "01\n").unwrap();
    let conf = ca.join("ca.cnf");
    std::fs::write(
        &conf,
        format!(
            "[ca]\ndefault_ca = d\n[d]\ndatabase = {0}/index.txt\nnew_certs_dir = {0}\n\
             serial = {0}/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
            ca.display()
        ),
    )
    .unwrap();
    let key_pem = dir.join("expired.key");
    let csr = dir.join("expired.csr");
    let cert_pem = dir.join("expired.crt");
    let der = dir.join("expired.cer");
    let pkcs1 = dir.join("expired.pkcs1.der");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    openssl(&["genrsa", "-out", &s(&key_pem), "2048"]);
    openssl(&[
        "req",
        "-new",
        "-key",
        &s(&key_pem),
        "-subj",
        "/CN=expired",
        "-out",
        &s(&csr),
    ]);
    openssl(&[
        "ca",
        "-batch",
        "-notext",
        "-selfsign",
        "-config",
        &s(&conf),
        "-keyfile",
        &s(&key_pem),
        "-in",
        &s(&csr),
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20200630000000Z",
        "-out",
        &s(&cert_pem),
    ]);
    openssl(&[
        "x509",
        "-in",
        &s(&cert_pem),
        "-outform",
        "DER",
        "-out",
        &s(&der),
    ]);
    openssl(&[
        "rsa",
        "-in",
        &s(&key_pem),
        "-traditional",
        "-outform",
        "DER",
        "-out",
        &s(&pkcs1),
    ]);
    Cred {
        cert_der: std::fs::read(&der).unwrap(),
        key_pkcs1: std::fs::read(&pkcs1).unwrap(),
        cert_pem,
        key_pem,
    }
}

fn make() -> GraphFixture {
    let f = fixture();
    let dir = f.dir.join("graph");
    std::fs::create_dir_all(&dir).unwrap();
    let expired = expired_cred(&dir);
    let main = f.main.cert_pem.display().to_string();
    let mut users = String::new();
    for (i, upn) in USERS.iter().enumerate() {
        let name = upn.split('@').next().unwrap();
        users.push_str(&format!("\n[[user]]\nuser_principal_name = \"{upn}\"\n"));
        if i == 0 {
            users.push_str(&format!(
                "id = \"{ADA_ID}\"\ndisplay_name = \"Ada Lovelace\"\ngiven_name = \"Ada\"\n\
                 surname = \"Lovelace\"\nmail = \"ada@contoso.example\"\njob_title = \"Engineer\"\n\
                 business_phones = [\"+1 425 555 0100\"]\n"
            ));
        } else {
            users.push_str(&format!("display_name = \"{name}\"\n"));
        }
    }
    let config = dir.join("graph.toml");
    std::fs::write(
        &config,
        crate::support::toml_fixture(
            "graph.toml",
            &[
                ("ADMIN", ADMIN),
                ("APP_READER", APP_READER),
                ("BARE", BARE),
                ("BARE_OBJECT", BARE_OBJECT),
                ("EXPIRED_APP", EXPIRED_APP),
                ("LEGACY_API", LEGACY_API),
                ("READER", READER),
                ("REDIRECT", WEB_REDIRECT),
                ("SECRET_VAR", SECRET_VAR),
                ("TENANT", TENANT),
                ("TENANT_DOMAIN", TENANT_DOMAIN),
                ("WEB", WEB),
                ("main", &main),
            ],
        ) + &users,
    )
    .unwrap();
    GraphFixture { config, expired }
}

impl GraphFixture {
    /// `certgen serve --config graph.toml` plus `extra`, on a free port.
    pub fn start(&self, extra: &[&str]) -> Server {
        let mut args = vec!["--config", self.config.to_str().unwrap()];
        args.extend_from_slice(extra);
        Server::start_keys_of(&fixture().state, &args)
    }

    /// `certgen serve --config graph.toml` in a new state folder of its own, and that folder
    /// (for [`GraphFixture::restart`]).
    pub fn start_fresh(&self) -> (Server, PathBuf) {
        let state = fixture()
            .state
            .with_file_name(format!("state-{}", uuid::Uuid::new_v4().simple()));
        copy_keys(&fixture().state, &state);
        (self.restart(&state), state)
    }

    /// `certgen serve --config graph.toml` on the state folder `state` (what an earlier serve
    /// wrote there is kept).
    pub fn restart(&self, state: &Path) -> Server {
        Server::start_in(state, &["--config", self.config.to_str().unwrap()])
    }

    /// Sends `method` to `path` with a JSON `body`: status and body (`Null` when empty).
    pub async fn send(
        &self,
        s: &Server,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.send_with(s, method, path, token, body, &[]).await
    }

    /// [`send`](Self::send) with extra request `headers` (Graph's `Prefer`, say).
    pub async fn send_with(
        &self,
        s: &Server,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = s
            .client()
            .request(method, format!("{}{path}", s.base()))
            .bearer_auth(token);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    /// A Graph token for `client_id` (client secret grant).
    pub async fn token(&self, s: &Server, client_id: &str) -> String {
        let (status, body) = post_form(
            &s.client(),
            &s.token_url(TENANT),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get(
        &self,
        s: &Server,
        path: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.get_url(s, &format!("{}{path}", s.base()), token).await
    }

    pub async fn get_url(
        &self,
        s: &Server,
        url: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = s.client().get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }
}

/// The claims of a JWT (the test's own base64 decoding, no certgen code).
pub fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Graph's error envelope, field by field: exactly `error` with exactly `code`, `message`,
/// `innerError`; `innerError` with exactly `date` (`YYYY-MM-DDTHH:MM:SS`, UTC, now),
/// `request-id` (a GUID) and `client-request-id`.
pub fn assert_graph_error(status: u16, body: &Value, want: u16, code: &str, message: &str) {
    assert_eq!(status, want, "status; body: {body}");
    let top: Vec<&String> = body.as_object().expect("a JSON object").keys().collect();
    assert_eq!(top, ["error"], "{body}");
    let e = &body["error"];
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["code", "message", "innerError"], "{body}");
    assert_eq!(e["code"], code, "{body}");
    assert_eq!(e["message"], message, "{body}");
    let inner = &e["innerError"];
    let keys: Vec<&String> = inner.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["date", "request-id", "client-request-id"], "{body}");
    let date = inner["date"].as_str().unwrap();
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let at = time::PrimitiveDateTime::parse(date, &fmt)
        .unwrap_or_else(|_| panic!("innerError.date {date}"))
        .assume_utc();
    assert!(
        (time::OffsetDateTime::now_utc() - at).whole_seconds().abs() < 120,
        "{date}"
    );
    assert!(uuid::Uuid::parse_str(inner["request-id"].as_str().unwrap()).is_ok());
    assert!(inner["client-request-id"].is_string());
}
