//! PKCS#12 (`.pfx`/`.p12`) files, through `p12-keystore`.
//!
//! Reading takes modern files (PBES2/AES-256, as OpenSSL 3 writes) and legacy ones (3DES and
//! RC2-40 with a SHA-1 MAC, as Windows and OpenSSL 1.1 write). Writing makes the modern form by
//! default, or the legacy one for old Windows and Java 8.

use p12_keystore::{
    EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12Archive, PrivateKeyChain,
};

use crate::certificate::Certificate;
use crate::error::{Error, Result};
use crate::key::PrivateKey;
use crate::secret::Secret;

/// Which PKCS#12 encryption to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkcs12Flavor {
    /// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) for keys and certificates, HMAC-SHA256 MAC.
    Modern,
    /// PBE-SHA1-3DES for keys and certificates, HMAC-SHA1 MAC: Windows Server 2016 and Java 8.
    Legacy,
}

/// What a PKCS#12 file holds: the key(s) and every certificate, leaf(s) first.
#[derive(Debug, Clone)]
pub struct Pkcs12Contents {
    pub certs: Vec<Certificate>,
    pub keys: Vec<PrivateKey>,
}

/// Why a PKCS#12 file could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkcs12Error {
    /// The bytes are not PKCS#12 at all.
    NotPkcs12,
    /// The MAC does not verify, or the contents do not decrypt: the password is wrong.
    WrongPassword,
    /// It is PKCS#12 but something inside it is broken or unsupported.
    Invalid(String),
}

/// Opens a PKCS#12 file with `password` ("" for a file made without one).
pub fn read(data: &[u8], password: &str) -> Result<Pkcs12Contents, Pkcs12Error> {
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|e| match e {
        p12_keystore::error::Error::DerError(_) | p12_keystore::error::Error::InvalidVersion => {
            Pkcs12Error::NotPkcs12
        }
        p12_keystore::error::Error::MacError(_)
        | p12_keystore::error::Error::UnpadError
        | p12_keystore::error::Error::Pkcs5Error(_) => Pkcs12Error::WrongPassword,
        other => Pkcs12Error::Invalid(other.to_string()),
    })?;
    // The leaf is the certificate bag that shares a localKeyId with a key bag.
    let key_ids: Vec<Vec<u8>> = archive
        .keys
        .iter()
        .filter_map(|k| k.local_key_id.as_ref().map(|id| id.0.clone()))
        .collect();
    let mut bags = archive.certs;
    bags.sort_by_key(|bag| {
        !bag.local_key_id
            .as_ref()
            .is_some_and(|id| key_ids.contains(id))
    });
    let certs = bags
        .iter()
        .map(|bag| Certificate::from_der(bag.cert.as_der()))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| Pkcs12Error::Invalid(e.message().to_string()))?;
    let keys = archive
        .keys
        .iter()
        .map(|bag| PrivateKey::from_pkcs8_der(bag.key.as_der()))
        .collect::<Result<Vec<_>>>()
        .map_err(|e| Pkcs12Error::Invalid(e.message().to_string()))?;
    Ok(Pkcs12Contents { certs, keys })
}

/// Writes cert (+ chain) and key as PKCS#12. `password` `None` makes an unprotected file
/// (empty password), which the caller must have asked for explicitly.
pub fn write(
    leaf: &Certificate,
    chain: &[Certificate],
    key: &PrivateKey,
    password: Option<&Secret>,
    flavor: Pkcs12Flavor,
    friendly_name: &str,
) -> Result<Vec<u8>> {
    let p12_key = p12_keystore::PrivateKey::from_der(key.pkcs8_der())
        .map_err(|e| Error::failure(format!("cannot put the key into PKCS#12 ({e})")))?;
    let mut certs = Vec::with_capacity(1 + chain.len());
    for c in std::iter::once(leaf).chain(chain) {
        certs.push(p12_keystore::Certificate::from_der(c.der()).map_err(|e| {
            Error::failure(format!("cannot put the certificate into PKCS#12 ({e})"))
        })?);
    }
    // OpenSSL and Windows use the leaf's SHA-1 as localKeyId; importers pair key and cert by it.
    let local_key_id = leaf.thumbprints.sha1.to_vec();
    let mut store = KeyStore::new();
    store.add_entry(
        friendly_name,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, p12_key, certs)),
    );
    let pw = password.map(|p| p.expose()).unwrap_or("");
    let writer = store.writer(pw);
    let writer = match flavor {
        Pkcs12Flavor::Modern => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .encryption_iterations(10_000)
            .mac_iterations(10_000),
        Pkcs12Flavor::Legacy => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .encryption_iterations(2048)
            .mac_iterations(2048),
    };
    writer
        .write()
        .map_err(|e| Error::failure(format!("cannot write PKCS#12 ({e})")))
}
