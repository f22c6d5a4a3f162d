//! The credentials, in the shape Rust users know from `azure_identity`: one
//! [`TokenCredential`] trait with an async [`get_token`](TokenCredential::get_token), and
//! [`ClientCertificateCredential`], [`ClientSecretCredential`] and [`EnvironmentCredential`].
//!
//! A credential is long-lived: it holds one HTTP client (built on the first miss, so an extra
//! CA file is read only when the network is needed), an in-memory cache in front of the disk
//! cache (the one `certgen token` uses), and the network behind both. Everything that can be
//! checked locally — tenant, client id, endpoint URL, assertion parameters — is checked when
//! the credential is built; the scopes when a token is asked for, before anything is sent.
//!
//! Cache problems never fail a request: they go to [`CredentialOptions::on_warning`] (one
//! sentence each) and the token is fetched without the cache.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::assertion::{self, AssertionParams, SigningAlg, DEFAULT_LIFETIME_SECS};
use crate::authority::{self, check_tenant};
use crate::credential::{Credential, CredentialSource};
use crate::error::{Error, InputKind, Result};
use crate::secret::{Secret, SecretSource};

use super::cache::{CacheKey, CachedToken, KeyCredential, Lookup, TokenCache, MIN_REMAINING_SECS};
use super::client::{ClientAuth, ClientOptions, TokenClient, TokenRequest};
use super::response::TokenResponse;
use super::scope;

/// A boxed future, so that [`TokenCredential`] stays dyn-compatible.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that gets access tokens.
pub trait TokenCredential: Send + Sync {
    /// A token for `scopes` (for Entra: one `RESOURCE/.default`; none means Microsoft Graph).
    fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken>>;
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Fetched from the token endpoint.
    Network,
    /// Read from the disk cache.
    Cache,
    /// Held in this credential's memory from an earlier call.
    Memory,
}

impl Source {
    /// `network`, `cache` or `memory`, as `certgen token --output json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Network => "network",
            Source::Cache => "cache",
            Source::Memory => "memory",
        }
    }
}

/// An access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: Secret,
    /// `Bearer`, as the server wrote it.
    pub token_type: String,
    pub expires_on: OffsetDateTime,
    /// Seconds of validity left when it was handed out.
    pub expires_in: i64,
    /// As the server said; `None` from a cache, which keeps only what answering needs.
    pub ext_expires_in: Option<u64>,
    pub source: Source,
}

impl AccessToken {
    fn cached(t: &CachedToken, now: i64, source: Source) -> AccessToken {
        AccessToken {
            token: t.access_token.clone(),
            token_type: t.token_type.clone(),
            expires_on: unix(t.expires_on),
            expires_in: t.expires_on - now,
            ext_expires_in: None,
            source,
        }
    }

    fn fetched(t: TokenResponse) -> AccessToken {
        AccessToken {
            expires_in: i64::try_from(t.expires_in).unwrap_or(i64::MAX),
            ext_expires_in: t.ext_expires_in,
            expires_on: unix(t.expires_on),
            token_type: t.token_type,
            token: t.access_token,
            source: Source::Network,
        }
    }
}

fn unix(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// How the caches take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// Answer from memory or disk while at least 300 s of a token remain; store what is fetched.
    #[default]
    Use,
    /// Neither read nor write any cache.
    NoCache,
    /// Do not read the caches, but store the new token.
    ForceRefresh,
}

/// Receives cache warnings (one sentence each).
#[derive(Clone)]
pub struct WarningSink(pub Arc<dyn Fn(&str) + Send + Sync>);

impl fmt::Debug for WarningSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WarningSink")
    }
}

/// What every credential can be told.
#[derive(Debug, Clone, Default)]
pub struct CredentialOptions {
    /// `public`, `usgov`, `china` or an https URL; `None`: `public`.
    pub authority_host: Option<String>,
    /// Post to this URL instead of Entra's endpoint (another OAuth server, `certgen serve`):
    /// its scope and client-id rules are its own, so scopes go as given.
    pub token_endpoint: Option<String>,
    /// The assertion's `aud`, instead of the URL posted to.
    pub audience: Option<String>,
    pub alg: SigningAlg,
    /// Send the certificate chain as `x5c` (subject name + issuer authentication).
    pub send_x5c: bool,
    pub cache: CachePolicy,
    /// The disk cache folder; `None`: the one `certgen token` uses.
    pub cache_dir: Option<PathBuf>,
    /// Timeout, extra CA file, retries, proxy.
    pub transport: ClientOptions,
    /// Where cache warnings go; `None`: dropped.
    pub on_warning: Option<WarningSink>,
}

impl CredentialOptions {
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

/// What every credential shares: the endpoint, the client id, the caches and the HTTP client.
#[derive(Debug)]
struct Exchange {
    endpoint: String,
    client_id: String,
    options: CredentialOptions,
    disk: Option<TokenCache>,
    http: Mutex<Option<TokenClient>>,
    memory: Mutex<HashMap<String, CachedToken>>,
}

impl Exchange {
    fn new(tenant: &str, client_id: &str, options: CredentialOptions) -> Result<Exchange> {
        let endpoint = options.endpoint(tenant, client_id)?;
        let client_id = client_id.trim().to_string();
        let disk = match (options.cache, &options.cache_dir) {
            (CachePolicy::NoCache, _) => None,
            (_, Some(dir)) => Some(TokenCache::new(dir)),
            (_, None) => match TokenCache::default_location() {
                Ok(cache) => Some(cache),
                Err(e) => {
                    warn(&options, &format!("{e}; going on without the token cache"));
                    None
                }
            },
        };
        Ok(Exchange {
            endpoint,
            client_id,
            options,
            disk,
            http: Mutex::new(None),
            memory: Mutex::new(HashMap::new()),
        })
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

    async fn get_token(
        &self,
        scopes: &[&str],
        key: KeyCredential<'_>,
        auth: impl FnMut() -> Result<ClientAuth>,
    ) -> Result<AccessToken> {
        let scopes = self.options.scopes(scopes)?;
        let key = CacheKey::new(&self.endpoint, &self.client_id, &scopes, key);
        if self.options.cache == CachePolicy::Use {
            if let Some(hit) = self.lookup(&key) {
                return Ok(hit);
            }
        }
        let request = TokenRequest {
            endpoint: &self.endpoint,
            client_id: &self.client_id,
            scopes: &scopes,
        };
        let token = self.http()?.fetch(&request, auth).await?;
        if self.options.cache != CachePolicy::NoCache {
            let entry = CachedToken {
                token_type: token.token_type.clone(),
                access_token: token.access_token.clone(),
                expires_on: token.expires_on,
            };
            if let Some(disk) = &self.disk {
                if let Err(e) = disk.store(&key, &entry) {
                    warn(&self.options, &format!("{e}; the token was not cached"));
                }
            }
            self.memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key.as_str().to_string(), entry);
        }
        Ok(AccessToken::fetched(token))
    }

    fn lookup(&self, key: &CacheKey) -> Option<AccessToken> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = memory.get(key.as_str()) {
            if t.expires_on - now >= MIN_REMAINING_SECS {
                return Some(AccessToken::cached(t, now, Source::Memory));
            }
        }
        match self.disk.as_ref()?.lookup(key, now) {
            Lookup::Hit(t) => {
                let token = AccessToken::cached(&t, now, Source::Cache);
                memory.insert(key.as_str().to_string(), t);
                Some(token)
            }
            Lookup::Miss => None,
            Lookup::Skipped { warning } => {
                warn(&self.options, &warning);
                None
            }
        }
    }
}

fn warn(options: &CredentialOptions, text: &str) {
    if let Some(sink) = &options.on_warning {
        (sink.0)(text);
    }
}

/// A client that proves itself with a certificate: a fresh client assertion is signed for
/// every attempt, so a retry after a long `Retry-After` never sends one about to expire.
#[derive(Debug)]
pub struct ClientCertificateCredential {
    exchange: Exchange,
    certificate: Credential,
    params: AssertionParams,
}

impl ClientCertificateCredential {
    /// `tenant` may be empty only with [`CredentialOptions::token_endpoint`].
    pub fn new(
        tenant: &str,
        client_id: &str,
        certificate: Credential,
        options: CredentialOptions,
    ) -> Result<Self> {
        let exchange = Exchange::new(tenant, client_id, options)?;
        let audience = match &exchange.options.audience {
            Some(aud) => {
                authority::check_endpoint_url(aud)?;
                aud.clone()
            }
            None => exchange.endpoint.clone(),
        };
        let params = AssertionParams {
            client_id: exchange.client_id.clone(),
            audience,
            alg: exchange.options.alg,
            x5c: exchange.options.send_x5c,
            lifetime_secs: DEFAULT_LIFETIME_SECS,
        };
        assertion::check_params(&params)?;
        Ok(ClientCertificateCredential {
            exchange,
            certificate,
            params,
        })
    }

    /// The URL tokens are asked from.
    pub fn endpoint(&self) -> &str {
        &self.exchange.endpoint
    }

    pub fn certificate(&self) -> &Credential {
        &self.certificate
    }
}

impl TokenCredential for ClientCertificateCredential {
    fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.exchange.get_token(
            scopes,
            KeyCredential::Certificate(&self.certificate.leaf().thumbprints),
            || {
                assertion::sign(&self.certificate, &self.params)
                    .map(|s| ClientAuth::Assertion(s.jwt))
            },
        ))
    }
}

/// A client that proves itself with a client secret.
#[derive(Debug)]
pub struct ClientSecretCredential {
    exchange: Exchange,
    secret: Secret,
}

impl ClientSecretCredential {
    /// `tenant` may be empty only with [`CredentialOptions::token_endpoint`]. An empty secret
    /// is refused: the server's answer to it would not say so.
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
            exchange: Exchange::new(tenant, client_id, options)?,
            secret,
        })
    }

    /// The URL tokens are asked from.
    pub fn endpoint(&self) -> &str {
        &self.exchange.endpoint
    }
}

impl TokenCredential for ClientSecretCredential {
    fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(
            self.exchange
                .get_token(scopes, KeyCredential::Secret(&self.secret), || {
                    Ok(ClientAuth::Secret(self.secret.clone()))
                }),
        )
    }
}

/// The credential the `AZURE_*` variables describe, as Azure Identity reads them:
/// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, then `AZURE_CLIENT_SECRET`, else
/// `AZURE_CLIENT_CERTIFICATE_PATH` (with `AZURE_CLIENT_CERTIFICATE_PASSWORD`), and
/// `AZURE_AUTHORITY_HOST` and `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` where the options leave
/// them open.
pub struct EnvironmentCredential {
    inner: Box<dyn TokenCredential>,
}

impl fmt::Debug for EnvironmentCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnvironmentCredential")
    }
}

impl EnvironmentCredential {
    pub fn new(mut options: CredentialOptions) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let missing = |name: &str| {
            Error::input(
                InputKind::MissingVariable { var: name.into() },
                format!("{name} is not set"),
            )
        };
        let tenant = var("AZURE_TENANT_ID").unwrap_or_default();
        let client_id = var("AZURE_CLIENT_ID").ok_or_else(|| missing("AZURE_CLIENT_ID"))?;
        if options.authority_host.is_none() {
            options.authority_host = var("AZURE_AUTHORITY_HOST");
        }
        if var("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        {
            options.send_x5c = true;
        }
        let inner: Box<dyn TokenCredential> = if let Some(secret) = var("AZURE_CLIENT_SECRET") {
            Box::new(ClientSecretCredential::new(
                &tenant,
                &client_id,
                Secret::new(secret),
                options,
            )?)
        } else if let Some(path) = var("AZURE_CLIENT_CERTIFICATE_PATH") {
            let passwords = SecretSource::default()
                .value(var("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new));
            let certificate = Credential::load(
                &CredentialSource {
                    cert: Some(path.into()),
                    ..Default::default()
                },
                &passwords,
            )?;
            Box::new(ClientCertificateCredential::new(
                &tenant,
                &client_id,
                certificate,
                options,
            )?)
        } else {
            return Err(missing(
                "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH",
            ));
        };
        Ok(EnvironmentCredential { inner })
    }
}

impl TokenCredential for EnvironmentCredential {
    fn get_token<'a>(&'a self, scopes: &'a [&'a str]) -> BoxFuture<'a, Result<AccessToken>> {
        self.inner.get_token(scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportKind;

    /// A secret credential for a loopback port nothing listens on: any network attempt fails
    /// with a transport error, so a token proves a cache answered.
    fn credential(cache_dir: PathBuf, cache: CachePolicy) -> ClientSecretCredential {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let options = CredentialOptions {
            token_endpoint: Some(format!("http://127.0.0.1:{port}/t/oauth2/v2.0/token")),
            cache,
            cache_dir: Some(cache_dir),
            transport: ClientOptions {
                proxy_from_env: false,
                max_attempts: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        ClientSecretCredential::new("", "app", Secret::new("s3cret"), options).unwrap()
    }

    const SCOPES: &[&str] = &["api://x/.default"];

    fn prefill(c: &ClientSecretCredential, expires_on: i64) {
        let scopes: Vec<String> = SCOPES.iter().map(|s| s.to_string()).collect();
        let key = CacheKey::new(
            &c.exchange.endpoint,
            &c.exchange.client_id,
            &scopes,
            KeyCredential::Secret(&c.secret),
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
        OffsetDateTime::now_utc().unix_timestamp()
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
        let c = credential(dir.path().to_path_buf(), CachePolicy::Use);
        let expires_on = now() + 3600;
        prefill(&c, expires_on);
        let token = block_on(c.get_token(SCOPES)).unwrap();
        assert_eq!(token.source, Source::Cache);
        assert_eq!(token.token.expose(), "cached-token");
        assert_eq!(token.expires_on.unix_timestamp(), expires_on);
        assert!((3590..=3600).contains(&token.expires_in), "{token:?}");
        assert!(!format!("{token:?}").contains("cached-token"), "redacted");
        std::fs::remove_dir_all(dir.path()).unwrap();
        let again = block_on(c.get_token(SCOPES)).unwrap();
        assert_eq!(again.source, Source::Memory);
        assert_eq!(again.token.expose(), "cached-token");
    }

    #[test]
    fn no_cache_and_force_refresh_do_not_read_the_cache() {
        for policy in [CachePolicy::NoCache, CachePolicy::ForceRefresh] {
            let dir = tempfile::tempdir().unwrap();
            let c = credential(dir.path().to_path_buf(), CachePolicy::Use);
            prefill(&c, now() + 3600);
            let c = ClientSecretCredential {
                exchange: Exchange {
                    options: CredentialOptions {
                        cache: policy,
                        ..c.exchange.options.clone()
                    },
                    ..c.exchange
                },
                secret: c.secret,
            };
            let e = block_on(c.get_token(SCOPES)).unwrap_err();
            assert!(
                matches!(&e, Error::Transport(t) if t.kind == TransportKind::Refused),
                "{policy:?}: {e:?}"
            );
        }
    }

    #[test]
    fn a_token_near_expiry_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let c = credential(dir.path().to_path_buf(), CachePolicy::Use);
        prefill(&c, now() + 200);
        let e = block_on(c.get_token(SCOPES)).unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
    }

    #[test]
    fn credentials_are_checked_when_built_and_scopes_before_sending() {
        let opts = CredentialOptions {
            cache: CachePolicy::NoCache,
            ..Default::default()
        };
        let app = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";
        let secret = || Secret::new("s");
        let c = ClientSecretCredential::new("contoso.onmicrosoft.com", app, secret(), opts.clone())
            .unwrap();
        assert_eq!(
            c.endpoint(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let e = block_on(c.get_token(&["User.Read"])).unwrap_err();
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
        let insecure = CredentialOptions {
            token_endpoint: Some("http://10.0.0.1/token".into()),
            ..opts
        };
        assert_eq!(
            kind(ClientSecretCredential::new("", "any", secret(), insecure)),
            Some(InputKind::InsecureUrl)
        );
    }
}
