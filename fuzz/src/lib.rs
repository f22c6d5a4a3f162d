//! One function per fuzzed parser: each takes arbitrary bytes and must return (any result)
//! without panicking, hanging or allocating without bound. Used by the cargo-fuzz targets and,
//! on stable, by the main package's corpus-replay test, which includes this very file.

use certgen::secret::{Secret, SecretSource};

/// The input recogniser: PEM (any block mix), DER certificate or key, PKCS#12 — with no
/// password (as a file without one is read).
pub fn input(data: &[u8]) {
    let _ = certgen::input::load_bytes(data, "fuzz", &SecretSource::default());
}

/// Private-key parsing: PKCS#8, PKCS#1, encrypted PKCS#8 (password "fuzz").
pub fn key(data: &[u8]) {
    use certgen::key::PrivateKey;
    let _ = PrivateKey::from_pkcs8_der(data);
    let _ = PrivateKey::from_pkcs1_der(data);
    let _ = PrivateKey::from_encrypted_pkcs8_der(data, &Secret::new("fuzz"));
}
