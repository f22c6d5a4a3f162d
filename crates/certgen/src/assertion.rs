//! The client-assertion JWT Entra accepts in place of a client secret (RFC 7523
//! `private_key_jwt`), signed with a [`Credential`].
//!
//! The header pairs the algorithm with its thumbprint the way every Microsoft client does:
//! PS256 with `x5t#S256`, RS256 with `x5t` (<https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>; mixed pairs are UNCONFIRMED, so
//! they are not offered). Thumbprints are base64url without padding, as RFC 7515 writes them.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::authority::is_guid;
use crate::credential::Credential;
use crate::error::{Context, Error, InputKind, Result};
use crate::jose::SigningKey;

/// The `client_assertion_type` that goes with a client assertion in a token request
/// (RFC 7523 §2.2): the one definition, used by the token client and by the emulator.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Assertion lifetime when none is asked for: what MSAL sends (<https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>).
pub const DEFAULT_LIFETIME_SECS: u64 = 600;
/// Shortest lifetime: less would expire in transit on a slow link (AADSTS700024).
pub const MIN_LIFETIME_SECS: u64 = 60;
/// Longest lifetime: an assertion is a bearer credential; Microsoft's doc asks for 5–10 min.
pub const MAX_LIFETIME_SECS: u64 = 3600;

/// The signature algorithm of the assertion: PS256 (the default, what current MSAL sends,
/// header `x5t#S256`) or RS256 (ADFS and older stacks, header `x5t`).
pub use crate::jose::Alg as SigningAlg;

/// What to put in the assertion besides the credential.
#[derive(Debug, Clone)]
pub struct AssertionParams {
    /// The application (client) ID: `iss` and `sub`.
    pub client_id: String,
    /// `aud`: the token endpoint the assertion is for.
    pub audience: String,
    /// The signature algorithm.
    pub alg: SigningAlg,
    /// Add the certificate chain as `x5c` (subject name + issuer authentication).
    pub x5c: bool,
    /// Seconds from `iat` to `exp`, 60–3600.
    pub lifetime_secs: u64,
}

/// A signed assertion, and the header and claims it carries.
#[derive(Debug, Clone)]
pub struct SignedAssertion {
    /// The compact JWT: `header.claims.signature`.
    pub jwt: String,
    /// Its header.
    pub header: Value,
    /// Its claims.
    pub claims: Value,
}

/// Builds and signs an assertion valid from now.
pub fn sign(cred: &Credential, p: &AssertionParams) -> Result<SignedAssertion> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::failure("the system clock is before 1970"))?
        .as_secs();
    sign_at(cred, p, now)
}

/// Builds and signs an assertion with `iat` = `nbf` = `now` (seconds since the epoch).
pub fn sign_at(cred: &Credential, p: &AssertionParams, now: u64) -> Result<SignedAssertion> {
    check_params(p)?;
    let header = header(cred, p);
    let claims = claims(p, now, uuid::Uuid::new_v4());
    let pkcs1 = cred
        .key()
        .rsa_pkcs1_der()
        .ok_or_else(|| Error::failure("Entra accepts only RSA credentials"))?;
    let jwt = SigningKey::from_pkcs1_der(pkcs1)
        .and_then(|key| key.sign_compact(p.alg, &header, &claims))
        .context(InputKind::Invalid, || {
            "cannot sign the assertion".to_string()
        })?;
    Ok(SignedAssertion {
        jwt,
        header,
        claims,
    })
}

/// Refuses what no token server would take, before anything is signed. The client id must be
/// a GUID only toward Entra ([`check_client_id`], the caller's to apply): another OAuth server
/// (`--token-endpoint`) names its clients as it likes.
pub fn check_params(p: &AssertionParams) -> Result<()> {
    if p.client_id.is_empty() || p.client_id.chars().any(char::is_whitespace) {
        return Err(Error::input(
            InputKind::BadClientId,
            "the client id is empty or contains spaces",
        ));
    }
    if !(MIN_LIFETIME_SECS..=MAX_LIFETIME_SECS).contains(&p.lifetime_secs) {
        return Err(Error::input(
            InputKind::Lifetime,
            format!(
                "lifetime {} s is out of range: allowed {MIN_LIFETIME_SECS}–{MAX_LIFETIME_SECS} seconds",
                p.lifetime_secs
            ),
        ));
    }
    if p.audience.trim().is_empty() || p.audience.chars().any(char::is_whitespace) {
        return Err(Error::argument(format!(
            "audience '{}' is empty or contains spaces",
            p.audience
        )));
    }
    Ok(())
}

/// Entra client IDs are GUIDs; anything else is a copy of the wrong field (often the object ID
/// is a GUID too, but a display name or secret is not).
pub fn check_client_id(client_id: &str) -> Result<()> {
    if is_guid(client_id) {
        return Ok(());
    }
    Err(Error::input(
        InputKind::BadClientId,
        format!("client id '{client_id}' is not a GUID"),
    ))
}

fn header(cred: &Credential, p: &AssertionParams) -> Value {
    let t = &cred.leaf().thumbprints;
    let mut h = Map::new();
    h.insert("alg".into(), Value::from(p.alg.name()));
    h.insert("typ".into(), Value::from("JWT"));
    match p.alg {
        SigningAlg::Ps256 => h.insert("x5t#S256".into(), Value::from(t.x5t_s256())),
        SigningAlg::Rs256 => h.insert("x5t".into(), Value::from(t.x5t())),
    };
    if p.x5c {
        // RFC 7515 §4.1.6: standard base64 (not base64url) of each DER, leaf first.
        let chain = cred
            .chain()
            .iter()
            .map(|c| Value::from(STANDARD.encode(c.der())))
            .collect();
        h.insert("x5c".into(), Value::Array(chain));
    }
    Value::Object(h)
}

fn claims(p: &AssertionParams, now: u64, jti: uuid::Uuid) -> Value {
    let mut c = Map::new();
    c.insert("aud".into(), Value::from(p.audience.clone()));
    c.insert("iss".into(), Value::from(p.client_id.clone()));
    c.insert("sub".into(), Value::from(p.client_id.clone()));
    c.insert("jti".into(), Value::from(jti.to_string()));
    c.insert("iat".into(), Value::from(now));
    c.insert("nbf".into(), Value::from(now));
    c.insert("exp".into(), Value::from(now + p.lifetime_secs));
    Value::Object(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, KeySize, NewCertificate, Profile, Subject};
    use crate::jose::{self, Policy};
    use time::OffsetDateTime;

    fn credential() -> Credential {
        let g = generate(&NewCertificate {
            subject: Subject::common_name("t").unwrap(),
            sans: vec![],
            days: 30,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        })
        .unwrap();
        Credential::from_parts(vec![g.cert], vec![g.key], "t", OffsetDateTime::now_utc()).unwrap()
    }

    fn params(alg: SigningAlg) -> AssertionParams {
        AssertionParams {
            client_id: "97e0a5b7-d745-40b6-94fe-5f77d35c6e05".into(),
            audience: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
                .into(),
            alg,
            x5c: false,
            lifetime_secs: 600,
        }
    }

    #[test]
    fn header_key_order_and_claims() {
        let cred = credential();
        let a = sign_at(&cred, &params(SigningAlg::Ps256), 1_700_000_000).unwrap();
        let header_text = serde_json::to_string(&a.header).unwrap();
        assert_eq!(
            header_text,
            format!(
                r#"{{"alg":"PS256","typ":"JWT","x5t#S256":"{}"}}"#,
                cred.leaf().thumbprints.x5t_s256()
            )
        );
        let d = jose::parse(&a.jwt, Policy::Strict).unwrap();
        assert_eq!(Value::Object(d.header), a.header);
        assert_eq!(Value::Object(d.claims.clone()), a.claims);
        assert_eq!(d.claims["exp"], 1_700_000_600);
        assert_eq!(d.claims["iss"], d.claims["sub"]);
    }

    #[test]
    fn parameters_are_checked_before_signing() {
        let cred = credential();
        let mut p = params(SigningAlg::Rs256);
        p.lifetime_secs = 59;
        assert!(sign(&cred, &p).is_err());
        p.lifetime_secs = 3601;
        assert!(sign(&cred, &p).is_err());
        p.lifetime_secs = 3600;
        p.client_id = "my app".into();
        let e = sign(&cred, &p).unwrap_err();
        assert!(e.message().contains("contains spaces"), "{}", e.message());
        // Another server's client id need not be a GUID; Entra's must (checked by the caller).
        p.client_id = "my-app".into();
        assert!(sign(&cred, &p).is_ok());
        let e = check_client_id("my-app").unwrap_err();
        assert!(e.message().contains("not a GUID"), "{}", e.message());
    }
}
