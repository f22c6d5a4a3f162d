//! The local certificate authority of proxy mode, made once in the state folder (key 0600),
//! as mkcert does, and the leaf certificates it issues for the Microsoft host names, made on
//! first need and kept in memory for the life of the service.
//!
//! The CA is name-constrained (RFC 5280 §4.2.1.10) to exactly the hosts of [`cloud::CLOUDS`]:
//! a user who trusts it (even machine-wide, by mistake) lets it vouch for no other site, so its
//! key on disk is worth little to anyone who takes it. A DNS constraint `graph.microsoft.com`
//! also admits every name below it (`*.graph.microsoft.com`, `x.graph.microsoft.com`), so each
//! served host's subdomains are excluded (`.graph.microsoft.com`, the leading-dot form OpenSSL,
//! Go and webpki read as "subdomains only"); and since DNS constraints say nothing of IP
//! addresses, every IPv4 and IPv6 address is excluded (0.0.0.0/0, ::/0).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, PublicKeyData, PKCS_ECDSA_P256_SHA256,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use certgen::cloud;
use certgen::error::{Error, Result};
use certgen::files::{self, OutputFile};
use certgen::input;
use certgen::paths;

pub const CA_CERT_FILE: &str = "proxy-ca.pem";
pub const CA_KEY_FILE: &str = "proxy-ca-key.pem";

/// Ten years, as the other state certificates: trusted by hand, so rarely changed.
const CA_DAYS: i64 = 3650;
/// Leaves live in memory only, remade at every start; a long-running service still outlives
/// a short validity, so 90 days.
const LEAF_DAYS: i64 = 90;

/// The local CA and its in-memory leaves.
pub struct LocalCa {
    issuer: Issuer<'static, KeyPair>,
    /// The PEM file clients trust (`proxy_ca_file`).
    pub cert_file: PathBuf,
    /// Whether this start made it (clients must trust it anew).
    pub created: bool,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<&'static str, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalCa({}, key redacted)", self.cert_file.display())
    }
}

impl LocalCa {
    /// The CA of the state folder, made if missing, unreadable, mismatched or expiring within
    /// a day.
    pub fn load_or_make(dir: &Path) -> Result<LocalCa> {
        let cert_file = dir.join(CA_CERT_FILE);
        let key_file = dir.join(CA_KEY_FILE);
        // Under the state folder's lock, as the folder's other keys: processes starting at
        // once on a new folder make one CA and all trust it.
        let _lock = crate::state::lock(dir)?;
        let (issuer, created) = match load(&cert_file, &key_file) {
            Some(issuer) => (issuer, false),
            None => (make(dir, &cert_file, &key_file)?, true),
        };
        Ok(LocalCa {
            issuer,
            cert_file,
            created,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            leaves: Mutex::default(),
        })
    }

    /// The certificate and key for a Microsoft host, made on first need.
    pub fn leaf(&self, host: &'static str) -> Result<Arc<CertifiedKey>> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still sound.
        let mut leaves = self.leaves.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = leaves.get(host) {
            return Ok(k.clone());
        }
        let made = Arc::new(self.issue(host)?);
        leaves.insert(host, made.clone());
        Ok(made)
    }

    fn issue(&self, host: &str) -> Result<CertifiedKey> {
        let failed = |e: rcgen::Error| {
            Error::failure(format!("cannot make the certificate for {host}: {e}"))
        };
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let mut params = CertificateParams::new(vec![host.to_string()]).map_err(failed)?;
        params.distinguished_name = name(host);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        // An hour back, for clients whose clock is a little behind.
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(LEAF_DAYS);
        let cert = params.signed_by(&key, &self.issuer).map_err(failed)?;
        let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = self
            .provider
            .key_provider
            .load_private_key(private)
            .map_err(|e| Error::failure(format!("cannot use the key made for {host}: {e}")))?;
        Ok(CertifiedKey::new(
            vec![CertificateDer::from(cert.der().to_vec())],
            signing,
        ))
    }
}

/// Picks the certificate by the name the client asked for (SNI): a leaf of the local CA for
/// a Microsoft host, else `fallback` (the service's own certificate; none for the proxy).
#[derive(Debug)]
pub struct SniResolver {
    pub ca: Arc<LocalCa>,
    pub fallback: Option<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match hello.server_name().and_then(cloud::host) {
            // A failure to sign here has no channel but the failed handshake itself.
            Some(h) => self.ca.leaf(h.name).ok(),
            None => self.fallback.clone(),
        }
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "certgen serve (local, offline)");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn make(dir: &Path, cert_file: &Path, key_file: &Path) -> Result<Issuer<'static, KeyPair>> {
    let failed = |e: rcgen::Error| Error::failure(format!("cannot make the local CA: {e}"));
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name("certgen serve proxy CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.name_constraints = Some(name_constraints());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(CA_DAYS);
    let cert = params.self_signed(&key).map_err(failed)?;
    paths::ensure_private_dir(dir)?;
    files::write_all(
        &[
            OutputFile::public(cert_file.to_path_buf(), cert.pem()),
            OutputFile::private(key_file.to_path_buf(), key.serialize_pem()),
        ],
        true,
    )?;
    Ok(Issuer::new(params, key))
}

/// Exactly the served hosts: each permitted, each one's subdomains excluded, every IP address
/// excluded (RFC 5280 §4.2.1.10).
fn name_constraints() -> NameConstraints {
    let mut excluded: Vec<GeneralSubtree> = cloud::all_hosts()
        .map(|h| GeneralSubtree::DnsName(format!(".{}", h.name)))
        .collect();
    excluded.push(GeneralSubtree::IpAddress(CidrSubnet::V4([0; 4], [0; 4])));
    excluded.push(GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0; 16])));
    NameConstraints {
        permitted_subtrees: cloud::all_hosts()
            .map(|h| GeneralSubtree::DnsName(h.name.to_string()))
            .collect(),
        excluded_subtrees: excluded,
    }
}

/// Whether a CA's name constraints are those [`name_constraints`] makes now. A CA made by an
/// older certgen (DNS names permitted, nothing excluded) or for another host table is not, and
/// is made anew.
fn constraints_current(x509: &x509_parser::certificate::X509Certificate<'_>) -> bool {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(ext)) = x509.name_constraints() else {
        return false;
    };
    let names = |subtrees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
        let mut out: Vec<String> = subtrees
            .iter()
            .flatten()
            .map(|s| match &s.base {
                GeneralName::DNSName(d) => format!("dns:{}", d.to_ascii_lowercase()),
                GeneralName::IPAddress(ip) => format!("ip:{}", hex::encode(ip)),
                other => format!("other:{other:?}"),
            })
            .collect();
        out.sort();
        out
    };
    let want = name_constraints();
    let want_names = |subtrees: &[GeneralSubtree]| {
        let mut out: Vec<String> = subtrees
            .iter()
            .map(|s| match s {
                GeneralSubtree::DnsName(d) => format!("dns:{}", d.to_ascii_lowercase()),
                GeneralSubtree::IpAddress(CidrSubnet::V4(a, m)) => {
                    format!("ip:{}{}", hex::encode(a), hex::encode(m))
                }
                GeneralSubtree::IpAddress(CidrSubnet::V6(a, m)) => {
                    format!("ip:{}{}", hex::encode(a), hex::encode(m))
                }
                other => format!("other:{other:?}"),
            })
            .collect();
        out.sort();
        out
    };
    names(&ext.value.permitted_subtrees) == want_names(&want.permitted_subtrees)
        && names(&ext.value.excluded_subtrees) == want_names(&want.excluded_subtrees)
}

/// The CA of the folder, if both files are there, belong together, stay valid a day more and
/// carry today's name constraints.
fn load(cert_file: &Path, key_file: &Path) -> Option<Issuer<'static, KeyPair>> {
    let cert_pem = String::from_utf8(input::read_input(cert_file).ok()?).ok()?;
    let key_pem = String::from_utf8(input::read_input(key_file).ok()?).ok()?;
    let key = KeyPair::from_pem(&key_pem).ok()?;
    let der = pem::parse(&cert_pem).ok()?;
    let (_, x509) = x509_parser::parse_x509_certificate(der.contents()).ok()?;
    let fresh = x509.validity().not_after.timestamp()
        > (OffsetDateTime::now_utc() + Duration::days(1)).unix_timestamp();
    let matches = x509.public_key().raw == key.subject_public_key_info().as_slice();
    if !(fresh && matches && constraints_current(&x509)) {
        return None;
    }
    Issuer::from_ca_cert_pem(&cert_pem, key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("serve");
        let a = LocalCa::load_or_make(&state).unwrap();
        assert!(a.created);
        let b = LocalCa::load_or_make(&state).unwrap();
        assert!(!b.created);
        assert_eq!(
            std::fs::read(&a.cert_file).unwrap(),
            std::fs::read(&b.cert_file).unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(state.join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Leaves are made once per host and kept.
        let l1 = b.leaf("login.microsoftonline.com").unwrap();
        let l2 = b.leaf("login.microsoftonline.com").unwrap();
        assert!(Arc::ptr_eq(&l1, &l2));
        // A damaged key is replaced, not fatal.
        std::fs::write(state.join(CA_KEY_FILE), "garbage").unwrap();
        assert!(LocalCa::load_or_make(&state).unwrap().created);
    }
}
