//! The state folder: the localhost TLS certificate and the token-signing key, made on first
//! start and reused afterwards, so clients trust the certificate once and tokens issued
//! before a restart still verify against the JWKS.

use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use super::tokens::SigningKey;
use certgen::certificate::Certificate;
use certgen::error::{Error, Result};
use certgen::files::{self, OutputFile};
use certgen::generate::{self, KeySize, NewCertificate, Profile, Subject};
use certgen::input;
use certgen::key::PrivateKey;
use certgen::paths;
use certgen::secret::SecretSource;

pub const TLS_CERT_FILE: &str = "tls-cert.pem";
pub const TLS_KEY_FILE: &str = "tls-key.pem";
pub const SIGNING_CERT_FILE: &str = "signing-cert.pem";
pub const SIGNING_KEY_FILE: &str = "signing-key.pem";
/// Held (exclusively) while a process reads or makes the folder's keys and CAs, so processes
/// started at the same moment on a new folder make them once and all use the same ones.
pub const LOCK_FILE: &str = ".state.lock";

/// The state folder's exclusive lock; released when dropped, or when the process dies.
pub type StateLock = certgen::files::FileLock;

/// Waits for the state folder's exclusive lock (creating `dir` private if missing).
pub fn lock(dir: &Path) -> Result<StateLock> {
    paths::ensure_private_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    match StateLock::acquire(&path, true)? {
        Some(lock) => Ok(lock),
        // A waiting lock is always taken or an error.
        None => Err(certgen::Error::io(
            "lock",
            &path,
            std::io::Error::from(std::io::ErrorKind::WouldBlock),
        )),
    }
}

/// Ten years: the certificates are local and trusted by hand, so they should rarely change.
const STATE_CERT_DAYS: u32 = generate::MAX_DAYS;

/// The default state folder: `serve` under the cache folder.
pub fn default_dir() -> Result<PathBuf> {
    Ok(paths::cache_dir()?.join("serve"))
}

/// A certificate chain and its key, for TLS.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub chain: Vec<Certificate>,
    pub key: PrivateKey,
    /// The PEM file a client should trust (the `ca_file` of the ready line).
    pub ca_file: PathBuf,
    /// Whether it was made by this start (clients must trust it anew).
    pub created: bool,
}

impl TlsIdentity {
    /// The chain and key as rustls takes them.
    pub fn rustls_parts(
        &self,
    ) -> (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let chain = self
            .chain
            .iter()
            .map(|c| CertificateDer::from(c.der().to_vec()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.pkcs8_der().to_vec()));
        (chain, key)
    }
}

/// The localhost TLS certificate of the state folder, made if missing or unusable.
pub fn tls_identity(dir: &Path) -> Result<TlsIdentity> {
    let (cert, key, created) = load_or_make(dir, TLS_CERT_FILE, TLS_KEY_FILE, || {
        Ok(NewCertificate {
            subject: Subject::common_name("localhost")?,
            sans: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            days: STATE_CERT_DAYS,
            key_size: KeySize::Rsa2048,
            profile: Profile::TlsServer,
        })
    })?;
    Ok(TlsIdentity {
        chain: vec![cert],
        key,
        ca_file: dir.join(TLS_CERT_FILE),
        created,
    })
}

/// A TLS identity from the user's `--tls-cert`/`--tls-key` files (any format certgen reads).
pub fn tls_identity_from_files(
    cert: &Path,
    key: &Path,
    passwords: &SecretSource,
) -> Result<TlsIdentity> {
    let certs = input::load(cert, passwords)?.certs;
    if certs.is_empty() {
        return Err(Error::failure(format!(
            "{}: no certificate in the file",
            cert.display()
        )));
    }
    let Some(private) = input::load(key, passwords)?.keys.into_iter().next() else {
        return Err(Error::failure(format!(
            "{}: no private key in the file",
            key.display()
        )));
    };
    if !private.matches(&certs[0].key) {
        return Err(Error::failure(format!(
            "{} does not hold the key of {}",
            key.display(),
            cert.display()
        )));
    }
    Ok(TlsIdentity {
        chain: certs,
        key: private,
        ca_file: cert.to_path_buf(),
        created: false,
    })
}

/// The token-signing key of the state folder, made if missing or unusable.
pub fn signing_key(dir: &Path) -> Result<(SigningKey, bool)> {
    let (cert, key, created) = load_or_make(dir, SIGNING_CERT_FILE, SIGNING_KEY_FILE, || {
        Ok(NewCertificate {
            subject: Subject::common_name("certgen serve token signing")?,
            sans: Vec::new(),
            days: STATE_CERT_DAYS,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        })
    })?;
    Ok((SigningKey::new(cert, &key)?, created))
}

/// The signing key of a workload issuer (serve playing GitHub or a cluster), made if missing:
/// one per issuer name, in files named by the name's digest, kept like the token-signing key
/// so tokens written before a restart (a Kubernetes token file) still verify.
pub fn issuer_key(dir: &Path, issuer: &str) -> Result<SigningKey> {
    use sha2::{Digest, Sha256};
    let id = hex::encode(&Sha256::digest(issuer.as_bytes())[..8]);
    let (cert, key, _) = load_or_make(
        dir,
        &format!("workload-issuer-{id}-cert.pem"),
        &format!("workload-issuer-{id}-key.pem"),
        || {
            Ok(NewCertificate {
                subject: Subject::common_name("certgen serve workload issuer")?,
                sans: Vec::new(),
                days: STATE_CERT_DAYS,
                key_size: KeySize::Rsa2048,
                profile: Profile::ClientAuth,
            })
        },
    )?;
    SigningKey::new(cert, &key)
}

/// Loads a certificate and key pair from the folder; makes and writes a new one (key 0600)
/// when either file is missing, unreadable, mismatched or the certificate expires within a day.
fn load_or_make(
    dir: &Path,
    cert_name: &str,
    key_name: &str,
    request: impl FnOnce() -> Result<NewCertificate>,
) -> Result<(Certificate, PrivateKey, bool)> {
    let cert_path = dir.join(cert_name);
    let key_path = dir.join(key_name);
    // Before reading too: a key planted in a folder others can write to must not be used.
    paths::ensure_private_dir(dir)?;
    // Read and (when missing) made under the folder's lock: of processes starting at once on
    // a new folder, the first makes the pair (written to temporary names, then renamed), the
    // others wait and load it, so every ready line's `ca_file` verifies its own listener.
    let _lock = lock(dir)?;
    if let Some((cert, key)) = load_pair(&cert_path, &key_path) {
        return Ok((cert, key, false));
    }
    let made = generate::generate(&request()?)?;
    files::write_all(
        &[
            OutputFile::public(cert_path, made.cert.to_pem()),
            OutputFile::private(key_path, made.key.to_pkcs8_pem()),
        ],
        true,
    )?;
    Ok((made.cert, made.key, true))
}

fn load_pair(cert_path: &Path, key_path: &Path) -> Option<(Certificate, PrivateKey)> {
    if !cert_path.is_file() || !key_path.is_file() {
        return None;
    }
    let none = SecretSource::default();
    let cert = input::load(cert_path, &none)
        .ok()?
        .certs
        .into_iter()
        .next()?;
    let key = input::load(key_path, &none).ok()?.keys.into_iter().next()?;
    let fresh = cert.not_after > OffsetDateTime::now_utc() + Duration::days(1);
    (fresh && key.matches(&cert.key)).then_some((cert, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("serve");
        let (a, created_a) = signing_key(&state).unwrap();
        let (b, created_b) = signing_key(&state).unwrap();
        assert!(created_a && !created_b);
        assert_eq!(a.kid, b.kid);
        let tls = tls_identity(&state).unwrap();
        assert!(tls.created);
        assert_eq!(tls.ca_file, state.join(TLS_CERT_FILE));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(state.join(TLS_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A damaged key is replaced, not fatal: the folder is a cache.
        std::fs::write(state.join(SIGNING_KEY_FILE), "garbage").unwrap();
        let (c, created_c) = signing_key(&state).unwrap();
        assert!(created_c);
        assert_ne!(c.kid, a.kid);
    }
}
