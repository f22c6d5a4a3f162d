//! The on-disk token cache: one small JSON file per (token URL, client, scopes, credential).
//!
//! Layout: `paths::cache_dir()` (0700) holds `token-{key}.json` files (0600) with exactly
//! `{"token_type", "access_token", "expires_on"}` — nothing else is needed to answer from the
//! cache, so nothing else is kept. The key is a SHA-256 over the request's identity, in which
//! a client secret takes part only as its own SHA-256: the secret is never written, and the
//! file name cannot be turned back into it.
//!
//! Writes go to a temporary file in the same folder and are renamed into place, so a reader
//! sees the old entry or the new one, never a torn one, whatever other processes do at the
//! same moment; the last writer wins, and every candidate is a valid token. An entry that
//! cannot be read is renamed `*.corrupt` and reported, never fatal.

use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest::{digest, Context as Digest, SHA256};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, InputKind, Result};
use crate::files::{self, OutputFile};
use crate::paths;
use crate::read::{self, ReadError};
use crate::secret::Secret;
use crate::thumbprint::Thumbprints;

/// A token is handed out from the cache only while at least this much of it remains, so a
/// caller always has five minutes to use it (and Entra's clock may differ a little).
pub const MIN_REMAINING_SECS: i64 = 300;

/// The credential part of a cache key.
#[derive(Debug, Clone, Copy)]
pub enum KeyCredential<'a> {
    /// A certificate, by its SHA-256 thumbprint.
    Certificate(&'a Thumbprints),
    /// A client secret, of which only a SHA-256 enters the key.
    Secret(&'a Secret),
    /// An assertion signed elsewhere: the client id alone says whose it is.
    Assertion,
}

/// The identity of a cached token, as 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(String);

impl CacheKey {
    /// Scopes are sorted (and repeats dropped) so the order a caller lists them in does not
    /// split the cache.
    pub fn new(
        token_url: &str,
        client_id: &str,
        scopes: &[String],
        credential: KeyCredential<'_>,
    ) -> CacheKey {
        let mut scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
        scopes.sort_unstable();
        scopes.dedup();
        let mut h = Digest::new(&SHA256);
        // Every field is length-prefixed so no two different requests hash the same bytes.
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(b"certgen token cache v1");
        field(token_url.as_bytes());
        field(client_id.as_bytes());
        field(&(scopes.len() as u64).to_be_bytes());
        for s in &scopes {
            field(s.as_bytes());
        }
        match credential {
            KeyCredential::Certificate(t) => {
                field(b"certificate-sha256");
                field(&t.sha256);
            }
            KeyCredential::Secret(secret) => {
                field(b"secret-sha256");
                field(digest(&SHA256, secret.expose().as_bytes()).as_ref());
            }
            KeyCredential::Assertion => field(b"client-assertion"),
        }
        CacheKey(hex::encode(h.finish()))
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a cache file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedToken {
    /// The token type (`Bearer`).
    pub token_type: String,
    /// The access token.
    pub access_token: Secret,
    /// Unix seconds.
    pub expires_on: i64,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A token with at least [`MIN_REMAINING_SECS`] left.
    Hit(CachedToken),
    /// Nothing usable (absent, or too close to expiry).
    Miss,
    /// Nothing usable, and something the user should hear about (an entry set aside, a file
    /// that cannot be read); the request goes on without the cache.
    Skipped {
        /// What happened, in one sentence.
        warning: String,
    },
}

/// The cache folder.
#[derive(Debug, Clone)]
pub struct TokenCache {
    dir: PathBuf,
}

impl TokenCache {
    /// The cache in `dir`, or in a private subfolder of it when other users may write to `dir`
    /// ([`paths::private_location`]).
    pub fn new(dir: impl Into<PathBuf>) -> TokenCache {
        TokenCache {
            dir: paths::private_location(&dir.into()),
        }
    }

    /// The cache in `$CERTGEN_CACHE_DIR`, `$XDG_CACHE_HOME/certgen` or `~/.cache/certgen`.
    pub fn default_location() -> Result<TokenCache> {
        paths::cache_dir().map(TokenCache::new)
    }

    /// The folder the entries are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the entry for `key`.
    pub fn path_for(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("token-{}.json", key.as_str()))
    }

    /// The cached token for `key` if at least [`MIN_REMAINING_SECS`] of it remain at `now`
    /// (unix seconds). Never fails: a broken entry is set aside and reported.
    pub fn lookup(&self, key: &CacheKey, now: i64) -> Lookup {
        let path = self.path_for(key);
        // A folder another user can write to may hold a planted token: not read at all.
        if self.dir.exists() {
            if let Err(e) = paths::check_private(&self.dir) {
                return Lookup::Skipped {
                    warning: format!("{}; going on without the token cache", e.message()),
                };
            }
        }
        // Bounded, and a FIFO or a link to a device is not waited on or read: set aside.
        let bytes = match read::file(&path, read::CACHE_ENTRY) {
            Ok(b) => b,
            Err(ReadError::Io(e)) if e.kind() == IoKind::NotFound => return Lookup::Miss,
            Err(ReadError::Io(e)) => {
                return Lookup::Skipped {
                    warning: format!(
                        "{}; going on without the token cache",
                        Error::io("read", &path, e).message()
                    ),
                }
            }
            Err(refused) => {
                return Lookup::Skipped {
                    warning: self.set_aside(&path, &refused.to_string()),
                }
            }
        };
        match parse(&bytes) {
            Ok(token) if token.expires_on - now >= MIN_REMAINING_SECS => Lookup::Hit(token),
            Ok(_) => Lookup::Miss,
            Err(why) => Lookup::Skipped {
                warning: self.set_aside(&path, &why),
            },
        }
    }

    /// Stores `token` for `key`: folder made 0700, file 0600, replaced atomically.
    pub fn store(&self, key: &CacheKey, token: &CachedToken) -> Result<()> {
        paths::ensure_private_dir(&self.dir)?;
        let json = serde_json::to_vec(token).context(InputKind::Invalid, || {
            "cannot encode the cache entry".to_string()
        })?;
        files::replace(&OutputFile::private(self.path_for(key), json))
    }

    fn set_aside(&self, path: &Path, why: &str) -> String {
        let mut aside = path.as_os_str().to_owned();
        aside.push(".corrupt");
        let aside = PathBuf::from(aside);
        match std::fs::rename(path, &aside) {
            Ok(()) => format!(
                "the cached token {} was unreadable ({why}); set aside as {} and fetching a new one",
                path.display(),
                aside.display()
            ),
            // Another process set it aside (or replaced it) first: nothing left to do.
            Err(e) if e.kind() == IoKind::NotFound => format!(
                "the cached token {} was unreadable ({why}); fetching a new one",
                path.display()
            ),
            Err(e) => format!(
                "the cached token {} was unreadable ({why}) and could not be set aside ({}); fetching a new one",
                path.display(),
                Error::io("rename", path, e).message()
            ),
        }
    }
}

fn parse(bytes: &[u8]) -> std::result::Result<CachedToken, String> {
    let token: CachedToken = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            "it is truncated".to_string()
        } else {
            format!("not a cache entry: {e}")
        }
    })?;
    if token.access_token.is_empty() || token.token_type.is_empty() {
        return Err("it holds an empty token".into());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const URL: &str = "https://login.microsoftonline.com/t/oauth2/v2.0/token";

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn token(expires_on: i64) -> CachedToken {
        CachedToken {
            token_type: "Bearer".into(),
            access_token: Secret::new("eyJ.a.b"),
            expires_on,
        }
    }

    fn thumbs() -> Thumbprints {
        Thumbprints::of_der(b"not really a certificate")
    }

    #[test]
    fn the_key_ignores_scope_order_and_separates_everything_else() {
        let t = thumbs();
        let cert = KeyCredential::Certificate(&t);
        let base = CacheKey::new(URL, "app", &scopes(&["b/.default", "a/.default"]), cert);
        assert_eq!(base.as_str().len(), 64);
        assert_eq!(
            base,
            CacheKey::new(
                URL,
                "app",
                &scopes(&["a/.default", "b/.default", "a/.default"]),
                cert
            )
        );
        assert_ne!(
            base,
            CacheKey::new(
                "https://x/token",
                "app",
                &scopes(&["a/.default", "b/.default"]),
                cert
            )
        );
        assert_ne!(
            base,
            CacheKey::new(URL, "app2", &scopes(&["a/.default", "b/.default"]), cert)
        );
        assert_ne!(
            base,
            CacheKey::new(URL, "app", &scopes(&["a/.default"]), cert)
        );
        let other = Thumbprints::of_der(b"another certificate");
        assert_ne!(
            base,
            CacheKey::new(
                URL,
                "app",
                &scopes(&["a/.default", "b/.default"]),
                KeyCredential::Certificate(&other)
            )
        );
        // Field boundaries matter: "ab"+"c" is not "a"+"bc".
        assert_ne!(
            CacheKey::new("ab", "c", &[], cert),
            CacheKey::new("a", "bc", &[], cert)
        );
    }

    #[test]
    fn a_secret_enters_the_key_only_as_a_hash() {
        let s1 = Secret::new("first-secret-value");
        let s2 = Secret::new("second-secret-value");
        let k1 = CacheKey::new(URL, "app", &[], KeyCredential::Secret(&s1));
        let k2 = CacheKey::new(URL, "app", &[], KeyCredential::Secret(&s2));
        assert_ne!(k1, k2);
        assert!(!k1.as_str().contains(&hex::encode("first-secret-value")));
    }

    #[test]
    fn store_then_lookup_with_the_margin() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("certgen"));
        let t = thumbs();
        let key = CacheKey::new(URL, "app", &[], KeyCredential::Certificate(&t));
        assert_eq!(cache.lookup(&key, 1000), Lookup::Miss);
        cache.store(&key, &token(1000 + 3600)).unwrap();
        assert_eq!(cache.lookup(&key, 1000), Lookup::Hit(token(4600)));
        // Exactly 300 s left: still served; 299 s: fetched again.
        assert_eq!(cache.lookup(&key, 4300), Lookup::Hit(token(4600)));
        assert_eq!(cache.lookup(&key, 4301), Lookup::Miss);
    }

    #[test]
    fn folder_and_file_modes_and_nothing_else_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path().join("a").join("certgen"));
        let secret = Secret::new("do-not-store-me");
        let key = CacheKey::new(URL, "app", &[], KeyCredential::Secret(&secret));
        cache.store(&key, &token(99)).unwrap();
        let dir_mode = std::fs::metadata(cache.dir()).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let path = cache.path_for(&key);
        let file_mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(file_mode & 0o777, 0o600);
        let stored: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let keys: Vec<&String> = stored.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["token_type", "access_token", "expires_on"]);
        let names: Vec<_> = std::fs::read_dir(cache.dir()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_corrupt_entry_is_set_aside_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let t = thumbs();
        let key = CacheKey::new(URL, "app", &[], KeyCredential::Certificate(&t));
        let path = cache.path_for(&key);
        for junk in [
            &b"{\"token_type\":\"Bearer\",\"acc"[..],
            b"\x00\xff garbage",
            b"{\"token_type\":\"Bearer\",\"access_token\":\"\",\"expires_on\":5}",
        ] {
            std::fs::write(&path, junk).unwrap();
            let Lookup::Skipped { warning } = cache.lookup(&key, 0) else {
                panic!("a corrupt entry must be skipped");
            };
            assert!(warning.contains("set aside"), "{warning}");
            assert!(!path.exists());
            assert!(dir
                .path()
                .join(format!("token-{}.json.corrupt", key.as_str()))
                .exists());
        }
        // And the next store works as if nothing happened.
        cache.store(&key, &token(10_000)).unwrap();
        assert_eq!(cache.lookup(&key, 0), Lookup::Hit(token(10_000)));
    }

    #[test]
    fn concurrent_writers_and_readers_never_see_a_torn_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::new(dir.path());
        let t = thumbs();
        let key = CacheKey::new(URL, "app", &[], KeyCredential::Certificate(&t));
        cache.store(&key, &token(1_000_000)).unwrap();
        std::thread::scope(|s| {
            for w in 0..4 {
                let (cache, key) = (&cache, &key);
                s.spawn(move || {
                    for i in 0..25 {
                        let mut t = token(1_000_000 + i);
                        t.access_token =
                            Secret::new(format!("writer-{w}-{i}-{}", "x".repeat(4096)));
                        cache.store(key, &t).unwrap();
                    }
                });
            }
            for _ in 0..2 {
                let (cache, key) = (&cache, &key);
                s.spawn(move || {
                    for _ in 0..100 {
                        match cache.lookup(key, 0) {
                            Lookup::Hit(_) => {}
                            other => panic!("reader saw {other:?}"),
                        }
                    }
                });
            }
        });
        assert!(matches!(cache.lookup(&key, 0), Lookup::Hit(_)));
    }
}
