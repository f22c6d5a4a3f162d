//! The header rule of an access token (RS256 or nothing), and how a token that is not a compact
//! JWS is reported. Taking the token apart is [`crate::jose::parse`]'s, with the strict policy.

use serde_json::Value;

use crate::error::VerifyError;
use crate::jose::{self, Jws, Part, Policy};

/// Splits a token as an API must read it: RFC 7515 exactly ([`Policy::Strict`]).
pub fn parse(token: &str) -> Result<Jws<'_>, VerifyError> {
    jose::parse(token, Policy::Strict).map_err(malformed)
}

/// The parse failure in the validator's words (the header and payload of an access token,
/// rather than a JWT's claims for display).
fn malformed(e: jose::Error) -> VerifyError {
    let part = |p: Part| match p {
        Part::Header => "header",
        Part::Claims => "payload",
        Part::Signature => "signature",
    };
    VerifyError::Malformed(match e {
        jose::Error::Encrypted => return VerifyError::Encrypted,
        jose::Error::Empty => "1 part separated by '.', a signed JWT has 3".into(),
        jose::Error::PartCount(n) => format!(
            "{n} part{} separated by '.', a signed JWT has 3",
            if n == 1 { "" } else { "s" }
        ),
        jose::Error::EmptyPart(p) => format!("the {} is empty", part(p)),
        jose::Error::Base64 { part: p, source } => {
            format!("the {} is not base64url ({source})", part(p))
        }
        jose::Error::Json { part: p, reason } => format!("the {} is not JSON ({reason})", part(p)),
        jose::Error::NotObject(p) => format!("the {} is not a JSON object", part(p)),
        other => other.to_string(),
    })
}

/// RS256 only. `none` and HMAC get their own reasons because they are the two classic
/// attacks on validators that trust the header.
pub fn check_alg(jws: &Jws) -> Result<(), VerifyError> {
    match jws.header.get("alg") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64;
    use serde_json::json;

    fn token(header: Value) -> String {
        format!(
            "{}.{}.c2ln",
            b64::encode(header.to_string()),
            b64::encode(json!({"sub": "x"}).to_string())
        )
    }

    #[test]
    fn only_rs256_passes_the_header_rule() {
        let check = |alg: Value| check_alg(&parse(&token(json!({ "alg": alg }))).unwrap());
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
        let msg = |t: &str| parse(t).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            msg("abc"),
            "not a JWT: 1 part separated by '.', a signed JWT has 3"
        );
        assert_eq!(
            msg(""),
            "not a JWT: 1 part separated by '.', a signed JWT has 3"
        );
        assert_eq!(parse("a.b.c.d.e").err(), Some(VerifyError::Encrypted));
        assert!(msg("e30.e30.!!").contains("signature is not base64url"));
        assert!(msg("WzFd.e30.").contains("header is not a JSON object"));
        assert!(msg("e30.bm90IGpzb24.").contains("payload is not JSON"));
        assert!(
            msg("e30.e30=.").contains("payload is not base64url"),
            "strict: no padding"
        );
        let unsigned = parse("e30.e30.").unwrap();
        assert!(unsigned.signature.is_empty());
        assert_eq!(unsigned.signing_input, "e30.e30");
    }
}
