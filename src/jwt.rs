//! Compact JWTs taken apart WITHOUT checking the signature: what `certgen decode` shows, and
//! the first step of anything that verifies. Errors say which part is wrong and how.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use crate::error::{Error, Result};

/// The claims that hold NumericDate times (RFC 7519 §2), shown as dates by `decode`.
pub const TIME_CLAIMS: [&str; 4] = ["exp", "nbf", "iat", "auth_time"];

/// A JWT split into its parts; nothing in it has been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedJwt {
    pub header: Value,
    pub claims: Value,
    /// The third part as it appeared (base64url); empty for an unsecured JWT.
    pub signature_b64: String,
    /// `header.payload` exactly as received: the bytes a signature covers.
    pub signing_input: String,
}

/// Removes what commonly surrounds a token when it is copied: whitespace, newlines, quotes,
/// and an `Authorization` header's `Bearer ` prefix.
pub fn strip_token(text: &str) -> &str {
    let t = text.trim();
    let t = match t.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => t[7..].trim_start(),
        _ => t,
    };
    t.trim_matches('"').trim()
}

/// Splits and decodes a compact JWS, without verifying anything.
pub fn decode_unverified(token: &str) -> Result<DecodedJwt> {
    let token = strip_token(token);
    if token.is_empty() {
        return Err(Error::failure("no token: the input is empty"));
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(Error::failure(
                "this is an encrypted token (JWE, 5 parts): it cannot be read without the recipient's key",
            ))
        }
        n => {
            return Err(Error::failure(format!(
                "not a JWT: expected 3 parts separated by '.', found {n}"
            )))
        }
    }
    let header = json_part(parts[0], "header")?;
    let claims = json_part(parts[1], "claims")?;
    if !parts[2].is_empty() {
        b64url(parts[2], "signature")?;
    }
    Ok(DecodedJwt {
        header,
        claims,
        signature_b64: parts[2].to_string(),
        signing_input: format!("{}.{}", parts[0], parts[1]),
    })
}

/// A NumericDate claim as whole seconds: an integer, a float, or a numeric string (MSAL.NET
/// sends strings), as Entra evidently accepts all three (reference §1.5).
pub fn numeric_date(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i64)
        }),
        _ => None,
    }
}

fn b64url(part: &str, what: &str) -> Result<Vec<u8>> {
    // Trailing '=' is not base64url as RFC 7515 writes it, but some encoders add it; it carries
    // no information, so it is not worth refusing a token for.
    let trimmed = part.trim_end_matches('=');
    if let Some((i, c)) = trimmed
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        let hint = if c == '+' || c == '/' {
            " (standard base64; a JWT uses base64url)"
        } else {
            ""
        };
        return Err(Error::failure(format!(
            "the JWT {what} is not base64url: character '{}' at position {}{hint}",
            c.escape_default(),
            i + 1
        )));
    }
    URL_SAFE_NO_PAD.decode(trimmed).map_err(|e| {
        Error::failure(format!(
            "the JWT {what} is not valid base64url ({e}); the token may be truncated"
        ))
    })
}

fn json_part(part: &str, what: &str) -> Result<Value> {
    if part.is_empty() {
        return Err(Error::failure(format!("the JWT {what} is empty")));
    }
    let bytes = b64url(part, what)?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::failure(format!("the JWT {what} is not JSON ({e})")))?;
    if !value.is_object() {
        return Err(Error::failure(format!(
            "the JWT {what} is JSON but not an object"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn decodes_and_tolerates_bearer_and_whitespace() {
        let t = format!(
            "{}.{}.c2ln",
            enc(&json!({"alg":"RS256"})),
            enc(&json!({"a":1}))
        );
        let d = decode_unverified(&format!("  Bearer {t}\n")).unwrap();
        assert_eq!(d.header, json!({"alg":"RS256"}));
        assert_eq!(d.claims, json!({"a":1}));
        assert_eq!(d.signature_b64, "c2ln");
        assert!(t.starts_with(&d.signing_input));
    }

    #[test]
    fn precise_errors() {
        let h = enc(&json!({"alg":"none"}));
        let msg = |t: &str| decode_unverified(t).unwrap_err().message().to_string();
        assert!(msg("").contains("empty"));
        assert!(msg("abc.def").contains("found 2"));
        assert!(msg("a.b.c.d.e").contains("JWE"));
        assert!(msg(&format!("{h}.a+b.")).contains("claims is not base64url"));
        assert!(msg(&format!("{h}.a+b.")).contains("standard base64"));
        assert!(msg(&format!("{h}.bm90IGpzb24.")).contains("claims is not JSON"));
        assert!(msg(&format!("{h}.WzFd.")).contains("not an object"));
        assert!(msg(&format!("{h}.e30.a")).contains("signature is not valid base64url"));
    }

    #[test]
    fn numeric_dates_in_every_form() {
        assert_eq!(numeric_date(&json!(1484593341)), Some(1484593341));
        assert_eq!(numeric_date(&json!(1484593341.7)), Some(1484593341));
        assert_eq!(numeric_date(&json!("1484593341")), Some(1484593341));
        assert_eq!(numeric_date(&json!("soon")), None);
    }
}
