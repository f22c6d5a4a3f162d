//! The credentials, in the shape Rust users know from `azure_identity`: one
//! [`TokenCredential`] trait with an async [`get_token`](TokenCredential::get_token) taking
//! per-call [`TokenRequestOptions`], and [`ClientCertificateCredential`],
//! [`ClientSecretCredential`] and [`ClientAssertionCredential`]; the chain the `AZURE_*`
//! variables describe is [`EnvironmentCredential`](super::EnvironmentCredential), above them all.
//!
//! A credential is long-lived: it holds one HTTP client (built on the first miss, so an extra
//! CA file is read only when the network is needed), an in-memory cache, optionally a disk
//! cache ([`CredentialOptions::disk_cache`], off by default), and the network behind both.
//! Everything that can be checked locally — tenant, client id, endpoint URL, assertion
//! parameters — is checked when the credential is built; the scopes when a token is first
//! asked for, before anything is sent.
//!
//! Concurrent calls for the same scopes share one request (single flight), and a token is
//! renewed [`REFRESH_AHEAD`] before it expires, by one request, while the other callers keep
//! getting the token in hand.
//!
//! Cache problems never fail a request: they go to [`CredentialOptions::on_warning`] (one
//! sentence each) and the token is fetched without the cache.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::assertion::{self, AssertionParams, SigningAlg, DEFAULT_LIFETIME_SECS};
use crate::authority::{self, check_tenant};
use crate::credential::Credential;
use crate::error::{Error, InputKind, Result};
use crate::secret::Secret;

use super::cache::{CacheKey, CachedToken, KeyCredential, Lookup, TokenCache};
use super::client::{ClientAuth, ClientOptions, TokenClient, TokenRequest};
use super::response::TokenResponse;
use super::scope;

/// A boxed future, so that [`TokenCredential`] stays dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The error a [`ClientAssertionCredential`] callback may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long before its expiry a held token is renewed: what the Azure SDKs do (they refresh
/// within five minutes of `expires_on`). A token with less left is never handed out from a
/// disk cache, and one in memory is renewed by the next call.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// While one call renews a token that is within [`REFRESH_AHEAD`] of its expiry, other calls
/// are answered with the token in hand if at least this much of it remains; with less, they
/// wait for the renewal.
const MIN_USABLE: Duration = Duration::from_secs(60);

/// Something that gets access tokens.
///
/// Implemented by every credential of this crate; a boxed `dyn TokenCredential` works too.
///
/// ```
/// use certgen::identity::{TokenCredential, TokenRequestOptions};
///
/// // Any credential will do; this one is refused before anything is sent.
/// async fn bearer(credential: &dyn TokenCredential) -> certgen::Result<String> {
///     let token = credential
///         .get_token(&["https://vault.azure.net/.default"], None)
///         .await?;
///     Ok(format!("Bearer {}", token.token.expose()))
/// }
///
/// async fn fresh(credential: &dyn TokenCredential) -> certgen::Result<()> {
///     // Per-call options: skip the caches this once (say, after a 401).
///     let options = TokenRequestOptions::default().force_refresh(true);
///     credential.get_token(&["api://my-api/.default"], Some(&options)).await?;
///     Ok(())
/// }
/// # let _ = (bearer, fresh);
/// ```
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// A token for `scopes` (toward Entra: one `RESOURCE/.default`; none means Microsoft
    /// Graph). `options`: `None` is [`TokenRequestOptions::default`].
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: Option<&'a TokenRequestOptions>,
    ) -> BoxFuture<'a, Result<AccessToken>>;
}

/// What one [`get_token`](TokenCredential::get_token) call may ask for beyond the scopes.
///
/// ```
/// use certgen::identity::TokenRequestOptions;
///
/// let options = TokenRequestOptions::default()
///     .tenant("fabrikam.onmicrosoft.com")
///     .claims(r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#);
/// assert!(!options.force_refresh);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRequestOptions {
    /// Ignore the caches and ask the token endpoint; the new token is cached. Default: `false`.
    pub force_refresh: bool,
    /// Ask this tenant instead of the credential's. It must be the credential's own tenant or
    /// one of [`CredentialOptions::additionally_allowed_tenants`]. Default: `None`.
    pub tenant: Option<String>,
    /// A claims challenge (the JSON of a `WWW-Authenticate: … claims=` answer, decoded), sent
    /// as the `claims` parameter; such a request skips the caches. Default: `None`.
    pub claims: Option<String>,
}

impl TokenRequestOptions {
    /// Sets [`force_refresh`](Self::force_refresh).
    pub fn force_refresh(mut self, yes: bool) -> Self {
        self.force_refresh = yes;
        self
    }

    /// Sets [`tenant`](Self::tenant).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets [`claims`](Self::claims).
    pub fn claims(mut self, claims: impl Into<String>) -> Self {
        self.claims = Some(claims.into());
        self
    }

    fn bypasses_cache(&self) -> bool {
        self.force_refresh || self.claims.is_some()
    }
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Fetched from the token endpoint.
    Network,
    /// Read from the disk cache.
    Cache,
    /// Held in this credential's memory from an earlier call.
    Memory,
}

impl Source {
    /// `network`, `cache` or `memory`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Network => "network",
            Source::Cache => "cache",
            Source::Memory => "memory",
        }
    }
}

/// An access token. Its `Debug` never shows the token.
///
/// ```
/// # fn show(token: certgen::identity::AccessToken) {
/// // The lifetime left is computed from `expires_on` when asked, never stale.
/// println!("{} s left", token.expires_in().as_secs());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessToken {
    /// The token itself, for an `Authorization: Bearer` header.
    pub token: Secret,
    /// When it expires, as the token endpoint said (`expires_in` counted from its answer).
    pub expires_on: SystemTime,
    /// `Bearer`, as the server wrote it.
    pub token_type: String,
    /// The `ext_expires_in` the server sent with it, when it came from the network.
    pub ext_expires_in: Option<Duration>,
    /// Where this answer came from.
    pub source: Source,
}

impl AccessToken {
    /// The lifetime left now (zero once expired).
    pub fn expires_in(&self) -> Duration {
        self.expires_on
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }

    pub(super) fn cached(t: &CachedToken, source: Source) -> AccessToken {
        AccessToken {
            token: t.access_token.clone(),
            token_type: t.token_type.clone(),
            expires_on: unix(t.expires_on),
            ext_expires_in: None,
            source,
        }
    }

    pub(super) fn fetched(t: TokenResponse) -> AccessToken {
        AccessToken {
            ext_expires_in: t.ext_expires_in.map(Duration::from_secs),
            expires_on: unix(t.expires_on),
            token_type: t.token_type,
            token: t.access_token,
            source: Source::Network,
        }
    }
}

fn unix(secs: i64) -> SystemTime {
    u64::try_from(secs)
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .unwrap_or(UNIX_EPOCH)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether tokens are also kept on disk, where other processes of the same user find them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiskCache {
    /// Memory only: tokens live as long as the credential. The default.
    #[default]
    Off,
    /// The user's cache folder: `$CERTGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/certgen`, else
    /// `~/.cache/certgen`.
    DefaultLocation,
    /// This folder (created 0700; made a private subfolder when others may write to it).
    Dir(PathBuf),
}

/// Receives cache warnings (one sentence each).
///
/// ```
/// use certgen::identity::{CredentialOptions, WarningSink};
///
/// let options = CredentialOptions::default()
///     .on_warning(WarningSink::new(|w| eprintln!("warning: {w}")));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct WarningSink(Arc<dyn Fn(&str) + Send + Sync>);

impl WarningSink {
    /// A sink calling `f` with each warning.
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        WarningSink(Arc::new(f))
    }
}

impl fmt::Debug for WarningSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WarningSink")
    }
}

/// What every credential can be told. Build with `Default` and the setters:
///
/// ```
/// use std::time::Duration;
/// use certgen::identity::{ClientOptions, CredentialOptions, DiskCache};
///
/// let options = CredentialOptions::default()
///     .authority_host("usgov")
///     .disk_cache(DiskCache::DefaultLocation)
///     .transport(ClientOptions::default().timeout(Duration::from_secs(10)));
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CredentialOptions {
    /// `public`, `usgov`, `china` or an https URL (`http://` only to a loopback address).
    /// Default: `None`, the public cloud.
    pub authority_host: Option<String>,
    /// Post to this URL instead of Entra's endpoint (another OAuth server, an emulator): its
    /// scope and client-id rules are its own, so scopes go as given. Default: `None`.
    pub token_endpoint: Option<String>,
    /// The assertion's `aud`, instead of the URL posted to. Default: `None`.
    pub audience: Option<String>,
    /// The client assertion's signature algorithm. Default: PS256.
    pub alg: SigningAlg,
    /// Send the certificate chain as `x5c` (subject name + issuer authentication).
    /// Default: `false`.
    pub send_x5c: bool,
    /// Whether tokens are also kept on disk. Default: [`DiskCache::Off`], memory only.
    pub disk_cache: DiskCache,
    /// Tenants a call may name in [`TokenRequestOptions::tenant`] besides the credential's
    /// own; `"*"` allows any. Default: none.
    pub additionally_allowed_tenants: Vec<String>,
    /// Timeout, extra CA file, retries, proxy. Default: [`ClientOptions::default`].
    pub transport: ClientOptions,
    /// Where cache warnings go. Default: `None`, dropped.
    pub on_warning: Option<WarningSink>,
}

impl CredentialOptions {
    /// Sets [`authority_host`](Self::authority_host).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = Some(host.into());
        self
    }

    /// Sets [`token_endpoint`](Self::token_endpoint).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// Sets [`audience`](Self::audience).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets [`alg`](Self::alg).
    pub fn alg(mut self, alg: SigningAlg) -> Self {
        self.alg = alg;
        self
    }

    /// Sets [`send_x5c`](Self::send_x5c).
    pub fn send_x5c(mut self, yes: bool) -> Self {
        self.send_x5c = yes;
        self
    }

    /// Sets [`disk_cache`](Self::disk_cache).
    pub fn disk_cache(mut self, disk: DiskCache) -> Self {
        self.disk_cache = disk;
        self
    }

    /// Sets [`additionally_allowed_tenants`](Self::additionally_allowed_tenants).
    pub fn additionally_allowed_tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.additionally_allowed_tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`transport`](Self::transport).
    pub fn transport(mut self, transport: ClientOptions) -> Self {
        self.transport = transport;
        self
    }

    /// Sets [`on_warning`](Self::on_warning).
    pub fn on_warning(mut self, sink: WarningSink) -> Self {
        self.on_warning = Some(sink);
        self
    }
    /// The URL tokens will be asked from for `tenant` and `client_id`, with the checks a
    /// credential makes when it is built (tenant, authority host or token URL, and for Entra a
    /// GUID client id): for a caller that refuses bad settings before reading a credential.
    /// `tenant` may be empty only with [`token_endpoint`](Self::token_endpoint).
    pub fn endpoint(&self, tenant: &str, client_id: &str) -> Result<String> {
        let tenant = tenant.trim();
        if let Some(url) = &self.token_endpoint {
            if !tenant.is_empty() {
                check_tenant(tenant)?;
            }
            authority::check_endpoint_url(url)?;
            return Ok(url.clone());
        }
        if tenant.is_empty() {
            return Err(Error::input(InputKind::BadTenant, "no tenant given"));
        }
        let host = self.authority_host.as_deref().unwrap_or("public");
        let endpoint = authority::tenant_token_endpoint(host, tenant)?;
        // Entra's client ids are GUIDs; another server's may be anything.
        assertion::check_client_id(client_id.trim())?;
        Ok(endpoint)
    }

    /// The scopes as a request sends them: for Entra, none means Microsoft Graph's
    /// `/.default`, and each must be `RESOURCE/.default` of one resource; another server's
    /// rules are its own, so its scopes go as given.
    pub fn scopes(&self, scopes: &[&str]) -> Result<Vec<String>> {
        let mut scopes: Vec<String> = scopes.iter().map(|s| s.trim().to_string()).collect();
        if self.token_endpoint.is_none() {
            if scopes.is_empty() {
                scopes.push(scope::DEFAULT_SCOPE.to_string());
            }
            scope::check_for_entra(&scopes)?;
        }
        Ok(scopes)
    }
}

/// One token's place in a credential's memory: the token held, and the lock that makes
/// concurrent callers share one request for it.
#[derive(Debug)]
struct Slot {
    /// The scopes as sent (checked once, when the slot was made).
    scopes: Vec<String>,
    /// The URL these tokens come from (the tenant asked for decides it).
    endpoint: String,
    /// The disk cache's name for these tokens.
    key: CacheKey,
    token: Mutex<Option<CachedToken>>,
    flight: tokio::sync::Mutex<()>,
}

impl Slot {
    /// The token held, if at least `left` of it remains at `now`.
    fn held(&self, now: i64, left: Duration) -> Option<CachedToken> {
        let token = self.token.lock().unwrap_or_else(|p| p.into_inner());
        token
            .as_ref()
            .filter(|t| remains(t, now) >= left.as_secs() as i64)
            .cloned()
    }

    fn keep(&self, token: CachedToken) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token);
    }
}

fn remains(t: &CachedToken, now: i64) -> i64 {
    t.expires_on.saturating_sub(now)
}

/// How a credential proves itself, per request.
enum Proof {
    /// A fresh assertion is signed for every attempt.
    Certificate {
        certificate: Credential,
        alg: SigningAlg,
        x5c: bool,
    },
    Secret(Secret),
    /// The caller's callback is asked once per request.
    Assertion(AssertionCallback),
}

type AssertionCallback =
    Arc<dyn Fn() -> BoxFuture<'static, std::result::Result<String, BoxError>> + Send + Sync>;

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proof::Certificate { certificate, .. } => f
                .debug_struct("Certificate")
                .field("thumbprint", &certificate.leaf().thumbprints.thumbprint())
                .finish_non_exhaustive(),
            Proof::Secret(_) => f.write_str("Secret(redacted)"),
            Proof::Assertion(_) => f.write_str("Assertion(callback)"),
        }
    }
}

impl Proof {
    fn key(&self) -> KeyCredential<'_> {
        match self {
            Proof::Certificate { certificate, .. } => {
                KeyCredential::Certificate(&certificate.leaf().thumbprints)
            }
            Proof::Secret(secret) => KeyCredential::Secret(secret),
            Proof::Assertion(_) => KeyCredential::Assertion,
        }
    }
}

/// What every credential shares: the endpoint, the client id, the caches and the HTTP client.
#[derive(Debug)]
struct Exchange {
    tenant: String,
    endpoint: String,
    client_id: String,
    options: CredentialOptions,
    proof: Proof,
    disk: Option<TokenCache>,
    http: Mutex<Option<TokenClient>>,
    /// Per (tenant asked, scopes as given): a map lookup and a clock read is all a cached
    /// call costs.
    memory: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Exchange {
    fn new(
        tenant: &str,
        client_id: &str,
        options: CredentialOptions,
        proof: Proof,
    ) -> Result<Exchange> {
        let endpoint = options.endpoint(tenant, client_id)?;
        let client_id = client_id.trim().to_string();
        if let (Proof::Certificate { .. }, Some(aud)) = (&proof, &options.audience) {
            authority::check_endpoint_url(aud)?;
        }
        let disk = match &options.disk_cache {
            DiskCache::Off => None,
            DiskCache::Dir(dir) => Some(TokenCache::new(dir)),
            DiskCache::DefaultLocation => match TokenCache::default_location() {
                Ok(cache) => Some(cache),
                Err(e) => {
                    warn(&options, &format!("{e}; going on without the token cache"));
                    None
                }
            },
        };
        let exchange = Exchange {
            tenant: tenant.trim().to_string(),
            endpoint,
            client_id,
            options,
            proof,
            disk,
            http: Mutex::new(None),
            memory: Mutex::new(HashMap::new()),
        };
        // The assertion's parameters are checked once here, not at the first request.
        if let Proof::Certificate { .. } = exchange.proof {
            assertion::check_params(&exchange.assertion_params(&exchange.endpoint))?;
        }
        Ok(exchange)
    }

    fn assertion_params(&self, endpoint: &str) -> AssertionParams {
        let (alg, x5c) = match &self.proof {
            Proof::Certificate { alg, x5c, .. } => (*alg, *x5c),
            _ => (SigningAlg::default(), false),
        };
        AssertionParams {
            client_id: self.client_id.clone(),
            audience: self
                .options
                .audience
                .clone()
                .unwrap_or_else(|| endpoint.to_string()),
            alg,
            x5c,
            lifetime_secs: DEFAULT_LIFETIME_SECS,
        }
    }

    /// The HTTP client, built on the first miss and kept.
    fn http(&self) -> Result<TokenClient> {
        let mut slot = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = &*slot {
            return Ok(client.clone());
        }
        let client = TokenClient::new(self.options.transport.clone())?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// The slot for `scopes` in `tenant`, made (with every check) on first use.
    fn slot(&self, scopes: &[&str], tenant: Option<&str>) -> Result<Arc<Slot>> {
        let mut name = String::with_capacity(64);
        name.push_str(tenant.unwrap_or(""));
        for s in scopes {
            name.push('\n');
            name.push_str(s);
        }
        if let Some(slot) = self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&name)
        {
            return Ok(slot.clone());
        }
        let endpoint = match tenant {
            Some(t) => self.endpoint_for(t)?,
            None => self.endpoint.clone(),
        };
        let scopes = self.options.scopes(scopes)?;
        let key = CacheKey::new(&endpoint, &self.client_id, &scopes, self.proof.key());
        let made = Arc::new(Slot {
            scopes,
            endpoint,
            key,
            token: Mutex::new(None),
            flight: tokio::sync::Mutex::new(()),
        });
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        // Two first calls may both have made one: the first stored wins, so both share it.
        Ok(memory.entry(name).or_insert(made).clone())
    }

    /// The token URL for a tenant a call names: allowed only as the credential's own or one
    /// of the additionally allowed tenants (as the Azure SDKs require), and only toward Entra.
    fn endpoint_for(&self, tenant: &str) -> Result<String> {
        let tenant = tenant.trim();
        if tenant.eq_ignore_ascii_case(&self.tenant) {
            return Ok(self.endpoint.clone());
        }
        let allowed = &self.options.additionally_allowed_tenants;
        if !allowed
            .iter()
            .any(|a| a == "*" || a.trim().eq_ignore_ascii_case(tenant))
        {
            return Err(Error::input(
                InputKind::TenantNotAllowed,
                format!(
                    "tenant {tenant:?} is neither the credential's nor one of its additionally allowed tenants"
                ),
            ));
        }
        if self.options.token_endpoint.is_some() {
            return Err(Error::input(
                InputKind::TenantNotAllowed,
                "a call cannot name a tenant when the credential posts to a fixed token URL",
            ));
        }
        self.options.endpoint(tenant, &self.client_id)
    }

    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<&TokenRequestOptions>,
    ) -> Result<AccessToken> {
        let default = TokenRequestOptions::default();
        let options = options.unwrap_or(&default);
        let slot = self.slot(scopes, options.tenant.as_deref())?;
        let bypass = options.bypasses_cache();
        if !bypass {
            if let Some(t) = slot.held(now_secs(), REFRESH_AHEAD) {
                return Ok(AccessToken::cached(&t, Source::Memory));
            }
        }
        // A request is due. A token still in hand (renewal ahead of expiry) is handed to the
        // callers that find a renewal already under way, instead of making them wait.
        let in_hand = (!bypass)
            .then(|| slot.held(now_secs(), MIN_USABLE))
            .flatten();
        let _flight = match (&in_hand, slot.flight.try_lock()) {
            (_, Ok(guard)) => guard,
            (Some(t), Err(_)) => return Ok(AccessToken::cached(t, Source::Memory)),
            (None, Err(_)) => slot.flight.lock().await,
        };
        if !bypass {
            // The call that held the flight may have just got it.
            if let Some(t) = slot.held(now_secs(), REFRESH_AHEAD) {
                return Ok(AccessToken::cached(&t, Source::Memory));
            }
            if let Some(t) = self.disk_hit(&slot) {
                slot.keep(t.clone());
                return Ok(AccessToken::cached(&t, Source::Cache));
            }
        }
        match self.fetch(&slot, options).await {
            Ok(token) => Ok(token),
            // A renewal ahead of expiry that failed leaves the caller the token in hand.
            Err(e) if in_hand.is_some() => {
                warn(
                    &self.options,
                    &format!(
                        "renewing a token ahead of its expiry failed ({e}); using the one in hand"
                    ),
                );
                Ok(AccessToken::cached(
                    in_hand.as_ref().expect("checked"),
                    Source::Memory,
                ))
            }
            Err(e) => Err(e),
        }
    }

    fn disk_hit(&self, slot: &Slot) -> Option<CachedToken> {
        match self.disk.as_ref()?.lookup(&slot.key, now_secs()) {
            Lookup::Hit(t) => Some(t),
            Lookup::Miss => None,
            Lookup::Skipped { warning } => {
                warn(&self.options, &warning);
                None
            }
        }
    }

    async fn fetch(&self, slot: &Slot, options: &TokenRequestOptions) -> Result<AccessToken> {
        let request = TokenRequest {
            endpoint: &slot.endpoint,
            client_id: &self.client_id,
            scopes: &slot.scopes,
            claims: options.claims.as_deref(),
        };
        let client = self.http()?;
        let token = match &self.proof {
            Proof::Certificate { certificate, .. } => {
                let params = self.assertion_params(&slot.endpoint);
                client
                    .fetch(&request, || {
                        assertion::sign(certificate, &params).map(|s| ClientAuth::Assertion(s.jwt))
                    })
                    .await?
            }
            Proof::Secret(secret) => {
                client
                    .fetch(&request, || Ok(ClientAuth::Secret(secret.clone())))
                    .await?
            }
            Proof::Assertion(callback) => {
                let jwt = callback().await.map_err(Error::Assertion)?;
                client
                    .fetch(&request, || Ok(ClientAuth::Assertion(jwt.clone())))
                    .await?
            }
        };
        let entry = CachedToken {
            token_type: token.token_type.clone(),
            access_token: token.access_token.clone(),
            expires_on: token.expires_on,
        };
        if let Some(disk) = &self.disk {
            if let Err(e) = disk.store(&slot.key, &entry) {
                warn(&self.options, &format!("{e}; the token was not cached"));
            }
        }
        slot.keep(entry);
        Ok(AccessToken::fetched(token))
    }
}

fn warn(options: &CredentialOptions, text: &str) {
    if let Some(sink) = &options.on_warning {
        (sink.0)(text);
    }
}

/// A client that proves itself with a certificate: a fresh client assertion is signed for
/// every attempt, so a retry after a long `Retry-After` never sends one about to expire.
///
/// ```
/// use certgen::identity::{ClientCertificateCredential, CredentialOptions};
/// use certgen::{Credential, CredentialSource, SecretSource};
///
/// # fn demo() -> certgen::Result<()> {
/// // A PEM with the certificate and its key, a PKCS#12, or a pair of files.
/// let source = CredentialSource {
///     cert: Some("app.pem".into()),
///     ..Default::default()
/// };
/// let certificate = Credential::load(&source, &SecretSource::default())?;
/// let credential = ClientCertificateCredential::new(
///     "contoso.onmicrosoft.com",
///     "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8",
///     certificate,
///     CredentialOptions::default(),
/// )?;
/// # let _ = credential; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientCertificateCredential {
    exchange: Exchange,
}

impl ClientCertificateCredential {
    /// A credential for app `client_id` in `tenant` (a GUID or a domain; it may be empty only
    /// with [`CredentialOptions::token_endpoint`]).
    pub fn new(
        tenant: &str,
        client_id: &str,
        certificate: Credential,
        options: CredentialOptions,
    ) -> Result<Self> {
        let proof = Proof::Certificate {
            certificate,
            alg: options.alg,
            x5c: options.send_x5c,
        };
        Ok(ClientCertificateCredential {
            exchange: Exchange::new(tenant, client_id, options, proof)?,
        })
    }

    /// The URL tokens are asked from.
    pub fn endpoint(&self) -> &str {
        &self.exchange.endpoint
    }

    /// The certificate and key it signs with.
    pub fn certificate(&self) -> &Credential {
        match &self.exchange.proof {
            Proof::Certificate { certificate, .. } => certificate,
            _ => unreachable!("a certificate credential holds a certificate"),
        }
    }
}

/// A client that proves itself with a client secret.
///
/// ```
/// use certgen::identity::{ClientSecretCredential, CredentialOptions};
/// use certgen::Secret;
///
/// # fn demo() -> certgen::Result<()> {
/// let credential = ClientSecretCredential::new(
///     "contoso.onmicrosoft.com",
///     "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8",
///     Secret::new(std::env::var("MY_APP_SECRET").unwrap_or_default()),
///     CredentialOptions::default(),
/// );
/// # let _ = credential; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientSecretCredential {
    exchange: Exchange,
}

impl ClientSecretCredential {
    /// A credential for app `client_id` in `tenant` (it may be empty only with
    /// [`CredentialOptions::token_endpoint`]). An empty secret is refused: the server's answer
    /// to it would not say so.
    pub fn new(
        tenant: &str,
        client_id: &str,
        secret: Secret,
        options: CredentialOptions,
    ) -> Result<Self> {
        if secret.is_empty() {
            return Err(Error::input(
                InputKind::EmptySecret,
                "the client secret is empty",
            ));
        }
        Ok(ClientSecretCredential {
            exchange: Exchange::new(tenant, client_id, options, Proof::Secret(secret))?,
        })
    }

    /// The URL tokens are asked from.
    pub fn endpoint(&self) -> &str {
        &self.exchange.endpoint
    }
}

/// A client that proves itself with an assertion someone else signs: a callback asked for a
/// fresh one per token request (a key in an HSM or a key vault, a federated token read from a
/// file, another identity provider's token).
///
/// ```
/// use certgen::identity::{ClientAssertionCredential, CredentialOptions};
///
/// # fn demo() -> certgen::Result<()> {
/// let credential = ClientAssertionCredential::new(
///     "contoso.onmicrosoft.com",
///     "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8",
///     || async {
///         // A federated token from the platform, read afresh for each request.
///         std::fs::read_to_string("/var/run/secrets/tokens/azure-identity-token")
///     },
///     CredentialOptions::default(),
/// )?;
/// # let _ = credential; Ok(()) }
/// ```
pub struct ClientAssertionCredential {
    exchange: Exchange,
}

impl fmt::Debug for ClientAssertionCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertionCredential")
            .field("endpoint", &self.exchange.endpoint)
            .field("client_id", &self.exchange.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientAssertionCredential {
    /// A credential for app `client_id` in `tenant` (it may be empty only with
    /// [`CredentialOptions::token_endpoint`]) whose assertion `assertion` returns. Its failure
    /// is returned as [`Error::Assertion`], and nothing is sent.
    pub fn new<F, Fut, E>(
        tenant: &str,
        client_id: &str,
        assertion: F,
        options: CredentialOptions,
    ) -> Result<Self>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<String, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let callback: AssertionCallback = Arc::new(move || {
            let fut = assertion();
            Box::pin(async move { fut.await.map(|s| s.trim().to_string()).map_err(Into::into) })
        });
        Ok(ClientAssertionCredential {
            exchange: Exchange::new(tenant, client_id, options, Proof::Assertion(callback))?,
        })
    }

    /// The URL tokens are asked from.
    pub fn endpoint(&self) -> &str {
        &self.exchange.endpoint
    }
}

macro_rules! token_credential {
    ($($t:ty),*) => {$(
        impl TokenCredential for $t {
            fn get_token<'a>(
                &'a self,
                scopes: &'a [&'a str],
                options: Option<&'a TokenRequestOptions>,
            ) -> BoxFuture<'a, Result<AccessToken>> {
                Box::pin(self.exchange.get_token(scopes, options))
            }
        }
    )*};
}

token_credential!(
    ClientCertificateCredential,
    ClientSecretCredential,
    ClientAssertionCredential
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportKind;

    /// A secret credential for a loopback port nothing listens on: any network attempt fails
    /// with a transport error, so a token proves a cache answered.
    fn credential(cache_dir: PathBuf) -> ClientSecretCredential {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let options = CredentialOptions::default()
            .token_endpoint(format!("http://127.0.0.1:{port}/t/oauth2/v2.0/token"))
            .disk_cache(DiskCache::Dir(cache_dir))
            .transport(
                ClientOptions::default()
                    .proxy_from_env(false)
                    .max_attempts(1),
            );
        ClientSecretCredential::new("", "app", Secret::new("s3cret"), options).unwrap()
    }

    const SCOPES: &[&str] = &["api://x/.default"];

    fn prefill(c: &ClientSecretCredential, expires_on: i64) {
        let scopes: Vec<String> = SCOPES.iter().map(|s| s.to_string()).collect();
        let key = CacheKey::new(
            &c.exchange.endpoint,
            &c.exchange.client_id,
            &scopes,
            c.exchange.proof.key(),
        );
        let entry = CachedToken {
            token_type: "Bearer".into(),
            access_token: Secret::new("cached-token"),
            expires_on,
        };
        c.exchange
            .disk
            .as_ref()
            .unwrap()
            .store(&key, &entry)
            .unwrap();
    }

    fn now() -> i64 {
        now_secs()
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_disk_hit_needs_no_network_and_then_memory_answers() {
        let dir = tempfile::tempdir().unwrap();
        let c = credential(dir.path().to_path_buf());
        let expires_on = now() + 3600;
        prefill(&c, expires_on);
        let token = block_on(c.get_token(SCOPES, None)).unwrap();
        assert_eq!(token.source, Source::Cache);
        assert_eq!(token.token.expose(), "cached-token");
        assert_eq!(token.expires_on, unix(expires_on));
        assert!(
            (3590..=3600).contains(&token.expires_in().as_secs()),
            "{token:?}"
        );
        assert!(!format!("{token:?}").contains("cached-token"), "redacted");
        std::fs::remove_dir_all(dir.path()).unwrap();
        let again = block_on(c.get_token(SCOPES, None)).unwrap();
        assert_eq!(again.source, Source::Memory);
        assert_eq!(again.token.expose(), "cached-token");
    }

    #[test]
    fn force_refresh_and_claims_do_not_read_the_caches() {
        for options in [
            TokenRequestOptions::default().force_refresh(true),
            TokenRequestOptions::default().claims("{}"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let c = credential(dir.path().to_path_buf());
            prefill(&c, now() + 3600);
            let e = block_on(c.get_token(SCOPES, Some(&options))).unwrap_err();
            assert!(
                matches!(&e, Error::Transport(t) if t.kind == TransportKind::Refused),
                "{options:?}: {e:?}"
            );
        }
    }

    #[test]
    fn memory_only_by_default() {
        let c = ClientSecretCredential::new(
            "contoso.onmicrosoft.com",
            "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8",
            Secret::new("s"),
            CredentialOptions::default(),
        )
        .unwrap();
        assert!(c.exchange.disk.is_none());
    }

    #[test]
    fn a_token_near_expiry_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let c = credential(dir.path().to_path_buf());
        prefill(&c, now() + 200);
        let e = block_on(c.get_token(SCOPES, None)).unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
    }

    #[test]
    fn a_failed_renewal_ahead_of_expiry_leaves_the_token_in_hand() {
        let dir = tempfile::tempdir().unwrap();
        let c = credential(dir.path().to_path_buf());
        let slot = c.exchange.slot(SCOPES, None).unwrap();
        slot.keep(CachedToken {
            token_type: "Bearer".into(),
            access_token: Secret::new("held"),
            expires_on: now() + 200,
        });
        let token = block_on(c.get_token(SCOPES, None)).unwrap();
        assert_eq!(token.token.expose(), "held");
        // With under a minute left it is not handed out: the failure is the answer.
        slot.keep(CachedToken {
            token_type: "Bearer".into(),
            access_token: Secret::new("held"),
            expires_on: now() + 30,
        });
        assert!(block_on(c.get_token(SCOPES, None)).is_err());
    }

    #[test]
    fn a_call_names_only_an_allowed_tenant() {
        let app = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";
        let make = |options: CredentialOptions| {
            ClientSecretCredential::new("contoso.onmicrosoft.com", app, Secret::new("s"), options)
                .unwrap()
        };
        let strict = make(CredentialOptions::default());
        let other = TokenRequestOptions::default().tenant("fabrikam.onmicrosoft.com");
        let e = block_on(strict.get_token(SCOPES, Some(&other))).unwrap_err();
        assert_eq!(e.input_kind(), Some(&InputKind::TenantNotAllowed));
        let open = make(
            CredentialOptions::default().additionally_allowed_tenants(["fabrikam.onmicrosoft.com"]),
        );
        let slot = open
            .exchange
            .slot(SCOPES, Some("fabrikam.onmicrosoft.com"))
            .unwrap();
        assert_eq!(
            slot.endpoint,
            "https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn credentials_are_checked_when_built_and_scopes_before_sending() {
        let opts = CredentialOptions::default();
        let app = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";
        let secret = || Secret::new("s");
        let c = ClientSecretCredential::new("contoso.onmicrosoft.com", app, secret(), opts.clone())
            .unwrap();
        assert_eq!(
            c.endpoint(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let e = block_on(c.get_token(&["User.Read"], None)).unwrap_err();
        assert_eq!(e.input_kind(), Some(&InputKind::NotDefaultScope));
        let kind = |r: Result<ClientSecretCredential>| r.unwrap_err().input_kind().cloned();
        assert_eq!(
            kind(ClientSecretCredential::new(
                "common",
                app,
                secret(),
                opts.clone()
            )),
            Some(InputKind::MultiTenant)
        );
        assert_eq!(
            kind(ClientSecretCredential::new("", app, secret(), opts.clone())),
            Some(InputKind::BadTenant)
        );
        assert_eq!(
            kind(ClientSecretCredential::new(
                "contoso.onmicrosoft.com",
                "my app",
                secret(),
                opts.clone()
            )),
            Some(InputKind::BadClientId)
        );
        assert_eq!(
            kind(ClientSecretCredential::new(
                "contoso.onmicrosoft.com",
                app,
                Secret::new(""),
                opts.clone()
            )),
            Some(InputKind::EmptySecret)
        );
        let insecure = opts.token_endpoint("http://10.0.0.1/token");
        assert_eq!(
            kind(ClientSecretCredential::new("", "any", secret(), insecure)),
            Some(InputKind::InsecureUrl)
        );
    }
}
