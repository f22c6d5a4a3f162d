//! A signing credential: the certificate Entra knows (with its chain) and the RSA key that
//! signs for it, loaded from a certificate file (with the key in it or beside it) or a PKCS#12
//! file.
//!
//! Everything Entra would refuse later, with an AADSTS code a user has to look up, is refused
//! here with a message that names the problem: a key that does not belong to the certificate, a
//! key that is not RSA, an RSA key under 2048 bits. A certificate outside its validity is only
//! a warning: it is still the right credential, and the user may be testing exactly that.

use std::path::PathBuf;

use time::OffsetDateTime;

use crate::certificate::{rfc3339, Certificate, Validity};
use crate::error::{Error, InputKind, Result};
use crate::input;
use crate::key::{KeyKind, PrivateKey};
use crate::secret::SecretSource;

/// The environment variable the Azure Identity libraries read the credential file from.
pub const ENV_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
/// The environment variable holding that file's password.
pub const ENV_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";

/// Smallest RSA key Entra accepts for a client assertion (smaller: AADSTS50032).
pub use crate::jose::MIN_RSA_BITS;

/// The files the credential comes from.
#[derive(Debug, Clone, Default)]
pub struct CredentialSource {
    /// A certificate (PEM or DER); a PEM may also hold the key.
    pub cert: Option<PathBuf>,
    /// The private key, when it is not in `cert`.
    pub key: Option<PathBuf>,
    /// A PKCS#12 file holding the certificate, its chain and the key.
    pub pfx: Option<PathBuf>,
}

/// A certificate chain (leaf first) and the RSA private key of its leaf, checked for use with
/// Entra.
#[derive(Debug, Clone)]
pub struct Credential {
    chain: Vec<Certificate>,
    key: PrivateKey,
    warnings: Vec<String>,
}

impl Credential {
    /// Loads and checks a credential. A password is taken from `passwords` only when a file
    /// needs one.
    pub fn load(source: &CredentialSource, passwords: &SecretSource) -> Result<Credential> {
        let files = source_files(source)?;
        let mut certs = Vec::new();
        let mut keys = Vec::new();
        // Which file gave the key and which the certificates, for a mismatch message that
        // names each by its role.
        let (mut key_files, mut cert_files) = (Vec::new(), Vec::new());
        for path in &files {
            let material = input::load(path, passwords)?;
            if !material.keys.is_empty() {
                key_files.push(path.display().to_string());
            }
            if !material.certs.is_empty() {
                cert_files.push(path.display().to_string());
            }
            certs.extend(material.certs);
            keys.extend(material.keys);
        }
        let names = if key_files == cert_files || key_files.is_empty() || cert_files.is_empty() {
            files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        } else {
            format!(
                "key {}, certificate {}",
                key_files.join(" and "),
                cert_files.join(" and ")
            )
        };
        Credential::from_parts(certs, keys, &names, OffsetDateTime::now_utc())
    }

    /// Builds a credential from what the input files held, checked as [`load`](Self::load)
    /// does; `names` is used in messages, `now` decides the validity warnings.
    pub fn from_parts(
        certs: Vec<Certificate>,
        keys: Vec<PrivateKey>,
        names: &str,
        now: OffsetDateTime,
    ) -> Result<Credential> {
        let key = single_key(keys, names)?;
        check_key(&key)?;
        if certs.is_empty() {
            return Err(Error::input(
                InputKind::KeyWithoutCertificate,
                format!("no certificate found in {names}"),
            ));
        }
        let mut matching = certs.iter().filter(|c| key.matches(&c.key));
        let Some(leaf) = matching.next().cloned() else {
            return Err(Error::input(
                InputKind::KeyMismatch {
                    names: names.to_string(),
                },
                "certificate and key do not match",
            ));
        };
        let mut warnings = Vec::new();
        if let Some(other) = matching.next() {
            warnings.push(format!(
                "several certificates match the key; using {} (thumbprint {}), not {}",
                leaf.subject,
                leaf.thumbprints.thumbprint(),
                other.thumbprints.thumbprint()
            ));
        }
        match leaf.validity_at(now) {
            Validity::Valid => {}
            Validity::Expired => warnings.push(format!(
                "certificate {} expired on {}; Entra refuses an expired credential",
                leaf.subject,
                rfc3339(leaf.not_after)
            )),
            Validity::NotYetValid => warnings.push(format!(
                "certificate {} is not valid before {}; Entra refuses it until then",
                leaf.subject,
                rfc3339(leaf.not_before)
            )),
        }
        let chain = order_chain(leaf, certs);
        Ok(Credential {
            chain,
            key,
            warnings,
        })
    }

    /// The certificate whose key signs (the one registered with the app).
    pub fn leaf(&self) -> &Certificate {
        &self.chain[0]
    }

    /// The leaf first, then the other certificates found in the input, issuers first in
    /// the order they certify each other.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    /// The private key of the leaf.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Problems worth telling the user that do not stop signing (validity, ambiguity).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// The files to read.
fn source_files(source: &CredentialSource) -> Result<Vec<PathBuf>> {
    match (&source.cert, &source.key, &source.pfx) {
        (Some(_), _, Some(_)) | (None, Some(_), Some(_)) => Err(Error::input(
            InputKind::CredentialConflict,
            "a PKCS#12 file cannot be combined with a certificate or key file",
        )),
        (None, Some(_), None) => Err(Error::input(
            InputKind::KeyNeedsCertificate,
            "a key file needs its certificate file",
        )),
        (Some(cert), Some(key), None) => Ok(vec![cert.clone(), key.clone()]),
        (Some(cert), None, None) => Ok(vec![cert.clone()]),
        (None, None, Some(pfx)) => Ok(vec![pfx.clone()]),
        (None, None, None) => Err(Error::input(InputKind::NoCredential, "no credential given")),
    }
}

/// Exactly one private key, counting the same key found twice (a combined PEM also given
/// as `--key`) once.
fn single_key(keys: Vec<PrivateKey>, names: &str) -> Result<PrivateKey> {
    let mut distinct: Vec<PrivateKey> = Vec::new();
    for k in keys {
        if !distinct.contains(&k) {
            distinct.push(k);
        }
    }
    match distinct.len() {
        0 => Err(Error::input(
            InputKind::NoKey,
            format!("no private key found in {names}"),
        )),
        1 => Ok(distinct.remove(0)),
        n => Err(Error::input(
            InputKind::SeveralKeys,
            format!("{n} different private keys found in {names}; which one signs is ambiguous"),
        )),
    }
}

/// The key must be RSA of at least 2048 bits: the only keys Entra accepts.
fn check_key(key: &PrivateKey) -> Result<()> {
    match key.kind() {
        KeyKind::Other(name) => Err(Error::input(
            InputKind::NotRsa,
            format!("the private key is {name}; Entra accepts only RSA credentials"),
        )),
        KeyKind::Rsa { .. } => match key.rsa_bits() {
            Some(bits) if bits >= MIN_RSA_BITS => Ok(()),
            bits => Err(Error::input(
                InputKind::WeakKey {
                    bits: bits.unwrap_or(0),
                },
                format!(
                    "the RSA key has {} bits; Entra requires at least {MIN_RSA_BITS} (it answers AADSTS50032)",
                    bits.unwrap_or(0)
                ),
            )),
        },
    }
}

/// Leaf first, then its issuer, that one's issuer …, then anything left in input order.
/// Duplicates (the same certificate in two files) appear once.
fn order_chain(leaf: Certificate, certs: Vec<Certificate>) -> Vec<Certificate> {
    let mut rest: Vec<Certificate> = Vec::new();
    for c in certs {
        if c.der() != leaf.der() && !rest.iter().any(|r| r.der() == c.der()) {
            rest.push(c);
        }
    }
    let mut chain = vec![leaf];
    while let Some(last) = chain.last().filter(|c| !c.is_self_issued()) {
        match rest.iter().position(|c| c.subject == last.issuer) {
            Some(i) => chain.push(rest.remove(i)),
            None => break,
        }
    }
    chain.extend(rest);
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, KeySize, NewCertificate, Profile, Subject};

    fn made(cn: &str) -> (Certificate, PrivateKey) {
        let g = generate(&NewCertificate {
            subject: Subject::common_name(cn).unwrap(),
            sans: vec![],
            days: 30,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        })
        .unwrap();
        (g.cert, g.key)
    }

    #[test]
    fn matching_pair_is_accepted_and_mismatch_refused() {
        let (cert_a, key_a) = made("a");
        let (cert_b, _) = made("b");
        let now = OffsetDateTime::now_utc();
        let cred = Credential::from_parts(
            vec![cert_b.clone(), cert_a.clone()],
            vec![key_a.clone()],
            "x",
            now,
        )
        .unwrap();
        assert_eq!(cred.leaf(), &cert_a);
        assert_eq!(cred.chain().len(), 2);
        assert!(cred.warnings().is_empty());
        let e = Credential::from_parts(vec![cert_b], vec![key_a], "x", now).unwrap_err();
        assert_eq!(e.message(), "certificate and key do not match");
    }

    #[test]
    fn validity_is_a_warning() {
        let (cert, key) = made("w");
        let later = cert.not_after + time::Duration::days(1);
        let cred = Credential::from_parts(vec![cert], vec![key], "x", later).unwrap();
        assert!(
            cred.warnings()[0].contains("expired"),
            "{:?}",
            cred.warnings()
        );
    }

    #[test]
    fn zero_or_two_keys_and_no_certificate() {
        let (cert_a, key_a) = made("a");
        let (_, key_b) = made("b");
        let now = OffsetDateTime::now_utc();
        let e = Credential::from_parts(vec![cert_a.clone()], vec![], "f", now).unwrap_err();
        assert!(e.message().starts_with("no private key"), "{}", e.message());
        let e = Credential::from_parts(vec![], vec![key_a.clone()], "f", now).unwrap_err();
        assert!(e.message().starts_with("no certificate"), "{}", e.message());
        let e = Credential::from_parts(vec![cert_a.clone()], vec![key_a.clone(), key_b], "f", now)
            .unwrap_err();
        assert!(e.message().contains("ambiguous"), "{}", e.message());
        // The same key twice (combined PEM plus --key) is one key.
        Credential::from_parts(vec![cert_a], vec![key_a.clone(), key_a], "f", now).unwrap();
    }
}
