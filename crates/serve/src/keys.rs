//! The certificates registered on each app while the service runs: the config's, changed live
//! by Graph's `addKey`/`removeKey`. The token endpoint asks for the keys usable at a moment (an
//! added key only after `--replication-delay`, as a real tenant takes seconds to a minute to
//! accept one: <https://learn.microsoft.com/en-us/graph/api/application-addkey>); Graph lists every registered key at once.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The most key credentials one application holds here. Graph bounds an application object's
/// size (<https://learn.microsoft.com/en-us/entra/identity/users/directory-service-limits-restrictions>)
/// but documents no count of key credentials. UNCONFIRMED: 50 chosen because a rotation needs
/// two or three at once and a fleet a few more, while 50 keeps every lookup and every
/// `keyCredentials` answer small (2,000 keys took serve to 277 MB and a token request to 20 ms).
pub const MAX_KEYS_PER_APP: usize = 50;
/// The most certificate bytes (DER) one application holds here. UNCONFIRMED: 256 KiB chosen
/// because 50 certificates of a 4096-bit RSA key (about 1.5 KB each) fit five times over, while
/// a client cannot make one app's `keyCredentials` megabytes long with a few huge certificates.
pub const MAX_KEY_BYTES_PER_APP: usize = 256 * 1024;

use super::config::App;
use certgen::certificate::Certificate;

/// One registered certificate.
#[derive(Debug, Clone)]
pub struct RegisteredKey {
    pub certificate: Certificate,
    pub key_id: String,
    pub display_name: String,
    /// Seconds since 1970 from which the token endpoint accepts it.
    pub usable_from: i64,
}

/// Why a key was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddRefused {
    /// The same certificate is registered already (as that `keyId`).
    Duplicate(String),
    /// The `keyId` asked for is taken by another certificate.
    KeyIdTaken(String),
    /// The app holds [`MAX_KEYS_PER_APP`] keys, or the new one would take its certificates past
    /// [`MAX_KEY_BYTES_PER_APP`].
    Full { count: usize, bytes: usize },
}

/// One app's registered keys, in registration order, with an index by SHA-1 thumbprint (so a
/// duplicate is found in O(1)) and their total certificate size (so the cap costs nothing).
#[derive(Debug, Clone, Default)]
struct AppKeys {
    keys: Vec<RegisteredKey>,
    by_thumbprint: HashMap<[u8; 20], String>,
    bytes: usize,
}

impl AppKeys {
    fn of(keys: Vec<RegisteredKey>) -> AppKeys {
        let mut all = AppKeys::default();
        for k in keys {
            all.insert(k);
        }
        all
    }

    fn insert(&mut self, k: RegisteredKey) {
        self.bytes += k.certificate.der().len();
        self.by_thumbprint
            .insert(k.certificate.thumbprints.sha1, k.key_id.clone());
        self.keys.push(k);
    }

    fn remove(&mut self, key_id: &str) -> bool {
        let Some(i) = self
            .keys
            .iter()
            .position(|k| k.key_id.eq_ignore_ascii_case(key_id))
        else {
            return false;
        };
        let k = self.keys.remove(i);
        self.bytes -= k.certificate.der().len();
        self.by_thumbprint.remove(&k.certificate.thumbprints.sha1);
        true
    }
}

/// The keys of the apps that have changed since start; an app absent here has its config's.
#[derive(Debug, Default)]
pub struct KeyRegistry {
    replication_delay_secs: i64,
    changed: Mutex<HashMap<String, AppKeys>>,
}

impl KeyRegistry {
    pub fn new(replication_delay_secs: u64) -> KeyRegistry {
        KeyRegistry {
            replication_delay_secs: i64::try_from(replication_delay_secs).unwrap_or(i64::MAX),
            changed: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, AppKeys>> {
        // A panic while holding the lock cannot leave the map half-changed (each change is one
        // push or retain), so a poisoned lock is still sound to use.
        self.changed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key registered on `app` now, in registration order.
    pub fn keys(&self, app: &App) -> Vec<RegisteredKey> {
        self.lock()
            .get(&app.client_id.to_ascii_lowercase())
            .map(|k| k.keys.clone())
            .unwrap_or_else(|| configured(app))
    }

    /// `app` as the token endpoint sees it at `now`, when its keys have changed since start:
    /// its certificates are those registered and past their replication delay.
    pub fn usable(&self, app: &App, now: i64) -> Option<App> {
        let changed = self.lock();
        let keys = changed.get(&app.client_id.to_ascii_lowercase())?;
        let mut live = app.clone();
        live.certificates = keys
            .keys
            .iter()
            .filter(|k| k.usable_from <= now)
            .map(|k| k.certificate.clone())
            .collect();
        Some(live)
    }

    /// Registers `certificate` on `app`, usable after the replication delay.
    pub fn add(
        &self,
        app: &App,
        certificate: Certificate,
        key_id: String,
        display_name: String,
        now: i64,
    ) -> Result<RegisteredKey, AddRefused> {
        let mut changed = self.lock();
        let keys = changed
            .entry(app.client_id.to_ascii_lowercase())
            .or_insert_with(|| AppKeys::of(configured(app)));
        if let Some(existing) = keys.by_thumbprint.get(&certificate.thumbprints.sha1) {
            return Err(AddRefused::Duplicate(existing.clone()));
        }
        if keys
            .keys
            .iter()
            .any(|k| k.key_id.eq_ignore_ascii_case(&key_id))
        {
            return Err(AddRefused::KeyIdTaken(key_id));
        }
        if keys.keys.len() >= MAX_KEYS_PER_APP
            || keys.bytes + certificate.der().len() > MAX_KEY_BYTES_PER_APP
        {
            return Err(AddRefused::Full {
                count: keys.keys.len(),
                bytes: keys.bytes,
            });
        }
        let key = RegisteredKey {
            certificate,
            key_id,
            display_name,
            usable_from: now.saturating_add(self.replication_delay_secs),
        };
        keys.insert(key.clone());
        Ok(key)
    }

    /// Removes the key `key_id` from `app`; false when it has none such.
    pub fn remove(&self, app: &App, key_id: &str) -> bool {
        let mut changed = self.lock();
        let keys = changed
            .entry(app.client_id.to_ascii_lowercase())
            .or_insert_with(|| AppKeys::of(configured(app)));
        keys.remove(key_id)
    }
}

/// The config's certificates as registered keys, usable from the start.
fn configured(app: &App) -> Vec<RegisteredKey> {
    app.certificates
        .iter()
        .map(|c| RegisteredKey {
            certificate: c.clone(),
            key_id: stable_key_id(c),
            display_name: c.subject.clone(),
            usable_from: i64::MIN,
        })
        .collect()
}

/// A configured certificate's `keyId`: derived from its thumbprint, so the same certificate
/// keeps the same `keyId` across restarts (what `removeKey` names).
pub fn stable_key_id(c: &Certificate) -> String {
    super::config::name_based_guid(&format!("key credential {}", c.thumbprints.thumbprint()))
}
