//! The trusted-issuer registry: which outside issuers' tokens the exchange can verify, and
//! their signing keys, parsed once.
//!
//! Three ways in:
//! - registered in memory by serve itself ([`Issuers::register`]): serve's own workload
//!   issuers (its GitHub Actions and Kubernetes stand-ins);
//! - from the config (`[[issuer]]` with `url` and `jwks_file`), so real issuer names such as
//!   `https://token.actions.githubusercontent.com` can be rehearsed offline;
//! - discovered, for an issuer whose URL host is this machine: `{iss}/.well-known/openid-configuration`
//!   and its `jwks_uri` (which must be on this machine too), fetched with a timeout and a size
//!   bound, cached, and fetched again when a token names a key the cache lacks (at most every
//!   [`MIN_REFRESH_INTERVAL`]).
//!
//! Nothing is ever fetched from another host: serve is offline, and an issuer it cannot reach
//! is what Entra answers 90061 for.
//!
//! The network part is async and runs in the token handler before the (synchronous) grant:
//! [`Issuers::prepare`] brings a loopback issuer's keys into the cache, and the grant reads the
//! cache with [`Issuers::keys`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use certgen::jose::VerifyingKey;
use certgen::verify::{
    HttpClient, KeySet, Metadata, VerifyError, MAX_KEY_AGE, MIN_REFRESH_INTERVAL,
};
use reqwest::Url;
use serde_json::json;

/// Where a fixed issuer's keys came from (a config reload replaces only the config's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Registered by serve itself (its workload issuers).
    #[allow(dead_code)] // registered by serve's workload issuers (the wl branch)
    Serve,
    /// A config `[[issuer]]` with a local JWKS file.
    Config,
}

/// What the registry knows of an issuer, as the exchange needs it.
#[derive(Clone)]
pub enum Lookup {
    /// Its key set (parsed once).
    Keys(Arc<KeySet>),
    /// A loopback issuer whose metadata or keys could not be read (why, for the log).
    Unreachable(String),
    /// Neither registered, configured nor on this machine: never fetched.
    Unknown,
}

struct Fetched {
    keys: Arc<KeySet>,
    at: Instant,
}

/// How long a failed fetch of a loopback issuer's metadata stays the answer (90061) before
/// the next request tries again. Short, so an issuer started after a failure is found soon.
pub const FAILURE_KEPT: Duration = Duration::from_secs(5);

/// The registry; shared by every request (interior mutability), cheap to read.
pub struct Issuers {
    /// Registered and configured issuers, by the exact issuer string.
    fixed: RwLock<HashMap<String, (Arc<KeySet>, Source)>>,
    /// Loopback issuers' fetched key sets, by the exact issuer string.
    fetched: RwLock<HashMap<String, Fetched>>,
    /// The last failure per loopback issuer and when (cleared by a successful fetch).
    failed: RwLock<HashMap<String, (String, Instant)>>,
    /// One fetch at a time: a burst of requests for an unfetched issuer makes one fetch.
    fetching: tokio::sync::Mutex<()>,
    http: Option<HttpClient>,
    /// This service's own signing key as a verifier (managed identities' tokens), parsed once.
    entra: std::sync::OnceLock<Option<VerifyingKey>>,
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fixed: Vec<String> = read(&self.fixed).keys().cloned().collect();
        f.debug_struct("Issuers").field("fixed", &fixed).finish()
    }
}

impl Default for Issuers {
    fn default() -> Self {
        Issuers {
            fixed: RwLock::default(),
            fetched: RwLock::default(),
            failed: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
            // Without an HTTP client (TLS setup failing) loopback issuers are unreachable,
            // which is a refusal (90061), never a failure to start.
            http: HttpClient::new(None).ok(),
            entra: std::sync::OnceLock::new(),
        }
    }
}

/// A poisoned lock only means a panic elsewhere during a map insert; the map is sound.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Issuers {
    #[allow(dead_code)] // called by serve's workload issuers (the wl branch)
    /// Trusts `issuer` (matched exactly, case-sensitively, as Entra matches a federated
    /// credential's issuer) with the keys of `keys`; replaces what was registered under it.
    /// For serve's own issuers.
    pub fn register(&self, issuer: &str, keys: KeySet) {
        write(&self.fixed).insert(issuer.to_string(), (Arc::new(keys), Source::Serve));
    }

    #[allow(dead_code)] // called by serve's workload issuers (the wl branch)
    /// Trusts `issuer` with the RSA public keys given as `(kid, n, e)` (big-endian modulus and
    /// exponent). Parsed as the JWKS serve would publish for them, so there is one parser.
    pub fn register_rsa<'a>(
        &self,
        issuer: &str,
        keys: impl IntoIterator<Item = (&'a str, &'a [u8], &'a [u8])>,
    ) -> Result<(), VerifyError> {
        use certgen::jose::b64;
        let jwks: Vec<_> = keys
            .into_iter()
            .map(|(kid, n, e)| {
                json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                       "n": b64::encode(n), "e": b64::encode(e)})
            })
            .collect();
        let set = KeySet::from_json(json!({ "keys": jwks }).to_string().as_bytes(), issuer)?;
        self.register(issuer, set);
        Ok(())
    }

    /// Trusts a config `[[issuer]]`: its JWKS document already read (size-bounded) by the
    /// config loader.
    pub fn configure(
        &self,
        issuer: &str,
        jwks: &[u8],
        source_name: &str,
    ) -> Result<(), VerifyError> {
        let set = KeySet::from_json(jwks, source_name)?;
        write(&self.fixed).insert(issuer.to_string(), (Arc::new(set), Source::Config));
        Ok(())
    }

    /// This service's own token-signing key as a verifier, parsed on first use.
    pub fn entra_key(&self, signer: &crate::tokens::SigningKey) -> Option<&VerifyingKey> {
        self.entra
            .get_or_init(|| match &signer.certificate.key {
                certgen::certificate::CertKey::Rsa { n, e } => {
                    VerifyingKey::from_rsa_components(n, e).ok()
                }
                _ => None,
            })
            .as_ref()
    }

    /// What is known of `issuer` now; no I/O.
    pub fn keys(&self, issuer: &str) -> Lookup {
        if let Some((keys, _)) = read(&self.fixed).get(issuer) {
            return Lookup::Keys(keys.clone());
        }
        if let Some(f) = read(&self.fetched).get(issuer) {
            return Lookup::Keys(f.keys.clone());
        }
        if let Some((why, _)) = read(&self.failed).get(issuer) {
            return Lookup::Unreachable(why.clone());
        }
        if is_loopback_issuer(issuer) {
            return Lookup::Unreachable("its metadata was not fetched".into());
        }
        Lookup::Unknown
    }

    /// Brings a loopback issuer's keys into the cache when the token names a key it lacks or
    /// the cache is old; does nothing for any other issuer. Failures are kept for
    /// [`Issuers::keys`] to report.
    pub async fn prepare(&self, issuer: &str, kid: Option<&str>, x5t: Option<&str>) {
        if read(&self.fixed).contains_key(issuer) || !is_loopback_issuer(issuer) {
            return;
        }
        if !self.wants_fetch(issuer, kid, x5t) {
            return;
        }
        let asked = Instant::now();
        let _one = self.fetching.lock().await;
        // Another request may have fetched while this one waited; or failed, and then the
        // requests that waited for it share its answer rather than each trying again (an
        // issuer that accepts but never answers would hold every one for the timeout).
        let failed_meanwhile = read(&self.failed)
            .get(issuer)
            .is_some_and(|(_, at)| *at >= asked);
        if failed_meanwhile || !self.wants_fetch(issuer, kid, x5t) {
            return;
        }
        match self.fetch(issuer).await {
            Ok(keys) => {
                write(&self.failed).remove(issuer);
                write(&self.fetched).insert(
                    issuer.to_string(),
                    Fetched {
                        keys: Arc::new(keys),
                        at: Instant::now(),
                    },
                );
            }
            Err(why) => {
                // An issuer that stopped answering loses its keys: Entra cannot verify
                // against metadata it cannot read (90061), and tests see that at once.
                write(&self.fetched).remove(issuer);
                write(&self.failed).insert(issuer.to_string(), (why, Instant::now()));
            }
        }
    }

    /// Not after a failure younger than [`FAILURE_KEPT`]. Otherwise: no keys yet; keys older
    /// than [`MAX_KEY_AGE`]; or a key the token names is missing and
    /// the last fetch is older than [`MIN_REFRESH_INTERVAL`] (so a flood of made-up `kid`s
    /// costs the issuer two fetches a minute).
    fn wants_fetch(&self, issuer: &str, kid: Option<&str>, x5t: Option<&str>) -> bool {
        // A failure is the answer for a while: an issuer that accepts and never answers would
        // otherwise hold every request for the fetch's whole timeout.
        if read(&self.failed)
            .get(issuer)
            .is_some_and(|(_, at)| at.elapsed() < FAILURE_KEPT)
        {
            return false;
        }
        match read(&self.fetched).get(issuer) {
            None => true,
            Some(f) => {
                let age = f.at.elapsed();
                age >= MAX_KEY_AGE
                    || (f.keys.find(kid, x5t).is_none() && age >= MIN_REFRESH_INTERVAL)
            }
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<KeySet, String> {
        let http = self.http.as_ref().ok_or("no HTTP client could be set up")?;
        // With or without a trailing `/` on the issuer, as OIDC discovery (§4) appends the path.
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let metadata = Metadata::fetch(http, &url)
            .await
            .map_err(|e| e.to_string())?;
        if !Url::parse(&metadata.jwks_uri).is_ok_and(|u| certgen::authority::is_loopback(&u)) {
            return Err(format!(
                "its jwks_uri {} is not on this machine; serve fetches nothing from elsewhere",
                metadata.jwks_uri
            ));
        }
        let body = http
            .get(&metadata.jwks_uri)
            .await
            .map_err(|e| e.to_string())?;
        KeySet::from_json(&body, &metadata.jwks_uri).map_err(|e| e.to_string())
    }
}

/// An `http(s)` issuer URL whose host is a loopback address (or `localhost`).
pub fn is_loopback_issuer(issuer: &str) -> bool {
    Url::parse(issuer).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && certgen::authority::is_loopback(&u)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_issuers_are_fetched() {
        assert!(is_loopback_issuer("http://127.0.0.1:9000/"));
        assert!(is_loopback_issuer("https://localhost:9000/issuer"));
        assert!(is_loopback_issuer("http://[::1]:1"));
        assert!(!is_loopback_issuer(
            "https://token.actions.githubusercontent.com"
        ));
        assert!(!is_loopback_issuer("https://127.0.0.1.example.com/"));
        assert!(!is_loopback_issuer("file:///etc/passwd"));
        let issuers = Issuers::default();
        assert!(matches!(
            issuers.keys("https://token.actions.githubusercontent.com"),
            Lookup::Unknown
        ));
        assert!(matches!(
            issuers.keys("http://127.0.0.1:9/"),
            Lookup::Unreachable(_)
        ));
    }
}
