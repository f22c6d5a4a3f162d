//! Private keys: PKCS#8, encrypted PKCS#8 and PKCS#1 in, PKCS#8 (optionally encrypted) out.
//!
//! A key is held as PKCS#8 DER whatever form it arrived in, so every later step (signing,
//! PKCS#12, comparison with a certificate) has one input. Its `Debug` never shows key material.

use std::fmt;

use pkcs1::der::{Decode, Encode};
#[cfg(feature = "encrypted-keys")]
use pkcs8::EncryptedPrivateKeyInfo;
use pkcs8::{ObjectIdentifier, PrivateKeyInfo};

use crate::certificate::CertKey;
use crate::error::{Context, Error, InputKind, Result};
use crate::rsa::{rsa_bits, strip_leading_zeros};
use crate::secret::Secret;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// PBKDF2 rounds for keys certgen encrypts. OpenSSL 3 writes 2048; a higher count costs a
/// fraction of a second once per use and makes an offline guess far more expensive.
pub const PBKDF2_ITERATIONS: u32 = 100_000;

/// The most scrypt may demand of an encrypted key: memory (128·r·N bytes) and work (N·r·p).
/// OpenSSL's defaults (N 16384, r 8, p 1) use 16 MiB and 2^17; a crafted key asking for
/// terabytes would otherwise abort the process when the allocation fails.
#[cfg(feature = "encrypted-keys")]
const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;
#[cfg(feature = "encrypted-keys")]
const MAX_SCRYPT_WORK: u64 = 1 << 20;

/// The most iterations certgen accepts for one key derivation (the MAC key, an encrypted safe's
/// key, a shrouded key bag's key). Real tools write far fewer: OpenSSL 2048, Windows 2000,
/// Java and p12-keystore 10,000, the most cautious PBKDF2 users about 600,000. It equals
/// p12-keystore 0.4's own ceiling (which refuses larger counts with a bare "Invalid parameters"),
/// so certgen refuses nothing the library would open. One derivation at this count (PBKDF2-HMAC-
/// SHA256 or the PKCS#12 KDF with SHA-256) costs about 0.08 s of CPU: `certgen thumbprint` on a
/// file made by `openssl pkcs12 -export -iter 1000000` (three derivations at this count) took
/// 243 ms user, 478 ms wall (hyperfine mean of 10, release build, shared 2-core machine).
pub const MAX_ITERATIONS: u64 = 1_000_000;

/// Refuses an encrypted key whose key derivation would take more work than certgen allows:
/// PBKDF2 past [`MAX_ITERATIONS`] (the PKCS#12 ceiling), scrypt past the
/// bounds above — checked before any derivation starts.
#[cfg(feature = "encrypted-keys")]
fn check_kdf_cost(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>) -> Result<()> {
    use pkcs8::pkcs5::pbes2::Kdf;
    let Some(params) = scheme.pbes2() else {
        return Ok(());
    };
    let too_costly = |what: String| {
        Error::input(
            InputKind::TooCostly,
            format!(
                "the encrypted private key asks for {what}, more key-derivation work than \
                 certgen accepts"
            ),
        )
    };
    match &params.kdf {
        Kdf::Pbkdf2(p) if u64::from(p.iteration_count) > MAX_ITERATIONS => Err(too_costly(
            format!("{} PBKDF2 iterations", p.iteration_count),
        )),
        Kdf::Scrypt(p) => {
            let (n, r, par) = (
                p.cost_parameter,
                u64::from(p.block_size),
                u64::from(p.parallelization),
            );
            let memory = n.saturating_mul(r).saturating_mul(128);
            let work = n.saturating_mul(r).saturating_mul(par);
            if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
                Err(too_costly(format!("scrypt with N={n}, r={r}, p={par}")))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// What kind of key this is.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with its public modulus and exponent (no leading zeros), and the PKCS#1 private key.
    Rsa {
        /// The modulus, big-endian.
        n: Vec<u8>,
        /// The public exponent, big-endian.
        e: Vec<u8>,
        /// The PKCS#1 `RSAPrivateKey` DER.
        pkcs1: Vec<u8>,
    },
    /// Not RSA; the name is for messages.
    Other(String),
}

/// A private key, held as PKCS#8 DER.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey {
    pkcs8: Vec<u8>,
    kind: KeyKind,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, redacted)", self.describe())
    }
}

impl PrivateKey {
    /// An unencrypted PKCS#8 `PrivateKeyInfo`.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        let info = PrivateKeyInfo::try_from(der).context(InputKind::Invalid, || {
            "not a valid PKCS#8 private key".to_string()
        })?;
        let kind = if info.algorithm.oid == RSA_ENCRYPTION {
            rsa_kind(info.private_key)?
        } else if info.algorithm.oid == EC_PUBLIC_KEY {
            KeyKind::Other("EC".into())
        } else if info.algorithm.oid == ED25519 {
            KeyKind::Other("Ed25519".into())
        } else {
            KeyKind::Other(format!("key type {}", info.algorithm.oid))
        };
        Ok(PrivateKey {
            pkcs8: der.to_vec(),
            kind,
        })
    }

    /// A PKCS#1 `RSAPrivateKey` (`BEGIN RSA PRIVATE KEY`), wrapped into PKCS#8.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let kind = rsa_kind(der)?;
        let info = PrivateKeyInfo::new(
            pkcs8::AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(pkcs1::der::asn1::AnyRef::NULL),
            },
            der,
        );
        let pkcs8 = info.to_der().context(InputKind::Invalid, || {
            "cannot re-encode the RSA key".to_string()
        })?;
        Ok(PrivateKey { pkcs8, kind })
    }

    /// An `EncryptedPrivateKeyInfo` (`BEGIN ENCRYPTED PRIVATE KEY`), decrypted with `password`;
    /// refused with [`InputKind::UnsupportedEncryption`] without the `encrypted-keys` feature.
    #[cfg(not(feature = "encrypted-keys"))]
    pub fn from_encrypted_pkcs8_der(_der: &[u8], _password: &Secret) -> Result<Self> {
        Err(Error::input(
            InputKind::UnsupportedEncryption,
            "an encrypted private key is read only with certgen's encrypted-keys feature",
        ))
    }

    /// An `EncryptedPrivateKeyInfo` (`BEGIN ENCRYPTED PRIVATE KEY`), decrypted with `password`.
    #[cfg(feature = "encrypted-keys")]
    pub fn from_encrypted_pkcs8_der(der: &[u8], password: &Secret) -> Result<Self> {
        let enc = EncryptedPrivateKeyInfo::try_from(der).map_err(|e| {
            Error::failure(format!("not a valid encrypted PKCS#8 private key ({e})"))
        })?;
        check_kdf_cost(&enc.encryption_algorithm)?;
        let doc = enc.decrypt(password.expose().as_bytes()).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("unsupported") || msg.contains("Algorithm") {
                Error::input(
                    InputKind::UnsupportedEncryption,
                    format!("cannot decrypt the private key: unsupported encryption ({msg})"),
                )
            } else {
                Error::input(
                    InputKind::WrongPassword,
                    "cannot decrypt the private key: wrong password",
                )
            }
        })?;
        Self::from_pkcs8_der(doc.as_bytes()).map_err(|_| {
            Error::input(
                InputKind::WrongPassword,
                "cannot decrypt the private key: wrong password",
            )
        })
    }

    /// What kind of key it is.
    pub fn kind(&self) -> &KeyKind {
        &self.kind
    }

    /// The PKCS#8 `PrivateKeyInfo` DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The PKCS#1 DER of an RSA key (what [`crate::jose::SigningKey`] and aws-lc-rs take).
    pub fn rsa_pkcs1_der(&self) -> Option<&[u8]> {
        match &self.kind {
            KeyKind::Rsa { pkcs1, .. } => Some(pkcs1),
            KeyKind::Other(_) => None,
        }
    }

    /// The RSA key size in bits, for an RSA key.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.kind {
            KeyKind::Rsa { n, .. } => Some(rsa_bits(n)),
            KeyKind::Other(_) => None,
        }
    }

    /// `RSA 2048`, `EC` …
    pub fn describe(&self) -> String {
        match &self.kind {
            KeyKind::Rsa { n, .. } => format!("RSA {}", rsa_bits(n)),
            KeyKind::Other(name) => name.clone(),
        }
    }

    /// Whether this key is the private half of the certificate's public key.
    pub fn matches(&self, cert_key: &CertKey) -> bool {
        match (&self.kind, cert_key) {
            (KeyKind::Rsa { n, e, .. }, CertKey::Rsa { n: cn, e: ce }) => n == cn && e == ce,
            _ => false,
        }
    }

    /// `BEGIN PRIVATE KEY` PEM.
    pub fn to_pkcs8_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("PRIVATE KEY", self.pkcs8.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// `BEGIN ENCRYPTED PRIVATE KEY` PEM: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC,
    /// which OpenSSL 3, Java, .NET and MSAL all read.
    #[cfg(feature = "encrypted-keys")]
    pub fn to_encrypted_pkcs8_pem(&self, password: &Secret) -> Result<String> {
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt)
            .and_then(|_| aws_lc_rs::rand::fill(&mut iv))
            .map_err(|_| Error::failure("the system random generator failed"))?;
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, &iv)
                // pkcs5's error is no std::error::Error (no_std crate): kept as text.
                .map_err(|e| Error::failure(format!("cannot encrypt the key ({e})")))?;
        let info = PrivateKeyInfo::try_from(self.pkcs8.as_slice())
            .context(InputKind::Invalid, || "cannot encrypt the key".to_string())?;
        let doc = info
            .encrypt_with_params(params, password.expose().as_bytes())
            .context(InputKind::Invalid, || "cannot encrypt the key".to_string())?;
        let pem = doc
            .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .context(InputKind::Invalid, || "cannot encode the key".to_string())?;
        Ok(pem.to_string())
    }
}

fn rsa_kind(pkcs1_der: &[u8]) -> Result<KeyKind> {
    let rsa = pkcs1::RsaPrivateKey::from_der(pkcs1_der).context(InputKind::Invalid, || {
        "not a valid RSA private key".to_string()
    })?;
    Ok(KeyKind::Rsa {
        n: strip_leading_zeros(rsa.modulus.as_bytes()).to_vec(),
        e: strip_leading_zeros(rsa.public_exponent.as_bytes()).to_vec(),
        pkcs1: pkcs1_der.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_key() -> PrivateKey {
        let kp =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        PrivateKey::from_pkcs8_der(&kp.serialize_der()).unwrap()
    }

    #[test]
    fn encrypted_round_trip_and_wrong_password() {
        let key = fresh_key();
        assert_eq!(key.rsa_bits(), Some(2048));
        let pem_text = key.to_encrypted_pkcs8_pem(&Secret::new("pw")).unwrap();
        let der = pem::parse(&pem_text).unwrap().into_contents();
        let back = PrivateKey::from_encrypted_pkcs8_der(&der, &Secret::new("pw")).unwrap();
        assert_eq!(back, key);
        let err = PrivateKey::from_encrypted_pkcs8_der(&der, &Secret::new("nope")).unwrap_err();
        assert!(
            err.message().contains("wrong password"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn pkcs1_is_wrapped_into_the_same_pkcs8() {
        let key = fresh_key();
        let pkcs1 = key.rsa_pkcs1_der().unwrap().to_vec();
        let again = PrivateKey::from_pkcs1_der(&pkcs1).unwrap();
        assert!(again.kind() == key.kind(), "same key after wrapping");
    }

    #[test]
    fn debug_is_redacted() {
        let key = fresh_key();
        assert_eq!(format!("{key:?}"), "PrivateKey(RSA 2048, redacted)");
    }
}
