//! Making a new certificate and key: the profile Entra expects of a client certificate, and a localhost TLS
//! certificate. RSA only, through `rcgen` on aws-lc-rs.

use std::net::IpAddr;

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, RsaKeySize, SanType, SerialNumber, PKCS_RSA_SHA256,
};
use time::{Duration, OffsetDateTime};

use crate::certificate::Certificate;
use crate::error::{Context, Error, InputKind, Param, Result};
use crate::key::PrivateKey;

/// RSA key sizes on offer; Entra needs at least 2048 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySize {
    /// RSA 2048 (the default).
    Rsa2048,
    /// RSA 3072.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
}

impl KeySize {
    /// The size of `bits` (2048, 3072 or 4096); any other is refused.
    pub fn from_bits(bits: u32) -> Result<Self> {
        match bits {
            2048 => Ok(KeySize::Rsa2048),
            3072 => Ok(KeySize::Rsa3072),
            4096 => Ok(KeySize::Rsa4096),
            _ => Err(Error::input(
                InputKind::BadValue(Param::KeySize),
                format!("key size {bits} is not offered: choose 2048, 3072 or 4096"),
            )),
        }
    }

    /// The key size in bits.
    pub fn bits(self) -> u32 {
        match self {
            KeySize::Rsa2048 => 2048,
            KeySize::Rsa3072 => 3072,
            KeySize::Rsa4096 => 4096,
        }
    }
}

/// What the certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// An Entra app credential: EKU clientAuth.
    ClientAuth,
    /// A TLS server certificate (the local token service): EKU serverAuth.
    TlsServer,
}

/// Everything that decides a new certificate.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    /// The subject (and issuer) name.
    pub subject: Subject,
    /// DNS names or IP addresses; none means no SAN extension.
    pub sans: Vec<String>,
    /// Validity in days, 1–3650.
    pub days: u32,
    /// The RSA key size.
    pub key_size: KeySize,
    /// What the certificate is for (key usages, extended key usages).
    pub profile: Profile,
}

/// The maximum validity accepted (ten years).
pub const MAX_DAYS: u32 = 3650;

/// What was made.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The new certificate.
    pub cert: Certificate,
    /// Its private key.
    pub key: PrivateKey,
    /// The PKCS#10 request for the same key and subject, PEM.
    pub csr_pem: String,
}

/// A distinguished name as the user gave it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(Vec<(String, String)>);

impl Subject {
    /// A subject of one common name (`CN=cn`).
    pub fn common_name(cn: &str) -> Result<Self> {
        if cn.trim().is_empty() {
            return Err(Error::input(
                InputKind::BadValue(Param::CommonName),
                "common name must not be empty",
            ));
        }
        check_value("CN", cn)?;
        Ok(Subject(vec![("CN".into(), cn.to_string())]))
    }

    /// Parses `CN=a,O=b,C=c` (RFC 4514 style, `\,` escapes a comma) or `/C=c/O=b/CN=a`
    /// (OpenSSL's `-subj` style).
    pub fn parse(dn: &str) -> Result<Self> {
        let dn = dn.trim();
        let parts: Vec<String> = if let Some(rest) = dn.strip_prefix('/') {
            split_escaped(rest, '/')
        } else {
            split_escaped(dn, ',')
        };
        let mut out = Vec::new();
        for part in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((k, v)) = part.split_once('=') else {
                return Err(Error::input(
                    InputKind::BadSubjectSyntax,
                    format!("subject: '{part}' is not of the form TYPE=value"),
                ));
            };
            let key = canonical_attr(k.trim())?;
            if out.iter().any(|(existing, _)| existing == &key) {
                return Err(Error::input(
                    InputKind::BadValue(Param::Subject),
                    format!("subject: {key} appears twice; each attribute may appear once"),
                ));
            }
            let value = v.trim();
            check_value(&key, value)?;
            out.push((key, value.to_string()));
        }
        if out.is_empty() {
            return Err(Error::input(
                InputKind::BadValue(Param::Subject),
                "subject is empty",
            ));
        }
        Ok(Subject(out))
    }

    /// The CN, if any.
    pub fn cn(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == "CN")
            .map(|(_, v)| v.as_str())
    }

    fn to_rcgen(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        for (k, v) in &self.0 {
            let ty = match k.as_str() {
                "CN" => DnType::CommonName,
                "O" => DnType::OrganizationName,
                "OU" => DnType::OrganizationalUnitName,
                "C" => DnType::CountryName,
                "ST" => DnType::StateOrProvinceName,
                "L" => DnType::LocalityName,
                "emailAddress" => DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
                "DC" => DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]),
                _ => DnType::CustomDnType(vec![2, 5, 4, 5]), // serialNumber
            };
            dn.push(ty, v.as_str());
        }
        dn
    }
}

/// The X.520 bounds OpenSSL's `req` also enforces: no empty values, a two-letter country,
/// at most 64 characters for names (128 for emailAddress), so that every certificate certgen
/// makes is one that strict parsers accept.
fn check_value(key: &str, value: &str) -> Result<()> {
    let max = if key == "emailAddress" { 128 } else { 64 };
    let len = value.chars().count();
    if len == 0 {
        return Err(Error::input(
            InputKind::BadValue(Param::Subject),
            format!("subject: {key} has an empty value"),
        ));
    }
    if key == "C" && !(len == 2 && value.chars().all(|c| c.is_ascii_alphabetic())) {
        return Err(Error::input(
            InputKind::BadValue(Param::Subject),
            format!("subject: C must be a two-letter country code such as US, not '{value}'"),
        ));
    }
    if len > max {
        return Err(Error::argument(format!(
            "{key} is {len} characters long; X.509 allows at most {max}"
        )));
    }
    Ok(())
}

fn canonical_attr(k: &str) -> Result<String> {
    let upper = k.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "CN" | "O" | "OU" | "C" | "ST" | "L" | "DC" => upper,
        "EMAILADDRESS" | "E" => "emailAddress".into(),
        "SERIALNUMBER" => "serialNumber".into(),
        _ => {
            return Err(Error::input(
                InputKind::BadValue(Param::Subject),
                format!(
                    "subject: unknown attribute '{k}' (use CN, O, OU, C, ST, L, DC, emailAddress)"
                ),
            ))
        }
    })
}

fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            current.extend(chars.next());
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

/// A file-safe base name from a CN: letters, digits, `.`, `_`, `-`; anything else becomes `-`.
pub fn file_safe(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        "certgen".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Makes the key, the self-signed certificate and a CSR, with the profile above.
pub fn generate(req: &NewCertificate) -> Result<Generated> {
    if req.days == 0 || req.days > MAX_DAYS {
        return Err(Error::input(
            InputKind::BadValue(Param::Days),
            format!("days {} is out of range: choose 1 to {MAX_DAYS}", req.days),
        ));
    }
    let size = match req.key_size {
        KeySize::Rsa2048 => RsaKeySize::_2048,
        KeySize::Rsa3072 => RsaKeySize::_3072,
        KeySize::Rsa4096 => RsaKeySize::_4096,
    };
    let key_pair = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, size)
        .context(InputKind::Invalid, || {
            "RSA key generation failed".to_string()
        })?;

    let mut params = CertificateParams::default();
    params.distinguished_name = req.subject.to_rcgen();
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![match req.profile {
        Profile::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        Profile::TlsServer => ExtendedKeyUsagePurpose::ServerAuth,
    }];
    params.subject_alt_names = req
        .sans
        .iter()
        .map(|s| san(s))
        .collect::<Result<Vec<_>>>()?;
    // Five minutes back so a verifier whose clock lags slightly does not see a future cert.
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    params.not_before = now - Duration::minutes(5);
    params.not_after = params.not_before + Duration::days(i64::from(req.days));
    // The request carries subject and extensions; serial and validity are the CA's to choose.
    let csr = params
        .serialize_request(&key_pair)
        .and_then(|c| c.pem())
        .context(InputKind::Invalid, || {
            "cannot make the certificate request".to_string()
        })?;
    params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));

    let cert = params
        .self_signed(&key_pair)
        .context(InputKind::Invalid, || {
            "cannot make the certificate".to_string()
        })?;
    Ok(Generated {
        cert: Certificate::from_der(cert.der())?,
        key: PrivateKey::from_pkcs8_der(&key_pair.serialize_der())?,
        csr_pem: csr,
    })
}

fn san(s: &str) -> Result<SanType> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let valid = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        });
    if !valid {
        return Err(Error::input(
            InputKind::BadValue(Param::San),
            format!("SAN '{s}' is not a DNS name or IP address"),
        ));
    }
    Ok(SanType::DnsName(s.try_into().map_err(|_| {
        Error::input(
            InputKind::BadValue(Param::San),
            format!("SAN '{s}' is not a DNS name"),
        )
    })?))
}

/// A random positive serial of 128 bits (RFC 5280 allows up to 20 octets; CAs use ≥ 64 random bits).
fn random_serial() -> Result<[u8; 16]> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| Error::failure("the system random generator failed"))?;
    b[0] = (b[0] & 0x7f) | 0x40; // positive, and full length so it prints as 32 hex digits
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_in_both_styles() {
        let a = Subject::parse("CN=my app,O=Contoso\\, Ltd,C=US").unwrap();
        assert_eq!(a.cn(), Some("my app"));
        assert_eq!(a.0[1], ("O".to_string(), "Contoso, Ltd".to_string()));
        let b = Subject::parse("/C=US/O=Contoso/CN=daemon").unwrap();
        assert_eq!(b.cn(), Some("daemon"));
        assert!(Subject::parse("nonsense").is_err());
        assert!(Subject::parse("CN=a,CN=b").is_err());
    }

    #[test]
    fn subject_values_within_x520_bounds() {
        assert!(Subject::parse("CN=a,O=").is_err());
        assert!(Subject::parse("CN=a,C=USA").is_err());
        assert!(Subject::parse("CN=a,C=us").is_ok());
        assert!(Subject::common_name(&"x".repeat(64)).is_ok());
        assert!(Subject::common_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn file_safe_names() {
        assert_eq!(file_safe("my daemon/prod"), "my-daemon-prod");
        assert_eq!(file_safe("..."), "certgen");
        assert_eq!(file_safe("api.contoso.com"), "api.contoso.com");
    }

    #[test]
    fn the_profile_holds() {
        let g = generate(&NewCertificate {
            subject: Subject::common_name("unit").unwrap(),
            sans: vec!["localhost".into(), "127.0.0.1".into()],
            days: 30,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        })
        .unwrap();
        assert!(g.key.matches(&g.cert.key));
        assert_eq!(g.cert.subject, "CN=unit");
        assert_eq!(g.cert.serial.len(), 32);
        assert_eq!(
            (g.cert.not_after - g.cert.not_before).whole_days(),
            30,
            "validity is exactly --days"
        );
        assert!(g.csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    }

    #[test]
    fn days_out_of_range() {
        let mut req = NewCertificate {
            subject: Subject::common_name("x").unwrap(),
            sans: vec![],
            days: 0,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        };
        assert!(generate(&req).is_err());
        req.days = 3651;
        assert!(generate(&req).is_err());
    }
}
