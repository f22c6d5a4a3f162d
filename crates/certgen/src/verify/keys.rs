//! Signing keys: a JWKS document parsed into RS256 verifiers, and the remote copy of one that is
//! fetched once, cached, and refreshed when a token names a key it does not hold.
//!
//! Each key is parsed once into a [`jose::VerifyingKey`] (2048–8192-bit modulus), and
//! [`Key::verify`] always asks it for RS256: the algorithm is this module's decision, so no
//! token header can make it verify an HMAC or a PSS signature.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::jose::{self, b64, Alg, Policy, VerifyingKey};

use super::discovery::HttpClient;
use crate::error::VerifyError;

/// Refreshes triggered by an unknown `kid` happen at most this often. Entra rotates keys with
/// weeks of overlap and publishes the next key before it signs with it, so a legitimate unknown
/// `kid` is rare; 30 s keeps a flood of forged `kid`s to two requests a minute against the IdP
/// while a real rotation is picked up within seconds of the first token that uses it.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Keys are re-read this long after the last fetch even without an unknown `kid`, so a key
/// Entra withdrew stops being trusted (Microsoft's guidance: refresh about every 24 h).
pub const MAX_KEY_AGE: Duration = Duration::from_secs(24 * 3600);

/// When a remote key set is fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Minimum time between refetches caused by an unknown `kid`.
    pub min_interval: Duration,
    /// Keys are refetched once they are this old, even if every `kid` is known.
    pub max_age: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            min_interval: MIN_REFRESH_INTERVAL,
            max_age: MAX_KEY_AGE,
        }
    }
}

/// One entry of a key set: a verifier, or the reason this entry cannot verify RS256.
pub struct Key {
    /// The key id (`kid`).
    pub kid: String,
    /// The certificate thumbprint (`x5t`), when published.
    pub x5t: Option<String>,
    /// The per-key `issuer` Entra's v2 key set carries (may be the `{tenantid}` template).
    pub issuer: Option<String>,
    verifier: Result<VerifyingKey, String>,
}

impl Key {
    /// Checks an RS256 signature; `Err` carries why the key cannot be used at all.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<bool, VerifyError> {
        match &self.verifier {
            Ok(key) => Ok(key.verify(Alg::Rs256, message, signature).is_ok()),
            Err(reason) => Err(VerifyError::KeyUnusable {
                kid: self.kid.clone(),
                reason: reason.clone(),
            }),
        }
    }
}

/// A parsed JWKS document.
#[derive(Default)]
pub struct KeySet {
    by_kid: HashMap<String, Arc<Key>>,
}

impl KeySet {
    /// Parses `{"keys":[…]}`. Entries that cannot verify RS256 are kept with their reason so a
    /// token naming one gets that reason rather than "unknown kid"; entries without `kid` are
    /// skipped (nothing could select them).
    pub fn from_json(bytes: &[u8], source_name: &str) -> Result<KeySet, VerifyError> {
        let bad = |reason: String| VerifyError::KeySet {
            source_name: source_name.to_string(),
            reason,
        };
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"keys\" array (is this a JWKS document?)".into()))?;
        let mut by_kid = HashMap::new();
        for entry in keys {
            let Some(obj) = entry.as_object() else {
                continue;
            };
            let Some(kid) = obj.get("kid").and_then(Value::as_str) else {
                continue;
            };
            let key = Key {
                kid: kid.to_string(),
                x5t: str_field(obj, "x5t"),
                issuer: str_field(obj, "issuer"),
                verifier: rs256_verifier(obj),
            };
            by_kid.insert(kid.to_string(), Arc::new(key));
        }
        Ok(KeySet { by_kid })
    }

    /// The key a token header names: by `kid`, else (v1 headers carry both) by `x5t`.
    pub fn find(&self, kid: Option<&str>, x5t: Option<&str>) -> Option<Arc<Key>> {
        if let Some(kid) = kid {
            return self.by_kid.get(kid).cloned();
        }
        let x5t = x5t?;
        self.by_kid
            .values()
            .find(|k| k.x5t.as_deref() == Some(x5t) || k.kid == x5t)
            .cloned()
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }
}

fn str_field(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.get(name).and_then(Value::as_str).map(str::to_string)
}

/// Whether a JWK can verify RS256, and its verifier if so.
fn rs256_verifier(jwk: &Map<String, Value>) -> Result<VerifyingKey, String> {
    let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("(none)");
    if kty != "RSA" {
        return Err(format!("kty is {kty:?}, not \"RSA\""));
    }
    if let Some(usage) = jwk.get("use").and_then(Value::as_str) {
        if usage != "sig" {
            return Err(format!("use is {usage:?}, not \"sig\""));
        }
    }
    if let Some(alg) = jwk.get("alg").and_then(Value::as_str) {
        if alg != "RS256" {
            return Err(format!("the key is declared for alg {alg:?}"));
        }
    }
    if let Some(ops) = jwk.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    let component = |name: &str| -> Result<Vec<u8>, String> {
        let text = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("no {name:?} component"))?;
        // Padding and the standard alphabet carry no ambiguity in a key; publishers use both.
        b64::decode(text, Policy::Lenient).map_err(|_| format!("{name:?} is not base64url"))
    };
    VerifyingKey::from_rsa_components(&component("n")?, &component("e")?)
        .map_err(|e: jose::Error| e.to_string())
}

/// A key set fetched from a URL, cached, and refreshed on demand within limits.
pub struct RemoteKeys {
    url: String,
    http: HttpClient,
    current: RwLock<Cached>,
    /// Serialises refreshes; holds when the last refresh for an unknown `kid` happened.
    refresh: tokio::sync::Mutex<Option<Instant>>,
    policy: RefreshPolicy,
}

struct Cached {
    keys: Arc<KeySet>,
    fetched: Instant,
}

impl RemoteKeys {
    /// Fetches the key set once; a failure here is a setup failure.
    pub async fn fetch(
        url: String,
        http: HttpClient,
        policy: RefreshPolicy,
    ) -> Result<RemoteKeys, VerifyError> {
        let keys = load(&http, &url).await?;
        Ok(RemoteKeys {
            url,
            http,
            current: RwLock::new(Cached {
                keys: Arc::new(keys),
                fetched: Instant::now(),
            }),
            refresh: tokio::sync::Mutex::new(None),
            policy,
        })
    }

    /// The key set URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn snapshot(&self) -> (Arc<KeySet>, Instant) {
        // A poisoned lock only means a panic elsewhere while swapping an Arc; the value is intact.
        let cached = self.current.read().unwrap_or_else(|p| p.into_inner());
        (cached.keys.clone(), cached.fetched)
    }

    fn store(&self, keys: KeySet) {
        let mut cached = self.current.write().unwrap_or_else(|p| p.into_inner());
        *cached = Cached {
            keys: Arc::new(keys),
            fetched: Instant::now(),
        };
    }

    /// The key a token names. Unknown `kid`: at most one refetch per `policy.min_interval` across all
    /// callers (concurrent callers wait for the one refresh in flight and then look again).
    /// Keys older than the policy's `max_age` are refetched by whichever caller sees it first; if that
    /// fails the old keys stay in use.
    pub async fn find(
        &self,
        kid: Option<&str>,
        x5t: Option<&str>,
    ) -> Result<Arc<Key>, VerifyError> {
        let (mut keys, fetched) = self.snapshot();
        if fetched.elapsed() >= self.policy.max_age {
            self.refresh_stale().await;
            keys = self.snapshot().0;
        }
        if let Some(key) = keys.find(kid, x5t) {
            return Ok(key);
        }
        let name = kid.or(x5t).unwrap_or_default().to_string();
        let mut last = self.refresh.lock().await;
        // Someone else may have refreshed while this caller waited for the lock.
        let (keys, _) = self.snapshot();
        if let Some(key) = keys.find(kid, x5t) {
            return Ok(key);
        }
        if let Some(at) = *last {
            let since = at.elapsed();
            if since < self.policy.min_interval {
                return Err(VerifyError::UnknownKey {
                    kid: name,
                    detail: format!(
                        "{} keys from {}; not refetched, the last refresh was {} s ago",
                        keys.len(),
                        self.url,
                        since.as_secs()
                    ),
                });
            }
        }
        *last = Some(Instant::now());
        match load(&self.http, &self.url).await {
            Ok(fresh) => {
                let found = fresh.find(kid, x5t);
                let count = fresh.len();
                self.store(fresh);
                found.ok_or_else(|| VerifyError::UnknownKey {
                    kid: name,
                    detail: format!("{count} keys from {}, refetched just now", self.url),
                })
            }
            Err(e) => Err(VerifyError::UnknownKey {
                kid: name,
                detail: format!("refetching the key set failed: {e}"),
            }),
        }
    }

    /// The periodic refresh. Only one caller does it (the others go on with the current keys);
    /// if the provider is down, the old keys stay and the next attempt waits `min_interval`.
    async fn refresh_stale(&self) {
        let Ok(_guard) = self.refresh.try_lock() else {
            return;
        };
        if self.snapshot().1.elapsed() < self.policy.max_age {
            return;
        }
        match load(&self.http, &self.url).await {
            Ok(fresh) => self.store(fresh),
            Err(_) => {
                let mut cached = self.current.write().unwrap_or_else(|p| p.into_inner());
                let retry_at = Instant::now() + self.policy.min_interval;
                cached.fetched = retry_at
                    .checked_sub(self.policy.max_age)
                    .unwrap_or(cached.fetched);
            }
        }
    }
}

async fn load(http: &HttpClient, url: &str) -> Result<KeySet, VerifyError> {
    let body = http.get(url).await?;
    KeySet::from_json(&body, url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk(kid: &str) -> Value {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|e| e.to_string())
            .and_then(|p| {
                use aws_lc_rs::encoding::AsDer;
                p.as_der()
                    .map(|d| d.as_ref().to_vec())
                    .map_err(|e| e.to_string())
            });
        let der = match pair {
            Ok(der) => der,
            Err(e) => panic!("key generation failed: {e}"),
        };
        let key = crate::key::PrivateKey::from_pkcs8_der(&der).unwrap();
        let crate::key::KeyKind::Rsa { n, e, .. } = key.kind() else {
            panic!("not RSA")
        };
        json!({"kty":"RSA","use":"sig","kid":kid,"n":b64::encode(n),"e":b64::encode(e)})
    }

    #[test]
    fn unusable_entries_keep_their_reason() {
        let good = rsa_jwk("good");
        let mut enc = good.clone();
        enc["kid"] = json!("enc");
        enc["use"] = json!("enc");
        let mut ps = good.clone();
        ps["kid"] = json!("ps");
        ps["alg"] = json!("PS256");
        let doc = json!({"keys":[good, enc, ps,
            {"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"},
            {"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"},
            {"kty":"oct","k":"c2VjcmV0"}]});
        let set = KeySet::from_json(doc.to_string().as_bytes(), "test").unwrap();
        assert_eq!(set.len(), 5, "the entry without kid is skipped");
        let reason = |kid: &str| match set.find(Some(kid), None).unwrap().verify(b"m", b"s") {
            Err(VerifyError::KeyUnusable { reason, .. }) => reason,
            other => panic!("{kid}: {other:?}"),
        };
        assert_eq!(reason("enc"), "use is \"enc\", not \"sig\"");
        assert_eq!(reason("ps"), "the key is declared for alg \"PS256\"");
        assert_eq!(reason("ec"), "kty is \"EC\", not \"RSA\"");
        assert!(reason("small").contains("17-bit key"));
        assert_eq!(
            set.find(Some("good"), None).unwrap().verify(b"m", b"s"),
            Ok(false)
        );
    }

    #[test]
    fn not_a_jwks() {
        let e = KeySet::from_json(b"{\"kty\":\"RSA\"}", "f.json")
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "key set f.json: no \"keys\" array (is this a JWKS document?)"
        );
    }

    #[test]
    fn x5t_selects_when_kid_is_absent() {
        let mut jwk = rsa_jwk("k1");
        jwk["x5t"] = json!("thumb");
        let set = KeySet::from_json(json!({"keys":[jwk]}).to_string().as_bytes(), "t").unwrap();
        assert_eq!(set.find(None, Some("thumb")).unwrap().kid, "k1");
        assert!(set.find(Some("thumb"), None).is_none());
    }
}
