//! Shared by the `serve_*`, `token_e2e` and `verify_serve` tests: credentials made with the
//! `openssl` CLI, a running `certgen serve` child (killed on drop), a client that trusts its CA,
//! and client assertions crafted here with jsonwebtoken/base64 — never with certgen's own builder.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::openssl;
pub use super::{now, signing_input};

pub const TENANT: &str = "2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718";
pub const TENANT_DOMAIN: &str = "contoso.example";
pub const APP: &str = "6f1c5e8a-0000-4000-8000-000000000001";
/// Registered with the weak (1024-bit) certificate only.
pub const WEAK_APP: &str = "6f1c5e8a-0000-4000-8000-000000000009";
pub const ORDERS_API: &str = "7a2b0000-0000-4000-8000-000000000002";
pub const LEGACY_API: &str = "7a2b0000-0000-4000-8000-000000000003";
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub const SECRET_VAR: &str = "CERTGEN_TEST_APP_SECRET";
/// Characters that HTTP Basic must form-encode (RFC 6749 §2.3.1).
pub const SECRET: &str = "s3cr3t~value+/=%:x";
/// A second secret of APP, registered with an end date in the past (7000222).
pub const EXPIRED_SECRET_VAR: &str = "CERTGEN_TEST_APP_EXPIRED_SECRET";
pub const EXPIRED_SECRET: &str = "old-secret-of-2020";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A certificate and its RSA key, made by openssl.
pub struct Cred {
    pub cert_pem: PathBuf,
    pub cert_der: Vec<u8>,
    /// PKCS#1 DER, what jsonwebtoken's EncodingKey::from_rsa_der takes.
    pub key_pkcs1: Vec<u8>,
    pub key_pem: PathBuf,
}

impl Cred {
    pub fn sha1(&self) -> [u8; 20] {
        Sha1::digest(&self.cert_der).into()
    }
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.cert_der).into()
    }
    pub fn x5t(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha1())
    }
    pub fn x5t_s256(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sha256())
    }
    pub fn thumbprint_hex(&self) -> String {
        hex::encode_upper(self.sha1())
    }
}

/// Everything made once per test binary.
pub struct Fixture {
    pub dir: PathBuf,
    /// Registered for APP.
    pub main: Cred,
    /// Also registered for APP (a rotation in progress).
    pub second: Cred,
    /// Registered nowhere.
    pub other: Cred,
    /// RSA 1024, registered for WEAK_APP.
    pub weak: Cred,
    pub config: PathBuf,
    /// A state folder made by a first `certgen serve` start, reused (read-only) by all servers.
    pub state: PathBuf,
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(make_fixture)
}

fn make_cred(dir: &Path, name: &str, bits: u32) -> Cred {
    let key_pem = dir.join(format!("{name}.key"));
    let cert_pem = dir.join(format!("{name}.crt"));
    let der = dir.join(format!("{name}.cer"));
    let pkcs1 = dir.join(format!("{name}.pkcs1.der"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        &format!("rsa:{bits}"),
        "-nodes",
        "-keyout",
        key_pem.to_str().unwrap(),
        "-out",
        cert_pem.to_str().unwrap(),
        "-subj",
        &format!("/CN={name}"),
        "-days",
        "2",
    ]);
    openssl(&[
        "x509",
        "-in",
        cert_pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    openssl(&[
        "rsa",
        "-in",
        key_pem.to_str().unwrap(),
        "-traditional",
        "-outform",
        "DER",
        "-out",
        pkcs1.to_str().unwrap(),
    ]);
    Cred {
        cert_der: std::fs::read(&der).unwrap(),
        key_pkcs1: std::fs::read(&pkcs1).unwrap(),
        cert_pem,
        key_pem,
    }
}

fn make_fixture() -> Fixture {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "serve-{}-{}",
        std::process::id(),
        now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (main, second, other, weak) = std::thread::scope(|s| {
        let a = s.spawn(|| make_cred(&dir, "main", 2048));
        let b = s.spawn(|| make_cred(&dir, "second", 2048));
        let c = s.spawn(|| make_cred(&dir, "other", 2048));
        let d = s.spawn(|| make_cred(&dir, "weak", 1024));
        (
            a.join().unwrap(),
            b.join().unwrap(),
            c.join().unwrap(),
            d.join().unwrap(),
        )
    });
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        crate::support::toml_fixture(
            "serve.toml",
            &[
                ("APP", APP),
                ("EXPIRED_SECRET_VAR", EXPIRED_SECRET_VAR),
                ("LEGACY_API", LEGACY_API),
                ("ORDERS_API", ORDERS_API),
                ("SECRET_VAR", SECRET_VAR),
                ("TENANT", TENANT),
                ("TENANT_DOMAIN", TENANT_DOMAIN),
                ("WEAK_APP", WEAK_APP),
            ],
        ),
    )
    .unwrap();
    let state = dir.join("state");
    // The first start makes the TLS certificate and signing key; later starts only read them,
    // so servers running in parallel never race to write the folder.
    drop(Server::start_in(
        &state,
        &["--config", config.to_str().unwrap()],
    ));
    Fixture {
        dir,
        main,
        second,
        other,
        weak,
        config,
        state,
    }
}

/// A running `certgen serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub ready: Value,
    pub log: PathBuf,
    /// The `--state-dir` it was started with.
    pub state: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The fixture's registrations, TLS, on a free port.
    pub fn start() -> Server {
        Server::with_args(&[])
    }

    /// The fixture's registrations plus `extra` flags.
    pub fn with_args(extra: &[&str]) -> Server {
        let f = fixture();
        let mut args = vec!["--config", f.config.to_str().unwrap()];
        args.extend_from_slice(extra);
        Server::start_keys_of(&f.state, &args)
    }

    /// Starts with a directory of its own in a new state folder holding `state`'s TLS
    /// certificate, signing key and CAs: the key material is made once for every test, while
    /// no test sees another's Graph writes (processes on one folder share its directory).
    pub fn start_keys_of(state: &Path, args: &[&str]) -> Server {
        Server::start_in(&fresh_state(state), args)
    }

    /// SIGKILL (what a crash or the OOM killer does: nothing of the process runs after it),
    /// and waits for it to be gone.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the binary with `--listen 127.0.0.1:0 --state-dir STATE` and `args`, and waits
    /// for the ready line.
    pub fn start_in(state: &Path, args: &[&str]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_certgen"));
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--state-dir"])
            .arg(state)
            .args(args);
        Server::spawn(cmd, state)
    }

    /// Runs `cmd` (a `certgen serve` on `state`, maybe behind a wrapper such as `unshare`)
    /// with the tests' secrets, and waits for the ready line.
    pub fn spawn(mut cmd: Command, state: &Path) -> Server {
        let log = state.with_file_name(format!(
            "serve-{}-{}.log",
            now(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let mut child = cmd
            .env(SECRET_VAR, SECRET)
            .env(EXPIRED_SECRET_VAR, EXPIRED_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if !l.is_empty() => l,
            _ => {
                let _ = child.kill();
                panic!(
                    "no ready line; stderr: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let ready: Value = serde_json::from_str(&line).expect("the ready line is JSON");
        Server {
            child,
            ready,
            log,
            state: state.to_path_buf(),
        }
    }

    pub fn field(&self, name: &str) -> String {
        self.ready[name].as_str().unwrap().to_string()
    }

    /// `https://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        let a = self.field("authority");
        a[..a.rfind('/').unwrap()].to_string()
    }

    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base())
    }

    pub fn v1_token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/token", self.base())
    }

    /// A client trusting only the service's CA file.
    pub fn client(&self) -> reqwest::Client {
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(20));
        if let Some(ca) = self.ready["ca_file"].as_str() {
            let pem = std::fs::read(ca).unwrap();
            b = b.tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()]);
        }
        b.build().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POSTs a form to the v2 token endpoint of TENANT: (status, body).
    pub async fn post_token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        post_form(&self.client(), &self.token_url(TENANT), form).await
    }

    /// A secret-credential request for APP.
    pub async fn secret_grant(&self, secret: &str, scope: &str) -> (u16, Value) {
        self.post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .await
    }

    /// GETs a JSON document that must be there.
    pub async fn get_json(&self, url: &str) -> Value {
        let resp = self.client().get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        resp.json().await.unwrap()
    }

    /// The claims of `token`, verified with this service's published key set
    /// ([`verify_with_keys`]) for `aud` and `iss`.
    pub async fn verified(&self, token: &str, aud: &str, iss: &str) -> Value {
        let jwks = self.get_json(&self.field("jwks_uri")).await;
        verify_with_keys(token, &jwks, Some(aud), Some(iss))
    }

    /// A certificate-credential request for `jwt`.
    pub async fn assertion_grant(&self, jwt: &str, scope: &str) -> (u16, Value) {
        self.post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("scope", scope),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", jwt),
        ])
        .await
    }
}

pub async fn post_form(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let resp = client.post(url).form(form).send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The claims of `token`, verified by jsonwebtoken (RS256, no clock leeway) with the key
/// `jwks` publishes under the token's `kid`; `aud` and `iss` checked when given.
pub fn verify_with_keys(token: &str, jwks: &Value, aud: Option<&str>, iss: Option<&str>) -> Value {
    let kid = jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .expect("tokens name their key");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the kid is published");
    let dk =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    match aud {
        Some(aud) => v.set_audience(&[aud]),
        None => v.validate_aud = false,
    }
    if let Some(iss) = iss {
        v.set_issuer(&[iss]);
    }
    v.leeway = 0;
    jsonwebtoken::decode::<Value>(token, &dk, &v)
        .unwrap_or_else(|e| panic!("the token does not verify ({e}): {token}"))
        .claims
}

/// Signs `header.claims` with an RSA key (PKCS#1 DER) — the JWS is put together by hand so
/// tests can send any header or claim form.
pub fn sign_rsa(header: &Value, claims: &Value, key_pkcs1: &[u8], alg: Algorithm) -> String {
    let input = signing_input(header, claims);
    let sig =
        jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_rsa_der(key_pkcs1), alg)
            .unwrap();
    format!("{input}.{sig}")
}

/// The claims a good assertion for APP at TENANT carries, valid for 10 minutes.
pub fn claims(server: &Server) -> Value {
    let now = now();
    json!({
        "aud": server.token_url(TENANT),
        "iss": APP,
        "sub": APP,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "iat": now,
        "exp": now + 600,
    })
}

/// PS256 + x5t#S256, as MSAL.NET and the current Entra docs.
pub fn ps256(server: &Server, cred: &Cred) -> String {
    let header = json!({"alg": "PS256", "typ": "JWT", "x5t#S256": cred.x5t_s256()});
    sign_rsa(&header, &claims(server), &cred.key_pkcs1, Algorithm::PS256)
}

/// RS256 + x5t, as MSAL Python's PEM path and the Rust SDK.
pub fn rs256(server: &Server, cred: &Cred) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": cred.x5t()});
    sign_rsa(&header, &claims(server), &cred.key_pkcs1, Algorithm::RS256)
}

/// Asserts an Entra-shaped refusal: status, `error`, AADSTS code (in `error_codes` and at the
/// start of `error_description`), and the rest of the body's fields.
pub fn assert_refusal(got: &(u16, Value), status: u16, error: &str, code: u32) {
    let (s, body) = got;
    assert_eq!(*s, status, "status; body: {body}");
    assert_eq!(body["error"], error, "error; body: {body}");
    assert_eq!(body["error_codes"], json!([code]), "codes; body: {body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.starts_with(&format!("AADSTS{code}: ")), "{d}");
    assert!(
        d.contains("\r\nTrace ID: ") && d.contains("\r\nCorrelation ID: "),
        "{d}"
    );
    let ts = body["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-01-01 00:00:00Z".len(), "{ts}");
    assert!(d.ends_with(&format!("Timestamp: {ts}")), "{d}");
    assert!(uuid::Uuid::parse_str(body["trace_id"].as_str().unwrap()).is_ok());
    assert!(uuid::Uuid::parse_str(body["correlation_id"].as_str().unwrap()).is_ok());
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
}

/// A token request on a raw plain-HTTP connection that sends its headers, with
/// `Expect: 100-continue`, and holds back its body. The server answers "100 Continue" only when
/// its handler starts reading the body, so once [`HeldRequest::open`] returns the request holds
/// one in-flight slot — no sleeping, no guessing — until [`HeldRequest::finish`] sends the body.
pub struct HeldRequest {
    tcp: std::net::TcpStream,
    body: String,
}

impl HeldRequest {
    /// Opens a secret-credential request for APP (a valid one, so it ends in 200).
    pub fn open(listen: &str, scope: &str) -> HeldRequest {
        use std::io::Write;
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "client_credentials"),
                ("client_id", APP),
                ("client_secret", SECRET),
                ("scope", scope),
            ])
            .finish();
        let mut tcp = std::net::TcpStream::connect(listen).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST /{TENANT}/oauth2/v2.0/token HTTP/1.1\r\nHost: {listen}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\n\r\n",
            body.len()
        );
        tcp.write_all(head.as_bytes()).unwrap();
        let interim = read_head(&mut tcp);
        assert!(
            interim.starts_with("HTTP/1.1 100 Continue"),
            "the handler did not start reading the body: {interim}"
        );
        HeldRequest { tcp, body }
    }

    /// Sends the body and returns the status line of the answer.
    pub fn finish(mut self) -> String {
        use std::io::Write;
        self.tcp.write_all(self.body.as_bytes()).unwrap();
        read_head(&mut self.tcp)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }
}

/// Reads one response head (up to the blank line) from a raw connection.
fn read_head(tcp: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match super::read_once(tcp, &mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).to_string()
}

/// Base64 helpers re-exported for tests that build odd forms.
pub fn b64_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The Python with MSAL and Azure Identity the real-client tests run (`CERTGEN_TEST_PYTHON`;
/// .ci/run sets it up in a venv); see [`super::require`] for what happens when it is missing.
pub fn python() -> Option<String> {
    super::require::python(&["msal", "azure.identity"])
}

/// A new state folder beside `state` holding its key material (see [`copy_keys`]).
pub fn fresh_state(state: &Path) -> PathBuf {
    let fresh = state.with_file_name(format!("state-{}", uuid::Uuid::new_v4().simple()));
    copy_keys(state, &fresh);
    fresh
}

/// Copies a state folder's files but its directory database (and SQLite's side files), keeping
/// the folder private as serve makes it.
pub fn copy_keys(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("directory.sqlite3") || name.starts_with('.') {
            continue;
        }
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(&*name)).unwrap();
        }
    }
}
