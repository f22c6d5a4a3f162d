//! Managed identities: serve plays the Azure platform's token endpoints, so code written for
//! a VM or an App Service app (usually through `DefaultAzureCredential`) gets its identity's
//! tokens anywhere, unchanged, from the environment alone.
//!
//! | module | concept |
//! |---|---|
//! | `endpoints` | the App Service and IMDS requests, their answers and refusals |
//!
//! The endpoints get their own listener: plain HTTP on loopback, as the platform's are
//! (`http://169.254.169.254`, `http://localhost:4141/MSI/token`), because the Azure SDKs call
//! them over whatever scheme the variable says and some (Rust `azure_identity`) have no way to
//! trust a local CA. So `IDENTITY_ENDPOINT` works whether the main listener is TLS or `--http`,
//! with no CA variable. The listener exists only when the directory holds a managed identity.
//!
//! `IDENTITY_HEADER` is random per start and kept in memory only: the platform rotates it too
//! (<https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity>), and a
//! value that outlived the process would let anything that once read it in.

mod endpoints;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use axum::Router;
use serde::Serialize;

use crate::access_log::LogFormat;
use crate::directory::{Directory, Kind};
use crate::error::{Result, ServeError};
use crate::service::TokenService;
use certgen::Error;

/// The App Service endpoint's path (Container Apps' spelling: `IDENTITY_ENDPOINT` is
/// `http://localhost:42356/msi/token` there).
pub const APP_SERVICE_PATH: &str = "/msi/token";
/// IMDS's token path, under `http://169.254.169.254` or `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// `NO_PROXY` beside `HTTPS_PROXY`: the loopback names the endpoints may be reached by.
pub const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// What the ready line says of the endpoints.
#[derive(Debug, Clone, Serialize)]
pub struct ReadyFields {
    /// Where the endpoints listen (plain HTTP, loopback).
    pub listen: String,
    /// `IDENTITY_ENDPOINT`.
    pub identity_endpoint: String,
    /// `IDENTITY_HEADER`: random per start.
    pub identity_header: String,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`: IMDS's base.
    pub imds_host: String,
}

impl ReadyFields {
    /// The variables that send an unmodified Azure SDK here: App Service's pair, which every
    /// SDK honours (Rust's only override), and the IMDS host for code that insists on IMDS.
    /// Never `IMDS_ENDPOINT` beside `IDENTITY_ENDPOINT`: that pair means Azure Arc to the SDKs
    /// (<https://learn.microsoft.com/en-us/azure/azure-arc/servers/managed-identity-authentication>).
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            ("IDENTITY_ENDPOINT", self.identity_endpoint.clone()),
            ("IDENTITY_HEADER", self.identity_header.clone()),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", self.imds_host.clone()),
        ]
    }
}

/// The bound listener, not yet accepting.
pub struct Prepared {
    listener: TcpListener,
    pub ready: ReadyFields,
}

/// Binds the endpoints' listener on `ip` (loopback) when the directory holds a managed
/// identity; `None` otherwise.
pub fn prepare(directory: &Directory, ip: std::net::IpAddr) -> Result<Option<Prepared>> {
    let any = !directory
        .find(
            Kind::ServicePrincipal,
            "servicePrincipalType",
            "ManagedIdentity",
        )
        .map_err(ServeError::Directory)?
        .is_empty();
    if !any {
        return Ok(None);
    }
    // The platform's endpoints answer only on the machine; so do these, whatever address
    // the main listener has.
    let ip = if ip.is_loopback() {
        ip
    } else {
        std::net::IpAddr::from([127, 0, 0, 1])
    };
    let listener =
        TcpListener::bind(SocketAddr::new(ip, 0)).map_err(|source| ServeError::AddressInUse {
            addr: SocketAddr::new(ip, 0),
            source,
        })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::failure(format!("cannot use the managed-identity socket: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::failure(format!("cannot read the managed-identity address: {e}")))?;
    let base = match local {
        SocketAddr::V4(a) => format!("http://{a}"),
        SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
    };
    Ok(Some(Prepared {
        listener,
        ready: ReadyFields {
            listen: local.to_string(),
            identity_endpoint: format!("{base}{APP_SERVICE_PATH}"),
            identity_header: random_header()?,
            imds_host: base,
        },
    }))
}

/// 32 random bytes, hex: the value the App Service endpoint requires in `X-IDENTITY-HEADER`.
fn random_header() -> Result<String> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| Error::failure("cannot make a random IDENTITY_HEADER"))?;
    Ok(hex::encode(b))
}

/// Serves the endpoints until `handle` is told to stop.
pub async fn run(
    prepared: Prepared,
    service: Arc<TokenService>,
    log: LogFormat,
    handle: axum_server::Handle<SocketAddr>,
) -> std::io::Result<()> {
    let router: Router = endpoints::router(service, Arc::from(prepared.ready.identity_header), log);
    let mut server = axum_server::from_tcp(prepared.listener)?
        .acceptor(axum_server::accept::NoDelayAcceptor::new())
        .handle(handle)
        .http1_only();
    // The main listener's deadline for a request's head: a client that connects and sends
    // nothing does not keep its socket.
    crate::limit_header_time(&mut server);
    server.serve(router.into_make_service()).await
}
