//! The exchange: a client assertion from an outside issuer (its `iss` is not the client id)
//! checked against the app's federated identity credentials, as Entra checks it
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#third-case-access-token-request-with-a-federated-credential>).
//!
//! The order of the checks (Entra's is UNCONFIRMED; this one gives each mistake its own code):
//! 1. the token's form and `alg` (RS256 only, as Entra supports);
//! 2. the app has credentials at all (70025);
//! 3. a token signed by this service's own key is Entra's: only a user-assigned managed
//!    identity's may be used (700222);
//! 4. when some credential names the token's issuer: the issuer's keys (90061 when they cannot
//!    be had), the key the token names (`kid`, else `x5t`; 7000272) and the signature;
//! 5. `exp`/`nbf` with [`CLOCK_SKEW_SECS`] (700024);
//! 6. the credentials matched: issuer, subject and audience exactly and case-sensitively. The
//!    credential differing in the fewest of the three is the nearest; when it differs in one,
//!    that one is named (issuer 700211, subject 700213 — 7002138 when only case differs —,
//!    audience 700212); in two or three, the generic 70021.
//!
//! An accepted exchange costs one RSA verify: the issuer's keys are parsed once (see
//! `issuers`), and nothing else here is cryptographic.

use serde_json::{Map, Value};

use super::issuers::Lookup;
use crate::aadsts::Aadsts;
use crate::client_assertion::CLOCK_SKEW_SECS;
use crate::config::federated::FederatedCredential;
use crate::config::App;
use crate::service::TokenService;
use certgen::jose::{self, numeric_date, Alg, DateRule, Jws, Policy};

/// The AAD Token Exchange application's id: the `aud` of a managed identity's token asked for
/// `api://AzureADTokenExchange`. UNCONFIRMED exact value for every cloud; it is the app id the
/// public cloud's tokens for that resource carry.
pub const TOKEN_EXCHANGE_APP_ID: &str = "fb60f99c-7a34-4190-8149-302f77469936";

/// The issuer Entra names a tenant's v2 tokens by (what a managed identity's credential names).
fn entra_v2_issuer(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/v2.0")
}

/// Whether a client assertion is an outside token: its `iss` is a string other than the
/// client id (Entra: an app's own certificate assertion has `iss` = `sub` = client id).
pub fn is_federated(jwt: &str, client_id: &str) -> bool {
    jose::parse(jwt, Policy::Lenient)
        .ok()
        .and_then(|j| {
            j.claim_str("iss")
                .map(|iss| !iss.eq_ignore_ascii_case(client_id))
        })
        .unwrap_or(false)
}

/// What the token says, as the matching needs it.
struct Presented<'a> {
    iss: &'a str,
    sub: &'a str,
    auds: Vec<&'a str>,
    /// Entra-issued (this service's signer): a managed identity's token, matched against
    /// Entra's issuer name too.
    entra_tid: Option<&'a str>,
}

impl TokenService {
    /// Checks a federated assertion for `app` (see the module's order of checks).
    pub fn federated(&self, jwt: &str, app: &App, now: i64) -> Result<(), Aadsts> {
        let jws = jose::parse(jwt, Policy::Lenient)
            .map_err(|_| Aadsts::InvalidJwt("JWT token is invalid or malformed.".into()))?;
        if jws.alg().ok() != Some(Alg::Rs256) {
            // UNCONFIRMED text: Entra documents RS256 as the only supported algorithm.
            return Err(Aadsts::InvalidJwt(format!(
                "The signing algorithm '{}' is not supported for federated identity \
                 credentials; the issuer must sign with RS256.",
                jws.header_str("alg").unwrap_or("(none)")
            )));
        }
        let claims = &jws.claims;
        let iss = required(claims, "iss")?;
        let sub = required(claims, "sub")?;
        if app.federated.is_empty() {
            return Err(Aadsts::NoFederatedCredentials {
                app_name: app.display_name.clone(),
                client_id: app.client_id.clone(),
            });
        }
        let entra = self.entra_signed(&jws)?;
        let presented = Presented {
            iss,
            sub,
            auds: audiences(claims.get("aud")),
            entra_tid: entra.then(|| jws.claim_str("tid").unwrap_or_default()),
        };
        if !entra && app.federated.iter().any(|f| issuer_matches(f, &presented)) {
            self.verify_external(&jws, iss)?;
        }
        check_times(claims, now)?;
        match_credential(&app.federated, &presented)
    }

    /// Whether this service's own key signed the token; if so, it must be a user-assigned
    /// managed identity's (Entra's one exception to "AAD-issued tokens may not be used":
    /// <https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity>).
    fn entra_signed(&self, jws: &Jws) -> Result<bool, Aadsts> {
        let kid = jws.header_str("kid").or_else(|| jws.header_str("x5t"));
        if kid != Some(self.signer.kid.as_str()) {
            return Ok(false);
        }
        let Some(key) = self.issuers.entra_key(&self.signer) else {
            return Ok(false);
        };
        if key
            .verify(Alg::Rs256, jws.signing_input.as_bytes(), &jws.signature)
            .is_err()
        {
            return Ok(false);
        }
        let user_assigned = jws.claim_str("xms_mirid").is_some_and(|r| {
            r.to_ascii_lowercase()
                .contains("/providers/microsoft.managedidentity/userassignedidentities/")
        });
        if !user_assigned || jws.claim_str("idtyp").is_some_and(|t| t != "app") {
            return Err(Aadsts::EntraTokenAsFederated);
        }
        Ok(true)
    }

    /// The outside issuer's key the token names, and its signature.
    fn verify_external(&self, jws: &Jws, iss: &str) -> Result<(), Aadsts> {
        let keys =
            match self.issuers.keys(iss) {
                Lookup::Keys(keys) => keys,
                Lookup::Unreachable(why) => return Err(Aadsts::ExternalOidcFailed(why)),
                Lookup::Unknown => return Err(Aadsts::ExternalOidcFailed(
                    "the issuer is neither registered, in the config's [[issuer]], nor on this \
                     machine; certgen serve fetches nothing from other hosts"
                        .into(),
                )),
            };
        let (kid, x5t) = (jws.header_str("kid"), jws.header_str("x5t"));
        let Some(key) = keys.find(kid, x5t) else {
            return Err(Aadsts::FederatedKeyNotFound {
                key: kid.or(x5t).unwrap_or("(none)").to_string(),
                iss: iss.to_string(),
            });
        };
        match key.verify(jws.signing_input.as_bytes(), &jws.signature) {
            Ok(true) => Ok(()),
            // UNCONFIRMED: Entra's code for a bad signature on a federated token is not
            // recorded; 700027 is its code for an assertion signature that does not verify.
            Ok(false) => Err(Aadsts::InvalidJwt(format!(
                "The signature of the federated token does not verify with the key '{}' of \
                 {iss}.",
                key.kid
            ))),
            Err(e) => Err(Aadsts::InvalidJwt(format!(
                "The key '{}' of {iss} cannot verify RS256 ({e}).",
                key.kid
            ))),
        }
    }
}

fn required<'m>(claims: &'m Map<String, Value>, name: &str) -> Result<&'m str, Aadsts> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(Aadsts::InvalidJwt(format!(
            "The claim '{name}' is missing or not a string."
        ))),
    }
}

fn audiences(aud: Option<&Value>) -> Vec<&str> {
    match aud {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `exp` required, `nbf` optional, each with the clock skew Entra's validators allow.
fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), Aadsts> {
    let date = |name: &str| -> Result<Option<i64>, Aadsts> {
        claims
            .get(name)
            .map(|v| {
                numeric_date(v, DateRule::Lenient).map_err(|_| {
                    Aadsts::InvalidJwt(format!("The claim '{name}' is not a NumericDate."))
                })
            })
            .transpose()
    };
    let exp =
        date("exp")?.ok_or_else(|| Aadsts::InvalidJwt("The claim 'exp' is missing.".into()))?;
    let nbf = date("nbf")?;
    if now > exp.saturating_add(CLOCK_SKEW_SECS)
        || nbf.is_some_and(|nbf| now.saturating_add(CLOCK_SKEW_SECS) < nbf)
    {
        return Err(Aadsts::TimeRange {
            now,
            valid_from: nbf.unwrap_or(0),
            expires: exp,
        });
    }
    Ok(())
}

fn issuer_matches(f: &FederatedCredential, p: &Presented) -> bool {
    f.issuer == p.iss
        || p.entra_tid
            .is_some_and(|tid| f.issuer == entra_v2_issuer(tid))
}

fn audience_matches(f: &FederatedCredential, p: &Presented) -> bool {
    f.audiences.iter().any(|want| {
        p.auds.iter().any(|got| {
            got == want
                // A managed identity's token for api://AzureADTokenExchange carries the
                // exchange app's id as `aud`.
                || (p.entra_tid.is_some()
                    && *got == TOKEN_EXCHANGE_APP_ID
                    && want.starts_with("api://AzureADTokenExchange"))
        })
    })
}

/// Which of issuer, subject and audience differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Differs {
    issuer: bool,
    subject: bool,
    audience: bool,
}

impl Differs {
    fn count(self) -> usize {
        usize::from(self.issuer) + usize::from(self.subject) + usize::from(self.audience)
    }
}

/// The subjects differ, but only in case.
fn case_only(f: &FederatedCredential, p: &Presented) -> bool {
    f.subject != p.sub && f.subject.to_lowercase() == p.sub.to_lowercase()
}

/// The nearest credential decides the refusal (see the module's order).
fn match_credential(held: &[FederatedCredential], p: &Presented) -> Result<(), Aadsts> {
    let mut nearest: Option<(Differs, &FederatedCredential)> = None;
    for f in held {
        let d = Differs {
            issuer: !issuer_matches(f, p),
            subject: f.subject != p.sub,
            audience: !audience_matches(f, p),
        };
        if d.count() == 0 {
            return Ok(());
        }
        // Among equally near credentials, one whose subject differs only in case wins: that
        // is the mistake 7002138 names, wherever the credential sits in the list.
        let rank = |d: &Differs, f: &FederatedCredential| (d.count(), !case_only(f, p));
        if nearest.is_none_or(|(n, nf)| rank(&d, f) < rank(&n, nf)) {
            nearest = Some((d, f));
        }
    }
    let Some((d, f)) = nearest else {
        return Err(Aadsts::NoMatchingFederatedCredential {
            iss: p.iss.into(),
            sub: p.sub.into(),
            aud: p.auds.join(","),
        });
    };
    Err(match d {
        Differs {
            issuer: true,
            subject: false,
            audience: false,
        } => Aadsts::FederatedIssuerMismatch { iss: p.iss.into() },
        Differs {
            issuer: false,
            subject: true,
            audience: false,
        } => {
            if case_only(f, p) {
                Aadsts::FederatedSubjectCase { sub: p.sub.into() }
            } else {
                Aadsts::FederatedSubjectMismatch { sub: p.sub.into() }
            }
        }
        Differs {
            issuer: false,
            subject: false,
            audience: true,
        } => Aadsts::FederatedAudienceMismatch {
            aud: p.auds.join(","),
        },
        _ => Aadsts::NoMatchingFederatedCredential {
            iss: p.iss.into(),
            sub: p.sub.into(),
            aud: p.auds.join(","),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fic(iss: &str, sub: &str, aud: &str) -> FederatedCredential {
        FederatedCredential {
            id: "1".into(),
            name: "n".into(),
            issuer: iss.into(),
            subject: sub.into(),
            audiences: vec![aud.into()],
            description: None,
        }
    }

    fn code(held: &[FederatedCredential], iss: &str, sub: &str, aud: &str) -> u32 {
        let p = Presented {
            iss,
            sub,
            auds: vec![aud],
            entra_tid: None,
        };
        match match_credential(held, &p) {
            Ok(()) => 0,
            Err(e) => e.code(),
        }
    }

    #[test]
    fn a_case_only_subject_is_named_wherever_its_credential_sits() {
        let aud = "api://AzureADTokenExchange";
        let held = [
            fic("https://i", "repo:o/r:ref:refs/heads/dev", aud),
            fic("https://i", "repo:o/r:ref:refs/heads/main", aud),
        ];
        assert_eq!(
            code(&held, "https://i", "repo:O/R:ref:refs/heads/main", aud),
            7002138
        );
    }

    #[test]
    fn the_nearest_credential_names_the_mismatch() {
        let held = [fic(
            "https://i",
            "repo:o/r:ref:refs/heads/main",
            "api://AzureADTokenExchange",
        )];
        let ok = |iss, sub, aud| code(&held, iss, sub, aud);
        assert_eq!(
            ok(
                "https://i",
                "repo:o/r:ref:refs/heads/main",
                "api://AzureADTokenExchange"
            ),
            0
        );
        assert_eq!(
            ok(
                "https://i/",
                "repo:o/r:ref:refs/heads/main",
                "api://AzureADTokenExchange"
            ),
            700211
        );
        assert_eq!(
            ok(
                "https://i",
                "repo:o/r:ref:refs/heads/dev",
                "api://AzureADTokenExchange"
            ),
            700213
        );
        assert_eq!(
            ok(
                "https://i",
                "repo:O/R:ref:refs/heads/main",
                "api://AzureADTokenExchange"
            ),
            7002138
        );
        assert_eq!(
            ok("https://i", "repo:o/r:ref:refs/heads/main", "api://other"),
            700212
        );
        assert_eq!(
            ok(
                "https://x",
                "repo:o/r:ref:refs/heads/dev",
                "api://AzureADTokenExchange"
            ),
            70021
        );
        // A second credential matching exactly wins over a near one.
        let two = [
            held[0].clone(),
            fic("https://x", "s", "api://AzureADTokenExchange"),
        ];
        assert_eq!(
            code(&two, "https://x", "s", "api://AzureADTokenExchange"),
            0
        );
    }
}
