//! `certgen serve`: a local, offline token service that behaves like Entra ID's token
//! endpoints, for development, CI and tests.
//!
//! The crate root is what the `certgen serve` command needs: [`prepare`] takes the
//! registrations' inputs ([`Registrations::Inputs`]: the TOML file, the flags, the environment)
//! or a [`Registry`] already loaded, brings the state folder's directory to them (skipping the
//! parse when the inputs are the ones it was seeded from), and binds the socket (so the
//! [`Ready`] line can name the real port); [`serve`] runs until a shutdown future completes. Everything else is private; the fuzz targets reach the token endpoint and
//! the sign-in flow through `fuzzing` (feature `fuzzing`).
//!
//! Inside, one module per concept: `config` (registrations), `aadsts` (the refusal
//! catalogue), `client_assertion` and `client_secret` (client authentication), `grant` (the
//! client-credentials grant), `service` (the service's state and one token request), `keys`
//! (certificates changed live by Graph's `addKey`), `tokens`, `metadata`, `state` (the state
//! folder), `graph` (a slice of Microsoft Graph), `handlers` (routes and limits), `face` (which
//! names a request meets), `proxy` (`--proxy`), `user_flow` (users signing in), and
//! `resource_manager` and `portal_api` (the little of Azure Resource Manager and the Entra
//! portal's API the Azure CLI needs), `managed_identity` (the platform's token endpoints).
//!
//! This file starts and stops the service: [`prepare`] loads state and binds the socket
//! (so the ready line can be printed with the real port), [`serve`] runs until shutdown.

mod aadsts;
mod access_log;
mod body_limit;
mod client_assertion;
mod client_secret;
mod config;
mod connection;
mod correlation;
mod directory;
mod error;
mod face;
mod federation;
mod grant;
mod graph;
mod handlers;
mod instance_discovery;
mod keys;
mod managed_identity;
mod metadata;
mod portal_api;
mod proxy;
mod resource_manager;
mod service;
mod sign_in_state;
mod state;
mod summary;
mod tokens;
mod user_flow;
mod workload;

use std::future::Future;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use tokio::sync::watch;
use tower::util::MapRequestLayer;
use tower::Layer;
// TCP_NODELAY on every connection: hyper writes a response's head and body separately, and
// with Nagle's algorithm the body then waits for the client's delayed ACK (~40 ms per token,
// measured by the token benchmark before this was set).
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use serde::Serialize;

pub use access_log::LogFormat;
use certgen::secret::SecretSource;
use certgen::Error;
pub use config::{Flags, Registry, DEFAULT_TENANT};
pub use directory::StoreError;
pub use error::{Credential, Result, ServeError};
pub use handlers::DEFAULT_MAX_IN_FLIGHT;
pub use managed_identity::ReadyFields as ManagedIdentityReady;
pub use proxy::{Env as ProxyEnv, ReadyFields as ProxyReady, DEFAULT_MAX_TUNNELS};
use service::TokenService;
pub use sign_in_state::Options as UserFlowOptions;
use state::TlsIdentity;
pub use summary::{AppSummary, ResourceSummary, Summary, TenantSummary, UserReader};

/// How long open requests get to finish after a stop signal.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

/// How to run the service.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address and port to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// Plain HTTP (loopback only).
    pub http: bool,
    /// `--tls-cert`/`--tls-key`; otherwise the state folder's localhost certificate.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    /// Where the password of encrypted TLS files comes from (the CLI asks on a terminal).
    pub tls_passwords: SecretSource,
    /// `None`: `serve/` under the cache folder.
    pub state_dir: Option<PathBuf>,
    /// `--strict`: only the RFC form of client assertions, and each `jti` once.
    pub strict: bool,
    /// How the per-request log lines on stderr are written.
    pub log: LogFormat,
    /// Requests handled at once; past it, 503 with `Retry-After` (at least 1).
    pub max_in_flight: usize,
    /// Seconds before a certificate added with `addKey` is accepted by the token endpoint.
    pub replication_delay_secs: u64,
    /// `--proxy`: where the `CONNECT` proxy listens (its local CA also answers the Microsoft
    /// names by SNI on the main listener).
    pub proxy: Option<SocketAddr>,
    /// `--max-tunnels`: proxy tunnels open at once; past it, a CONNECT gets 503 at once.
    pub max_tunnels: usize,
    /// The user flows' settings (`--auto-sign-in`, code and refresh-token lifetimes).
    pub user_flows: UserFlowOptions,
    /// `--reset`: discard the directory kept in the state folder and start from the config.
    pub reset: bool,
}

/// The command line's defaults: TLS on 127.0.0.1:8443 with the state folder's own certificate,
/// lenient checks, text logs, no proxy, no replication delay.
impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            http: false,
            tls_files: None,
            tls_passwords: SecretSource::default(),
            state_dir: None,
            strict: false,
            log: LogFormat::Text,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            replication_delay_secs: 0,
            proxy: None,
            max_tunnels: DEFAULT_MAX_TUNNELS,
            user_flows: UserFlowOptions::default(),
            reset: false,
        }
    }
}

/// The ready line: where the service is and what to trust.
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    /// The address the socket got (`127.0.0.1:8443`; the real port when 0 was asked).
    pub listen: String,
    /// The first tenant's authority (`https://127.0.0.1:8443/{tenant}`).
    pub authority: String,
    /// That authority's v2 token endpoint.
    pub token_endpoint: String,
    /// That authority's v2 key set.
    pub jwks_uri: String,
    /// The certificate clients must trust (TLS only).
    pub ca_file: Option<PathBuf>,
    /// The Graph slice's root (`{base}/v1.0`): `certgen call {graph}/users`.
    pub graph: String,
    /// `--proxy`: `proxy` and `proxy_ca_file`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyReady>,
    /// `[[workload]]`: each workload's variables to export (`{NAME: {"env": {…}}}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workloads: Option<std::collections::BTreeMap<String, workload::ReadyWorkload>>,
    /// The managed-identity endpoints, when the config has a managed identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<ManagedIdentityReady>,
    /// The environment to export for unmodified clients (the proxy's, the managed
    /// identities'), when there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<std::collections::BTreeMap<String, String>>,
}

impl Ready {
    /// `env`, from the parts that have variables to export.
    fn gather_env(&mut self) {
        let mut env = std::collections::BTreeMap::new();
        if let Some(p) = &self.proxy {
            env.extend(p.env.pairs().map(|(k, v)| (k.to_string(), v)));
        }
        if let Some(m) = &self.managed_identity {
            env.extend(m.env().map(|(k, v)| (k.to_string(), v)));
            if self.proxy.is_some() {
                // The managed-identity endpoints are plain HTTP on loopback, and some clients
                // (msal-node, under `@azure/identity`) send even http:// requests through
                // HTTPS_PROXY, which refuses any host but Microsoft's.
                env.insert("NO_PROXY".into(), managed_identity::NO_PROXY.into());
            }
        }
        self.env = (!env.is_empty()).then_some(env);
    }
}

/// A bound, configured service, not yet accepting.
pub struct Prepared {
    /// The ready line to print.
    pub ready: Ready,
    /// The state folder in use (a private subfolder when the one asked was shared).
    pub state_dir: PathBuf,
    /// Facts for the banner (made certificates, the default tenant).
    pub notes: Vec<String>,
    service: Arc<TokenService>,
    /// The tenant the config or flags named first, or [`DEFAULT_TENANT`] (the banner's note).
    default_tenant: bool,
    listener: TcpListener,
    tls: Option<TlsIdentity>,
    log: LogFormat,
    max_in_flight: usize,
    max_tunnels: usize,
    proxy: Option<proxy::Prepared>,
    workloads: Arc<workload::Workloads>,
    managed_identity: Option<managed_identity::Prepared>,
}

impl Prepared {
    /// What the directory holds, as the banner shows it: counts and the first few of each
    /// kind (objects made through Graph included).
    pub fn summary(&self) -> Result<Summary> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Summary::of(
            &self.service.directory,
            &self.service.base,
            now,
            self.default_tenant,
        )
        .map_err(ServeError::Directory)
    }
}

/// Where the registrations come from.
pub enum Registrations {
    /// Read by [`prepare`]: `--config` (with its users file and certificate files), the flags
    /// and the environment variables they name (`env` reads one). When every one of them is
    /// what the directory was last seeded from, nothing is parsed or seeded again.
    Inputs {
        config: Option<PathBuf>,
        flags: Flags,
        env: Env,
    },
    /// Already loaded: seeded whenever it differs from what the directory holds.
    Loaded(Registry),
}

/// Reads an environment variable (a parameter, so tests need not touch the process's own).
pub type Env = Box<dyn Fn(&str) -> Option<String>>;

impl From<Registry> for Registrations {
    fn from(r: Registry) -> Registrations {
        Registrations::Loaded(r)
    }
}

/// Loads or makes the state, binds the socket and builds the service.
pub fn prepare(options: &Options, registrations: impl Into<Registrations>) -> Result<Prepared> {
    if options.http && !options.listen.ip().is_loopback() {
        return Err(ServeError::PlainHttpNotLoopback {
            ip: options.listen.ip(),
        });
    }
    let asked = match &options.state_dir {
        Some(d) => d.clone(),
        None => state::default_dir()?,
    };
    let state_dir = certgen::paths::private_location(&asked);
    let mut notes = Vec::new();
    if state_dir != asked {
        notes.push(format!(
            "other users may write to {}: keeping state in {}",
            asked.display(),
            state_dir.display()
        ));
    }
    let (signer, signer_created) = state::signing_key(&state_dir)?;
    if signer_created {
        notes.push(format!(
            "made a new token-signing key in {}",
            state_dir.display()
        ));
    }
    let (directory, start) = open_directory(options, &state_dir, registrations.into(), &mut notes)?;
    if let Some(upn) = &options.user_flows.auto_sign_in {
        if directory
            .user(upn)
            .map_err(ServeError::Directory)?
            .is_none()
        {
            return Err(ServeError::UnknownSignInUser { upn: upn.clone() });
        }
    }
    // Codes, refresh tokens and sessions of earlier runs (and of other processes on this
    // folder) are in the database; counted now against this process's bounds.
    let flows = sign_in_state::UserFlows::new(options.user_flows.clone(), directory.shared_store());
    flows
        .load(time::OffsetDateTime::now_utc().unix_timestamp())
        .map_err(ServeError::Directory)?;
    let tls = tls_identity(options, &state_dir, &mut notes)?;
    let (listener, local) = bind(options.listen)?;

    let proxy = match options.proxy {
        None => None,
        Some(addr) => Some(proxy::prepare(addr, &state_dir, &mut notes)?),
    };

    let scheme = if options.http { "http" } else { "https" };
    let base = format!("{scheme}://{}", url_host(local));
    let mut ready = ready_line(&base, local, &start.first_tenant, tls.as_ref());
    ready.proxy = proxy
        .as_ref()
        .map(proxy::Prepared::ready_fields)
        .transpose()?;
    let workloads = Arc::new(workload::Workloads::prepare(
        &start.workloads,
        &state_dir,
        &base,
        &start.first_tenant,
        proxy.is_some(),
    )?);
    ready.workloads = workloads.ready();
    let managed_identity = managed_identity::prepare(&directory, local.ip())?;
    ready.managed_identity = managed_identity.as_ref().map(|m| m.ready.clone());
    ready.gather_env();
    let service = Arc::new(TokenService {
        directory,
        subscriptions: start.subscriptions.clone(),
        signer,
        audience_bases: audience_bases(&base, scheme, local.port()),
        base,
        strict: options.strict,
        replay: Default::default(),
        public_keys: Default::default(),
        issuers: Default::default(),
        flows,
    });
    workloads.register(&service.issuers)?;
    for i in &start.issuers {
        service
            .issuers
            .configure(&i.url, i.jwks.as_bytes(), &i.url)
            .map_err(|e| ServeError::Invalid(format!("[[issuer]] '{}': {e}", i.url)))?;
    }
    Ok(Prepared {
        ready,
        service,
        default_tenant: start.default_tenant,
        state_dir,
        notes,
        listener,
        tls,
        log: options.log,
        max_in_flight: options.max_in_flight,
        max_tunnels: options.max_tunnels,
        proxy,
        workloads,
        managed_identity,
    })
}

/// What a start needs of the registrations besides the directory, kept beside it so a later
/// start with the same inputs reads it instead of parsing them.
#[derive(Debug, Serialize, serde::Deserialize)]
struct Start {
    first_tenant: String,
    default_tenant: bool,
    /// Resource Manager's subscriptions: config-only, not directory objects.
    #[serde(default)]
    subscriptions: Vec<config::Subscription>,
    /// `[[workload]]`: config-only, like the subscriptions.
    #[serde(default)]
    workloads: Vec<config::Workload>,
    /// The config's `[[issuer]]`s with their key sets (federation).
    #[serde(default)]
    issuers: Vec<config::ConfiguredIssuer>,
}

impl Start {
    fn of(registry: &Registry) -> Start {
        Start {
            first_tenant: registry
                .tenants
                .first()
                .map(|t| t.id.clone())
                .unwrap_or_else(|| DEFAULT_TENANT.to_string()),
            default_tenant: registry.default_tenant,
            subscriptions: registry.subscriptions().to_vec(),
            workloads: registry.workloads.clone(),
            issuers: registry.issuers.clone(),
        }
    }
}

/// The directory's meta keys: the inputs' record (see `config::sources`) and [`Start`].
use directory::META_INPUTS;
const META_START: &str = "start";

/// Opens the state folder's directory and brings it to what the config says (under the
/// folder's lock, so processes starting together seed it once). With [`Registrations::Inputs`]
/// unchanged since the last start, the config is not parsed and nothing is seeded.
fn open_directory(
    options: &Options,
    state_dir: &std::path::Path,
    registrations: Registrations,
    notes: &mut Vec<String>,
) -> Result<(directory::Directory, Start)> {
    let _lock = state::lock(state_dir)?;
    if options.reset
        && directory::reset(state_dir).map_err(|e| {
            Error::failure(format!(
                "cannot remove the directory database in {}: {e}",
                state_dir.display()
            ))
        })?
    {
        notes.push(format!(
            "--reset: discarded the directory kept in {} (every object made through Graph, \
             every key added, every sign-in)",
            state_dir.display()
        ));
    }
    let directory = directory::Directory::open(state_dir, options.replication_delay_secs)
        .map_err(ServeError::Directory)?;
    let store = directory.store();
    let file = state_dir.join(directory::sqlite::FILE);
    let (registry, record) = match registrations {
        Registrations::Loaded(registry) => (registry, None),
        Registrations::Inputs { config, flags, env } => {
            let recorded = store.meta(META_INPUTS).map_err(ServeError::Directory)?;
            let start = store.meta(META_START).map_err(ServeError::Directory)?;
            if let (Some(recorded), Some(start)) = (recorded, start) {
                if let Ok(start) = serde_json::from_str::<Start>(&start) {
                    if config::unchanged(&recorded, &flags, &env) {
                        notes.push(format!(
                            "the config, its files and the flags are unchanged since the \
                             directory {} was seeded from them: used as kept, not read again",
                            file.display()
                        ));
                        return Ok((directory, start));
                    }
                }
            }
            let registry = Registry::load(config.as_deref(), &flags, &env)?;
            let record = registry.sources.record(&flags);
            (registry, Some(record))
        }
    };
    // Cleared before seeding: a start that stops half-way must not leave a record that
    // vouches for what it did not finish.
    store
        .set_meta(META_INPUTS, "")
        .map_err(ServeError::Directory)?;
    let seeded = directory.seed(&registry).map_err(ServeError::Directory)?;
    if !seeded.unchanged && (seeded.created + seeded.updated + seeded.removed) > 0 {
        notes.push(format!(
            "directory {}: {} objects made, {} brought back to the config, {} removed",
            file.display(),
            seeded.created,
            seeded.updated,
            seeded.removed
        ));
    }
    let start = Start::of(&registry);
    let start_json = serde_json::to_string(&start).unwrap_or_default();
    store
        .set_meta(META_START, &start_json)
        .map_err(ServeError::Directory)?;
    if let Some(record) = record {
        store
            .set_meta(META_INPUTS, &record)
            .map_err(ServeError::Directory)?;
    }
    Ok((directory, start))
}

/// The TLS certificate and key (`--tls-cert`/`--tls-key`, or the state folder's, made on first
/// use and noted), or none with `--http`.
fn tls_identity(
    options: &Options,
    state_dir: &std::path::Path,
    notes: &mut Vec<String>,
) -> Result<Option<TlsIdentity>> {
    if options.http {
        return Ok(None);
    }
    let identity = match &options.tls_files {
        Some((cert, key)) => state::tls_identity_from_files(cert, key, &options.tls_passwords)?,
        None => state::tls_identity(state_dir)?,
    };
    if identity.created {
        notes.push(format!(
            "made a new localhost TLS certificate {}: clients must trust it (again)",
            identity.ca_file.display()
        ));
    }
    Ok(Some(identity))
}

/// A non-blocking listening socket on `listen`, and the address it got (port 0: any free port).
fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(listen).map_err(|source| ServeError::AddressInUse {
        addr: listen,
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::failure(format!("cannot use the listening socket: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::failure(format!("cannot read the listening address: {e}")))?;
    Ok((listener, local))
}

/// `base`, then the same port as `localhost`, `127.0.0.1` and `[::1]`: the bases an
/// assertion's `aud` may name, since clients reach the service by any of them.
fn audience_bases(base: &str, scheme: &str, port: u16) -> Vec<String> {
    let mut bases = vec![base.to_string()];
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let b = format!("{scheme}://{host}:{port}");
        if !bases.contains(&b) {
            bases.push(b);
        }
    }
    bases
}

/// The ready line, addressed to the first registered tenant.
fn ready_line(
    base: &str,
    local: SocketAddr,
    first_tenant: &str,
    tls: Option<&TlsIdentity>,
) -> Ready {
    let authority = format!("{base}/{first_tenant}");
    Ready {
        listen: local.to_string(),
        token_endpoint: format!("{authority}/oauth2/v2.0/token"),
        jwks_uri: format!("{authority}/discovery/v2.0/keys"),
        authority,
        ca_file: tls.map(|t| t.ca_file.clone()),
        graph: format!("{base}/v1.0"),
        proxy: None,
        workloads: None,
        managed_identity: None,
        env: None,
    }
}

/// Serves until `shutdown` completes, then lets open requests finish (up to five seconds).
/// With `--proxy`, the proxy runs beside the main listener and stops with it.
pub async fn serve(prepared: Prepared, shutdown: impl Future<Output = ()>) -> Result<()> {
    let router: Router = handlers::router(
        prepared.service.clone(),
        prepared.workloads.router(),
        prepared.log,
        prepared.max_in_flight,
    );
    // Stopped with the service: a library caller's runtime may outlive it.
    let writers = prepared.workloads.spawn_writers();
    // Outside the router, so the collapsed path is the one routed.
    let app = MapRequestLayer::new(handlers::collapse_empty_segments::<Incoming> as fn(_) -> _)
        .layer(router);
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    let mi_handle = axum_server::Handle::new();
    let mi_stopper = mi_handle.clone();
    let (stop_proxy, proxy_stopped) = watch::channel(false);
    let stop = async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(GRACEFUL_STOP));
        mi_stopper.graceful_shutdown(Some(GRACEFUL_STOP));
        let _ = stop_proxy.send(true);
    };
    let managed = async {
        match prepared.managed_identity {
            None => Ok(()),
            Some(m) => managed_identity::run(m, prepared.service.clone(), prepared.log, mi_handle)
                .await
                .map_err(ServeError::Stopped),
        }
    };
    let failed = ServeError::Stopped;
    let ca = prepared.proxy.as_ref().map(|p| p.ca.clone());
    let proxy = async {
        match prepared.proxy {
            None => Ok(()),
            Some(p) => {
                let tls = Arc::new(proxy::tls_config(p.ca)?);
                proxy::run(
                    p.listener,
                    tls,
                    app.clone(),
                    prepared.log,
                    prepared.max_tunnels,
                    proxy_stopped,
                )
                .await
                .map_err(failed)
            }
        }
    };
    let make = axum::ServiceExt::<axum::extract::Request<Incoming>>::into_make_service(app.clone());
    let main = async {
        match prepared.tls {
            None => {
                let mut server = axum_server::from_tcp(prepared.listener)
                    .map_err(failed)?
                    .acceptor(NoDelayAcceptor::new())
                    .handle(handle)
                    .http1_only();
                limit_header_time(&mut server);
                server.serve(make).await.map_err(failed)
            }
            Some(identity) => {
                let config = match ca {
                    None => rustls_config(&identity)?,
                    Some(ca) => proxy::sni_config(&identity, ca)?,
                };
                let config = RustlsConfig::from_config(Arc::new(config));
                let acceptor = RustlsAcceptor::new(config).acceptor(NoDelayAcceptor::new());
                let mut server = axum_server::from_tcp(prepared.listener)
                    .map_err(failed)?
                    .acceptor(acceptor)
                    .handle(handle)
                    .http1_only();
                limit_header_time(&mut server);
                server.serve(make).await.map_err(failed)
            }
        }
    };
    let (main, proxy, managed, ()) = tokio::join!(main, proxy, managed, stop);
    for w in writers {
        w.abort();
    }
    main.and(proxy).and(managed)
}

/// HTTP/1 only, with a deadline for each request head, and half-closed connections answered: a
/// client may shut down its sending side once its request is out (`curl`, many scripts with
/// `nc -N`) and still wait for the response; by default hyper treats that EOF as the end of
/// the connection and drops the response.
///
/// HTTP/1 only HTTP/1 only because the automatic
/// HTTP/1-or-2 detection waits for a new connection's first bytes with no deadline at all: a
/// client that connected and sent nothing kept its connection (and socket) forever.
pub(crate) fn limit_header_time<Acc>(server: &mut axum_server::Server<SocketAddr, Acc>) {
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(connection::HEADER_READ_TIMEOUT)
        .half_close(true);
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is called (inside
/// the runtime, before the ready line is printed), not when it is first polled: a script that
/// stops serve as soon as it reads the ready line gets a clean stop, not the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        // If a handler cannot be installed, wait forever on it rather than stop at once.
        async fn received(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                _ = received(term) => {},
                _ = received(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn rustls_config(identity: &TlsIdentity) -> Result<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (chain, key) = identity.rustls_parts();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| Error::failure(format!("cannot use the TLS certificate and key: {e}")))?;
    // HTTP/1.1 only: every OAuth client speaks it, and its header-read timeout then applies.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The host part of a URL for a socket address: `localhost` for the unspecified address,
/// brackets around IPv6.
fn url_host(addr: SocketAddr) -> String {
    match addr.ip() {
        ip if ip.is_unspecified() => format!("localhost:{}", addr.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
        IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
    }
}

/// The internals the fuzz targets (and the corpus-replay test) drive: the token endpoint from
/// the body on, the config loader and the sign-in flow. Not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::directory::Directory;
    pub use crate::face::Face;
    pub use crate::service::{form_fields, TokenRequest, TokenService};
    pub use crate::sign_in_state::UserFlows;
    pub use crate::tokens::{Endpoint, SigningKey};
    pub use crate::user_flow::authorize::{begin as authorize, Answer};
}
