//! The sign-in state that outlives the process: codes, refresh tokens, device codes and
//! browser sessions, kept as entries of the directory's [`Store`] (one table each). An entry
//! is committed before its key is handed out, so an answered code or refresh token survives a
//! restart or SIGKILL, and every process serving the same state folder reads the same entries.
//!
//! The keys are bearer secrets: what is stored is their SHA-256 ([`Handle`]), never the key,
//! so the database file alone redeems nothing. The store is the truth for reads and changes
//! (another process may have redeemed a code a moment ago); a bounded in-memory [`Ttl`] of
//! the entries' sizes keeps what one process writes within the same count and byte budgets
//! as before, deleting from the store what it evicts.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::store::{random_token, Evict, Ttl, Weigh};
use crate::directory::store::{Entry, Store, StoreError, StoreResult};

/// How an entry is found: the SHA-256 (hex) of the secret its holder presents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Handle(String);

impl Handle {
    /// The handle of a code, token or cookie value as a client sent it.
    pub fn of(secret: &str) -> Handle {
        Handle(hex::encode(Sha256::digest(secret.as_bytes())))
    }
}

/// What an entry counts for in this process's budget: its stored size.
#[derive(Debug, Clone, Copy)]
struct Size(usize);

impl Weigh for Size {
    fn weight(&self) -> usize {
        self.0
    }
}

/// One kind of kept sign-in state.
#[derive(Debug)]
pub struct Kept<V> {
    /// The table's name in the store (never renamed: stored data depends on it).
    table: &'static str,
    store: Arc<dyn Store>,
    /// The entries this process made or loaded, by handle: the bounds.
    sizes: Ttl<Size>,
    _value: std::marker::PhantomData<fn() -> V>,
}

impl<V: Serialize + DeserializeOwned> Kept<V> {
    pub fn new(
        table: &'static str,
        store: Arc<dyn Store>,
        capacity: usize,
        budget: usize,
        evict: Evict,
    ) -> Kept<V> {
        Kept {
            table,
            store,
            sizes: Ttl::bounded(capacity, budget, evict),
            _value: std::marker::PhantomData,
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Counts what the store holds from earlier runs (and other processes) against the
    /// bounds, oldest end first, so restarts cannot pile entries up past them.
    pub fn load(&self, now: i64) -> StoreResult<usize> {
        let mut entries = self.store.entries(self.table, now)?;
        entries.sort_by_key(|e| e.keep_until);
        let n = entries.len();
        for e in entries {
            let size = Size(e.value.to_string().len());
            self.track(e.key, size, e.keep_until, now)?;
        }
        Ok(n)
    }

    /// Stores `value` under a new random secret, committed before the secret is returned.
    pub fn insert(&self, value: &V, keep_until: i64, now: i64) -> StoreResult<String> {
        let secret = random_token(32);
        let Handle(key) = Handle::of(&secret);
        let value = self.encode(value)?;
        let size = Size(value.to_string().len());
        self.store.entry_put(
            self.table,
            &Entry {
                key: key.clone(),
                keep_until,
                value,
            },
        )?;
        self.track(key, size, keep_until, now)?;
        Ok(secret)
    }

    /// The entry, if it is still kept.
    pub fn get(&self, handle: &Handle, now: i64) -> StoreResult<Option<V>> {
        match self.store.entry_get(self.table, &handle.0)? {
            Some(e) if e.keep_until > now => self.decode(e.value).map(Some),
            _ => Ok(None),
        }
    }

    /// Changes the entry in one store transaction (two redemptions of one code, even from two
    /// processes, cannot both succeed); `None` when there is no such entry.
    pub fn update<R>(
        &self,
        handle: &Handle,
        now: i64,
        f: impl FnOnce(&mut V) -> R,
    ) -> StoreResult<Option<R>> {
        let mut f = Some(f);
        let mut out = None;
        let mut failed = None;
        let found = self
            .store
            .entry_update(self.table, &handle.0, now, &mut |e| {
                let changed = self.decode(e.value.clone()).and_then(|mut v| {
                    let r = f.take().map(|f| f(&mut v));
                    Ok((self.encode(&v)?, r))
                });
                match changed {
                    Ok((value, r)) => {
                        e.value = value;
                        out = r;
                    }
                    Err(err) => failed = Some(err),
                }
            })?;
        if let Some(err) = failed {
            return Err(err);
        }
        Ok(if found { out } else { None })
    }

    pub fn remove(&self, handle: &Handle) -> StoreResult<()> {
        self.store.entry_delete(self.table, &handle.0)?;
        self.sizes.remove(&handle.0);
        Ok(())
    }

    /// The first kept entry for which `f` holds (linear: for the device page's user codes,
    /// typed by a person).
    pub fn find(&self, now: i64, f: impl Fn(&V) -> bool) -> StoreResult<Option<(Handle, V)>> {
        for e in self.store.entries(self.table, now)? {
            let v = self.decode(e.value)?;
            if f(&v) {
                return Ok(Some((Handle(e.key), v)));
            }
        }
        Ok(None)
    }

    /// Counts an entry against this process's bounds; what that pushes out (ended, or the
    /// one [`Evict`] names) is deleted from the store too.
    fn track(&self, key: String, size: Size, keep_until: i64, now: i64) -> StoreResult<()> {
        for gone in self.sizes.insert_at(key, size, keep_until, now) {
            self.store.entry_delete(self.table, &gone)?;
        }
        Ok(())
    }

    fn encode(&self, v: &V) -> StoreResult<serde_json::Value> {
        serde_json::to_value(v).map_err(|e| self.damaged(&e))
    }

    fn decode(&self, value: serde_json::Value) -> StoreResult<V> {
        serde_json::from_value(value).map_err(|e| self.damaged(&e))
    }

    /// An entry that does not read as this build wrote it: the file was changed outside
    /// certgen (a newer build would have raised the schema version first).
    fn damaged(&self, e: &serde_json::Error) -> StoreError {
        StoreError::Damaged {
            path: format!("(sign-in entries `{}`)", self.table),
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::sqlite::SqliteStore;

    fn kept(store: Arc<dyn Store>, capacity: usize) -> Kept<Vec<String>> {
        Kept::new("t", store, capacity, 1 << 20, Evict::ClosestToEnd)
    }

    #[test]
    fn entries_are_kept_by_digest_shared_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let a: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let b: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
        let (ka, kb) = (kept(a.clone(), 2), kept(b, 2));
        let secret = ka.insert(&vec!["x".into()], 100, 0).unwrap();
        // Stored under the digest, never the secret itself.
        assert!(a.entry_get("t", &secret).unwrap().is_none());
        let h = Handle::of(&secret);
        assert!(a.entry_get("t", &h.0).unwrap().is_some());
        // Another connection (process) reads and changes it; the change is seen here.
        assert_eq!(kb.get(&h, 0).unwrap(), Some(vec!["x".into()]));
        assert_eq!(kb.update(&h, 0, |v| v.push("y".into())).unwrap(), Some(()));
        assert_eq!(ka.get(&h, 0).unwrap().map(|v| v.len()), Some(2));
        assert_eq!(ka.get(&h, 100).unwrap(), None, "ended");
        assert_eq!(ka.update(&Handle::of("nope"), 0, |_| ()).unwrap(), None);
        // Full: the entry closest to its end goes from the store too.
        let second = ka.insert(&vec![], 200, 0).unwrap();
        let third = ka.insert(&vec![], 300, 0).unwrap();
        assert_eq!(ka.get(&h, 0).unwrap(), None);
        assert!(ka.get(&Handle::of(&second), 0).unwrap().is_some());
        assert!(ka.get(&Handle::of(&third), 0).unwrap().is_some());
        let found = ka.find(0, |v| v.is_empty()).unwrap().map(|(h, _)| h);
        assert!(found == Some(Handle::of(&second)) || found == Some(Handle::of(&third)));
        ka.remove(&Handle::of(&third)).unwrap();
        assert_eq!(kb.get(&Handle::of(&third), 0).unwrap(), None);
        // A new process counts what is there against its bounds.
        let kc = kept(a, 1);
        assert_eq!(kc.load(0).unwrap(), 1);
    }
}
