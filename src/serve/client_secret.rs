//! Client secrets: the `client_secret` form field or HTTP Basic (RFC 6749 §2.3.1), compared in
//! constant time with the secrets registered for the app.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;

use super::config::App;
use crate::secret::Secret;

/// The client id and secret of an `Authorization: Basic …` header, if it is one.
///
/// RFC 6749 wants both parts form-urlencoded before base64; many clients (curl `-u`) do not
/// encode. Both readings are kept and [`matches`] accepts either, so `+`, `%` and `:` in a
/// secret work whichever way the client sent them.
pub fn basic_credentials(authorization: &str) -> Option<(String, Vec<Secret>)> {
    let (scheme, value) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let id = form_decode(id).unwrap_or_else(|| id.to_string());
    let mut candidates = vec![Secret::new(secret)];
    if let Some(decoded) = form_decode(secret).filter(|d| d != secret) {
        candidates.push(Secret::new(decoded));
    }
    Some((id, candidates))
}

fn form_decode(s: &str) -> Option<String> {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Whether any presented secret equals any secret registered for the app.
pub fn matches(app: &App, presented: &[Secret]) -> bool {
    // Every pair is compared (no early exit) so the time taken does not tell which matched.
    let mut ok = false;
    for p in presented {
        for s in &app.secrets {
            ok |= aws_lc_rs::constant_time::verify_slices_are_equal(
                p.expose().as_bytes(),
                s.expose().as_bytes(),
            )
            .is_ok();
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_encoded_and_raw() {
        // "client:a+b%2Fc" — encoded per RFC 6749: the secret is "a b/c"; raw: "a+b%2Fc".
        let h = format!("Basic {}", STANDARD.encode("client:a+b%2Fc"));
        let (id, secrets) = basic_credentials(&h).unwrap();
        assert_eq!(id, "client");
        let texts: Vec<&str> = secrets.iter().map(|s| s.expose()).collect();
        assert_eq!(texts, ["a+b%2Fc", "a b/c"]);
        assert!(basic_credentials("Bearer x").is_none());
        assert!(basic_credentials("Basic !!!").is_none());
        assert!(basic_credentials(&format!("basic {}", STANDARD.encode("nocolon"))).is_none());
    }
}
