//! An X.509 certificate as certgen sees it: its DER, and the facts users ask about
//! (subject, issuer, serial, validity, key, thumbprints), parsed once with `x509-parser`.

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, SubjectPublicKeyInfo, X509Certificate};
use x509_parser::public_key::PublicKey;

pub use crate::dates::rfc3339;
use crate::error::{Context, Error, InputKind, Result};
pub use crate::rsa::{rsa_bits, strip_leading_zeros};
use crate::thumbprint::Thumbprints;

/// The public key of a certificate, reduced to what certgen needs to decide and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertKey {
    /// RSA modulus and public exponent, big-endian, without leading zero bytes.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// Anything else (EC, EdDSA, DSA …), named for messages: Entra accepts only RSA.
    Other(String),
}

impl CertKey {
    /// `RSA 2048`, `EC P-256` …, as printed and as in `--json` `key`.
    pub fn describe(&self) -> String {
        match self {
            CertKey::Rsa { n, .. } => format!("RSA {}", rsa_bits(n)),
            CertKey::Other(name) => name.clone(),
        }
    }

    /// The RSA key size in bits, for an RSA key.
    pub fn rsa_bits(&self) -> Option<usize> {
        match self {
            CertKey::Rsa { n, .. } => Some(rsa_bits(n)),
            CertKey::Other(_) => None,
        }
    }
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    /// The subject name, as `CN=…, O=…`.
    pub subject: String,
    /// The issuer name, in the same form.
    pub issuer: String,
    /// Serial number, upper-case hex without leading zero bytes (as `openssl x509 -serial`).
    pub serial: String,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// The public key.
    pub key: CertKey,
    /// Its thumbprints.
    pub thumbprints: Thumbprints,
}

/// Where a certificate stands in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// Within its validity period.
    Valid,
    /// Past its end.
    Expired,
    /// Before its start.
    NotYetValid,
}

impl Certificate {
    /// Parses one DER certificate; trailing bytes are an error (a DER file is exactly one).
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let (cert, rest) = Self::from_der_prefix(der)?;
        if !rest.is_empty() {
            return Err(Error::failure(
                "not a valid X.509 certificate (trailing bytes after it)",
            ));
        }
        Ok(cert)
    }

    /// The certificate at the start of `der`, and what follows it. OpenSSL's
    /// `TRUSTED CERTIFICATE` PEM appends its trust settings to the certificate; the
    /// thumbprints are those of the certificate alone, as `openssl x509 -fingerprint` shows.
    pub fn from_der_prefix(der: &[u8]) -> Result<(Self, &[u8])> {
        let (rest, x509) = X509Certificate::from_der(der).context(InputKind::Invalid, || {
            "not a valid X.509 certificate".to_string()
        })?;
        let (own, rest) = der.split_at(der.len() - rest.len());
        let der = own.to_vec();
        let key = match x509.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => CertKey::Rsa {
                n: strip_leading_zeros(rsa.modulus).to_vec(),
                e: strip_leading_zeros(rsa.exponent).to_vec(),
            },
            Ok(PublicKey::EC(_)) => CertKey::Other(ec_name(x509.public_key())),
            Ok(PublicKey::DSA(_)) => CertKey::Other("DSA".into()),
            _ => CertKey::Other(match x509.public_key().algorithm.algorithm.to_id_string() {
                s if s == "1.3.101.112" => "Ed25519".into(),
                s if s == "1.3.101.113" => "Ed448".into(),
                s => format!("unknown key type {s}"),
            }),
        };
        let serial = hex::encode_upper(strip_leading_zeros(x509.raw_serial()));
        let cert = Certificate {
            subject: x509.subject().to_string(),
            issuer: x509.issuer().to_string(),
            serial: if serial.is_empty() {
                "00".into()
            } else {
                serial
            },
            not_before: x509.validity().not_before.to_datetime(),
            not_after: x509.validity().not_after.to_datetime(),
            key,
            thumbprints: Thumbprints::of_der(&der),
            der,
        };
        Ok((cert, rest))
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The `BEGIN CERTIFICATE` PEM.
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }

    /// Where `now` falls in its validity.
    pub fn validity_at(&self, now: OffsetDateTime) -> Validity {
        if now < self.not_before {
            Validity::NotYetValid
        } else if now > self.not_after {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }

    /// Whether subject and issuer are the same name (self-issued).
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }
}

fn ec_name(spki: &SubjectPublicKeyInfo<'_>) -> String {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    match curve.as_deref() {
        Some("1.2.840.10045.3.1.7") => "EC P-256".into(),
        Some("1.3.132.0.34") => "EC P-384".into(),
        Some("1.3.132.0.35") => "EC P-521".into(),
        _ => "EC".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_refused_without_panic() {
        assert!(Certificate::from_der(b"\x30\x03\x02\x01").is_err());
        assert!(Certificate::from_der(&[]).is_err());
    }

    #[test]
    fn rfc3339_is_utc_whole_seconds() {
        let t = OffsetDateTime::from_unix_timestamp(1_484_592_741).unwrap();
        assert_eq!(rfc3339(t), "2017-01-16T18:52:21Z");
    }
}
