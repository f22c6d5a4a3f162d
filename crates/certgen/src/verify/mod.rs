//! Access-token validation as a protected API must do it (<https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-tokens>): the signing key
//! chosen by `kid` from the issuer's key set, RS256 only, exact `iss`, `aud` among the accepted
//! audiences, `exp`/`nbf` with leeway, and the required app roles.
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), certgen::verify::VerifyError> {
//! use certgen::verify::{Validator, ValidatorOptions};
//! let validator = Validator::from_authority(
//!     "https://login.microsoftonline.com/contoso.onmicrosoft.com",
//!     ValidatorOptions::new(["api://my-api"]).require_role("Data.Read"),
//! )
//! .await?;
//! let token = validator.validate(token).await?; // per request; keys are cached
//! println!("caller {:?}", token.client_id());
//! # Ok(()) }
//! ```
//!
//! A [`Validator`] is cheap to clone and safe to share between requests.

#[cfg(feature = "bearer")]
pub mod bearer;
mod discovery;

mod keys;
mod token;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use time::OffsetDateTime;

pub use crate::error::VerifyError;
pub use discovery::{check_url, HttpClient, Metadata, TokenVersion};
pub use keys::{Key, KeySet, RefreshPolicy, RemoteKeys, MAX_KEY_AGE, MIN_REFRESH_INTERVAL};

use crate::jose::{self, numeric_date, DateRule};

use crate::read;

/// Default tolerance for clock differences on `exp`/`nbf`, as Microsoft's own middleware uses.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(300);

/// What a token must satisfy, and how to reach the keys.
#[derive(Debug, Clone)]
pub struct ValidatorOptions {
    /// `aud` must be one of these (the API's client id and/or App ID URIs).
    pub audiences: Vec<String>,
    /// The exact `iss` expected. With an authority it replaces the metadata's issuer; with a
    /// bare key set (URI or file) it is required, since nothing else says who the issuer is.
    pub issuer: Option<String>,
    /// Each must appear in the token's `roles`.
    pub required_roles: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`. Default: 5 minutes.
    pub leeway: Duration,
    /// Extra trust roots (PEM) for HTTPS to the authority, e.g. a local emulator's CA.
    pub ca_file: Option<PathBuf>,
    /// When remote keys are fetched again (unknown `kid`: at most every 30 s; otherwise 24 h).
    pub refresh: RefreshPolicy,
}

impl ValidatorOptions {
    /// Options accepting tokens for any of `audiences` (an app id URI or client id); no role required.
    pub fn new<I, S>(audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ValidatorOptions {
            audiences: audiences.into_iter().map(Into::into).collect(),
            issuer: None,
            required_roles: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            ca_file: None,
            refresh: RefreshPolicy::default(),
        }
    }

    /// Accept this issuer instead of the discovered one.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Require this app role in `roles` (may be called more than once: all are required).
    pub fn require_role(mut self, role: impl Into<String>) -> Self {
        self.required_roles.push(role.into());
        self
    }

    /// Sets [`leeway`](Self::leeway).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Trust this CA file (PEM or DER) for the metadata and key fetches, besides the platform's roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    fn check(&self) -> Result<(), VerifyError> {
        if self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err(VerifyError::Config(
                "at least one accepted audience is required (the API's client id or App ID URI)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidToken {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// The issuer it was checked against.
    pub issuer: String,
    /// The `kid` of the key that verified it.
    pub kid: String,
}

impl ValidToken {
    /// The calling application: `azp` (v2) or `appid` (v1).
    pub fn client_id(&self) -> Option<&str> {
        self.claim_str("azp").or_else(|| self.claim_str("appid"))
    }

    /// The `roles` claim's values (empty when absent).
    pub fn roles(&self) -> Vec<&str> {
        roles_of(&self.claims)
    }

    /// A claim, when it is a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Validates access tokens; build once, call [`Validator::validate`] per request.
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

struct Inner {
    options: ValidatorOptions,
    source: Source,
}

enum Source {
    File {
        keys: KeySet,
    },
    Jwks(RemoteKeys),
    Authority {
        authority: String,
        http: HttpClient,
        v2: Box<LazyEndpoint>,
        v1: Box<LazyEndpoint>,
    },
}

/// One metadata document and its key set.
struct Endpoint {
    issuer: String,
    keys: RemoteKeys,
}

/// The metadata and keys of one token version, read the first time they are needed and then
/// kept (the key set refreshes itself by [`RefreshPolicy`]). An API sees one version only (its
/// manifest's `accessTokenAcceptedVersion`), so reading both would waste requests. A
/// failed read is remembered for `refresh.min_interval`, so tokens cannot be used to hammer an
/// IdP that is down.
struct LazyEndpoint {
    version: TokenVersion,
    cell: tokio::sync::OnceCell<Endpoint>,
    failed: Mutex<Option<(Instant, VerifyError)>>,
}

impl Validator {
    /// Reads the v2 metadata under `authority` (e.g. `https://login.microsoftonline.com/{tenant}`)
    /// and its key set now, so a wrong authority fails at start-up, not on the first request. The
    /// v1 document is read when the first `ver` 1.0 token arrives. An API that receives v1 tokens
    /// only can use [`Validator::from_authority_lazy`] and [`Validator::discover`] instead.
    pub async fn from_authority(
        authority: &str,
        options: ValidatorOptions,
    ) -> Result<Validator, VerifyError> {
        let validator = Validator::from_authority_lazy(authority, options)?;
        validator.discover(TokenVersion::V2).await?;
        Ok(validator)
    }

    /// Like [`Validator::from_authority`], but nothing is fetched yet: the metadata and key set of
    /// each token version are read when the first token of that version arrives (a v1 token
    /// costs the v1 document and keys only). An unreachable or wrong authority then shows up as
    /// the error of that first validation (not a rejection: see [`VerifyError::is_rejection`]).
    /// Only the URL, the CA file and the options are checked here.
    pub fn from_authority_lazy(
        authority: &str,
        options: ValidatorOptions,
    ) -> Result<Validator, VerifyError> {
        options.check()?;
        let authority = authority.trim_end_matches('/').to_string();
        check_url(&authority)?;
        let http = HttpClient::new(options.ca_file.as_deref())?;
        Ok(Validator::with(
            options,
            Source::Authority {
                authority,
                http,
                v2: Box::new(LazyEndpoint::new(TokenVersion::V2)),
                v1: Box::new(LazyEndpoint::new(TokenVersion::V1)),
            },
        ))
    }

    /// Reads the metadata and keys for tokens of `version` now, unless already read: a start-up
    /// check for a validator made by [`Validator::from_authority_lazy`]. Nothing to do for key
    /// sets given directly.
    pub async fn discover(&self, version: TokenVersion) -> Result<(), VerifyError> {
        if let Source::Authority {
            authority,
            http,
            v2,
            v1,
        } = &self.inner.source
        {
            let lazy = match version {
                TokenVersion::V2 => v2,
                TokenVersion::V1 => v1,
            };
            lazy.get(http, authority, &self.inner.options).await?;
        }
        Ok(())
    }

    /// Keys from a JWKS URL (fetched now, refreshed as with an authority); `options.issuer` is
    /// required.
    pub async fn from_jwks_uri(
        jwks_uri: &str,
        options: ValidatorOptions,
    ) -> Result<Validator, VerifyError> {
        options.check()?;
        require_issuer(&options, "a JWKS URI")?;
        let http = HttpClient::new(options.ca_file.as_deref())?;
        let keys = RemoteKeys::fetch(jwks_uri.to_string(), http, options.refresh).await?;
        Ok(Validator::with(options, Source::Jwks(keys)))
    }

    /// Keys from a JWKS file, read once; `options.issuer` is required.
    pub fn from_jwks_file(
        path: &Path,
        options: ValidatorOptions,
    ) -> Result<Validator, VerifyError> {
        options.check()?;
        require_issuer(&options, "a JWKS file")?;
        let bytes = read::file(path, read::JWKS).map_err(|e| VerifyError::File {
            path: path.display().to_string(),
            reason: format!("cannot read the JWKS file: {e}"),
        })?;
        let keys = KeySet::from_json(&bytes, &path.display().to_string())?;
        Ok(Validator::from_key_set(keys, options))
    }

    /// Keys already in hand (tests, benchmarks, keys from configuration).
    pub fn from_key_set(keys: KeySet, options: ValidatorOptions) -> Validator {
        Validator::with(options, Source::File { keys })
    }

    fn with(options: ValidatorOptions, source: Source) -> Validator {
        Validator {
            inner: Arc::new(Inner { options, source }),
        }
    }

    /// The options it was built with.
    pub fn options(&self) -> &ValidatorOptions {
        &self.inner.options
    }

    /// Validates one token (as sent: surrounding whitespace and a `Bearer ` prefix are fine).
    pub async fn validate(&self, token: &str) -> Result<ValidToken, VerifyError> {
        let parts = token::parse(jose::strip_bearer(token))?;
        token::check_alg(&parts)?;
        let kid = parts.header_str("kid");
        let x5t = parts.header_str("x5t");
        if kid.is_none() && x5t.is_none() {
            return Err(VerifyError::NoKeyId);
        }
        let version = TokenVersion::of(parts.claim_str("ver"));
        let options = &self.inner.options;
        let (key, metadata_issuer) = match &self.inner.source {
            Source::File { keys } => {
                let key = keys.find(kid, x5t).ok_or_else(|| VerifyError::UnknownKey {
                    kid: kid.or(x5t).unwrap_or_default().to_string(),
                    detail: format!("the key set has {} keys", keys.len()),
                })?;
                (key, None)
            }
            Source::Jwks(remote) => (remote.find(kid, x5t).await?, None),
            Source::Authority {
                authority,
                http,
                v2,
                v1,
            } => {
                let lazy = match version {
                    TokenVersion::V2 => v2,
                    TokenVersion::V1 => v1,
                };
                let endpoint = lazy.get(http, authority, options).await?;
                (
                    endpoint.keys.find(kid, x5t).await?,
                    Some(endpoint.issuer.as_str()),
                )
            }
        };
        if !key.verify(parts.signing_input.as_bytes(), &parts.signature)? {
            return Err(VerifyError::BadSignature {
                kid: key.kid.clone(),
            });
        }
        let claims = &parts.claims;
        let issuer = check_issuer(claims, options.issuer.as_deref(), metadata_issuer)?;
        // Entra's v2 keys name the issuer they sign for; a key of one cloud or tenant must not
        // vouch for a token claiming another (the access-tokens page, "Validate the signing key issuer"). v1 key sets carry no such field.
        if let (TokenVersion::V2, Some(key_issuer)) = (version, key.issuer.as_deref()) {
            let resolved = resolve_template(key_issuer, claims);
            if resolved != issuer {
                return Err(VerifyError::KeyIssuer {
                    kid: key.kid.clone(),
                    key_issuer: resolved,
                    found: issuer,
                });
            }
        }
        check_audience(claims, &options.audiences)?;
        check_times(claims, now_unix(), options.leeway.as_secs())?;
        check_roles(claims, &options.required_roles)?;
        Ok(ValidToken {
            kid: key.kid.clone(),
            header: parts.header,
            claims: parts.claims,
            issuer,
        })
    }
}

impl Endpoint {
    async fn load(
        http: &HttpClient,
        authority: &str,
        version: TokenVersion,
        options: &ValidatorOptions,
    ) -> Result<Endpoint, VerifyError> {
        let metadata = Metadata::fetch(http, &version.metadata_url(authority)).await?;
        let keys = RemoteKeys::fetch(metadata.jwks_uri, http.clone(), options.refresh).await?;
        Ok(Endpoint {
            issuer: metadata.issuer,
            keys,
        })
    }
}

impl LazyEndpoint {
    fn new(version: TokenVersion) -> LazyEndpoint {
        LazyEndpoint {
            version,
            cell: tokio::sync::OnceCell::new(),
            failed: Mutex::new(None),
        }
    }

    async fn get(
        &self,
        http: &HttpClient,
        authority: &str,
        options: &ValidatorOptions,
    ) -> Result<&Endpoint, VerifyError> {
        // The remembered failure is checked inside the initialiser, which the cell runs for one
        // caller at a time: callers that queued behind a failing read get its error instead of
        // each reading again.
        self.cell
            .get_or_try_init(|| async {
                let failed = self
                    .failed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                if let Some((at, e)) = failed {
                    if at.elapsed() < options.refresh.min_interval {
                        return Err(e);
                    }
                }
                let result = Endpoint::load(http, authority, self.version, options).await;
                if let Err(e) = &result {
                    *self.failed.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some((Instant::now(), e.clone()));
                }
                result
            })
            .await
    }
}

fn require_issuer(options: &ValidatorOptions, what: &str) -> Result<(), VerifyError> {
    match options.issuer.as_deref() {
        Some(i) if !i.trim().is_empty() => Ok(()),
        _ => Err(VerifyError::Config(format!(
            "an issuer is required with {what}: a key set alone does not say whose tokens to accept"
        ))),
    }
}

/// `{tenantid}` in multi-tenant metadata (`/common`, `/organizations`) and in v2 key issuers
/// stands for the token's own `tid`.
fn resolve_template(issuer: &str, claims: &Map<String, Value>) -> String {
    match claims.get("tid").and_then(Value::as_str) {
        Some(tid) if issuer.contains("{tenantid}") => issuer.replace("{tenantid}", tid),
        _ => issuer.to_string(),
    }
}

fn check_issuer(
    claims: &Map<String, Value>,
    configured: Option<&str>,
    metadata: Option<&str>,
) -> Result<String, VerifyError> {
    let expected = match (configured, metadata) {
        (Some(i), _) => i.to_string(),
        (None, Some(m)) => resolve_template(m, claims),
        (None, None) => return Err(VerifyError::Config("no issuer to check against".into())),
    };
    let found = match claims.get("iss") {
        None => return Err(VerifyError::MissingClaim("iss")),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(VerifyError::ClaimType {
                claim: "iss",
                expected: "a string",
            })
        }
    };
    if found == expected {
        return Ok(found);
    }
    match claims.get("tid").and_then(Value::as_str) {
        Some(tid) if same_issuer_other_tenant(&found, &expected, tid) => {
            Err(VerifyError::OtherTenant {
                tid: tid.to_string(),
                found,
                expected,
            })
        }
        _ => Err(VerifyError::Issuer { found, expected }),
    }
}

/// `found` is `expected` with another tenant in the tenant's place (same authority, same form).
fn same_issuer_other_tenant(found: &str, expected: &str, tid: &str) -> bool {
    let Some((prefix, suffix)) = found.split_once(tid) else {
        return false;
    };
    expected
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_suffix(suffix))
        .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/') && tenant != tid)
}

fn check_audience(claims: &Map<String, Value>, accepted: &[String]) -> Result<(), VerifyError> {
    let auds: Vec<&str> = match claims.get("aud") {
        None => return Err(VerifyError::MissingClaim("aud")),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).collect()
        }
        Some(_) => {
            return Err(VerifyError::ClaimType {
                claim: "aud",
                expected: "a string or an array of strings",
            })
        }
    };
    if auds.iter().any(|a| accepted.iter().any(|x| x == a)) {
        return Ok(());
    }
    Err(VerifyError::Audience {
        found: match auds.as_slice() {
            [one] => format!("{one:?}"),
            many => format!("{many:?}"),
        },
        expected: accepted.to_vec(),
    })
}

/// An `exp`/`nbf` as whole seconds: any JSON number (RFC 7519 allows fractions), no strings.
fn claim_date(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<i64>, VerifyError> {
    claims
        .get(claim)
        .map(|v| numeric_date(v, DateRule::Number))
        .transpose()
        .map_err(|_| VerifyError::ClaimType {
            claim,
            expected: "a NumericDate (seconds since 1970)",
        })
}

fn check_times(claims: &Map<String, Value>, now: i64, leeway: u64) -> Result<(), VerifyError> {
    let slack = i64::try_from(leeway).unwrap_or(i64::MAX);
    let exp = claim_date(claims, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
    if now >= exp.saturating_add(slack) {
        return Err(VerifyError::Expired {
            at: date(exp),
            ago: now.saturating_sub(exp),
            leeway,
        });
    }
    if let Some(nbf) = claim_date(claims, "nbf")? {
        if now.saturating_add(slack) < nbf {
            return Err(VerifyError::NotYetValid {
                at: date(nbf),
                in_secs: nbf.saturating_sub(now),
                leeway,
            });
        }
    }
    Ok(())
}

fn roles_of(claims: &Map<String, Value>) -> Vec<&str> {
    claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn check_roles(claims: &Map<String, Value>, required: &[String]) -> Result<(), VerifyError> {
    let has = roles_of(claims);
    let missing: Vec<String> = required
        .iter()
        .filter(|r| !has.contains(&r.as_str()))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(VerifyError::MissingRoles {
            missing,
            has: has.into_iter().map(str::to_string).collect(),
        })
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(crate::certificate::rfc3339)
        .unwrap_or_else(|_| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn times_with_and_without_leeway() {
        let c = claims(json!({"exp": 1000, "nbf": 900}));
        assert_eq!(check_times(&c, 950, 0), Ok(()));
        assert!(matches!(
            check_times(&c, 1000, 0),
            Err(VerifyError::Expired { ago: 0, .. })
        ));
        assert_eq!(check_times(&c, 1299, 300), Ok(()));
        assert!(check_times(&c, 1300, 300).is_err());
        assert!(matches!(
            check_times(&c, 899, 0),
            Err(VerifyError::NotYetValid { in_secs: 1, .. })
        ));
        assert_eq!(check_times(&c, 600, 300), Ok(()));
        assert_eq!(
            check_times(&claims(json!({"nbf": 1})), 5, 0),
            Err(VerifyError::MissingClaim("exp"))
        );
        assert!(matches!(
            check_times(&claims(json!({"exp": "1000"})), 5, 0),
            Err(VerifyError::ClaimType { claim: "exp", .. })
        ));
        assert_eq!(check_times(&claims(json!({"exp": 1000.7})), 999, 0), Ok(()));
    }

    #[test]
    fn audience_string_or_array() {
        let ok = vec!["api://a".to_string(), "guid".to_string()];
        assert_eq!(check_audience(&claims(json!({"aud": "guid"})), &ok), Ok(()));
        assert_eq!(
            check_audience(&claims(json!({"aud": ["x", "api://a"]})), &ok),
            Ok(())
        );
        let e = check_audience(&claims(json!({"aud": "other"})), &ok).unwrap_err();
        assert_eq!(
            e.to_string(),
            "audience \"other\" is not accepted (expected \"api://a\" or \"guid\")"
        );
        assert_eq!(
            check_audience(&claims(json!({})), &ok),
            Err(VerifyError::MissingClaim("aud"))
        );
    }

    #[test]
    fn issuer_templates_and_tenants() {
        let c = claims(json!({"iss": "https://login.microsoftonline.com/t1/v2.0", "tid": "t1"}));
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(check_issuer(&c, None, Some(template)).is_ok());
        let e = check_issuer(&c, None, Some("https://login.microsoftonline.com/t2/v2.0"));
        assert!(matches!(e, Err(VerifyError::OtherTenant { .. })), "{e:?}");
        let e = check_issuer(&c, Some("https://sts.windows.net/t1/"), None);
        assert!(matches!(e, Err(VerifyError::Issuer { .. })), "{e:?}");
    }

    #[test]
    fn roles_all_required() {
        let c = claims(json!({"roles": ["A", "B"]}));
        assert_eq!(check_roles(&c, &["A".into(), "B".into()]), Ok(()));
        assert_eq!(
            check_roles(&c, &["C".into(), "A".into()]),
            Err(VerifyError::MissingRoles {
                missing: vec!["C".into()],
                has: vec!["A".into(), "B".into()]
            })
        );
    }
}
