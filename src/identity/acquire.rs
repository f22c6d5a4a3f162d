//! Getting an access token, start to finish: where the request goes ([`TokenTarget`]), what
//! proves the client ([`TokenCredential`]), the cache ([`CachePolicy`]), and the exchange on a
//! miss — what `certgen token` does, usable from any Rust program.
//!
//! Order matters for speed: everything local is settled before [`acquire`] is called (the
//! target and the credential are checked when they are built), then the cache is read, and
//! only on a miss is an async runtime started and the network touched. A cache hit costs a
//! file read.
//!
//! Cache problems never fail a request: they are handed to the caller's warning sink (the
//! CLI prints them as `warning: …`) and the token is fetched without the cache.

use std::fmt;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::assertion::{self, AssertionParams};
use crate::authority::{self, authority_host, check_tenant, token_endpoint};
use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::secret::Secret;

use super::cache::{CacheKey, CachedToken, KeyCredential, Lookup, TokenCache};
use super::client::{ClientAuth, ClientOptions, TokenClient, TokenRequest};
use super::explain::{Sent, SentCredential};
use super::response::TokenResponse;
use super::scope;

/// Where a token request goes: the URL posted to, the tenant (for explanations) and the
/// scopes sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTarget {
    pub endpoint: String,
    pub tenant: Option<String>,
    /// Sent space-joined as `scope`; none = no `scope` parameter.
    pub scopes: Vec<String>,
}

impl TokenTarget {
    /// Entra's v2 endpoint of `tenant` at `host` (`public`, `usgov`, `china` or a URL). No
    /// scopes means Microsoft Graph's `/.default`; every scope must end in `/.default` and
    /// name one resource, or the request is refused here, before anything is sent.
    pub fn entra(host: &str, tenant: &str, scopes: Vec<String>) -> Result<TokenTarget> {
        check_tenant(tenant)?;
        let endpoint = token_endpoint(&authority_host(host)?, tenant);
        let scopes = if scopes.is_empty() {
            vec![scope::DEFAULT_SCOPE.to_string()]
        } else {
            scopes
        };
        scope::check_for_entra(&scopes)?;
        Ok(TokenTarget {
            endpoint,
            tenant: Some(tenant.to_string()),
            scopes,
        })
    }

    /// Another OAuth server's token URL (or `certgen serve`): its scope rules are its own,
    /// so scopes go as given. Plain `http://` is accepted only to a loopback address.
    pub fn endpoint(url: &str, tenant: Option<&str>, scopes: Vec<String>) -> Result<TokenTarget> {
        if let Some(t) = tenant {
            check_tenant(t)?;
        }
        authority::check_endpoint_url(url)?;
        Ok(TokenTarget {
            endpoint: url.to_string(),
            tenant: tenant.map(str::to_string),
            scopes,
        })
    }
}

/// What proves the client's identity.
#[derive(Debug, Clone)]
pub enum TokenCredential {
    /// A certificate: a fresh client assertion is signed for every attempt, so a retry after
    /// a long `Retry-After` never sends one that is about to expire.
    Certificate {
        credential: Box<Credential>,
        params: AssertionParams,
        /// The file the certificate came from, named in the hint for AADSTS700027.
        file: Option<PathBuf>,
        /// Whether that file also holds the private key (a PKCS#12, a combined PEM), so the
        /// hint says not to upload it as it is.
        file_has_key: bool,
    },
    /// A client secret; `source` says where it came from (`--secret-file F`, a variable),
    /// for messages — the secret itself is never shown.
    Secret { secret: Secret, source: String },
}

impl TokenCredential {
    /// A client secret, refused when empty (an empty file or variable is a mistake, and the
    /// server's answer to it would not say so).
    pub fn secret(secret: Secret, source: impl Into<String>) -> Result<TokenCredential> {
        let source = source.into();
        if secret.is_empty() {
            return Err(Error::failure(format!(
                "the client secret from {source} is empty"
            )));
        }
        Ok(TokenCredential::Secret { secret, source })
    }

    /// The credential to send for one attempt.
    fn auth(&self) -> Result<ClientAuth> {
        match self {
            TokenCredential::Certificate {
                credential, params, ..
            } => assertion::sign(credential, params).map(|s| ClientAuth::Assertion(s.jwt)),
            TokenCredential::Secret { secret, .. } => Ok(ClientAuth::Secret(secret.clone())),
        }
    }

    fn key_part(&self) -> KeyCredential<'_> {
        match self {
            TokenCredential::Certificate { credential, .. } => {
                KeyCredential::Certificate(&credential.leaf().thumbprints)
            }
            TokenCredential::Secret { secret, .. } => KeyCredential::Secret(secret),
        }
    }

    fn sent(&self) -> SentCredential<'_> {
        match self {
            TokenCredential::Certificate {
                credential,
                params,
                file,
                file_has_key,
            } => SentCredential::Certificate {
                cert: credential.leaf(),
                file: file.as_deref(),
                file_has_key: *file_has_key,
                alg: params.alg.name(),
            },
            TokenCredential::Secret { source, .. } => SentCredential::Secret { source },
        }
    }
}

/// One token to get.
#[derive(Debug, Clone)]
pub struct AcquireRequest {
    pub target: TokenTarget,
    pub client_id: String,
    pub credential: TokenCredential,
    /// Transport settings, used only on a cache miss (a `ca_file` is not read on a hit).
    pub client: ClientOptions,
    /// The cache folder; `None`: `$CERTGEN_CACHE_DIR`, `$XDG_CACHE_HOME/certgen` or
    /// `~/.cache/certgen`, as the CLI uses.
    pub cache_dir: Option<PathBuf>,
}

/// How the token cache takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// Answer from the cache while at least 300 s of a token remain; store what is fetched.
    #[default]
    Use,
    /// Neither read nor write the cache.
    NoCache,
    /// Do not read the cache, but store the new token.
    ForceRefresh,
}

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Network,
    Cache,
}

impl Source {
    /// `network` or `cache`, as `certgen token --output json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Network => "network",
            Source::Cache => "cache",
        }
    }
}

/// An access token, whichever way it came.
#[derive(Clone, PartialEq, Eq)]
pub struct AcquiredToken {
    pub token_type: String,
    pub access_token: String,
    /// Seconds of validity left: as the server said, or counted from the cache entry.
    pub expires_in: i64,
    /// As the server said; `None` from the cache, which keeps only what answering needs.
    pub ext_expires_in: Option<u64>,
    /// Unix seconds.
    pub expires_on: i64,
    pub source: Source,
}

impl fmt::Debug for AcquiredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquiredToken")
            .field("token_type", &self.token_type)
            .field("access_token", &"(redacted)")
            .field("expires_in", &self.expires_in)
            .field("ext_expires_in", &self.ext_expires_in)
            .field("expires_on", &self.expires_on)
            .field("source", &self.source)
            .finish()
    }
}

impl AcquiredToken {
    fn from_cache(t: CachedToken, now: i64) -> AcquiredToken {
        AcquiredToken {
            expires_in: t.expires_on - now,
            ext_expires_in: None,
            expires_on: t.expires_on,
            token_type: t.token_type,
            access_token: t.access_token,
            source: Source::Cache,
        }
    }

    fn from_network(t: TokenResponse) -> AcquiredToken {
        AcquiredToken {
            expires_in: i64::try_from(t.expires_in).unwrap_or(i64::MAX),
            ext_expires_in: t.ext_expires_in,
            expires_on: t.expires_on,
            token_type: t.token_type,
            access_token: t.access_token,
            source: Source::Network,
        }
    }
}

/// Gets a token: from the cache when `policy` allows and a fresh one is there, else from the
/// token endpoint (then cached, unless [`CachePolicy::NoCache`]). Blocking: a current-thread
/// async runtime is built only on a miss, so a cache hit starts no thread and opens no
/// socket. Cache problems go to `warn` (one sentence each) and never fail the request.
///
/// Errors are [`crate::Error`]s with the CLI's kinds: an error answer is
/// [`ErrorKind::Provider`](crate::ErrorKind::Provider), explained with hints from what was
/// sent (for AADSTS700027, the thumbprint and the file to upload); a server that cannot be
/// reached is [`ErrorKind::Transport`](crate::ErrorKind::Transport), with its cause. The
/// example is the README's; a client secret is [`TokenCredential::secret`].
///
/// ```no_run
/// # fn main() -> certgen::Result<()> {
/// use certgen::assertion::{AssertionParams, SigningAlg, DEFAULT_LIFETIME_SECS};
/// use certgen::credential::{Credential, CredentialSource};
/// use certgen::identity::{acquire, AcquireRequest, CachePolicy, TokenCredential, TokenTarget};
///
/// let client_id = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";
/// let target = TokenTarget::entra(
///     "public",
///     "contoso.onmicrosoft.com",
///     vec!["api://my-api/.default".into()],
/// )?;
/// let credential = Credential::load(&CredentialSource {
///     cert: Some("my-daemon.crt".into()),
///     key: Some("my-daemon.key".into()),
///     ..Default::default()
/// })?;
/// let request = AcquireRequest {
///     credential: TokenCredential::Certificate {
///         credential: Box::new(credential),
///         params: AssertionParams {
///             client_id: client_id.into(),
///             audience: target.endpoint.clone(),
///             alg: SigningAlg::Ps256,
///             x5c: false,
///             lifetime_secs: DEFAULT_LIFETIME_SECS,
///         },
///         // For the hint when Entra does not know the certificate (AADSTS700027).
///         file: Some("my-daemon.crt".into()),
///         file_has_key: false,
///     },
///     client_id: client_id.into(),
///     target,
///     client: Default::default(), // timeout, extra CA file, retries, proxy
///     cache_dir: None,            // the folder `certgen token` uses
/// };
/// let token = acquire(&request, CachePolicy::Use, |w| eprintln!("warning: {w}"))?;
/// println!("{} ({:?}, {} s left)", token.access_token, token.source, token.expires_in);
/// # Ok(()) }
/// ```
pub fn acquire(
    req: &AcquireRequest,
    policy: CachePolicy,
    mut warn: impl FnMut(&str),
) -> Result<AcquiredToken> {
    let cached = Cached::open(req, policy, &mut warn);
    if let Some(hit) = cached.lookup(&mut warn) {
        return Ok(hit);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the network runtime: {e}")))?;
    runtime.block_on(cached.fetch(req, &mut warn))
}

/// [`acquire`] for a caller that already runs an async runtime (any flavour). The cache is
/// read and written with plain file calls: one small file, not worth a hop to the blocking pool.
pub async fn acquire_async(
    req: &AcquireRequest,
    policy: CachePolicy,
    mut warn: impl FnMut(&str),
) -> Result<AcquiredToken> {
    let cached = Cached::open(req, policy, &mut warn);
    if let Some(hit) = cached.lookup(&mut warn) {
        return Ok(hit);
    }
    cached.fetch(req, &mut warn).await
}

/// The cache as `policy` lets it take part in one request.
struct Cached {
    /// `None`: not used (no-cache, or no usable folder).
    cache: Option<TokenCache>,
    read: bool,
    key: CacheKey,
}

impl Cached {
    fn open(req: &AcquireRequest, policy: CachePolicy, warn: &mut impl FnMut(&str)) -> Cached {
        let cache = match (policy, &req.cache_dir) {
            (CachePolicy::NoCache, _) => None,
            (_, Some(dir)) => Some(TokenCache::new(dir)),
            (_, None) => match TokenCache::default_location() {
                Ok(cache) => Some(cache),
                Err(e) => {
                    warn(&format!(
                        "{}; going on without the token cache",
                        e.message()
                    ));
                    None
                }
            },
        };
        let key = CacheKey::new(
            &req.target.endpoint,
            &req.client_id,
            &req.target.scopes,
            req.credential.key_part(),
        );
        Cached {
            cache,
            read: policy == CachePolicy::Use,
            key,
        }
    }

    fn lookup(&self, warn: &mut impl FnMut(&str)) -> Option<AcquiredToken> {
        let cache = self.cache.as_ref().filter(|_| self.read)?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        match cache.lookup(&self.key, now) {
            Lookup::Hit(token) => Some(AcquiredToken::from_cache(token, now)),
            Lookup::Miss => None,
            Lookup::Skipped { warning } => {
                warn(&warning);
                None
            }
        }
    }

    /// The miss: the exchange, then the token stored (when the policy keeps a cache).
    async fn fetch(
        &self,
        req: &AcquireRequest,
        warn: &mut impl FnMut(&str),
    ) -> Result<AcquiredToken> {
        let client = TokenClient::new(req.client.clone())?;
        let token = exchange(&client, req).await?;
        if let Some(cache) = &self.cache {
            let entry = CachedToken {
                token_type: token.token_type.clone(),
                access_token: token.access_token.clone(),
                expires_on: token.expires_on,
            };
            if let Err(e) = cache.store(&self.key, &entry) {
                warn(&format!("{}; the token was not cached", e.message()));
            }
        }
        Ok(AcquiredToken::from_network(token))
    }
}

/// The exchange, with an error answer explained from what was sent.
async fn exchange(client: &TokenClient, req: &AcquireRequest) -> Result<TokenResponse> {
    let request = TokenRequest {
        endpoint: &req.target.endpoint,
        client_id: &req.client_id,
        scopes: &req.target.scopes,
    };
    let result = client.fetch(&request, || req.credential.auth()).await;
    result.map_err(|e| {
        e.into_error(&Sent {
            endpoint: &req.target.endpoint,
            tenant: req.target.tenant.as_deref(),
            client_id: &req.client_id,
            scopes: &req.target.scopes,
            credential: req.credential.sent(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// A secret request to a loopback port nothing listens on: any network attempt fails
    /// with a transport error, so a token proves the cache answered.
    fn request(cache_dir: PathBuf) -> AcquireRequest {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/t/oauth2/v2.0/token");
        AcquireRequest {
            target: TokenTarget::endpoint(&url, None, vec!["api://x/.default".into()]).unwrap(),
            client_id: "app".into(),
            credential: TokenCredential::secret(Secret::new("s3cret"), "a test").unwrap(),
            client: ClientOptions {
                proxy_from_env: false,
                max_attempts: 1,
                ..Default::default()
            },
            cache_dir: Some(cache_dir),
        }
    }

    fn prefill(req: &AcquireRequest, expires_on: i64) {
        let key = CacheKey::new(
            &req.target.endpoint,
            &req.client_id,
            &req.target.scopes,
            req.credential.key_part(),
        );
        let entry = CachedToken {
            token_type: "Bearer".into(),
            access_token: "cached-token".into(),
            expires_on,
        };
        TokenCache::new(req.cache_dir.clone().unwrap())
            .store(&key, &entry)
            .unwrap();
    }

    fn now() -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn a_cache_hit_needs_no_network_and_no_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let req = request(dir.path().to_path_buf());
        let expires_on = now() + 3600;
        prefill(&req, expires_on);
        let mut warnings = Vec::new();
        // Inside a runtime, `block_on` would panic: a hit must not get that far.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let token = runtime
            .block_on(async { acquire(&req, CachePolicy::Use, |w| warnings.push(w.to_string())) })
            .unwrap();
        assert_eq!(token.source, Source::Cache);
        assert_eq!(token.access_token, "cached-token");
        assert_eq!(token.expires_on, expires_on);
        assert!((3590..=3600).contains(&token.expires_in), "{token:?}");
        assert_eq!(token.ext_expires_in, None);
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn no_cache_and_force_refresh_do_not_read_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let req = request(dir.path().to_path_buf());
        prefill(&req, now() + 3600);
        for policy in [CachePolicy::NoCache, CachePolicy::ForceRefresh] {
            let e = acquire(&req, policy, |w| panic!("unexpected warning {w}")).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Transport, "{policy:?}: {e:?}");
        }
    }

    #[test]
    fn a_token_near_expiry_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let req = request(dir.path().to_path_buf());
        prefill(&req, now() + 200);
        let e = acquire(&req, CachePolicy::Use, |_| {}).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transport);
    }

    #[test]
    fn the_async_variant_answers_from_the_cache_too() {
        let dir = tempfile::tempdir().unwrap();
        let req = request(dir.path().to_path_buf());
        prefill(&req, now() + 3600);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let token = runtime
            .block_on(acquire_async(&req, CachePolicy::Use, |_| {}))
            .unwrap();
        assert_eq!(token.source, Source::Cache);
        assert!(
            !format!("{token:?}").contains("cached-token"),
            "the token is redacted"
        );
    }

    #[test]
    fn targets_are_checked_when_built() {
        let t = TokenTarget::entra("public", "contoso.onmicrosoft.com", vec![]).unwrap();
        assert_eq!(
            t.endpoint,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(t.scopes, [scope::DEFAULT_SCOPE]);
        for bad in [
            TokenTarget::entra("public", "common", vec![]),
            TokenTarget::entra(
                "public",
                "contoso.onmicrosoft.com",
                vec!["User.Read".into()],
            ),
            TokenTarget::entra("http://example.com", "contoso.onmicrosoft.com", vec![]),
            TokenTarget::endpoint("http://10.0.0.1/token", None, vec![]),
        ] {
            assert!(bad.is_err(), "{bad:?}");
        }
        // Another server: scopes as given, none sent when none given.
        let t = TokenTarget::endpoint("https://idp.example/token", None, vec![]).unwrap();
        assert!(t.scopes.is_empty());
        assert!(TokenCredential::secret(Secret::new(""), "F").is_err());
    }
}
