//! The proof-of-possession JWT that Graph's `addKey`/`removeKey` demand (<https://learn.microsoft.com/en-us/graph/application-rollkey-prooftoken>),
//! and the rules Graph holds it to, so that a proof can be made right, explained when it is
//! wrong (Graph itself answers only `Authentication_MissingOrMalformed`), and checked by
//! an emulator as Graph checks it.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::authority::is_guid;
use crate::credential::Credential;
use crate::error::{Context, Error, InputKind, Result};
use crate::jose::{self, numeric_date, Alg, DateRule, Part, Policy, SigningKey};

/// The proof's `aud`: Azure AD Graph's app id, which every working implementation sends.
pub const AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

/// Microsoft Graph's app id: one copy of Microsoft's page names it as the proof's `aud`, and
/// users who followed it got `Authentication_MissingOrMalformed` (microsoft-graph-docs#22076).
pub const GRAPH_AUDIENCE: &str = "00000003-0000-0000-c000-000000000000";

/// The longest `exp - nbf` Graph takes ("should not exceed 10 minutes").
pub const MAX_LIFETIME_SECS: u64 = 600;

/// A signed proof with its parts.
#[derive(Debug, Clone)]
pub struct Proof {
    /// The compact JWT.
    pub jwt: String,
    /// Its header.
    pub header: Value,
    /// Its claims.
    pub claims: Value,
}

/// Signs a proof valid from now for the application whose object id is `object_id`.
pub fn sign(cred: &Credential, object_id: &str, lifetime_secs: u64) -> Result<Proof> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::failure("the system clock is before 1970"))?
        .as_secs();
    sign_at(cred, object_id, lifetime_secs, now)
}

/// Signs a proof with `nbf` = `now`, `exp` = `now + lifetime_secs`. The header is what
/// Microsoft's .NET sample emits through `X509SigningCredentials`: `alg` RS256, `kid` the
/// upper-case hex thumbprint, `x5t`, `typ`.
pub fn sign_at(cred: &Credential, object_id: &str, lifetime_secs: u64, now: u64) -> Result<Proof> {
    if !is_guid(object_id) {
        // The object id is on the app registration's Overview page (not the client id).
        return Err(Error::argument(format!(
            "object id '{object_id}' is not a GUID: use the application's Object ID, not its client id"
        )));
    }
    if !(1..=MAX_LIFETIME_SECS).contains(&lifetime_secs) {
        return Err(Error::argument(format!(
            "lifetime {lifetime_secs} s is out of range: Graph takes at most {MAX_LIFETIME_SECS} s"
        )));
    }
    let leaf = cred.leaf();
    let header = json!({
        "alg": "RS256",
        "kid": leaf.thumbprints.thumbprint(),
        "typ": "JWT",
        "x5t": leaf.thumbprints.x5t(),
    });
    let claims = json!({
        "aud": AUDIENCE,
        "iss": object_id.to_ascii_lowercase(),
        "nbf": now,
        "exp": now + lifetime_secs,
    });
    let pkcs1 = cred
        .key()
        .rsa_pkcs1_der()
        .ok_or_else(|| Error::failure("Graph accepts only RSA credentials"))?;
    let jwt = SigningKey::from_pkcs1_der(pkcs1)
        .and_then(|key| key.sign_compact(Alg::Rs256, &header, &claims))
        .context(InputKind::Invalid, || "cannot sign the proof".to_string())?;
    Ok(Proof {
        jwt,
        header,
        claims,
    })
}

/// What a proof is checked against. Unknown facts are `None` and their rules skipped (`decode`
/// knows neither the application nor, for a stored proof, the moment it will be sent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Expected<'a> {
    /// The object id of the application being modified.
    pub object_id: Option<&'a str>,
    /// Its appId (client id), to name the most common mistake.
    pub app_id: Option<&'a str>,
    /// Seconds since 1970.
    pub now: Option<i64>,
}

/// A rule of Graph's that a proof breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// `=` padding (or the standard base64 alphabet) in a part.
    Padding(Part),
    /// `alg` other than RS256.
    Alg(String),
    /// `aud` missing or not [`AUDIENCE`].
    Audience(Option<String>),
    /// `iss` missing or not a GUID.
    Issuer(Option<String>),
    /// `iss` is the application's appId, not its object id.
    IssuerIsAppId {
        /// The object id it should be.
        expected: String,
    },
    /// `iss` names another object.
    IssuerMismatch {
        /// The `iss` sent.
        iss: String,
        /// The object id expected.
        expected: String,
    },
    /// `nbf` or `exp` missing or not a number.
    MissingTime(&'static str),
    /// `exp - nbf` over [`MAX_LIFETIME_SECS`].
    Lifetime(i64),
    /// `exp` is not after `nbf`: the proof is valid at no moment.
    EndsBeforeStart {
        /// `nbf`, unix seconds.
        nbf: i64,
        /// `exp`, unix seconds.
        exp: i64,
    },
    /// `exp` is past.
    Expired {
        /// `exp`, unix seconds.
        exp: i64,
        /// The time of the check, unix seconds.
        now: i64,
    },
    /// `nbf` is in the future (beyond the clock skew allowed).
    NotYetValid {
        /// `nbf`, unix seconds.
        nbf: i64,
        /// The time of the check, unix seconds.
        now: i64,
    },
}

/// Clock skew allowed on `nbf`/`exp`, as Entra allows on assertions.
pub const SKEW_SECS: i64 = 300;

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Padding(part) => write!(
                f,
                "the {part} is not base64url without padding ('=', '+' or '/' found); Graph \
                 refuses any padding"
            ),
            Broken::Alg(alg) => write!(f, "alg is {alg:?}; Graph's proof is RS256"),
            Broken::Audience(None) => write!(f, "aud is missing; it must be {AUDIENCE}"),
            Broken::Audience(Some(aud)) if aud == GRAPH_AUDIENCE => write!(
                f,
                "aud is {aud} (Microsoft Graph's app id, as one copy of Microsoft's page says); \
                 addKey takes {AUDIENCE}"
            ),
            Broken::Audience(Some(aud)) => write!(f, "aud is {aud:?}; it must be {AUDIENCE}"),
            Broken::Issuer(None) => {
                write!(f, "iss is missing; it must be the application's object id")
            }
            Broken::Issuer(Some(iss)) => write!(
                f,
                "iss {iss:?} is not a GUID; it must be the application's object id"
            ),
            Broken::IssuerIsAppId { expected } => write!(
                f,
                "iss is the application's appId (client id); it must be its object id {expected}"
            ),
            Broken::IssuerMismatch { iss, expected } => write!(
                f,
                "iss {iss} is not this application's object id {expected} (a service \
                 principal's id, or another app's?)"
            ),
            Broken::MissingTime(name) => write!(f, "{name} is missing or not a number"),
            Broken::Lifetime(secs) => write!(
                f,
                "exp - nbf is {secs} s; Graph takes at most {MAX_LIFETIME_SECS} s (10 minutes)"
            ),
            Broken::EndsBeforeStart { nbf, exp } => write!(
                f,
                "exp {exp} is not after nbf {nbf}: the proof is valid at no moment"
            ),
            Broken::Expired { exp, now } => {
                write!(
                    f,
                    "the proof expired {} s ago (exp {exp})",
                    now.saturating_sub(*exp)
                )
            }
            Broken::NotYetValid { nbf, now } => {
                write!(
                    f,
                    "the proof is valid only in {} s (nbf {nbf})",
                    nbf.saturating_sub(*now)
                )
            }
        }
    }
}

/// Every rule of Graph's that `token` breaks, short of its signature (which needs the
/// application's certificates). The token is read leniently so that a padded one can still be
/// explained; an unreadable one is the JOSE error.
pub fn broken_rules(
    token: &str,
    expected: &Expected,
) -> std::result::Result<Vec<Broken>, jose::Error> {
    let jws = jose::parse(token.trim(), Policy::Lenient)?;
    let mut broken = Vec::new();
    let parts = [Part::Header, Part::Claims, Part::Signature];
    for (text, part) in token.trim().split('.').zip(parts) {
        if jose::b64::decode(text, Policy::Strict).is_err() {
            broken.push(Broken::Padding(part));
        }
    }
    match jws.header_str("alg") {
        Some("RS256") => {}
        other => broken.push(Broken::Alg(other.unwrap_or("(none)").to_string())),
    }
    match jws.claims.get("aud") {
        Some(Value::String(aud)) if aud == AUDIENCE => {}
        Some(Value::String(aud)) => broken.push(Broken::Audience(Some(aud.clone()))),
        Some(other) => broken.push(Broken::Audience(Some(other.to_string()))),
        None => broken.push(Broken::Audience(None)),
    }
    match jws.claim_str("iss") {
        None => broken.push(Broken::Issuer(None)),
        Some(iss) if !is_guid(iss) => broken.push(Broken::Issuer(Some(iss.to_string()))),
        Some(iss) => {
            if let Some(object_id) = expected.object_id {
                if expected.app_id.is_some_and(|a| a.eq_ignore_ascii_case(iss)) {
                    broken.push(Broken::IssuerIsAppId {
                        expected: object_id.to_string(),
                    });
                } else if !iss.eq_ignore_ascii_case(object_id) {
                    broken.push(Broken::IssuerMismatch {
                        iss: iss.to_string(),
                        expected: object_id.to_string(),
                    });
                }
            }
        }
    }
    let time = |name: &'static str| {
        jws.claims
            .get(name)
            .and_then(|v| numeric_date(v, DateRule::Integer).ok())
    };
    let (nbf, exp) = (time("nbf"), time("exp"));
    if nbf.is_none() {
        broken.push(Broken::MissingTime("nbf"));
    }
    if exp.is_none() {
        broken.push(Broken::MissingTime("exp"));
    }
    // Checked arithmetic although numeric_date bounds each date: the times are the sender's.
    if let (Some(nbf), Some(exp)) = (nbf, exp) {
        match exp.checked_sub(nbf) {
            Some(life) if life > MAX_LIFETIME_SECS as i64 => broken.push(Broken::Lifetime(life)),
            Some(life) if life > 0 => {}
            _ => broken.push(Broken::EndsBeforeStart { nbf, exp }),
        }
    }
    if let Some(now) = expected.now {
        if let Some(exp) = exp.filter(|&exp| exp.saturating_add(SKEW_SECS) <= now) {
            broken.push(Broken::Expired { exp, now });
        }
        if let Some(nbf) = nbf.filter(|&nbf| nbf > now.saturating_add(SKEW_SECS)) {
            broken.push(Broken::NotYetValid { nbf, now });
        }
    }
    Ok(broken)
}

/// Whether a decoded token looks like an addKey proof (so `decode` explains Graph's rules):
/// its `aud` is one of the two values users send, and it is no access token (`tid`).
pub fn looks_like_proof(claims: &serde_json::Map<String, Value>) -> bool {
    let aud = claims.get("aud").and_then(Value::as_str);
    matches!(aud, Some(AUDIENCE | GRAPH_AUDIENCE)) && !claims.contains_key("tid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}.c2ln",
            jose::b64::encode(header.to_string()),
            jose::b64::encode(claims.to_string())
        )
    }

    const OID: &str = "4a1b2c3d-0000-4000-8000-000000000001";
    const APP: &str = "6f1c2d3e-0000-4000-8000-000000000002";

    #[test]
    fn a_right_proof_breaks_nothing_and_each_mistake_is_named() {
        let h = json!({"alg": "RS256", "typ": "JWT"});
        let good = json!({"aud": AUDIENCE, "iss": OID, "nbf": 1000, "exp": 1600});
        let e = Expected {
            object_id: Some(OID),
            app_id: Some(APP),
            now: Some(1100),
        };
        assert_eq!(broken_rules(&token(&h, &good), &e).unwrap(), vec![]);

        let cases = [
            (
                json!({"aud": GRAPH_AUDIENCE, "iss": OID, "nbf": 1000, "exp": 1600}),
                Broken::Audience(Some(GRAPH_AUDIENCE.into())),
            ),
            (
                json!({"aud": AUDIENCE, "iss": APP, "nbf": 1000, "exp": 1600}),
                Broken::IssuerIsAppId {
                    expected: OID.into(),
                },
            ),
            (
                json!({"aud": AUDIENCE, "iss": OID, "nbf": 1000, "exp": 4600}),
                Broken::Lifetime(3600),
            ),
            (
                json!({"aud": AUDIENCE, "iss": OID, "exp": 1600}),
                Broken::MissingTime("nbf"),
            ),
        ];
        for (claims, want) in cases {
            assert_eq!(broken_rules(&token(&h, &claims), &e).unwrap(), vec![want]);
        }
        let padded = format!("{}=", token(&h, &good));
        assert_eq!(
            broken_rules(&padded, &e).unwrap(),
            vec![Broken::Padding(Part::Signature)]
        );
    }

    /// What serve expects of a proof for OID at `now`.
    fn expected_at(now: i64) -> Expected<'static> {
        Expected {
            object_id: Some(OID),
            app_id: None,
            now: Some(now),
        }
    }

    /// The regression of a proof with `nbf` = i64::MIN and `exp` ten years ahead (accepted
    /// once: `exp - nbf` wrapped), and one whose `exp` comes before its `nbf`.
    #[test]
    fn a_proof_with_extreme_or_reversed_times_is_refused() {
        let h = json!({"alg": "RS256"});
        let now = 1_800_000_000_i64;
        let e = expected_at(now);
        let ten_years = now + 10 * 365 * 86_400;
        let forged = json!({"aud": AUDIENCE, "iss": OID, "nbf": i64::MIN, "exp": ten_years});
        assert!(!broken_rules(&token(&h, &forged), &e).unwrap().is_empty());
        let reversed = json!({"aud": AUDIENCE, "iss": OID, "nbf": now + 100, "exp": now - 100});
        assert!(broken_rules(&token(&h, &reversed), &e).unwrap().contains(
            &Broken::EndsBeforeStart {
                nbf: now + 100,
                exp: now - 100
            }
        ));
    }

    /// Every pair of edge times: a proof broken_rules accepts has 0 < exp - nbf <= 600 and now
    /// inside [nbf - skew, exp + skew), whatever integers the sender chose.
    #[test]
    fn any_accepted_proof_has_a_short_lifetime_around_now() {
        let h = json!({"alg": "RS256"});
        let now = 1_800_000_000_i64;
        let e = expected_at(now);
        let mut edges = vec![
            i64::MIN,
            i64::MIN + 1,
            -9_000_000_000_000_000,
            -1,
            0,
            1,
            8_999_999_999_999_999,
            9_000_000_000_000_000,
            i64::MAX - 1,
            i64::MAX,
        ];
        for d in [
            -601, -600, -599, -301, -300, -299, -1, 0, 1, 299, 300, 301, 599, 600, 601,
        ] {
            edges.push(now + d);
        }
        let mut accepted = 0;
        for &nbf in &edges {
            for &exp in &edges {
                let claims = json!({"aud": AUDIENCE, "iss": OID, "nbf": nbf, "exp": exp});
                if broken_rules(&token(&h, &claims), &e).unwrap().is_empty() {
                    accepted += 1;
                    let life = exp - nbf;
                    assert!(0 < life && life <= 600, "nbf {nbf} exp {exp}");
                    assert!(
                        nbf - SKEW_SECS <= now && now < exp + SKEW_SECS,
                        "nbf {nbf} exp {exp}"
                    );
                }
            }
        }
        assert!(accepted > 0, "the property must not hold vacuously");
    }
}
