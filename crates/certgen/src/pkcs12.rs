//! PKCS#12 (`.pfx`/`.p12`) files, through `p12-keystore`.
//!
//! Reading takes modern files (PBES2/AES-256, as OpenSSL 3 writes) and legacy ones (3DES and
//! RC2-40 with a SHA-1 MAC, as Windows and OpenSSL 1.1 write). Writing makes the modern form by
//! default, or the legacy one for old Windows and Java 8.

use der::asn1::{ContextSpecific, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Reader, SliceReader};
use p12_keystore::{
    EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12Archive, PrivateKeyChain,
};

use crate::certificate::Certificate;
use crate::error::{Context, Error, InputKind, Result};
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
    /// The certificates, the leaf first.
    pub certs: Vec<Certificate>,
    /// The private keys.
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
    /// Opening it would take more key-derivation iterations than [`MAX_ITERATIONS`] for one
    /// derivation or [`MAX_TOTAL_ITERATIONS`] for the whole file: `iterations` is the offending
    /// count, `limit` the one it exceeds.
    TooManyIterations {
        /// The offending count.
        iterations: u64,
        /// The limit it exceeds.
        limit: u64,
    },
}

pub use crate::key::MAX_ITERATIONS;

/// The most iterations certgen accepts summed over every derivation it can see before deriving
/// anything. The per-derivation cap alone does not bound the work: a crafted file can carry
/// thousands of encrypted safes or key bags, each just under it. At the rate measured above this
/// sum costs about 0.8 s of CPU (1.6 s wall on that machine); an OpenSSL-default file
/// (3 x 2048) uses 0.06% of it.
pub const MAX_TOTAL_ITERATIONS: u64 = 10_000_000;

/// Opens a PKCS#12 file with `password` ("" for a file made without one). A file demanding more
/// key-derivation work than [`MAX_ITERATIONS`] / [`MAX_TOTAL_ITERATIONS`] is refused first.
pub fn read(data: &[u8], password: &str) -> Result<Pkcs12Contents, Pkcs12Error> {
    check_iterations(data)?;
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

/// Whether `data` is a PKCS#12 structure (PFX), without opening it.
pub fn is_pkcs12(data: &[u8]) -> bool {
    pkcs12::Pfx::from_der(data).is_ok()
}

/// The flavour a file is written in, judged by its MAC: HMAC-SHA-1 is what the legacy writers
/// use (Windows' 3DES export, OpenSSL 1.1, `openssl pkcs12 -legacy`, `certgen new
/// --legacy-pfx`), SHA-256 what the modern ones do. Anything unreadable counts as modern. A
/// renewal writes its new file in the old one's flavour, so the old Windows or Java 8 reader
/// that took the old file takes the new one.
pub fn flavor_of(data: &[u8]) -> Pkcs12Flavor {
    let sha1_mac = pkcs12::Pfx::from_der(data)
        .ok()
        .and_then(|pfx| pfx.mac_data)
        .is_some_and(|mac| mac.mac.algorithm.oid == SHA1);
    if sha1_mac {
        Pkcs12Flavor::Legacy
    } else {
        Pkcs12Flavor::Modern
    }
}

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
/// The arc of PKCS#12's own PBE algorithms (pbeWithSHAAnd3-KeyTripleDES-CBC, ...40BitRC2-CBC, ...).
const PKCS12_PBE_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1");
const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const SECRET_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.5");

/// Refuses a file whose iteration counts exceed [`MAX_ITERATIONS`] or [`MAX_TOTAL_ITERATIONS`],
/// reading only its structure so that no key is derived first. It sees the MAC, each encrypted
/// safe's algorithm, and the shrouded key and secret bags of the unencrypted safes; bags inside
/// an encrypted safe stay unseen until p12-keystore decrypts it (its own per-derivation ceiling,
/// equal to [`MAX_ITERATIONS`], still holds for them). Whatever does not parse here is left to
/// p12-keystore, which reports it as before.
fn check_iterations(data: &[u8]) -> Result<(), Pkcs12Error> {
    check_counts(iteration_counts(data))
}

fn check_counts(counts: Vec<u64>) -> Result<(), Pkcs12Error> {
    let mut total: u64 = 0;
    for n in counts {
        if n > MAX_ITERATIONS {
            return Err(Pkcs12Error::TooManyIterations {
                iterations: n,
                limit: MAX_ITERATIONS,
            });
        }
        total = total.saturating_add(n);
    }
    if total > MAX_TOTAL_ITERATIONS {
        return Err(Pkcs12Error::TooManyIterations {
            iterations: total,
            limit: MAX_TOTAL_ITERATIONS,
        });
    }
    Ok(())
}

/// The iteration count of every key derivation visible without deriving a key.
fn iteration_counts(data: &[u8]) -> Vec<u64> {
    let mut counts = Vec::new();
    let Ok(pfx) = pkcs12::Pfx::from_der(data) else {
        return counts;
    };
    if let Some(mac) = &pfx.mac_data {
        // A negative count means no iteration to the KDF; only large ones cost anything.
        counts.push(u64::try_from(mac.iterations).unwrap_or(0));
    }
    if pfx.auth_safe.content_type != DATA {
        return counts;
    }
    let Ok(safes) = pfx
        .auth_safe
        .content
        .to_der()
        .and_then(|der| OctetString::from_der(&der))
        .and_then(|octets| pkcs12::AuthenticatedSafe::from_der(octets.as_bytes()))
    else {
        return counts;
    };
    for safe in safes {
        let Ok(content) = safe.content.to_der() else {
            continue;
        };
        if safe.content_type == ENCRYPTED_DATA {
            if let Ok(encrypted) = pkcs12::cms::encrypted_data::EncryptedData::from_der(&content) {
                let alg = &encrypted.enc_content_info.content_enc_alg;
                counts.extend(algorithm_iterations(&alg.oid, alg.parameters.as_ref()));
            }
        } else if safe.content_type == DATA {
            let bags = OctetString::from_der(&content)
                .and_then(|octets| pkcs12::safe_bag::SafeContents::from_der(octets.as_bytes()));
            for bag in bags.into_iter().flatten() {
                counts.extend(bag_iterations(&bag));
            }
        }
    }
    counts
}

/// A shrouded key bag's or a secret bag's encryption iterations (the only bags p12-keystore
/// decrypts).
fn bag_iterations(bag: &pkcs12::SafeBag) -> Option<u64> {
    let info = if bag.bag_id == SHROUDED_KEY_BAG {
        ContextSpecific::<pkcs12::pbe_params::EncryptedPrivateKeyInfo>::from_der(&bag.bag_value)
            .ok()?
            .value
    } else if bag.bag_id == SECRET_BAG {
        // [0] { SecretBag ::= SEQUENCE { secretTypeId OID, secretValue [0] OCTET STRING } },
        // the octets an EncryptedPrivateKeyInfo, as p12-keystore reads them.
        let envelope = Any::from_der(&bag.bag_value).ok()?;
        let secret_bag = Any::from_der(envelope.value()).ok()?;
        let mut reader = SliceReader::new(secret_bag.value()).ok()?;
        let _type: ObjectIdentifier = reader.decode().ok()?;
        let value: ContextSpecific<OctetString> = reader.decode().ok()?;
        pkcs12::pbe_params::EncryptedPrivateKeyInfo::from_der(value.value.as_bytes()).ok()?
    } else {
        return None;
    };
    let alg = &info.encryption_algorithm;
    algorithm_iterations(&alg.oid, alg.parameters.as_ref())
}

/// The iteration count in a PKCS#12 PBE (PBES1) or PBES2-with-PBKDF2 algorithm identifier.
/// Scrypt's cost is bounded by p12-keystore itself (memory and parallelism caps).
fn algorithm_iterations(oid: &ObjectIdentifier, parameters: Option<&Any>) -> Option<u64> {
    let parameters = parameters?;
    if oid.parent() == Some(PKCS12_PBE_ARC) {
        let params =
            pkcs12::pbe_params::Pkcs12PbeParams::from_der(&parameters.to_der().ok()?).ok()?;
        return Some(u64::try_from(params.iterations).unwrap_or(0));
    }
    if *oid != PBES2 {
        return None;
    }
    // PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme ... }
    let mut reader = SliceReader::new(parameters.value()).ok()?;
    let kdf: pkcs12::cms::cert::x509::spki::AlgorithmIdentifierOwned = reader.decode().ok()?;
    if kdf.oid != PBKDF2 {
        return None;
    }
    // PBKDF2-params ::= SEQUENCE { salt, iterationCount INTEGER, ... }: read only the
    // count, since the optional fields (prf defaults to SHA-1) vary between tools.
    let kdf_parameters = kdf.parameters?;
    let mut reader = SliceReader::new(kdf_parameters.value()).ok()?;
    Any::decode(&mut reader).ok()?;
    u32::decode(&mut reader).ok().map(u64::from)
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
        .context(InputKind::Invalid, || {
            "cannot put the key into PKCS#12".to_string()
        })?;
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
        .context(InputKind::Invalid, || "cannot write PKCS#12".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "certgen-test";

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `fixture` re-encoded with its MAC iteration count replaced: valid DER, wrong MAC.
    fn with_mac_iterations(name: &str, iterations: i32) -> Vec<u8> {
        let mut pfx = pkcs12::Pfx::from_der(&fixture(name)).unwrap();
        pfx.mac_data.as_mut().unwrap().iterations = iterations;
        pfx.to_der().unwrap()
    }

    #[test]
    fn fixtures_made_by_openssl_still_open() {
        for name in [
            "modern.pfx",
            "legacy-3des.pfx",
            "legacy-rc2.pfx",
            "chain.pfx",
        ] {
            let contents =
                read(&fixture(name), PASSWORD).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(contents.keys.len(), 1, "{name}");
        }
        assert_eq!(read(&fixture("nopass.pfx"), "").unwrap().keys.len(), 1);
    }

    #[test]
    fn the_flavor_is_read_from_the_mac_as_openssl_info_shows_it() {
        // `openssl pkcs12 -info`: "MAC: sha256" for modern.pfx and chain.pfx, "MAC: sha1" for
        // the two made with -legacy.
        for (name, flavor) in [
            ("modern.pfx", Pkcs12Flavor::Modern),
            ("chain.pfx", Pkcs12Flavor::Modern),
            ("legacy-3des.pfx", Pkcs12Flavor::Legacy),
            ("legacy-rc2.pfx", Pkcs12Flavor::Legacy),
        ] {
            assert_eq!(flavor_of(&fixture(name)), flavor, "{name}");
        }
        assert_eq!(flavor_of(b"not pkcs12"), Pkcs12Flavor::Modern);
    }

    #[test]
    fn counts_are_those_openssl_info_shows() {
        // `openssl pkcs12 -info` on each: MAC, encrypted certificate safe, shrouded key bag,
        // all at OpenSSL's default 2048 (RC2 needs the legacy provider to show, same counts).
        for name in [
            "modern.pfx",
            "legacy-3des.pfx",
            "legacy-rc2.pfx",
            "chain.pfx",
        ] {
            assert_eq!(
                iteration_counts(&fixture(name)),
                [2048, 2048, 2048],
                "{name}"
            );
        }
    }

    #[test]
    fn huge_mac_count_is_refused_before_any_derivation() {
        // 2^31-1 iterations: at the 0.08-0.16 s per million measured for MAX_ITERATIONS, a KDF
        // without a ceiling would spin 3 to 6 minutes per attempt; the test binary's timeout
        // is the only guard here.
        for name in ["modern.pfx", "legacy-3des.pfx"] {
            let data = with_mac_iterations(name, i32::MAX);
            assert_eq!(
                read(&data, PASSWORD).unwrap_err(),
                Pkcs12Error::TooManyIterations {
                    iterations: i32::MAX as u64,
                    limit: MAX_ITERATIONS
                },
                "{name}"
            );
        }
    }

    #[test]
    fn the_cap_itself_is_accepted_and_one_more_is_not() {
        // The MAC no longer matches, so at the cap the library derives and reports the password.
        let at = with_mac_iterations("modern.pfx", MAX_ITERATIONS as i32);
        assert_eq!(read(&at, PASSWORD).unwrap_err(), Pkcs12Error::WrongPassword);
        let over = with_mac_iterations("modern.pfx", MAX_ITERATIONS as i32 + 1);
        assert!(matches!(
            read(&over, PASSWORD),
            Err(Pkcs12Error::TooManyIterations { .. })
        ));
    }

    #[test]
    fn many_derivations_each_under_the_cap_are_refused_by_their_sum() {
        assert_eq!(check_counts(vec![MAX_ITERATIONS; 10]), Ok(()));
        assert_eq!(
            check_counts(vec![MAX_ITERATIONS; 11]),
            Err(Pkcs12Error::TooManyIterations {
                iterations: 11 * MAX_ITERATIONS,
                limit: MAX_TOTAL_ITERATIONS
            })
        );
    }

    #[test]
    fn a_file_of_many_derivations_each_legal_is_refused_by_their_sum() {
        // Nine keys, each in its own shrouded bag, written by p12-keystore at the per-derivation
        // cap: with the MAC and the certificate safe, 11 derivations that p12-keystore alone
        // would run one after the other (seconds here; a crafted file can hold thousands).
        // Writing them costs the same, once.
        let key = pem::parse(fixture("rsa.key")).unwrap();
        let cert = pem::parse(fixture("rsa.crt")).unwrap();
        let mut store = KeyStore::new();
        for i in 0..9u8 {
            let chain = PrivateKeyChain::new(
                vec![i],
                p12_keystore::PrivateKey::from_der(key.contents()).unwrap(),
                vec![p12_keystore::Certificate::from_der(cert.contents()).unwrap()],
            );
            store.add_entry(&format!("key {i}"), KeyStoreEntry::PrivateKeyChain(chain));
        }
        let data = store
            .writer(PASSWORD)
            .encryption_iterations(MAX_ITERATIONS as u32)
            .mac_iterations(MAX_ITERATIONS as u32)
            .write()
            .unwrap();
        assert_eq!(iteration_counts(&data), vec![MAX_ITERATIONS; 11]);
        assert_eq!(
            read(&data, PASSWORD).unwrap_err(),
            Pkcs12Error::TooManyIterations {
                iterations: 11 * MAX_ITERATIONS,
                limit: MAX_TOTAL_ITERATIONS
            }
        );
    }

    #[test]
    fn secret_bags_count_too() {
        // p12-keystore decrypts secret bags (Java keystores' AES keys) as well; with no key,
        // the counts are the MAC, the (empty) certificate safe and the secret bag.
        let mut store = KeyStore::new();
        let secret =
            p12_keystore::secret::Secret::builder(p12_keystore::secret::SecretKeyType::Aes)
                .with_length(32)
                .build()
                .unwrap();
        store.add_entry("secret", KeyStoreEntry::Secret(secret));
        let data = store
            .writer(PASSWORD)
            .encryption_iterations(3000)
            .mac_iterations(2048)
            .write()
            .unwrap();
        assert_eq!(iteration_counts(&data), [2048, 3000, 3000]);
    }

    #[test]
    fn negative_and_unparsable_input_add_no_work() {
        assert!(iteration_counts(b"not der at all").is_empty());
        assert_eq!(
            iteration_counts(&with_mac_iterations("modern.pfx", -5))[0],
            0
        );
    }
}
