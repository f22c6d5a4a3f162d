//! Proxy mode (`certgen serve --proxy`): an HTTP `CONNECT` proxy that answers for the
//! Microsoft identity and Graph hosts itself (and for Resource Manager and the portal's API,
//! the little of them the Azure CLI needs). A client with `HTTPS_PROXY` pointing here asks
//! to be connected to `login.microsoftonline.com:443`; the tunnel ends in this process, TLS
//! is terminated with a leaf of the local CA ([`ca`]), and the requests inside are handled by
//! the same router as the main listener, which then sees the Microsoft name in `Host`.
//!
//! Every other destination is refused with 403 and logged; the proxy never opens a
//! connection anywhere, so nothing leaves the machine. HTTP parsing and the upgrade to a raw
//! tunnel are hyper's.

pub mod ca;

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::access_log::{self, LogFormat, LogNote};
use super::connection::HEADER_READ_TIMEOUT;
use super::state::TlsIdentity;
use crate::error::ServeError;
use certgen::cloud;
use certgen::error::{Error, Result};

/// How long a client gets for the TLS handshake inside its tunnel (axum-server's default for
/// the main listener).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Tunnels open at once by default (`--max-tunnels`). Each holds a socket (a file descriptor) for
/// as long as the client keeps it: without a cap, 3,000 held tunnels used every descriptor of a
/// process limited to 200 and the main listener stopped answering. 256, as `--max-in-flight`:
/// far more than a test suite's clients open at once, and well inside the common soft limit of
/// 1,024 descriptors, so the main listener always has some left.
pub const DEFAULT_MAX_TUNNELS: usize = 256;

/// What the proxy answers for a request to it (not for the requests inside a tunnel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// `CONNECT` to a host of the cloud table on 443: tunnel into this service.
    Tunnel(&'static str),
    /// Anything else: 403, nothing opened.
    Refuse,
}

/// The decision for a request to the proxy: only `CONNECT host:443` for a host of the cloud
/// table is tunnelled.
pub fn decide(method: &Method, authority: Option<&str>) -> Decision {
    if method != Method::CONNECT {
        return Decision::Refuse;
    }
    // The port must be given, and be 443: the cloud table's hosts answer nowhere else.
    match authority {
        Some(a) if a.ends_with(":443") => {
            cloud::host(a).map_or(Decision::Refuse, |h| Decision::Tunnel(h.name))
        }
        _ => Decision::Refuse,
    }
}

/// A proxy connection that acknowledges what it reads at once.
///
/// urllib3 (Python `requests`, so MSAL and Azure Identity for Python) writes a request's head
/// and its body separately and, on a connection tunnelled through a proxy, leaves Nagle's
/// algorithm on: the body then waits for the ACK of the head, which Linux delays by up to
/// 40 ms. Measured before this: a token POST through the proxy 52–68 ms, against 22 ms
/// directly (urllib3 sets TCP_NODELAY there); `curl`, which writes both at once, was even.
struct QuickAck(TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if buf.filled().len() > before {
            // Setting it also sends an ACK the kernel was holding back; it does not stick, so
            // it is set after every read. A failure only costs the delay it would have saved.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let _ = self.0.set_quickack(true);
        }
        polled
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// What answers the requests inside a tunnel: the service's router.
pub trait TunnelApp:
    tower::Service<
        Request<Incoming>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> TunnelApp for S where
    S: tower::Service<
            Request<Incoming>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// hyper's HTTP/1 server with the main listener's deadline for each request head.
fn http1_server() -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
}

/// Runs the proxy on `listener` until `stop` turns true. `app` handles the requests inside
/// each tunnel; `tls` holds the SNI resolver of the local CA.
pub async fn run(
    listener: StdListener,
    tls: Arc<rustls::ServerConfig>,
    app: impl TunnelApp,
    log: LogFormat,
    max_tunnels: usize,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let acceptor = TlsAcceptor::from(tls);
    let tunnels = Arc::new(Semaphore::new(max_tunnels));
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: the next accept may well succeed.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return Ok(()),
        };
        // As on the main listener: a response's head and body are separate writes.
        let _ = stream.set_nodelay(true);
        let stream = QuickAck(stream);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let tunnels = tunnels.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let acceptor = acceptor.clone();
                let app = app.clone();
                let tunnels = tunnels.clone();
                async move { Ok::<_, Infallible>(answer(req, acceptor, app, log, &tunnels)) }
            });
            let _ = http1_server()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// The proxy's answer to one request; for a tunnel, the work inside it is spawned and runs
/// once hyper has handed over the connection.
fn answer(
    req: Request<Incoming>,
    acceptor: TlsAcceptor,
    app: impl TunnelApp,
    log: LogFormat,
    tunnels: &Arc<Semaphore>,
) -> Response<Body> {
    let start = Instant::now();
    let authority = req.uri().authority().map(|a| a.to_string());
    let target = authority.clone().unwrap_or_else(|| req.uri().to_string());
    let decision = decide(req.method(), authority.as_deref());
    // A tunnel holds its permit for its whole life; past the cap, 503 at once (never queued).
    let permit = match decision {
        Decision::Tunnel(_) => tunnels.clone().try_acquire_owned().ok(),
        Decision::Refuse => None,
    };
    let status = match decision {
        Decision::Tunnel(_) if permit.is_none() => StatusCode::SERVICE_UNAVAILABLE,
        Decision::Tunnel(_) => StatusCode::OK,
        Decision::Refuse => StatusCode::FORBIDDEN,
    };
    access_log::write(
        log,
        req.method().as_str(),
        &target,
        status.as_u16(),
        &LogNote::default(),
        start.elapsed().as_secs_f64() * 1000.0,
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        let body = format!(
            "certgen serve --proxy: {target}: every tunnel is in use (--max-tunnels); try again \
             when one closes\n"
        );
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        return resp;
    }
    match decision {
        Decision::Refuse => {
            let body = format!(
                "certgen serve --proxy: refused {} {target}: only CONNECT to the Microsoft \
                 identity, Graph, Resource Manager and portal API hosts (port 443) is \
                 answered, by this service itself; nothing else is forwarded\n",
                req.method()
            );
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = status;
            resp
        }
        Decision::Tunnel(_) => {
            tokio::spawn(async move {
                let _permit = permit;
                let Ok(upgraded) = hyper::upgrade::on(req).await else {
                    return;
                };
                let handshake = tokio::time::timeout(
                    TLS_HANDSHAKE_TIMEOUT,
                    acceptor.accept(TokioIo::new(upgraded)),
                );
                let tls = match handshake.await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        access_log::tunnel_failed(log, &target, &handshake_failure(&e));
                        return;
                    }
                    Err(_) => {
                        access_log::tunnel_failed(
                            log,
                            &target,
                            &format!(
                                "no TLS handshake within {} s",
                                TLS_HANDSHAKE_TIMEOUT.as_secs()
                            ),
                        );
                        return;
                    }
                };
                let _ = http1_server()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                    .await;
            });
            Response::new(Body::empty())
        }
    }
}

/// Why a client's TLS handshake inside its tunnel failed, in the words a user acts on. A client
/// that does not trust the certificate aborts with an alert (RFC 8446 §6.2: `unknown_ca`,
/// `bad_certificate`, `certificate_unknown`; OpenSSL, curl, Python and Node send these) or, for
/// some, by closing the connection mid-handshake.
fn handshake_failure(e: &std::io::Error) -> String {
    use rustls::AlertDescription as A;
    let hint = "give it the proxy_ca_file of the ready line (REQUESTS_CA_BUNDLE, SSL_CERT_FILE, \
                NODE_EXTRA_CA_CERTS, --ca-file)";
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(
            alert @ (A::UnknownCA | A::BadCertificate | A::CertificateUnknown),
        )) => format!(
            "the client does not trust the proxy CA (it sent the TLS alert {alert:?}): {hint}"
        ),
        Some(other) => format!("the TLS handshake failed: {other}"),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => format!(
            "the client closed the connection during the TLS handshake (a client that does not \
             trust the proxy CA may do so): {hint}"
        ),
        None => format!("the TLS handshake failed: {e}"),
    }
}

/// The ready line's proxy fields: where the proxy is and what to export.
#[derive(Debug, Clone, Serialize)]
pub struct ReadyFields {
    /// `http://ADDR:PORT`, the value of `HTTPS_PROXY`.
    pub proxy: String,
    /// The local CA that clients trust for the Microsoft names.
    pub proxy_ca_file: PathBuf,
    /// In the ready line's `env`, beside the other parts' variables.
    #[serde(skip)]
    pub env: Env,
}

/// The environment that sends an unmodified client to the proxy and makes it trust the CA.
#[derive(Debug, Clone, Serialize)]
pub struct Env {
    #[serde(rename = "HTTPS_PROXY")]
    pub https_proxy: String,
    /// Python `requests` (MSAL, Azure Identity).
    #[serde(rename = "REQUESTS_CA_BUNDLE")]
    pub requests_ca_bundle: PathBuf,
    /// OpenSSL-based clients (Python's `ssl`, `aiohttp`, `curl` built on OpenSSL).
    #[serde(rename = "SSL_CERT_FILE")]
    pub ssl_cert_file: PathBuf,
    /// Node.js (`@azure/identity`, MSAL Node).
    #[serde(rename = "NODE_EXTRA_CA_CERTS")]
    pub node_extra_ca_certs: PathBuf,
}

impl Env {
    /// `(name, value)` pairs in the ready line's order.
    pub fn pairs(&self) -> [(&'static str, String); 4] {
        let path = |p: &PathBuf| p.display().to_string();
        [
            ("HTTPS_PROXY", self.https_proxy.clone()),
            ("REQUESTS_CA_BUNDLE", path(&self.requests_ca_bundle)),
            ("SSL_CERT_FILE", path(&self.ssl_cert_file)),
            ("NODE_EXTRA_CA_CERTS", path(&self.node_extra_ca_certs)),
        ]
    }
}

/// The bound proxy and its CA, not yet accepting.
pub struct Prepared {
    pub listener: StdListener,
    pub ca: Arc<ca::LocalCa>,
}

/// Loads or makes the local CA in `state_dir` and binds the proxy's socket; a made CA is
/// noted for the banner.
pub fn prepare(
    addr: SocketAddr,
    state_dir: &Path,
    notes: &mut Vec<String>,
) -> Result<Prepared, ServeError> {
    let ca = ca::LocalCa::load_or_make(state_dir)?;
    if ca.created {
        notes.push(format!(
            "made a new local CA {} for --proxy: clients must trust it (again)",
            ca.cert_file.display()
        ));
    }
    let listener = bind(addr).map_err(|source| ServeError::ProxyAddressInUse { addr, source })?;
    Ok(Prepared {
        listener,
        ca: Arc::new(ca),
    })
}

impl Prepared {
    pub fn ready_fields(&self) -> Result<ReadyFields> {
        let addr = self.listener.local_addr().map_err(|e| {
            Error::failure(format!("cannot read the proxy's listening address: {e}"))
        })?;
        let url = format!("http://{addr}");
        let ca = self.ca.cert_file.clone();
        Ok(ReadyFields {
            proxy: url.clone(),
            proxy_ca_file: ca.clone(),
            env: Env {
                https_proxy: url,
                requests_ca_bundle: ca.clone(),
                ssl_cert_file: ca.clone(),
                node_extra_ca_certs: ca,
            },
        })
    }
}

/// The main listener's TLS with `--proxy`: the local CA's leaves for the Microsoft names a
/// client asks for by SNI (the hosts-entry route), the service's own certificate otherwise.
pub fn sni_config(identity: &TlsIdentity, ca: Arc<ca::LocalCa>) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (chain, key) = identity.rustls_parts();
    let own = rustls::sign::CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| Error::failure(format!("cannot use the TLS certificate and key: {e}")))?;
    let resolver = ca::SniResolver {
        ca,
        fallback: Some(Arc::new(own)),
    };
    server_config(provider, Arc::new(resolver))
}

/// The proxy's TLS configuration: leaves of the local CA by SNI, nothing for other names.
pub fn tls_config(ca: Arc<ca::LocalCa>) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let resolver = ca::SniResolver { ca, fallback: None };
    server_config(provider, Arc::new(resolver))
}

/// A TLS server configuration around a certificate resolver: HTTP/1.1 only, as the main
/// listener (every OAuth client speaks it, and its header-read timeout then applies).
pub fn server_config(
    provider: Arc<rustls::crypto::CryptoProvider>,
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
) -> Result<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::failure(format!("cannot set up TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Binds the proxy's socket (non-blocking, for tokio).
pub fn bind(addr: SocketAddr) -> std::io::Result<StdListener> {
    let listener = StdListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connect_to_microsoft_hosts_on_443_is_tunnelled() {
        assert_eq!(
            decide(&Method::CONNECT, Some("login.microsoftonline.com:443")),
            Decision::Tunnel("login.microsoftonline.com")
        );
        assert_eq!(
            decide(&Method::CONNECT, Some("GRAPH.microsoft.com:443")),
            Decision::Tunnel("graph.microsoft.com")
        );
        assert_eq!(
            decide(&Method::CONNECT, Some("management.azure.com:443")),
            Decision::Tunnel("management.azure.com")
        );
        assert_eq!(
            decide(&Method::CONNECT, Some("main.iam.ad.ext.azure.com:443")),
            Decision::Tunnel("main.iam.ad.ext.azure.com")
        );
        for (method, authority) in [
            (Method::CONNECT, Some("example.com:443")),
            (Method::CONNECT, Some("login.microsoftonline.com:80")),
            (Method::CONNECT, Some("login.microsoftonline.com")),
            (Method::CONNECT, Some("127.0.0.1:443")),
            (Method::GET, Some("login.microsoftonline.com:443")),
            (Method::GET, None),
        ] {
            assert_eq!(
                decide(&method, authority),
                Decision::Refuse,
                "{method} {authority:?}"
            );
        }
    }
}
