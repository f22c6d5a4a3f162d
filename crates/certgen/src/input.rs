//! The shared input layer: any certificate, key or PKCS#12 file, recognised by content.
//!
//! PEM (any mix of blocks, with text between them), a DER certificate, a DER PKCS#8 key, or
//! PKCS#12. A password is asked for only when the content needs one (an encrypted key, a
//! PKCS#12 file that does not open with the empty password), and at most once: [`load_all`]
//! reuses it for every file, so `--password-file -` (stdin) serves several files.

use std::path::{Path, PathBuf};

use crate::certificate::Certificate;
use crate::error::{Context, Error, InputKind, Result};
use crate::key::PrivateKey;
#[cfg(feature = "pkcs12")]
use crate::pkcs12::{self, Pkcs12Error};
use crate::read;
use crate::secret::{Secret, SecretSource};

/// The format a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PEM text.
    Pem,
    /// A DER certificate or PKCS#8 key.
    Der,
    /// PKCS#12.
    Pkcs12,
}

/// Everything one file holds.
#[derive(Debug, Clone)]
pub struct Material {
    /// The name used in messages and in `thumbprint` output (`-` for stdin).
    pub name: String,
    /// What the file turned out to be.
    pub format: Format,
    /// Certificates in file order (PKCS#12: the leaf first).
    pub certs: Vec<Certificate>,
    /// Private keys in file order.
    pub keys: Vec<PrivateKey>,
}

/// Reads `path` (`-` = stdin) and recognises its content.
pub fn load(path: &Path, passwords: &SecretSource) -> Result<Material> {
    load_with(path, &mut Reader::new(passwords, true)).map_err(|e| e.at(path))
}

/// How one run reads its files: the password it shares, and whether keys are wanted.
struct Reader<'a> {
    password: LazyPassword<'a>,
    /// `false` when only certificates matter (`thumbprint`): PEM key blocks are then left
    /// alone, so a key+certificate PEM whose key is encrypted (or EC) needs no password.
    keys: bool,
}

impl<'a> Reader<'a> {
    fn new(passwords: &'a SecretSource, keys: bool) -> Self {
        Reader {
            password: LazyPassword::new(passwords),
            keys,
        }
    }
}

fn load_with(path: &Path, reader: &mut Reader<'_>) -> Result<Material> {
    let name = path.display().to_string();
    let bytes = read_input(path)?;
    load_bytes_with(&bytes, &name, reader)
}

/// Reads a whole certificate, key or PKCS#12 file (`-` = stdin), at most [`read::CREDENTIAL`].
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    read::input(path, read::CREDENTIAL)
}

/// Recognises and parses the content of one file.
pub fn load_bytes(bytes: &[u8], name: &str, passwords: &SecretSource) -> Result<Material> {
    load_bytes_with(bytes, name, &mut Reader::new(passwords, true))
}

fn load_bytes_with(bytes: &[u8], name: &str, reader: &mut Reader<'_>) -> Result<Material> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::failure(format!("{name} is empty")));
    }
    if is_pem(bytes) {
        return load_pem(bytes, name, reader);
    }
    if bytes[0] == 0x30 {
        if let Ok(cert) = Certificate::from_der(bytes) {
            return Ok(Material {
                name: name.to_string(),
                format: Format::Der,
                certs: vec![cert],
                keys: vec![],
            });
        }
        if let Ok(key) = PrivateKey::from_pkcs8_der(bytes) {
            return Ok(Material {
                name: name.to_string(),
                format: Format::Der,
                certs: vec![],
                keys: vec![key],
            });
        }
        match open_pkcs12(bytes, name, &mut reader.password) {
            Err(e) if e.message().ends_with("not PKCS#12") => {}
            other => return other,
        }
    }
    Err(Error::input(
        InputKind::Unrecognised,
        format!("{name} is not a certificate, key or PKCS#12 file"),
    ))
}

/// Without the `pkcs12` feature a PKCS#12 file is recognised, and refused saying why.
#[cfg(not(feature = "pkcs12"))]
fn open_pkcs12(bytes: &[u8], name: &str, _password: &mut LazyPassword<'_>) -> Result<Material> {
    if is_pkcs12(bytes) {
        Err(Error::input(
            InputKind::Unrecognised,
            format!("{name} is a PKCS#12 file, which certgen reads only with its pkcs12 feature"),
        ))
    } else {
        Err(Error::failure(format!("{name}: not PKCS#12")))
    }
}

#[cfg(feature = "pkcs12")]
fn is_pkcs12(bytes: &[u8]) -> bool {
    pkcs12::is_pkcs12(bytes)
}

/// `PFX ::= SEQUENCE { version INTEGER {v3(3)}, ... }` (RFC 7292 §4): the first bytes tell.
#[cfg(not(feature = "pkcs12"))]
fn is_pkcs12(bytes: &[u8]) -> bool {
    let header = match bytes.get(1) {
        Some(&n) if n < 0x80 => 2,
        Some(&n) => 2 + usize::from(n & 0x7f),
        None => return false,
    };
    bytes.first() == Some(&0x30) && bytes.get(header..header + 3) == Some(&[0x02, 0x01, 0x03])
}

#[cfg(feature = "pkcs12")]
fn open_pkcs12(bytes: &[u8], name: &str, password: &mut LazyPassword<'_>) -> Result<Material> {
    // A file made without a password opens with the empty one; try that before asking.
    let given = password.get_if_configured()?;
    let attempt = match &given {
        Some(pw) => pkcs12::read(bytes, pw.expose()),
        None => pkcs12::read(bytes, ""),
    };
    let contents = match attempt {
        Ok(c) => c,
        // AZURE_CLIENT_CERTIFICATE_PASSWORD may be set for another file; an unprotected
        // PKCS#12 still opens with the empty password, as OpenSSL's `-passin pass:` does.
        Err(Pkcs12Error::WrongPassword) if given.is_some() => {
            pkcs12::read(bytes, "").map_err(|_| {
                Error::input(
                    InputKind::WrongPassword,
                    format!(
                        "wrong password for the PKCS#12 file {name} (the password came from {})",
                        password.source.origin()
                    ),
                )
            })?
        }
        Err(Pkcs12Error::WrongPassword) if given.is_none() => match password.get_by_prompt()? {
            Some(pw) => pkcs12::read(bytes, pw.expose()).map_err(|e| p12_error(e, name))?,
            None => {
                return Err(Error::input(
                    InputKind::PasswordNeeded { key: false },
                    format!("{name} is a password-protected PKCS#12 file"),
                ))
            }
        },
        Err(e) => return Err(p12_error(e, name)),
    };
    if contents.certs.is_empty() && contents.keys.is_empty() {
        return Err(Error::failure(format!(
            "{name} is a PKCS#12 file with no certificate and no key"
        )));
    }
    Ok(Material {
        name: name.to_string(),
        format: Format::Pkcs12,
        certs: contents.certs,
        keys: contents.keys,
    })
}

#[cfg(feature = "pkcs12")]
fn p12_error(e: Pkcs12Error, name: &str) -> Error {
    match e {
        Pkcs12Error::NotPkcs12 => Error::failure(format!("{name}: not PKCS#12")),
        Pkcs12Error::WrongPassword => {
            Error::failure(format!("wrong password for the PKCS#12 file {name}"))
        }
        Pkcs12Error::Invalid(why) => Error::failure(format!(
            "{name} is a damaged or unsupported PKCS#12 file ({why})"
        )),
        Pkcs12Error::TooManyIterations { iterations, limit } => Error::failure(format!(
            "{name} uses {iterations} key-derivation iterations, more than certgen accepts \
             ({limit}); re-export it: openssl pkcs12 -in {name} -nodes | openssl pkcs12 -export -out new.pfx"
        )),
    }
}

fn load_pem(bytes: &[u8], name: &str, reader: &mut Reader<'_>) -> Result<Material> {
    let blocks =
        pem::parse_many(bytes).context(InputKind::Invalid, || format!("{name}: malformed PEM"))?;
    let begins = count(bytes, b"-----BEGIN ");
    if blocks.len() != begins {
        return Err(Error::failure(format!(
            "{name}: a PEM block is truncated or malformed ({} of {begins} blocks readable)",
            blocks.len()
        )));
    }
    let mut material = Material {
        name: name.to_string(),
        format: Format::Pem,
        certs: vec![],
        keys: vec![],
    };
    // A private key where only certificates are wanted (thumbprint): not "nothing found".
    let mut skipped_key = false;
    for (i, block) in blocks.iter().enumerate() {
        let at = || format!("{name}: PEM block {} ({})", i + 1, block.tag());
        if !reader.keys && block.tag().ends_with("PRIVATE KEY") {
            skipped_key = true;
            continue;
        }
        match block.tag() {
            "CERTIFICATE" | "X509 CERTIFICATE" => {
                let cert = Certificate::from_der(block.contents()).map_err(|e| e.within(at))?;
                material.certs.push(cert);
            }
            "TRUSTED CERTIFICATE" => {
                let (cert, _trust) =
                    Certificate::from_der_prefix(block.contents()).map_err(|e| e.within(at))?;
                material.certs.push(cert);
            }
            "PRIVATE KEY" => material
                .keys
                .push(PrivateKey::from_pkcs8_der(block.contents()).map_err(|e| e.within(at))?),
            "RSA PRIVATE KEY" => {
                if block.headers().get("Proc-Type").is_some() {
                    return Err(Error::input(
                        InputKind::LegacyEncryption,
                        format!(
                            "{}: legacy OpenSSL-encrypted key (Proc-Type header) is not supported",
                            at()
                        ),
                    ));
                }
                material
                    .keys
                    .push(PrivateKey::from_pkcs1_der(block.contents()).map_err(|e| e.within(at))?);
            }
            "ENCRYPTED PRIVATE KEY" => {
                let Some(pw) = reader.password.get()? else {
                    return Err(Error::input(
                        InputKind::PasswordNeeded { key: true },
                        format!("{name} holds an encrypted private key"),
                    ));
                };
                material.keys.push(
                    PrivateKey::from_encrypted_pkcs8_der(block.contents(), &pw).map_err(
                        |e| match e.input_kind() {
                            Some(InputKind::WrongPassword) => Error::input(
                                InputKind::WrongPassword,
                                format!(
                                    "{name}: {} (the password came from {})",
                                    e.message(),
                                    reader.password.source.origin()
                                ),
                            ),
                            _ => e.within(|| name.to_string()),
                        },
                    )?,
                );
            }
            "EC PRIVATE KEY" => {
                let msg = format!(
                    "{name} holds an EC private key; Microsoft Entra ID accepts only RSA credentials"
                );
                return Err(Error::input(InputKind::NotRsa, msg));
            }
            // Requests, parameters and public keys carry nothing certgen reads; ignoring them
            // lets a file that also holds a CSR or an `openssl x509 -text` dump still work.
            _ => {}
        }
    }
    if material.certs.is_empty() && skipped_key {
        // Like a key-only DER or PKCS#12 file: the caller says what it wanted instead.
        return Ok(material);
    }
    if material.certs.is_empty() && material.keys.is_empty() {
        return Err(Error::failure(if reader.keys {
            format!("{name} holds no certificate and no private key")
        } else {
            format!("{name} holds no certificate")
        }));
    }
    Ok(material)
}

/// Reads the password on first use only, and only once.
struct LazyPassword<'a> {
    source: &'a SecretSource,
    value: Option<Option<Secret>>,
}

impl<'a> LazyPassword<'a> {
    fn new(source: &'a SecretSource) -> Self {
        LazyPassword {
            source,
            value: None,
        }
    }

    fn get(&mut self) -> Result<Option<Secret>> {
        if self.value.is_none() {
            self.value = Some(self.source.read()?);
        }
        Ok(self.value.clone().flatten())
    }

    /// The password from a file or a given value, never by asking.
    #[cfg_attr(not(feature = "pkcs12"), allow(dead_code))]
    fn get_if_configured(&mut self) -> Result<Option<Secret>> {
        let configured = self.source.file.is_some() || self.source.value.is_some();
        if configured {
            self.get()
        } else {
            Ok(None)
        }
    }

    #[cfg_attr(not(feature = "pkcs12"), allow(dead_code))]
    fn get_by_prompt(&mut self) -> Result<Option<Secret>> {
        self.get()
    }
}

/// What a file holds, told from its content alone, without a password and without reading
/// anything secret: for saying what a file is when another kind was expected (a certificate
/// given where a token was).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Certificates only.
    Certificate(Format),
    /// A private key only (PEM: any `… PRIVATE KEY` block; DER: PKCS#8).
    PrivateKey(Format),
    /// Certificates and a private key in one PEM.
    CertificateAndKey,
    /// A PKCS#10 certificate request (PEM).
    CertificateRequest,
    /// A PKCS#12 file (opened or not).
    Pkcs12,
}

/// Recognises a certificate, key, request or PKCS#12 file by its content; `None` for anything
/// else.
pub fn recognise(bytes: &[u8]) -> Option<Content> {
    if is_pem(bytes) {
        let blocks = pem::parse_many(bytes).ok()?;
        let cert = blocks.iter().any(|b| b.tag().ends_with("CERTIFICATE"));
        let key = blocks.iter().any(|b| b.tag().ends_with("PRIVATE KEY"));
        let request = blocks
            .iter()
            .any(|b| b.tag().ends_with("CERTIFICATE REQUEST"));
        return match (cert, key, request) {
            (true, true, _) => Some(Content::CertificateAndKey),
            (true, false, _) => Some(Content::Certificate(Format::Pem)),
            (false, true, _) => Some(Content::PrivateKey(Format::Pem)),
            (false, false, true) => Some(Content::CertificateRequest),
            _ => None,
        };
    }
    if bytes.first() != Some(&0x30) {
        return None;
    }
    if Certificate::from_der(bytes).is_ok() {
        Some(Content::Certificate(Format::Der))
    } else if PrivateKey::from_pkcs8_der(bytes).is_ok() {
        Some(Content::PrivateKey(Format::Der))
    } else if is_pkcs12(bytes) {
        Some(Content::Pkcs12)
    } else {
        None
    }
}

/// Whether `bytes` are read as PEM text (any block, text around them allowed).
pub fn is_pem(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN ")
}

/// Whether `bytes` hold an encrypted PKCS#8 key, which takes a password to read.
pub fn has_encrypted_key(bytes: &[u8]) -> bool {
    contains(bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    count(hay, needle) > 0
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Loads several files, asking for (or reading) the password at most once for all of them;
/// used by commands that take `FILE...`.
pub fn load_all(paths: &[PathBuf], passwords: &SecretSource) -> Result<Vec<Material>> {
    let mut reader = Reader::new(passwords, true);
    paths
        .iter()
        .map(|p| load_with(p, &mut reader).map_err(|e| e.at(p)))
        .collect()
}

/// Like [`load_all`] for commands that need only the certificates: private keys in PEM files
/// are not parsed or decrypted (PKCS#12 still needs its password: it encrypts the certificates
/// too). Key-only DER and PKCS#12 files still come back with their keys, and no certificate.
pub fn load_all_certificates(paths: &[PathBuf], passwords: &SecretSource) -> Result<Vec<Material>> {
    let mut reader = Reader::new(passwords, false);
    paths
        .iter()
        .map(|p| load_with(p, &mut reader).map_err(|e| e.at(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_are_one_clear_error() {
        let e = load_bytes(
            b"\x30\x82\x01\x00garbage",
            "x.bin",
            &SecretSource::default(),
        )
        .unwrap_err();
        assert!(
            e.message().contains("not a certificate, key or PKCS#12"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_refused_file_is_typed_and_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.txt");
        std::fs::write(&p, "not a certificate\n").unwrap();
        match load(&p, &SecretSource::default()) {
            Err(Error::Input(e)) => {
                assert_eq!(e.kind, InputKind::Unrecognised);
                assert_eq!(e.path.as_deref(), Some(p.as_path()));
            }
            other => panic!("expected an input error, got {other:?}"),
        }
        let missing = dir.path().join("missing.pem");
        match load(&missing, &SecretSource::default()) {
            Err(Error::Io {
                action,
                path,
                source,
            }) => {
                assert_eq!((action.as_str(), path), ("read", missing));
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected an I/O error, got {other:?}"),
        }
    }

    #[test]
    fn empty_input_says_empty() {
        let e = load_bytes(b"  \n", "e.pem", &SecretSource::default()).unwrap_err();
        assert_eq!(e.message(), "e.pem is empty");
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures")
            .join(name);
        std::fs::read(path).unwrap()
    }

    // Every prefix of every kind of file, and single-byte corruptions of the certificates,
    // must give a result or one clean error: a panic here would be a crash on user input.
    #[test]
    fn damaged_files_never_panic() {
        let none = SecretSource::default();
        for name in [
            "rsa.cer",
            "rsa.crt",
            "bundle.pem",
            "combined.pem",
            "rsa-pkcs1.key",
            "modern.pfx",
            "legacy-rc2.pfx",
        ] {
            let bytes = fixture(name);
            for len in 0..bytes.len() {
                let _ = load_bytes(&bytes[..len], name, &none);
            }
        }
        let der = fixture("rsa.cer");
        for i in 0..der.len() {
            let mut bad = der.clone();
            bad[i] ^= 0xff;
            let _ = load_bytes(&bad, "rsa.cer", &none);
        }
    }

    #[test]
    fn unprotected_pkcs12_opens_even_with_a_password_configured() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "unrelated\n").unwrap();
        let m = load_bytes(
            &fixture("nopass.pfx"),
            "nopass.pfx",
            &SecretSource::file(Some(pw)),
        )
        .unwrap();
        assert_eq!(
            (m.format, m.certs.len(), m.keys.len()),
            (Format::Pkcs12, 1, 1)
        );
    }

    /// Every form of the fixtures' one RSA key (all written by openssl) loads as the same key,
    /// and it is the private half of the certificate beside it.
    #[test]
    fn every_key_form_is_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "certgen-test\n").unwrap();
        let source = SecretSource::file(Some(pw));
        let cert = load_bytes(&fixture("rsa.cer"), "rsa.cer", &source)
            .unwrap()
            .certs[0]
            .clone();
        for name in [
            "rsa.key",
            "rsa-pkcs1.key",
            "rsa-encrypted.key",
            "combined.pem",
            "combined-encrypted.pem",
            "modern.pfx",
            "legacy-3des.pfx",
            "legacy-rc2.pfx",
        ] {
            let m = load_bytes(&fixture(name), name, &source).unwrap();
            assert_eq!(m.keys.len(), 1, "{name}");
            assert!(m.keys[0].matches(&cert.key), "{name}");
            assert_eq!(m.keys[0].rsa_bits(), Some(2048), "{name}");
        }
    }

    #[test]
    fn truncated_pem_is_detected() {
        let e = load_bytes(
            b"-----BEGIN CERTIFICATE-----\nMIIB\n",
            "t.pem",
            &SecretSource::default(),
        )
        .unwrap_err();
        assert!(e.message().contains("truncated"), "{}", e.message());
    }
}
