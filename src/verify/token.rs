//! The compact JWS form of an access token, taken apart before anything is trusted, and the
//! header rule: RS256 or nothing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::error::VerifyError;

/// A token split into its parts; nothing in it is verified yet.
pub struct Parts<'a> {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`, what the signature covers.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
}

impl<'a> Parts<'a> {
    pub fn parse(token: &'a str) -> Result<Parts<'a>, VerifyError> {
        let dots = token.bytes().filter(|&b| b == b'.').count();
        match dots {
            2 => {}
            4 => return Err(VerifyError::Encrypted),
            n => {
                return Err(VerifyError::Malformed(format!(
                    "{} part{} separated by '.', a signed JWT has 3",
                    n + 1,
                    if n == 0 { "" } else { "s" }
                )))
            }
        }
        let last_dot = token.rfind('.').unwrap_or(0);
        let (signing_input, signature) = (&token[..last_dot], &token[last_dot + 1..]);
        let (header, payload) = signing_input.split_once('.').unwrap_or((signing_input, ""));
        Ok(Parts {
            header: json_part(header, "header")?,
            claims: json_part(payload, "payload")?,
            signing_input: signing_input.as_bytes(),
            signature: decode(signature, "signature")?,
        })
    }

    /// RS256 only. `none` and HMAC get their own reasons because they are the two classic
    /// attacks on validators that trust the header.
    pub fn check_alg(&self) -> Result<(), VerifyError> {
        match self.header.get("alg") {
            None => Err(VerifyError::Malformed("the header has no \"alg\"".into())),
            Some(Value::String(alg)) => match alg.as_str() {
                "RS256" => Ok(()),
                a if a.eq_ignore_ascii_case("none") => Err(VerifyError::AlgNone),
                "HS256" | "HS384" | "HS512" => Err(VerifyError::AlgHmac(alg.clone())),
                _ => Err(VerifyError::AlgUnsupported(alg.clone())),
            },
            Some(other) => Err(VerifyError::AlgUnsupported(other.to_string())),
        }
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>, VerifyError> {
    // RFC 7515: base64url without padding; tolerate padding, which some encoders add.
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| VerifyError::Malformed(format!("the {what} is not base64url ({e})")))
}

fn json_part(part: &str, what: &str) -> Result<Map<String, Value>, VerifyError> {
    let bytes = decode(part, what)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(VerifyError::Malformed(format!(
            "the {what} is not a JSON object"
        ))),
        Err(e) => Err(VerifyError::Malformed(format!(
            "the {what} is not JSON ({e})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token(header: Value) -> String {
        format!("{}.{}.c2ln", b64(&header), b64(&json!({"sub": "x"})))
    }

    #[test]
    fn only_rs256_passes_the_header_rule() {
        let check = |alg: Value| {
            Parts::parse(&token(json!({ "alg": alg })))
                .unwrap()
                .check_alg()
        };
        assert_eq!(check(json!("RS256")), Ok(()));
        assert_eq!(check(json!("none")), Err(VerifyError::AlgNone));
        assert_eq!(check(json!("None")), Err(VerifyError::AlgNone));
        assert_eq!(
            check(json!("HS256")),
            Err(VerifyError::AlgHmac("HS256".into()))
        );
        assert_eq!(
            check(json!("PS256")),
            Err(VerifyError::AlgUnsupported("PS256".into()))
        );
        assert_eq!(
            check(json!("rs256")),
            Err(VerifyError::AlgUnsupported("rs256".into()))
        );
        assert!(check(json!(256)).is_err());
    }

    #[test]
    fn structure_errors_are_specific() {
        let msg = |t: &str| {
            Parts::parse(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            msg("abc"),
            "not a JWT: 1 part separated by '.', a signed JWT has 3"
        );
        assert_eq!(
            Parts::parse("a.b.c.d.e").err(),
            Some(VerifyError::Encrypted)
        );
        assert!(msg("e30.e30.!!").contains("signature is not base64url"));
        assert!(msg("WzFd.e30.").contains("header is not a JSON object"));
        assert!(msg("e30.bm90IGpzb24.").contains("payload is not JSON"));
        let unsigned = Parts::parse("e30.e30.").unwrap();
        assert!(unsigned.signature.is_empty());
        assert_eq!(unsigned.signing_input, b"e30.e30");
    }
}
