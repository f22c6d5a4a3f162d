//! The library token client (`certgen::identity::TokenClient`) against the stub token endpoint:
//! the v2 form, retries with `Retry-After`, the deadline, error answers, redirects, transport
//! failures in words, and TLS with an extra root.

use std::time::{Duration, Instant};

use crate::support::token_stub::{busy, closed_port, fake_jwt, field, ok, reply, Stub};
use certgen::error::{TlsProblem, TransportKind};
use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
use certgen::identity::{ClientAuth, ClientOptions, TokenClient, TokenRequest, TokenResponse};
use certgen::secret::Secret;
use certgen::{Error, Result};

const GRAPH: &str = "https://graph.microsoft.com/.default";

/// One fetch on a runtime of its own, talking to the server directly (no proxy from the
/// test machine's environment).
fn fetch(
    options: ClientOptions,
    url: &str,
    scopes: &[String],
    auth: impl FnMut() -> Result<ClientAuth>,
) -> Result<TokenResponse> {
    let client = TokenClient::new(options.proxy_from_env(false)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let request = TokenRequest {
        endpoint: url,
        client_id: "app-1",
        scopes,
        claims: None,
    };
    runtime.block_on(client.fetch(&request, auth))
}

/// The transport error of a fetch that must fail to reach the server.
fn fetch_error(options: ClientOptions, url: &str) -> certgen::TransportError {
    match fetch(options, url, &[], numbered_assertions()) {
        Err(Error::Transport(t)) => t,
        other => panic!("expected a transport error, got {other:?}"),
    }
}

/// A credential callback that makes a new assertion each time, as `certgen token` does.
fn numbered_assertions() -> impl FnMut() -> Result<ClientAuth> {
    let mut n = 0;
    move || {
        n += 1;
        Ok(ClientAuth::Assertion(format!("assertion-{n}")))
    }
}

fn graph() -> Vec<String> {
    vec![GRAPH.to_string()]
}

#[test]
fn an_assertion_request_carries_the_v2_form() {
    let stub = Stub::start(vec![]);
    let token = fetch(
        ClientOptions::default(),
        &stub.url(),
        &graph(),
        numbered_assertions(),
    )
    .unwrap();
    assert_eq!(token.access_token.expose(), fake_jwt(1));
    assert_eq!((token.expires_in, token.ext_expires_in), (3599, Some(3599)));
    let requests = stub.requests();
    let form = &requests[0].1;
    let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "scope",
            "grant_type",
            "client_assertion_type",
            "client_assertion"
        ]
    );
    assert_eq!(field(form, "client_id"), Some("app-1"));
    assert_eq!(field(form, "scope"), Some(GRAPH));
    assert_eq!(field(form, "grant_type"), Some("client_credentials"));
    assert_eq!(
        field(form, "client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(field(form, "client_assertion"), Some("assertion-1"));
}

#[test]
fn a_secret_request_and_scopes_space_joined_or_absent() {
    let stub = Stub::start(vec![]);
    let secret = || Ok(ClientAuth::Secret(Secret::new("s3cr3t")));
    let two = vec!["read".to_string(), "write".to_string()];
    fetch(ClientOptions::default(), &stub.url(), &two, secret).unwrap();
    fetch(ClientOptions::default(), &stub.url(), &[], secret).unwrap();
    let requests = stub.requests();
    assert_eq!(field(&requests[0].1, "scope"), Some("read write"));
    assert_eq!(field(&requests[0].1, "client_secret"), Some("s3cr3t"));
    assert_eq!(field(&requests[0].1, "client_assertion"), None);
    assert_eq!(field(&requests[1].1, "scope"), None);
}

#[test]
fn throttling_and_unavailability_are_retried_with_fresh_assertions() {
    let stub = Stub::start(vec![busy(429, "0"), busy(503, "0"), ok(9)]);
    let token = fetch(
        ClientOptions::default(),
        &stub.url(),
        &graph(),
        numbered_assertions(),
    )
    .unwrap();
    assert_eq!(token.access_token.expose(), fake_jwt(9));
    let sent: Vec<String> = stub
        .requests()
        .iter()
        .map(|(_, f)| field(f, "client_assertion").unwrap().to_string())
        .collect();
    assert_eq!(sent, ["assertion-1", "assertion-2", "assertion-3"]);
}

#[test]
fn retries_stop_after_three_attempts_with_the_last_answer() {
    let stub = Stub::start(vec![busy(503, "0"), busy(502, "0"), busy(503, "0"), ok(1)]);
    let err = fetch(
        ClientOptions::default(),
        &stub.url(),
        &[],
        numbered_assertions(),
    )
    .unwrap_err();
    let Error::Provider(answer) = &err else {
        panic!("expected an error answer, got {err:?}");
    };
    assert_eq!((answer.status, answer.attempts), (503, 3));
    assert_eq!(stub.count(), 3);
    assert!(
        err.to_string().contains("(HTTP 503) after 3 attempts"),
        "{err}"
    );
}

#[test]
fn retry_after_in_seconds_is_honoured() {
    let stub = Stub::start(vec![busy(429, "1")]);
    let started = Instant::now();
    fetch(
        ClientOptions::default(),
        &stub.url(),
        &[],
        numbered_assertions(),
    )
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn retry_after_is_capped_and_a_wait_past_the_deadline_is_not_made() {
    let stub = Stub::start(vec![busy(503, "3600")]);
    let capped = ClientOptions::default().retry_after_cap(Duration::from_millis(200));
    let started = Instant::now();
    fetch(capped, &stub.url(), &[], numbered_assertions()).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // A wait that would outlive the deadline is not started: the answer is reported at once.
    let stub = Stub::start(vec![busy(429, "5")]);
    let short = ClientOptions::default().timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = fetch(short, &stub.url(), &[], numbered_assertions()).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::Provider(a) if a.status == 429 && a.attempts == 1));
    assert_eq!(stub.count(), 1);
}

#[test]
fn an_error_answer_is_explained_and_not_retried() {
    const BODY: &str = r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 0f0e\r\nCorrelation ID: 1a1b\r\nTimestamp: 2026-11-21 12:00:00Z","error_codes":[7000215],"timestamp":"2026-11-21 12:00:00Z","trace_id":"0f0e","correlation_id":"1a1b"}"#;
    let mut r = reply(401, BODY);
    r.headers
        .push(("date", "Sat, 21 Nov 2026 12:00:00 GMT".into()));
    let stub = Stub::start(vec![r]);
    let wrong = || Ok(ClientAuth::Secret(Secret::new("wrong")));
    let err = fetch(ClientOptions::default(), &stub.url(), &[], wrong).unwrap_err();
    assert_eq!(stub.count(), 1);
    let Error::Provider(answer) = &err else {
        panic!("expected an error answer");
    };
    assert!(answer.server_date.is_some());
    assert!(answer.has_code(7000215) && answer.codes() == [7000215]);
    assert_eq!(answer.error.as_deref(), Some("invalid_client"));
    assert_eq!(
        (answer.trace_id.as_deref(), answer.correlation_id.as_deref()),
        (Some("0f0e"), Some("1a1b"))
    );
    assert_eq!(answer.timestamp.as_deref(), Some("2026-11-21 12:00:00Z"));
    let message = err.to_string();
    assert!(
        message.starts_with("the token endpoint refused the request: invalid_client (HTTP 401): AADSTS7000215: Invalid client secret provided."),
        "{message}"
    );
    assert!(!message.contains("Trace ID"));
    assert!(!format!("{err:?}").contains("wrong"));
}

#[test]
fn a_redirect_is_not_followed() {
    let mut r = reply(302, "");
    r.headers
        .push(("location", "https://elsewhere.example/steal".into()));
    let stub = Stub::start(vec![r]);
    let err = fetch(
        ClientOptions::default(),
        &stub.url(),
        &[],
        numbered_assertions(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Provider(a) if a.status == 302));
    assert_eq!(stub.count(), 1);
}

#[test]
fn a_closed_port_is_a_transport_error_saying_so() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/tenant/oauth2/v2.0/token");
    let err = fetch_error(ClientOptions::default(), &url);
    assert_eq!(err.kind, TransportKind::Refused);
    assert!(
        err.to_string()
            .contains(&format!("connection refused by 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the reqwest error"
    );
}

#[test]
fn an_unknown_host_is_a_transport_error_saying_so() {
    // `.invalid` never resolves (RFC 6761), so no network is touched.
    let options = ClientOptions::default().timeout(Duration::from_secs(10));
    let err = fetch_error(
        options,
        "https://certgen-test.invalid/tenant/oauth2/v2.0/token",
    );
    assert_eq!(err.kind, TransportKind::Dns);
    assert!(
        err.to_string()
            .ends_with("cannot resolve the host name certgen-test.invalid"),
        "{err}"
    );
}

#[test]
fn a_slow_server_is_a_timeout() {
    let mut slow = ok(1);
    slow.delay = Duration::from_secs(5);
    let stub = Stub::start(vec![slow]);
    let options = ClientOptions::default().timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = fetch_error(options, &stub.url());
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.kind, TransportKind::Timeout);
    assert_eq!(err.timeout, Some(Duration::from_millis(300)));
    assert!(err.to_string().ends_with("no answer within 0.3 s"), "{err}");
}

#[test]
fn tls_is_verified_and_a_ca_file_adds_a_root() {
    let made = generate(&NewCertificate {
        // Not "localhost": a root of that name may already be in the system store, and
        // webpki would then report a bad signature instead of an unknown issuer.
        subject: Subject::common_name("certgen client test server").unwrap(),
        sans: vec!["localhost".into(), "127.0.0.1".into()],
        days: 1,
        key_size: KeySize::Rsa2048,
        profile: Profile::TlsServer,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, made.cert.to_pem()).unwrap();
    let stub = Stub::start_tls(vec![], &made.cert.to_pem(), &made.key.to_pkcs8_pem());

    let err = fetch_error(ClientOptions::default(), &stub.url());
    assert_eq!(err.kind, TransportKind::Tls(TlsProblem::UnknownIssuer));
    assert!(err.to_string().contains("is not trusted"), "{err}");
    assert_eq!(stub.count(), 0);

    let trusted = ClientOptions::default().ca_file(ca);
    let token = fetch(trusted, &stub.url(), &[], numbered_assertions()).unwrap();
    assert_eq!(token.access_token.expose(), fake_jwt(1));
}
