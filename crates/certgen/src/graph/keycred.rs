//! Graph's `keyCredential`: the object a certificate is registered as on an application, in
//! the body of `addKey` and of `PATCH /applications/{id}`, and as `GET` returns it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::certificate::{rfc3339, Certificate};
use crate::thumbprint::parse_hex;

/// The `keyCredential` for `cert`: `customKeyIdentifier` its SHA-1 thumbprint, `displayName`
/// the given one or the subject, dates from its validity, `key` its DER in base64, a new
/// `keyId`.
pub fn key_credential(cert: &Certificate, display_name: Option<&str>) -> Value {
    let key_id = uuid::Uuid::new_v4().to_string();
    key_credential_with(cert, display_name.unwrap_or(&cert.subject), &key_id, true)
}

/// A `keyCredential` in the field order of a live answer (<https://learn.microsoft.com/en-us/graph/api/resources/keycredential>); `key` is
/// `null` unless `with_key` (Graph returns it only when `keyCredentials` is selected).
pub fn key_credential_with(
    cert: &Certificate,
    display_name: &str,
    key_id: &str,
    with_key: bool,
) -> Value {
    json!({
        "customKeyIdentifier": cert.thumbprints.thumbprint(),
        "displayName": display_name,
        "endDateTime": rfc3339(cert.not_after),
        "key": if with_key { Value::String(STANDARD.encode(cert.der())) } else { Value::Null },
        "keyId": key_id,
        "startDateTime": rfc3339(cert.not_before),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    })
}

/// The SHA-1 thumbprint (upper-case hex) a `customKeyIdentifier` holds. Graph documents it as
/// Binary (so base64 in JSON) but live tenants return upper-case hex; both are read, hex
/// first, since 40 hex digits are also valid base64 of 30 bytes and a thumbprint is 20.
pub fn thumbprint_of_identifier(identifier: &str) -> Option<String> {
    let text = identifier.trim();
    if let Some(bytes) = parse_hex(text).filter(|b| b.len() == 20) {
        return Some(hex::encode_upper(bytes));
    }
    let bytes = STANDARD.decode(text).ok().filter(|b| b.len() == 20)?;
    Some(hex::encode_upper(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_in_hex_or_base64_give_one_thumbprint() {
        let hex = "0123456789ABCDEF0123456789ABCDEF01234567";
        let b64 = STANDARD.encode(parse_hex(hex).unwrap());
        assert_eq!(thumbprint_of_identifier(hex).as_deref(), Some(hex));
        assert_eq!(
            thumbprint_of_identifier(&hex.to_lowercase()).as_deref(),
            Some(hex)
        );
        assert_eq!(thumbprint_of_identifier(&b64).as_deref(), Some(hex));
        assert_eq!(thumbprint_of_identifier("bm90IGEgdGh1bWI="), None);
    }
}
