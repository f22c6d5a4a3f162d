//! The user flows' short-lived state, in memory: pending sign-ins, authorization codes,
//! refresh tokens, device codes and browser sessions. Each kind is a [`Ttl`] map with a
//! fixed capacity, so no client can grow the service's memory without bound.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::jose::b64;

/// Entries a map holds at most. Far above what a test suite or a developer makes; a flood of
/// sign-ins evicts the entries closest to their end rather than growing.
pub const CAPACITY: usize = 20_000;

/// A map whose entries end at a time (seconds since 1970) and are kept until `keep_until`,
/// which may be later: an expired code is remembered for a while so its redemption is told
/// "expired" (70008) rather than "unknown".
#[derive(Debug)]
pub struct Ttl<V> {
    entries: Mutex<HashMap<String, Entry<V>>>,
    capacity: usize,
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
            entries: Mutex::new(HashMap::new()),
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
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.retain(|_, e| e.keep_until > now);
        }
        if map.len() >= self.capacity {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.keep_until)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(key, Entry { keep_until, value });
    }

    /// A copy of the entry, if it is still kept.
    pub fn get(&self, key: &str, now: i64) -> Option<V> {
        let map = self.lock();
        map.get(key)
            .filter(|e| e.keep_until > now)
            .map(|e| e.value.clone())
    }

    /// Changes the entry in place under the lock (so two redemptions of one code cannot both
    /// succeed); `None` when there is no such entry.
    pub fn update<R>(&self, key: &str, now: i64, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let mut map = self.lock();
        map.get_mut(key)
            .filter(|e| e.keep_until > now)
            .map(|e| f(&mut e.value))
    }

    pub fn remove(&self, key: &str) -> Option<V> {
        self.lock().remove(key).map(|e| e.value)
    }

    /// The first kept entry for which `f` holds (linear: for the device page's user codes,
    /// typed by a person).
    pub fn find(&self, now: i64, f: impl Fn(&V) -> bool) -> Option<(String, V)> {
        let map = self.lock();
        map.iter()
            .find(|(_, e)| e.keep_until > now && f(&e.value))
            .map(|(k, e)| (k.clone(), e.value.clone()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<V>>> {
        // A panic while holding the lock cannot leave a half-changed map (every change is one
        // HashMap call), so a poisoned lock is still safe to use.
        self.entries
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
        assert_eq!(t.find(0, |v| *v == 3).map(|(k, _)| k), Some(c));
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
