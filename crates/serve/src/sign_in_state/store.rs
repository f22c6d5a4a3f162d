//! The user flows' short-lived state in memory: pending sign-ins, and the bounds of what
//! each process keeps of the rest (`kept`). Each kind is a [`Ttl`] map bounded by
//! a count and by the bytes its entries hold ([`Weigh`]), so no client can grow the service's
//! memory without bound: a request's parameters are bounded too (see
//! `user_flow::authorize::LIMITS`), but an entry's size is what is counted, not assumed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use certgen::jose::b64;

/// Entries a map holds at most. Far above what a test suite or a developer makes.
pub const CAPACITY: usize = 20_000;

/// Bytes a map's entries may hold by default (their [`Weigh::weight`], key and bookkeeping).
pub const BUDGET_BYTES: usize = 32 * 1024 * 1024;

/// What each entry costs beyond its value and key: the hash map slot, the index entry and
/// the allocations' headers (an estimate, on the high side for 64-bit targets).
const ENTRY_OVERHEAD: usize = 160;

/// The bytes a stored value holds on the heap and inline: what a map's budget counts.
pub trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for String {
    fn weight(&self) -> usize {
        std::mem::size_of::<String>() + self.capacity()
    }
}

impl<T: Weigh> Weigh for Option<T> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Option<T>>() + self.as_ref().map_or(0, |v| v.weight())
    }
}

impl<T: Weigh> Weigh for Vec<T> {
    fn weight(&self) -> usize {
        std::mem::size_of::<Vec<T>>() + self.iter().map(Weigh::weight).sum::<usize>()
    }
}

impl Weigh for u32 {
    fn weight(&self) -> usize {
        4
    }
}

/// Which entry goes when a map is full and none has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evict {
    /// The one closest to its end (refresh tokens, sessions: made by authenticated or
    /// cheap-to-repeat steps, where the oldest is the least likely to be used again).
    ClosestToEnd,
    /// The newest (pending sign-ins, codes, device codes: every entry of a map lives as long,
    /// so the newest is the one furthest from its end). A flood of anonymous `/authorize`
    /// requests then only displaces its own latest entries: a sign-in page a person opened
    /// before it, or a code already on its way to the app, is never the one to go. A sign-in
    /// begun after the flood stops still gets in (it displaces the flood's newest entry).
    /// Chosen over eviction fair per client: on loopback every client is the same address,
    /// and a flood may name the very app the person signs in to.
    Newest,
}

/// A map whose entries end at a time (seconds since 1970) and are kept until `keep_until`,
/// which may be later: an expired code is remembered for a while so its redemption is told
/// "expired" (70008) rather than "unknown".
#[derive(Debug)]
pub struct Ttl<V> {
    inner: Mutex<Inner<V>>,
    capacity: usize,
    budget: usize,
    evict: Evict,
}

/// The entries, and their keys in the order they end, so a full map evicts in O(log n)
/// rather than scanning every entry on each insert.
#[derive(Debug)]
struct Inner<V> {
    entries: HashMap<String, Entry<V>>,
    by_end: BTreeSet<(i64, String)>,
    /// The sum of the entries' sizes.
    bytes: usize,
}

impl<V> Inner<V> {
    /// Removes an entry and its index entry.
    fn remove_key(&mut self, key: &str) -> Option<V> {
        let e = self.entries.remove(key)?;
        self.by_end.remove(&(e.keep_until, key.to_string()));
        self.bytes -= e.size;
        Some(e.value)
    }

    /// Removes an entry whose index entry is already gone.
    fn drop_entry(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes -= e.size;
        }
    }
}

#[derive(Debug, Clone)]
struct Entry<V> {
    keep_until: i64,
    /// What this entry was counted as when stored.
    size: usize,
    value: V,
}

impl<V: Clone + Weigh> Default for Ttl<V> {
    fn default() -> Self {
        Ttl::bounded(CAPACITY, BUDGET_BYTES, Evict::ClosestToEnd)
    }
}

impl<V: Clone + Weigh> Ttl<V> {
    #[cfg(test)]
    pub fn with_capacity(capacity: usize) -> Self {
        Ttl::bounded(capacity, BUDGET_BYTES, Evict::ClosestToEnd)
    }

    /// At most `capacity` entries holding at most `budget` bytes, `evict` choosing which
    /// goes when full.
    pub fn bounded(capacity: usize, budget: usize, evict: Evict) -> Self {
        Ttl {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                by_end: BTreeSet::new(),
                bytes: 0,
            }),
            capacity: capacity.max(1),
            budget,
            evict,
        }
    }

    /// Stores `value` under a new random key, which is returned.
    pub fn insert(&self, value: V, keep_until: i64, now: i64) -> String {
        let key = random_token(32);
        self.insert_at(key.clone(), value, keep_until, now);
        key
    }

    /// Stores `value` under `key`. Entries past their time go first; then, while the map
    /// is full (in count or bytes), the entry its [`Evict`] names. Answers the keys that went
    /// (a kept map deletes them from its store too).
    pub fn insert_at(&self, key: String, value: V, keep_until: i64, now: i64) -> Vec<String> {
        let size = entry_size(&value, &key);
        let mut gone = Vec::new();
        let mut inner = self.lock();
        inner.remove_key(&key);
        while inner.by_end.first().is_some_and(|(end, _)| *end <= now) {
            if let Some((_, k)) = inner.by_end.pop_first() {
                inner.drop_entry(&k);
                gone.push(k);
            }
        }
        while inner.entries.len() >= self.capacity || inner.bytes.saturating_add(size) > self.budget
        {
            let victim = match self.evict {
                Evict::ClosestToEnd => inner.by_end.pop_first(),
                Evict::Newest => inner.by_end.pop_last(),
            };
            let Some((_, k)) = victim else {
                break;
            };
            inner.drop_entry(&k);
            gone.push(k);
        }
        inner.by_end.insert((keep_until, key.clone()));
        inner.bytes += size;
        inner.entries.insert(
            key,
            Entry {
                keep_until,
                size,
                value,
            },
        );
        gone
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
    /// succeed); `None` when there is no such entry. The entry is counted again after.
    pub fn update<R>(&self, key: &str, now: i64, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let mut inner = self.lock();
        let e = inner.entries.get_mut(key).filter(|e| e.keep_until > now)?;
        let r = f(&mut e.value);
        let (old, new) = (e.size, entry_size(&e.value, key));
        e.size = new;
        inner.bytes = inner.bytes - old + new;
        Some(r)
    }

    pub fn remove(&self, key: &str) -> Option<V> {
        self.lock().remove_key(key)
    }

    /// The bytes the entries are counted as.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // No code under the lock can panic between changing the map and its index (HashMap
        // and BTreeSet calls, no user code), so a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What an entry is counted as: its value, its key (twice: the map and the index) and the
/// bookkeeping.
fn entry_size<V: Weigh>(value: &V, key: &str) -> usize {
    value
        .weight()
        .saturating_add(key.len().saturating_mul(2))
        .saturating_add(ENTRY_OVERHEAD)
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
        // Ended entries go first when there is room to make, and removal keeps the index.
        assert_eq!(t.remove(&c), Some(3));
        let d = t.insert(4, 300, 150);
        assert_eq!(t.get(&a, 0), None, "a ended at 100 and was dropped at 150");
        assert_eq!(t.get(&d, 150), Some(4));
        let inner = t.lock();
        assert_eq!(inner.by_end.len(), inner.entries.len());
    }

    #[test]
    fn bytes_are_counted_and_bounded() {
        let weight = |v: &String| entry_size(v, &"k".repeat(43));
        let big = "x".repeat(10_000);
        let budget = 3 * weight(&big) + 10;
        let t: Ttl<String> = Ttl::bounded(100, budget, Evict::ClosestToEnd);
        let a = t.insert(big.clone(), 100, 0);
        let _b = t.insert(big.clone(), 200, 0);
        let _c = t.insert(big.clone(), 300, 0);
        assert_eq!(t.bytes(), 3 * weight(&big));
        // A fourth does not fit: the one closest to its end (a) goes.
        let d = t.insert(big.clone(), 400, 0);
        assert_eq!(t.get(&a, 0), None);
        assert!(t.get(&d, 0).is_some());
        assert!(t.bytes() <= budget);
        // An update is counted again; a removal gives its bytes back.
        t.update(&d, 0, |v| v.push_str(&"y".repeat(5)));
        assert_eq!(t.remove(&d).map(|v| v.len()), Some(10_005));
        assert_eq!(t.bytes(), 2 * weight(&big));
    }

    #[test]
    fn newest_goes_first_so_a_flood_displaces_only_itself() {
        let one = entry_size(&"x".repeat(1000), &"k".repeat(43));
        let t: Ttl<String> = Ttl::bounded(100, 4 * one, Evict::Newest);
        // A person's page, opened first.
        let person = t.insert("x".repeat(1000), 600, 0);
        for i in 1..1000 {
            t.insert("x".repeat(1000), 600 + i, 1);
        }
        assert!(
            t.get(&person, 1).is_some(),
            "the first page survives the flood"
        );
        assert!(t.bytes() <= 4 * one);
        // Once entries end, they go first.
        let late = t.insert("x".repeat(1000), 5000, 4000);
        assert!(t.get(&late, 4000).is_some());
        assert_eq!(t.get(&person, 4000), None);
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
