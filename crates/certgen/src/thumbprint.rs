//! Where thumbprints are computed: the four forms Entra and its clients use for one certificate.
//!
//! | form | value | where it goes |
//! |---|---|---|
//! | `thumbprint` | SHA-1 of the DER, 40 upper-case hex | the Azure portal; MSAL's `thumbprint` |
//! | `thumbprint_sha256` | SHA-256 of the DER, 64 upper-case hex | |
//! | `x5t` | base64url, no padding, of the SHA-1 bytes | JWT header `x5t` (RS256) |
//! | `x5t_s256` | base64url, no padding, of the SHA-256 bytes | JWT header `x5t#S256` (PS256) |

use serde::Serialize;

use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256};

use crate::jose::b64;

/// The thumbprints of one certificate, computed once from its DER.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thumbprints {
    /// SHA-1 of the DER.
    pub sha1: [u8; 20],
    /// SHA-256 of the DER.
    pub sha256: [u8; 32],
}

impl Thumbprints {
    /// The thumbprints of the certificate `der`.
    pub fn of_der(der: &[u8]) -> Self {
        Thumbprints {
            sha1: array(digest(&SHA1_FOR_LEGACY_USE_ONLY, der).as_ref()),
            sha256: array(digest(&SHA256, der).as_ref()),
        }
    }

    /// SHA-1, upper-case hex: what the portal shows.
    pub fn thumbprint(&self) -> String {
        hex::encode_upper(self.sha1)
    }

    /// SHA-256, upper-case hex.
    pub fn thumbprint_sha256(&self) -> String {
        hex::encode_upper(self.sha256)
    }

    /// `x5t` header value: base64url of the SHA-1, no padding (RFC 7515 §4.1.7).
    pub fn x5t(&self) -> String {
        b64::encode(self.sha1)
    }

    /// `x5t#S256` header value: base64url of the SHA-256, no padding (RFC 7515 §4.1.8).
    pub fn x5t_s256(&self) -> String {
        b64::encode(self.sha256)
    }
}

/// A digest's bytes as the fixed-size array of its algorithm.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

/// Turns a user-typed thumbprint (hex with or without colons/spaces, any case) into bytes.
pub fn parse_hex(value: &str) -> Option<Vec<u8>> {
    let clean: String = value
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    hex::decode(clean).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{b64, Policy};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn decode_lenient(text: &str) -> Option<Vec<u8>> {
        b64::decode(text, Policy::Lenient).ok()
    }

    fn decode_strict(text: &str) -> Option<Vec<u8>> {
        b64::decode(text, Policy::Strict).ok()
    }

    // Published vector from the old Entra certificate-credentials page (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials).
    #[test]
    fn x5t_matches_the_published_vector() {
        let sha1 = parse_hex("84E05C1D98BCE3A5421D225B140B36E86A3D5534").unwrap();
        assert_eq!(b64::encode(&sha1), "hOBcHZi846VCHSJbFAs26Go9VTQ");
        // …and the padded form an older revision printed decodes to the same bytes.
        assert_eq!(
            decode_lenient("hOBcHZi846VCHSJbFAs26Go9VTQ=").unwrap(),
            sha1
        );
    }

    // x5t of the token-request example and its hex:
    // https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    #[test]
    fn token_request_doc_vector() {
        let bytes = decode_strict("gx8tGysyjcRqKjFPnd7RFwvwZI0").unwrap();
        assert_eq!(
            hex::encode_upper(bytes),
            "831F2D1B2B328DC46A2A314F9DDED1170BF0648D"
        );
    }

    #[test]
    fn lenient_decoding_accepts_standard_base64() {
        let t = Thumbprints::of_der(b"any bytes at all, not really a certificate");
        let std_padded = STANDARD.encode(t.sha1);
        assert_eq!(decode_lenient(&std_padded).unwrap(), t.sha1);
        assert_eq!(decode_lenient(&t.x5t()).unwrap(), t.sha1);
        assert!(decode_strict(&format!("{}=", t.x5t())).is_none());
    }

    #[test]
    fn hex_forms() {
        let t = Thumbprints::of_der(b"");
        // SHA-1 and SHA-256 of the empty string.
        assert_eq!(t.thumbprint(), "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709");
        assert_eq!(
            t.thumbprint_sha256(),
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        );
        assert_eq!(
            parse_hex("da:39:a3:ee").unwrap(),
            vec![0xda, 0x39, 0xa3, 0xee]
        );
    }
}
