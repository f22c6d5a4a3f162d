//! The rules of an application's key credentials: how many it may hold, why an added key is
//! refused, and the stable `keyId` of a configured certificate. The keys themselves are kept
//! in the directory (`directory::Directory::add_key`), usable by the token endpoint after
//! `--replication-delay`, as a real tenant takes seconds to a minute to accept one
//! (<https://learn.microsoft.com/en-us/graph/api/application-addkey>).

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

use certgen::certificate::Certificate;

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

/// A configured certificate's `keyId`: derived from its thumbprint, so the same certificate
/// keeps the same `keyId` across restarts (what `removeKey` names).
pub fn stable_key_id(c: &Certificate) -> String {
    super::config::name_based_guid(&format!("key credential {}", c.thumbprints.thumbprint()))
}
