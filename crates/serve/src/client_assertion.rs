//! Client-assertion validation as Entra does it (<https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>, RFC 7523 §3).
//!
//! Decoding is as lenient as Entra evidently is — `x5t`/`x5t#S256` padded or not, base64url or
//! standard base64; NumericDate as integer, float or numeric string; `x5c` as a string or an
//! array; `nbf`/`iat` optional — because shipping Microsoft clients send all of these forms.
//! With `strict`, only the RFC 7515/7519 form passes and a `jti` may be used once, so that a
//! client which only works thanks to that leniency is caught.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use super::aadsts::Aadsts;
use super::config::{App, Tenant};
use certgen::certificate::{CertKey, Certificate};
use certgen::jose::{self, b64, numeric_date, Alg, DateError, DateRule, Jws, Policy, VerifyingKey};

/// Clock skew allowed on `exp` and `nbf`. UNCONFIRMED: Entra's tolerance is not documented
/// (chosen because <https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials> gives none); five minutes is the usual allowance of Microsoft's token validators.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// What the validation needs to know about the request.
pub struct Expected<'a> {
    pub app: &'a App,
    pub tenant: &'a Tenant,
    /// The service bases (`https://host:port`) an `aud` may start with.
    pub bases: &'a [String],
    /// Seconds since 1970.
    pub now: i64,
    pub strict: bool,
    /// The registered certificates' keys, parsed once.
    pub keys: &'a PublicKeys,
}

impl Expected<'_> {
    fn policy(&self) -> Policy {
        if self.strict {
            Policy::Strict
        } else {
            Policy::Lenient
        }
    }
}

/// A valid assertion: what the replay guard needs of it.
#[derive(Debug)]
pub struct Accepted {
    pub jti: Option<String>,
    pub exp: i64,
}

/// Validates one assertion. The order of checks follows what each refusal test needs to see:
/// form, header, key lookup, key strength, signature, then the claims.
pub fn validate(jwt: &str, x: &Expected) -> Result<Accepted, Aadsts> {
    // UNCONFIRMED: a signature part that is not base64 is reported as malformed (50027), like
    // any other undecodable part, rather than as an invalid signature (700027).
    let jws = jose::parse(jwt, x.policy()).map_err(|_| {
        Aadsts::InvalidJwt(if x.strict && jose::parse(jwt, Policy::Lenient).is_ok() {
            "certgen serve --strict: each part must be base64url without padding (RFC 7515).".into()
        } else {
            "JWT token is invalid or malformed.".into()
        })
    })?;
    let alg = signing_alg(&jws)?;
    check_x5c(jws.header.get("x5c"), x.strict)?;
    let s256 = jws.header.get("x5t#S256");
    let sha1 = jws.header.get("x5t");
    if x.strict {
        check_thumbprint_pairing(alg, s256, sha1)?;
    }
    let (certificate, sent) = find_certificate(x.app, s256, sha1, x.policy())?;
    check_signature(x.keys, certificate, sent.clone(), alg, &jws)?;
    check_key_dates(certificate, sent, x.now)?;
    let claims = &jws.claims;
    check_audience(claims.get("aud"), x)?;
    check_issuer(claims, x)?;
    let exp = check_times(claims, x)?;
    Ok(Accepted {
        jti: jti(claims, x.strict)?,
        exp,
    })
}

fn signing_alg(jws: &Jws) -> Result<Alg, Aadsts> {
    jws.alg().map_err(|_| {
        Aadsts::InvalidJwt(format!(
            "The signing algorithm '{}' is not supported; client assertions must be signed \
             with RS256 or PS256.",
            jws.header_str("alg").unwrap_or("(none)")
        ))
    })
}

/// Every Microsoft client pairs RS256 with x5t and PS256 with x5t#S256 (<https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>);
/// whether Entra accepts a mixed pair is unknown, so strict refuses it.
fn check_thumbprint_pairing(
    alg: Alg,
    s256: Option<&Value>,
    sha1: Option<&Value>,
) -> Result<(), Aadsts> {
    let (needed, name) = match alg {
        Alg::Rs256 => (sha1, "x5t"),
        Alg::Ps256 => (s256, "x5t#S256"),
    };
    if needed.is_none() {
        return Err(Aadsts::InvalidJwt(format!(
            "certgen serve --strict: a {alg:?} assertion must carry the {name} header."
        )));
    }
    Ok(())
}

/// The registered certificate's key must be RSA of at least [`jose::MIN_RSA_BITS`] and must
/// verify the signature with `alg`.
fn check_signature(
    keys: &PublicKeys,
    certificate: &Certificate,
    thumbprint: String,
    alg: Alg,
    jws: &Jws,
) -> Result<(), Aadsts> {
    let CertKey::Rsa { n, .. } = &certificate.key else {
        return Err(Aadsts::InvalidJwt(
            "The registered certificate does not hold an RSA key.".into(),
        ));
    };
    let bits = certgen::certificate::rsa_bits(n);
    if bits < jose::MIN_RSA_BITS {
        return Err(Aadsts::WeakRsaKey { bits });
    }
    let verified = keys.verify(certificate, alg, jws.signing_input, &jws.signature);
    verified.map_err(|_| Aadsts::BadSignature {
        thumbprint,
        key_start: certificate.not_before,
        key_end: certificate.not_after,
    })
}

/// The public keys of registered certificates, parsed once each, by SHA-256 thumbprint (which
/// names the key: the certificate's bytes hash to it), each with the last assertion it
/// verified. Parsing `n`/`e` and aws-lc's first use of a parsed key (its Montgomery constants)
/// cost a grant about 4.5 µs, a quarter of the RSA verify (bench/sign_rate.rs); a client signs
/// with the same certificate for months.
///
/// The last verified assertion is remembered because clients send one again and again: MSAL
/// Python keeps it for 540 s (`AutoRefresher` in
/// <https://github.com/AzureAD/microsoft-authentication-library-for-python/blob/dev/msal/oauth2cli/assertion.py>),
/// MSAL Node until it expires (`ClientAssertion.getJwt` in
/// <https://github.com/AzureAD/microsoft-authentication-library-for-js/blob/dev/lib/msal-node/src/client/ClientAssertion.ts>).
/// The same key, algorithm, signed bytes and signature verify the same every time, so the RSA
/// verify of a repeat is skipped; every other check (dates, audience, issuer, key expiry,
/// `--strict`'s replay guard) still runs on every request.
#[derive(Debug, Default)]
pub struct PublicKeys {
    parsed: Mutex<HashMap<[u8; 32], Parsed>>,
}

#[derive(Debug, Clone)]
struct Parsed {
    key: Arc<VerifyingKey>,
    /// SHA-256 of the last (algorithm, signing input, signature) this key verified.
    last_verified: Option<[u8; 32]>,
}

/// Bound on cached keys: registrations come and go (Graph's `addKey`), and each costs under a
/// kilobyte here. Past it the cache starts again empty, which only costs re-parsing.
pub const MAX_PARSED_KEYS: usize = 10_000;

impl PublicKeys {
    /// Checks `signature` over `signing_input` with `alg` and the RSA key of `certificate`.
    fn verify(
        &self,
        certificate: &Certificate,
        alg: Alg,
        signing_input: &str,
        signature: &[u8],
    ) -> Result<(), jose::Error> {
        let id = certificate.thumbprints.sha256;
        let digest = verified_digest(alg, signing_input, signature);
        let known = self.lock().get(&id).cloned();
        let key = match known {
            Some(k) if k.last_verified == Some(digest) => return Ok(()),
            Some(k) => k.key,
            None => {
                let CertKey::Rsa { n, e } = &certificate.key else {
                    return Err(jose::Error::BadKey("not an RSA key".into()));
                };
                Arc::new(VerifyingKey::from_rsa_components(n, e)?)
            }
        };
        // Verified outside the lock: requests with the same key run in parallel.
        key.verify(alg, signing_input.as_bytes(), signature)?;
        let mut parsed = self.lock();
        if parsed.len() >= MAX_PARSED_KEYS && !parsed.contains_key(&id) {
            parsed.clear();
        }
        parsed.insert(
            id,
            Parsed {
                key,
                last_verified: Some(digest),
            },
        );
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Parsed>> {
        // Each change is one insert or clear, so a poisoned lock still holds a sound map.
        self.parsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What identifies one verification: the algorithm, then the signed bytes with their length
/// (so no two (input, signature) pairs hash the same bytes), then the signature.
fn verified_digest(alg: Alg, signing_input: &str, signature: &[u8]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(alg.name().as_bytes());
    ctx.update(&(signing_input.len() as u64).to_be_bytes());
    ctx.update(signing_input.as_bytes());
    ctx.update(signature);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// A registered certificate past its `notAfter` is refused, as Entra refuses an expired key.
fn check_key_dates(certificate: &Certificate, thumbprint: String, now: i64) -> Result<(), Aadsts> {
    if certificate.not_after.unix_timestamp() <= now {
        return Err(Aadsts::ExpiredKey {
            thumbprint,
            key_start: certificate.not_before,
            key_end: certificate.not_after,
        });
    }
    Ok(())
}

/// `iss` and `sub` are both the client id.
fn check_issuer(claims: &Map<String, Value>, x: &Expected) -> Result<(), Aadsts> {
    let iss = required_string(claims, "iss")?;
    let sub = required_string(claims, "sub")?;
    if sub != iss {
        return Err(Aadsts::SubjectMismatchesIssuer);
    }
    if !iss.eq_ignore_ascii_case(&x.app.client_id) {
        return Err(Aadsts::IssuerMismatchesClient {
            iss: iss.to_string(),
            client_id: x.app.client_id.clone(),
        });
    }
    Ok(())
}

/// `exp` (required), `nbf` and `iat` (optional) as NumericDates, and now inside the window.
fn check_times(claims: &Map<String, Value>, x: &Expected) -> Result<i64, Aadsts> {
    let exp = claim_date(claims, "exp", x.strict)?
        .ok_or_else(|| Aadsts::InvalidJwt("The claim 'exp' is missing.".into()))?;
    let nbf = claim_date(claims, "nbf", x.strict)?;
    claim_date(claims, "iat", x.strict)?;
    if x.now > exp.saturating_add(CLOCK_SKEW_SECS)
        || nbf.is_some_and(|nbf| x.now.saturating_add(CLOCK_SKEW_SECS) < nbf)
    {
        return Err(Aadsts::TimeRange {
            now: x.now,
            // Entra reports a missing nbf as valid from 1970 (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials).
            valid_from: nbf.unwrap_or(0),
            expires: exp,
        });
    }
    Ok(exp)
}

fn jti(claims: &Map<String, Value>, strict: bool) -> Result<Option<String>, Aadsts> {
    match claims.get("jti") {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        _ if strict => Err(Aadsts::InvalidJwt(
            "certgen serve --strict: the claim 'jti' (a unique string) is missing.".into(),
        )),
        // Entra does not insist on jti (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials).
        _ => Ok(None),
    }
}

/// Finds the registered certificate a thumbprint header names; returns it with the thumbprint
/// as sent, in upper-case hex, for messages.
fn find_certificate<'a>(
    app: &'a App,
    s256: Option<&Value>,
    sha1: Option<&Value>,
    policy: Policy,
) -> Result<(&'a Certificate, String), Aadsts> {
    if s256.is_none() && sha1.is_none() {
        return Err(Aadsts::InvalidJwt(
            "No certificate thumbprint specified in token header.".into(),
        ));
    }
    let mut first_sent: Option<String> = None;
    for (value, name, is_s256) in [(s256, "x5t#S256", true), (sha1, "x5t", false)] {
        let Some(value) = value else { continue };
        let Some(text) = value.as_str() else {
            return Err(Aadsts::InvalidJwt(format!(
                "The header '{name}' is not a string."
            )));
        };
        let bytes = match (b64::decode(text, policy), policy) {
            (Ok(b), _) => b,
            (Err(_), Policy::Strict) => {
                return Err(Aadsts::InvalidJwt(format!(
                    "certgen serve --strict: the header '{name}' must be base64url without \
                     padding (RFC 7515), got '{text}'."
                )))
            }
            (Err(_), Policy::Lenient) => {
                first_sent.get_or_insert_with(|| text.to_string());
                continue;
            }
        };
        let hex = hex::encode_upper(&bytes);
        let found = app.certificates.iter().find(|c| {
            if is_s256 {
                c.thumbprints.sha256[..] == bytes[..]
            } else {
                c.thumbprints.sha1[..] == bytes[..]
            }
        });
        if let Some(c) = found {
            return Ok((c, hex));
        }
        first_sent.get_or_insert(hex);
    }
    Err(Aadsts::KeyNotFound {
        thumbprint: first_sent.unwrap_or_default(),
        client_id: app.client_id.clone(),
    })
}

/// `x5c` is only parsed (this service has no subject-name/issuer trust, a first-party feature):
/// leniently a string or an array of strings, strictly an array of base64 DER certificates.
fn check_x5c(x5c: Option<&Value>, strict: bool) -> Result<(), Aadsts> {
    let Some(x5c) = x5c else { return Ok(()) };
    let bad = |why: &str| Aadsts::InvalidJwt(format!("The header 'x5c' {why}."));
    match x5c {
        Value::String(_) if strict => Err(Aadsts::InvalidJwt(
            "certgen serve --strict: the header 'x5c' must be an array (RFC 7515 §4.1.6), not a \
             string."
                .into(),
        )),
        Value::String(_) => Ok(()),
        Value::Array(items) => {
            for item in items {
                let Some(s) = item.as_str() else {
                    return Err(bad("holds something other than strings"));
                };
                if strict {
                    let der = STANDARD.decode(s).map_err(|_| {
                        Aadsts::InvalidJwt(
                            "certgen serve --strict: each 'x5c' entry must be standard base64 \
                             of a DER certificate."
                                .into(),
                        )
                    })?;
                    Certificate::from_der(&der).map_err(|_| {
                        Aadsts::InvalidJwt(
                            "certgen serve --strict: an 'x5c' entry is not a DER certificate."
                                .into(),
                        )
                    })?;
                }
            }
            Ok(())
        }
        _ => Err(bad("is neither a string nor an array")),
    }
}

fn check_audience(aud: Option<&Value>, x: &Expected) -> Result<(), Aadsts> {
    let values: Vec<&str> = match aud {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            if items.len() > 1 {
                return Err(Aadsts::TooManyAudiences(items.len()));
            }
            items.iter().filter_map(Value::as_str).collect()
        }
        _ => Vec::new(),
    };
    match values.as_slice() {
        [aud] if audience_matches(aud, x) => Ok(()),
        _ => Err(Aadsts::AudienceMismatch),
    }
}

/// The accepted `aud` forms (<https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials>): the v2 token URL, the v1 token URL and the v2
/// issuer, for the tenant by GUID or by any of its domain names, on any base of this service.
fn audience_matches(aud: &str, x: &Expected) -> bool {
    x.bases.iter().any(|base| {
        let Some(rest) = strip_prefix_ignore_case(aud, base) else {
            return false;
        };
        let Some(rest) = rest.strip_prefix('/') else {
            return false;
        };
        let (tenant, path) = rest.split_once('/').unwrap_or((rest, ""));
        let tenant_ok = x.tenant.id.eq_ignore_ascii_case(tenant)
            || x.tenant
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(tenant));
        tenant_ok
            && ["oauth2/v2.0/token", "oauth2/token", "v2.0"]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(path))
    })
}

fn strip_prefix_ignore_case<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn required_string<'m>(claims: &'m Map<String, Value>, name: &str) -> Result<&'m str, Aadsts> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(Aadsts::InvalidJwt(format!(
            "The claim '{name}' is not a string."
        ))),
        None => Err(Aadsts::InvalidJwt(format!(
            "The claim '{name}' is missing."
        ))),
    }
}

/// A NumericDate claim: strictly a JSON integer; leniently also a float or a numeric string
/// (MSAL Python sends floats, MSAL.NET strings), as [`DateRule::Lenient`] reads them.
fn claim_date(
    claims: &Map<String, Value>,
    name: &str,
    strict: bool,
) -> Result<Option<i64>, Aadsts> {
    let Some(v) = claims.get(name) else {
        return Ok(None);
    };
    let rule = if strict {
        DateRule::Integer
    } else {
        DateRule::Lenient
    };
    numeric_date(v, rule).map(Some).map_err(|e| {
        Aadsts::InvalidJwt(match e {
            DateError::Invalid => format!("The claim '{name}' is not a NumericDate."),
            refused => format!("certgen serve --strict: the claim '{name}' {refused}."),
        })
    })
}

/// `jti` values already used, kept until their assertion expires (`--strict` only).
///
/// Each is kept as a SHA-256 digest of client id and `jti`, not as the text: a `jti` may be
/// as long as the request body allows (64 KiB), and 100k of those would be gigabytes. With a
/// fixed-size key the guard holds at most [`MAX_REMEMBERED_JTI`] × ~50 bytes (≈ 5 MB).
#[derive(Debug, Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<[u8; 32], i64>>,
}

/// Bound on remembered `jti` values, so a flood of long-lived assertions cannot grow memory
/// without limit.
pub const MAX_REMEMBERED_JTI: usize = 100_000;

/// How much of a `jti` an error description quotes.
const JTI_QUOTED_CHARS: usize = 64;

impl ReplayGuard {
    /// Records a use of `jti` by `client_id`; refuses it if it was seen while still valid.
    pub fn check_and_record(
        &self,
        client_id: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> Result<(), Aadsts> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        // The length first, so that no two (client id, jti) pairs hash the same input.
        h.update((client_id.len() as u64).to_be_bytes());
        h.update(client_id.as_bytes());
        h.update(jti.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| Aadsts::ServerError("the replay guard is unusable".into()))?;
        if seen.get(&key).is_some_and(|&until| until >= now) {
            let quoted: String = jti.chars().take(JTI_QUOTED_CHARS).collect();
            let more = if quoted.len() < jti.len() { "…" } else { "" };
            return Err(Aadsts::InvalidJwt(format!(
                "certgen serve --strict: the jti '{quoted}{more}' was already used by an assertion \
                 that is still valid; make a new assertion (new jti) for every request."
            )));
        }
        if seen.len() >= MAX_REMEMBERED_JTI {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= MAX_REMEMBERED_JTI {
                return Err(Aadsts::InvalidJwt(
                    "certgen serve --strict: too many live assertions to remember; use shorter \
                     assertion lifetimes."
                        .into(),
                ));
            }
        }
        seen.insert(key, exp.saturating_add(CLOCK_SKEW_SECS));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn numeric_dates_lenient_and_strict() {
        let c = claims(json!({"a": 10, "b": 10.9, "c": "11", "d": "12.5", "e": true}));
        assert_eq!(claim_date(&c, "a", true).unwrap(), Some(10));
        assert_eq!(claim_date(&c, "b", false).unwrap(), Some(10));
        assert_eq!(claim_date(&c, "c", false).unwrap(), Some(11));
        assert_eq!(claim_date(&c, "d", false).unwrap(), Some(12));
        assert_eq!(
            claim_date(&c, "b", true).unwrap_err(),
            Aadsts::InvalidJwt(
                "certgen serve --strict: the claim 'b' must be an integer NumericDate \
                 (RFC 7519), got 10.9."
                    .into()
            )
        );
        assert_eq!(
            claim_date(&c, "c", true).unwrap_err(),
            Aadsts::InvalidJwt(
                "certgen serve --strict: the claim 'c' must be a JSON number, got the string \
                 \"11\"."
                    .into()
            )
        );
        assert_eq!(
            claim_date(&c, "e", false).unwrap_err(),
            Aadsts::InvalidJwt("The claim 'e' is not a NumericDate.".into())
        );
        assert_eq!(claim_date(&c, "missing", true).unwrap(), None);
        let huge = claims(json!({"x": 1e300}));
        assert!(claim_date(&huge, "x", false).is_err());
    }

    #[test]
    fn replayed_jti_is_refused_until_expiry() {
        let g = ReplayGuard::default();
        g.check_and_record("c", "j", 100, 50).unwrap();
        assert_eq!(
            g.check_and_record("c", "j", 100, 60).unwrap_err().code(),
            50027
        );
        g.check_and_record("other", "j", 100, 60).unwrap();
        g.check_and_record("c", "j", 100, 100 + CLOCK_SKEW_SECS + 1)
            .unwrap();
    }

    /// The memo of the last verified assertion may only ever spare a verify of the very same
    /// bytes: a changed signature, signed input or algorithm is verified (and refused) again.
    #[test]
    fn only_the_same_assertion_skips_the_verify() {
        use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
        let made = generate(&NewCertificate {
            subject: Subject::common_name("client").unwrap(),
            sans: vec![],
            days: 1,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        })
        .unwrap();
        let signer = jose::SigningKey::from_pkcs1_der(made.key.rsa_pkcs1_der().unwrap()).unwrap();
        let input = "eyJhbGciOiJSUzI1NiJ9.e30";
        let sig = signer.sign(Alg::Rs256, input.as_bytes()).unwrap();
        let keys = PublicKeys::default();
        let cert = &made.cert;
        keys.verify(cert, Alg::Rs256, input, &sig).unwrap();
        keys.verify(cert, Alg::Rs256, input, &sig).unwrap();
        let mut forged = sig.clone();
        forged[10] ^= 1;
        assert!(keys.verify(cert, Alg::Rs256, input, &forged).is_err());
        assert!(keys.verify(cert, Alg::Ps256, input, &sig).is_err());
        assert!(keys
            .verify(cert, Alg::Rs256, "eyJhbGciOiJSUzI1NiJ9.e31", &sig)
            .is_err());
        keys.verify(cert, Alg::Rs256, input, &sig).unwrap();
    }

    fn app() -> App {
        App {
            client_id: "c".into(),
            display_name: String::new(),
            object_id: String::new(),
            application_object_id: String::new(),
            certificates: vec![],
            secrets: vec![],
            roles: HashMap::new(),
            ..App::default()
        }
    }

    fn tenant() -> Tenant {
        Tenant {
            id: "t-id".into(),
            domains: vec!["contoso.example".into()],
        }
    }

    #[test]
    fn padded_parts_are_lenient_only() {
        let (app, tenant, keys) = (app(), tenant(), PublicKeys::default());
        let x = |strict| Expected {
            app: &app,
            tenant: &tenant,
            bases: &[],
            now: 0,
            strict,
            keys: &keys,
        };
        // {"alg":"RS256"} base64url-encoded with its padding kept; no thumbprint header.
        let jwt = "eyJhbGciOiJSUzI1NiJ9.e30=.";
        let refusal = |strict| match validate(jwt, &x(strict)) {
            Err(Aadsts::InvalidJwt(d)) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refusal(false),
            "No certificate thumbprint specified in token header."
        );
        assert_eq!(
            refusal(true),
            "certgen serve --strict: each part must be base64url without padding (RFC 7515)."
        );
        assert_eq!(
            validate("e30.!!.", &x(false)).unwrap_err(),
            Aadsts::InvalidJwt("JWT token is invalid or malformed.".into())
        );
    }

    #[test]
    fn audience_forms() {
        let (app, tenant) = (app(), tenant());
        let bases = vec!["https://127.0.0.1:8443".to_string()];
        let x = Expected {
            app: &app,
            tenant: &tenant,
            bases: &bases,
            now: 0,
            strict: false,
            keys: &PublicKeys::default(),
        };
        for ok in [
            "https://127.0.0.1:8443/t-id/oauth2/v2.0/token",
            "https://127.0.0.1:8443/T-ID/oauth2/token",
            "https://127.0.0.1:8443/contoso.example/v2.0",
        ] {
            assert!(audience_matches(ok, &x), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:8443/other/oauth2/v2.0/token",
            "https://127.0.0.1:8443/t-id/oauth2/v2.0/token/",
            "https://login.microsoftonline.com/t-id/oauth2/v2.0/token",
            "https://127.0.0.1:84430/t-id/v2.0",
            "",
        ] {
            assert!(!audience_matches(bad, &x), "{bad}");
        }
        assert_eq!(
            check_audience(Some(&json!(["a", "b"])), &x).unwrap_err(),
            Aadsts::TooManyAudiences(2)
        );
    }
}
