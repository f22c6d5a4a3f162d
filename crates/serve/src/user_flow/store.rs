//! The user flows' short-lived state, in memory: pending sign-ins, authorization codes,
//! refresh tokens, device codes and browser sessions. Each kind is a [`Ttl`] map with a
//! fixed capacity, so no client can grow the service's memory without bound.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use certgen::jose::b64;

/// Entries a map holds at most. Far above what a test suite or a developer makes; a flood of
/// sign-ins evicts the entries closest to their end rather than growing.
pub const CAPACITY: usize = 20_000;

/// A map whose entries end at a time (seconds since 1970) and are kept until `keep_until`,
/// which may be later: an expired code is remembered for a while so its redemption is told
/// "expired" (70008) rather than "unknown".
#[derive(Debug)]
pub struct Ttl<V> {
    inner: Mutex<Inner<V>>,
    capacity: usize,
}

/// The entries, and their keys in the order they end, so a full map evicts in O(log n)
/// rather than scanning every entry on each insert.
#[derive(Debug)]
struct Inner<V> {
    entries: HashMap<String, Entry<V>>,
    by_end: BTreeSet<(i64, String)>,
}

#[derive(Debug, Clone)]
struct Entry<V> {
    keep_until: i64,
    value: V,
}

impl<V: Clone> Default for Ttl<V> {
    fn default() -> Self {
        Ttl::with_capacity(CAPACITY)
    }
}

impl<V: Clone> Ttl<V> {
    pub fn with_capacity(capacity: usize) -> Self {
        Ttl {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                by_end: BTreeSet::new(),
            }),
            capacity: capacity.max(1),
        }
    }

    /// Stores `value` under a new random key, which is returned.
    pub fn insert(&self, value: V, keep_until: i64, now: i64) -> String {
        let key = random_token(32);
        self.insert_at(key.clone(), value, keep_until, now);
        key
    }

    /// Stores `value` under `key`. When full, entries past their time go first, then the one
    /// closest to its end.
    pub fn insert_at(&self, key: String, value: V, keep_until: i64, now: i64) {
        let mut inner = self.lock();
        let Inner { entries, by_end } = &mut *inner;
        if let Some(old) = entries.remove(&key) {
            by_end.remove(&(old.keep_until, key.clone()));
        }
        while entries.len() >= self.capacity || by_end.first().is_some_and(|(end, _)| *end <= now) {
            let Some((_, k)) = by_end.pop_first() else {
                break;
            };
            entries.remove(&k);
        }
        by_end.insert((keep_until, key.clone()));
        entries.insert(key, Entry { keep_until, value });
    }

    /// A copy of the entry, if it is still kept.
    pub fn get(&self, key: &str, now: i64) -> Option<V> {
        let inner = self.lock();
        inner
            .entries
            .get(key)
            .filter(|e| e.keep_until > now)
            .map(|e| e.value.clone())
    }

    /// Changes the entry in place under the lock (so two redemptions of one code cannot both
    /// succeed); `None` when there is no such entry.
    pub fn update<R>(&self, key: &str, now: i64, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let mut inner = self.lock();
        inner
            .entries
            .get_mut(key)
            .filter(|e| e.keep_until > now)
            .map(|e| f(&mut e.value))
    }

    pub fn remove(&self, key: &str) -> Option<V> {
        let mut inner = self.lock();
        let e = inner.entries.remove(key)?;
        inner.by_end.remove(&(e.keep_until, key.to_string()));
        Some(e.value)
    }

    /// The first kept entry for which `f` holds (linear: for the device page's user codes,
    /// typed by a person).
    pub fn find(&self, now: i64, f: impl Fn(&V) -> bool) -> Option<(String, V)> {
        let inner = self.lock();
        inner
            .entries
            .iter()
            .find(|(_, e)| e.keep_until > now && f(&e.value))
            .map(|(k, e)| (k.clone(), e.value.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // No code under the lock can panic between changing the map and its index (HashMap
        // and BTreeSet calls, no user code), so a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `n` random bytes, base64url: codes, refresh tokens, device codes and session ids are
/// bearer secrets, so they come from the system's CSPRNG.
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        // aws-lc's generator does not fail on supported systems; if it ever does, two v4
        // UUIDs (also CSPRNG-backed, through getrandom) stand in.
        b.clear();
        while b.len() < n {
            b.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        b.truncate(n);
    }
    b64::encode(b)
}

/// A device flow's user code: 9 characters from an alphabet without look-alikes (no 0/O,
/// 1/I/L), as Entra's codes are typed by hand from another screen.
pub fn user_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 9];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        b.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..9]);
    }
    b.iter()
        .map(|x| ALPHABET[usize::from(*x) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_end_and_capacity_holds() {
        let t: Ttl<u32> = Ttl::with_capacity(2);
        let a = t.insert(1, 100, 0);
        let b = t.insert(2, 50, 0);
        assert_eq!(t.get(&a, 99), Some(1));
        assert_eq!(t.get(&a, 100), None);
        // Full: the entry closest to its end (b) goes.
        let c = t.insert(3, 200, 0);
        assert_eq!(t.get(&b, 0), None);
        assert_eq!(t.get(&c, 0), Some(3));
        assert_eq!(t.update(&a, 0, |v| std::mem::replace(v, 9)), Some(1));
        assert_eq!(t.get(&a, 0), Some(9));
        assert_eq!(t.find(0, |v| *v == 3).map(|(k, _)| k), Some(c.clone()));
        // Ended entries go first when there is room to make, and removal keeps the index.
        assert_eq!(t.remove(&c), Some(3));
        let d = t.insert(4, 300, 150);
        assert_eq!(t.get(&a, 0), None, "a ended at 100 and was dropped at 150");
        assert_eq!(t.get(&d, 150), Some(4));
        let inner = t.lock();
        assert_eq!(inner.by_end.len(), inner.entries.len());
    }

    #[test]
    fn tokens_are_random_and_codes_readable() {
        let (a, b) = (random_token(32), random_token(32));
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let code = user_code();
        assert_eq!(code.len(), 9);
        assert!(code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() && !"01OIL".contains(c)));
    }
}
