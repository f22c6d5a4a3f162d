//! The library's one HTTP transport: the token client, the API client (Graph) and token
//! validation's metadata and key fetches all go through it, so they share its rules.
//!
//! - TLS by rustls (aws-lc-rs) with the platform's roots, plus the roots of an extra CA file.
//! - `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` are honoured (reqwest reads them) unless the
//!   caller turns them off.
//! - No redirect is followed; bodies are read up to a limit the caller names.
//! - Retries on throttling wait as `Retry-After` says (RFC 9110 §10.2.3), capped.
//! - A failure to reach a server becomes a [`TransportError`] naming the [`Service`] that was
//!   asked, its [`TransportKind`] and the cause in words a user can act on.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

use crate::error::{Error, InputKind, Result, Service, TlsProblem, TransportError, TransportKind};
use crate::input;
use crate::read;
use crate::secret::SecretSource;

/// Transport settings: `Default` and the setters.
///
/// ```
/// use std::time::Duration;
/// use certgen::identity::ClientOptions;
///
/// let transport = ClientOptions::default()
///     .timeout(Duration::from_secs(10))
///     .ca_file("/etc/my-ca.pem")
///     .max_attempts(1);
/// # let _ = transport;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Deadline for the whole exchange, retries included. Default: 30 s.
    pub timeout: Duration,
    /// Extra trust roots (PEM or DER, any number of certificates) besides the platform's,
    /// e.g. a local emulator's CA. Default: `None`.
    pub ca_file: Option<PathBuf>,
    /// Requests made at most, the first included. Default: 3.
    pub max_attempts: u32,
    /// Longest wait between attempts whatever `Retry-After` asks: Entra's throttling asks for
    /// seconds; a longer ask means the service is down, and failing fast (with the status)
    /// helps the caller more. Default: 10 s.
    pub retry_after_cap: Duration,
    /// Whether `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` apply; off for a caller
    /// that must talk to the server directly. Default: `true`.
    pub proxy_from_env: bool,
    /// A deadline for the TCP and TLS connection alone, shorter than [`timeout`](Self::timeout)
    /// where a dead host should fail fast; `None`: only the whole deadline. Default: `None`.
    pub connect_timeout: Option<Duration>,
}

impl ClientOptions {
    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`ca_file`](Self::ca_file).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`retry_after_cap`](Self::retry_after_cap).
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// Sets [`proxy_from_env`](Self::proxy_from_env).
    pub fn proxy_from_env(mut self, yes: bool) -> Self {
        self.proxy_from_env = yes;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            ca_file: None,
            max_attempts: 3,
            retry_after_cap: Duration::from_secs(10),
            proxy_from_env: true,
            connect_timeout: None,
        }
    }
}

/// Reads a response body up to `max` bytes; `true` when there was more (then dropped).
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            body.extend_from_slice(&chunk[..max - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The HTTPS client of the transport rules above, for token requests, API calls and token
/// validation's metadata and key fetches alike. It never follows a redirect: a token endpoint
/// does not redirect, and following one would re-send the credential (or a bearer token) to a
/// place the user never named.
pub(crate) fn client(options: &ClientOptions) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("certgen/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &options.ca_file {
        builder = builder.tls_certs_merge(read_roots(path)?);
    }
    if let Some(connect) = options.connect_timeout {
        builder = builder.connect_timeout(connect);
    }
    // The environment's proxies are set here rather than left to reqwest, so that loopback
    // never goes through them: a request to `certgen serve` on 127.0.0.1 must not hand a client
    // secret to a proxy (Go's net/http and .NET skip loopback the same way).
    builder = builder.no_proxy();
    if options.proxy_from_env {
        for proxy in env_proxies()? {
            builder = builder.proxy(proxy);
        }
    }
    builder
        .build()
        .map_err(|e| Error::failure(format!("cannot set up the HTTPS client: {}", chain(&e))))
}

/// What never goes through a proxy: the `NO_PROXY` list given (or `no_proxy`), and loopback.
fn no_proxy_list(given: Option<&str>) -> String {
    format!(
        "{},localhost,127.0.0.0/8,::1,[::1]",
        given.unwrap_or_default()
    )
}

/// The first of `names` that is set and not empty.
fn env_var(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

/// The proxies `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` name (either case), each with the
/// exceptions of [`no_proxy_list`].
fn env_proxies() -> Result<Vec<reqwest::Proxy>> {
    let given = env_var(&["NO_PROXY", "no_proxy"]);
    let no_proxy = reqwest::NoProxy::from_string(&no_proxy_list(given.as_deref()));
    let mut proxies = Vec::new();
    type Make = fn(String) -> reqwest::Result<reqwest::Proxy>;
    let kinds: [(&[&str], Make); 3] = [
        (&["HTTPS_PROXY", "https_proxy"], |u| {
            reqwest::Proxy::https(u)
        }),
        (&["HTTP_PROXY", "http_proxy"], |u| reqwest::Proxy::http(u)),
        (&["ALL_PROXY", "all_proxy"], |u| reqwest::Proxy::all(u)),
    ];
    for (names, make) in kinds {
        if let Some(url) = env_var(names) {
            // The URL may hold a password: only the variable is named.
            let proxy = make(url)
                .map_err(|_| Error::argument(format!("{} is not a proxy URL", names[0])))?;
            proxies.push(proxy.no_proxy(no_proxy.clone()));
        }
    }
    Ok(proxies)
}

fn read_roots(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>> {
    // A CA bundle may be far larger than one credential (a whole root store).
    let bytes = read::input(path, read::CA_BUNDLE)?;
    let material = input::load_bytes(
        &bytes,
        &path.display().to_string(),
        &SecretSource::default(),
    )?;
    if material.certs.is_empty() {
        return Err(Error::input(
            InputKind::NotACertificate,
            format!("{} holds no certificate", path.display()),
        ));
    }
    material
        .certs
        .iter()
        .map(|c| {
            reqwest::Certificate::from_der(c.der()).map_err(|e| {
                Error::failure(format!(
                    "cannot use {} as a trust root: {}",
                    path.display(),
                    chain(&e)
                ))
            })
        })
        .collect()
}

pub(crate) fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// How long to wait before attempt `attempt + 1`: `Retry-After`, else [`backoff`], capped.
pub(crate) fn retry_wait(
    headers: &HeaderMap,
    server_date: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
    attempt: u32,
    options: &ClientOptions,
) -> Duration {
    retry_after(headers, server_date, received_at)
        .unwrap_or_else(|| backoff(attempt))
        .min(options.retry_after_cap)
}

/// Wait before attempt `attempt + 1` when the server did not say: 1 s, then 2 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1 << (attempt - 1).min(4))
}

/// `Retry-After` as seconds or an HTTP date; a date is measured against the server's own
/// `Date` when it sent one, so a skewed local clock does not stretch the wait.
fn retry_after(
    headers: &HeaderMap,
    server_date: Option<OffsetDateTime>,
    received_at: OffsetDateTime,
) -> Option<Duration> {
    let value = header_str(headers, RETRY_AFTER)?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    let from = server_date.unwrap_or(received_at);
    let secs = (at - from).whole_seconds().max(0) as u64;
    Some(Duration::from_secs(secs))
}

pub(crate) fn header_str(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A transport failure talking to `service`, with its cause in words.
pub(crate) fn transport_error(
    e: reqwest::Error,
    url: &Url,
    options: &ClientOptions,
    service: Service,
) -> Error {
    let host = url.host_str().unwrap_or("the server");
    let port = url.port_or_known_default().unwrap_or(443);
    let (kind, cause) = cause_of(&e, host, port, options.timeout);
    let mut err = TransportError::new(kind, url.as_str(), cause, Some(Box::new(e)));
    err.service = service;
    err.extra_roots = options.ca_file.is_some();
    if kind == TransportKind::Timeout {
        err.timeout = Some(options.timeout);
    }
    err.into()
}

/// What went wrong on the way to `host:port`, in words a user can act on (TLS trust, refused,
/// reset, DNS, timeout); `verify` explains its metadata and key fetches with it too.
pub(crate) fn cause_of(
    e: &reqwest::Error,
    host: &str,
    port: u16,
    timeout: Duration,
) -> (TransportKind, String) {
    if e.is_timeout() {
        return (
            TransportKind::Timeout,
            format!("no answer within {} s", timeout.as_secs_f64()),
        );
    }
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(tls) = as_rustls(err) {
            return tls_cause(tls, host);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return (
                        TransportKind::Refused,
                        format!("connection refused by {host}:{port}"),
                    )
                }
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return (
                        TransportKind::Reset,
                        format!("the connection to {host}:{port} was reset"),
                    )
                }
                std::io::ErrorKind::TimedOut => {
                    return (
                        TransportKind::ConnectTimeout,
                        format!("connecting to {host}:{port} timed out"),
                    )
                }
                _ => {}
            }
        }
        source = err.source();
    }
    let text = chain(e);
    // hyper's words when the bytes that came back are not HTTP/1.x (a TLS alert or handshake
    // answering a plain request), or when the peer hung up without any answer.
    if text.contains("invalid HTTP version parsed") {
        return (
            TransportKind::NotHttp,
            format!("{host}:{port} did not answer in HTTP (invalid HTTP version parsed)"),
        );
    }
    if text.contains("connection closed before message completed") {
        return (
            TransportKind::Closed,
            format!("{host}:{port} closed the connection without an answer"),
        );
    }
    if text.contains("dns error") || text.contains("failed to lookup address") {
        return (
            TransportKind::Dns,
            format!("cannot resolve the host name {host}"),
        );
    }
    (TransportKind::Other, text)
}

/// The rustls error inside `err`, looking through (nested) `io::Error` wrappers:
/// `io::Error::source` skips the error it wraps, so each has to be opened by hand.
fn as_rustls<'a>(mut err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        err = err.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

fn tls_cause(tls: &rustls::Error, host: &str) -> (TransportKind, String) {
    use rustls::CertificateError as C;
    let (problem, text) = match tls {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => (
            TlsProblem::UnknownIssuer,
            format!("TLS: the certificate of {host} is not trusted (unknown issuer)"),
        ),
        // webpki's answer when a trusted root has the issuer's name but not its key: typically
        // an extra root from an earlier run of a service that has since made a new certificate.
        rustls::Error::InvalidCertificate(C::BadSignature) => (
            TlsProblem::BadSignature,
            format!("TLS: the certificate of {host} is not trusted (its signature does not match the trusted root of the same name)"),
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName)
        | rustls::Error::InvalidCertificate(C::NotValidForNameContext { .. }) => (
            TlsProblem::WrongName,
            format!("TLS: the certificate of {host} is not valid for that name"),
        ),
        rustls::Error::InvalidCertificate(C::Expired)
        | rustls::Error::InvalidCertificate(C::ExpiredContext { .. }) => (
            TlsProblem::Expired,
            format!("TLS: the certificate of {host} has expired"),
        ),
        rustls::Error::InvalidCertificate(other) => (
            TlsProblem::OtherCertificate,
            format!("TLS: the certificate of {host} is not accepted ({other:?})"),
        ),
        other => (TlsProblem::Other, format!("TLS: {other}")),
    };
    (TransportKind::Tls(problem), text)
}

/// An error and its causes on one line.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), as in `Date` and
/// `Retry-After`.
pub fn parse_http_date(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc2822).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_as_an_http_date_counts_from_the_servers_clock() {
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sat, 21 Nov 2026 12:00:07 GMT"),
        );
        let server = parse_http_date("Sat, 21 Nov 2026 12:00:00 GMT");
        // The local clock is an hour off; the wait is still the server's 7 s.
        let local = time::macros::datetime!(2026-11-21 13:00:00 UTC);
        assert_eq!(
            retry_after(&headers, server, local),
            Some(Duration::from_secs(7))
        );
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        std::fs::write(&p, "nothing here\n").unwrap();
        let e = client(&ClientOptions {
            ca_file: Some(p),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, Error::Input(_)), "{e:?}");
    }

    #[test]
    fn loopback_is_always_among_the_exceptions_and_no_proxy_is_kept() {
        assert_eq!(
            no_proxy_list(Some("corp.example, 10.0.0.0/8")),
            "corp.example, 10.0.0.0/8,localhost,127.0.0.0/8,::1,[::1]"
        );
        assert!(no_proxy_list(None).contains("127.0.0.0/8"));
    }
}
