//! Client secrets: the `client_secret` form field or HTTP Basic (RFC 6749 §2.3.1), compared in
//! constant time with the secrets registered for the app.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use percent_encoding::percent_decode_str;

use super::config::App;
use certgen::secret::Secret;

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

/// How the presented secrets compare with those registered for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMatch {
    /// One equals a registered secret that is still valid.
    Valid,
    /// One equals a registered secret, but every such secret has expired (7000222).
    Expired,
    /// None equals any registered secret (7000215).
    None,
}

/// Compares every presented secret with every secret registered for the app, at `now`
/// (seconds since 1970). A valid match wins over an expired one, as during a rotation.
pub fn check(app: &App, presented: &[Secret], now: i64) -> SecretMatch {
    // Every pair is compared (no early exit) so the time taken does not tell which matched.
    let (mut valid, mut expired) = (false, false);
    for p in presented {
        let p = crate::config::SecretDigest::of(p.expose());
        for s in &app.secrets {
            let equal =
                aws_lc_rs::constant_time::verify_slices_are_equal(&p.0, &s.digest.0).is_ok();
            let stale = s.expired_at(now);
            valid |= equal && !stale;
            expired |= equal && stale;
        }
    }
    match (valid, expired) {
        (true, _) => SecretMatch::Valid,
        (false, true) => SecretMatch::Expired,
        (false, false) => SecretMatch::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AppSecret;
    use time::OffsetDateTime;

    #[test]
    fn expired_secrets_are_told_apart_from_wrong_ones() {
        let at = |t: i64| OffsetDateTime::from_unix_timestamp(t).ok();
        let secret = |v: &str, expires| AppSecret::new(&Secret::new(v), expires);
        let app = App {
            client_id: "c".into(),
            display_name: "c".into(),
            object_id: "o".into(),
            application_object_id: "a".into(),
            certificates: Vec::new(),
            secrets: vec![
                secret("old", at(1_000)),
                secret("current", None),
                secret("next", at(5_000)),
            ],
            roles: Default::default(),
            ..App::default()
        };
        let check_one = |v: &str, now| check(&app, &[Secret::new(v)], now);
        assert_eq!(check_one("old", 999), SecretMatch::Valid);
        assert_eq!(check_one("old", 1_000), SecretMatch::Expired);
        assert_eq!(check_one("current", 1_000_000), SecretMatch::Valid);
        assert_eq!(check_one("next", 2_000), SecretMatch::Valid);
        assert_eq!(check_one("wrong", 2_000), SecretMatch::None);
        // HTTP Basic yields two readings; one valid reading is enough.
        let both = [Secret::new("old"), Secret::new("current")];
        assert_eq!(check(&app, &both, 2_000), SecretMatch::Valid);
    }

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
