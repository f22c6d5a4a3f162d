//! `/{tenant}/oauth2/v2.0/authorize` (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>): the request checked in Entra's
//! order, then either the sign-in page, or — with a session, `--auto-sign-in` or after the
//! page — a code sent back to the app.
//!
//! What can be trusted decides where an error goes: until the client and its redirect URI
//! are known good, an error is a page here (never a redirect to an unchecked URI); after,
//! it goes back to the app as `error`/`error_description` in the response mode asked.

use super::kept::Handle;
use super::scopes;
use super::{AuthRequest, Challenge, ResponseMode, UserFlows};
use crate::aadsts::Aadsts;
use crate::config::redirect_uri_syntax;
use crate::config::{is_loopback_url, App, Tenant, User};
use crate::directory::view::AppView;
use crate::service::TokenService;
use std::sync::Arc;

/// Where and how an answer goes back to the app.
#[derive(Debug, Clone)]
pub struct Target {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
}

/// What `/authorize` (or the sign-in form) comes to.
#[derive(Debug)]
pub enum Answer {
    /// Shown here: nothing may be sent to the redirect URI.
    ErrorPage(Aadsts),
    /// Sent back to the app: the code (or error) fields, and a new session to remember.
    Back {
        target: Target,
        fields: Vec<(&'static str, String)>,
        session: Option<String>,
    },
    /// The sign-in page, for the pending sign-in `ctx`.
    SignIn { ctx: String },
}

/// The first value of a parameter (query or form).
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The most each `/authorize` parameter may hold, in bytes once decoded: a request over one
/// is refused with 90015 on an error page, before anything of it is kept. UNCONFIRMED:
/// Entra publishes no number for these; chosen because each is far above what clients send
/// (MSAL: a 16-letter `state`, a 64-character `nonce`; a UPN is at most 113 characters,
/// <https://learn.microsoft.com/en-us/graph/api/resources/user>) yet keeps a pending sign-in
/// under about 17 KB, so the stores' byte budgets hold thousands of them.
pub const LIMITS: &[(&str, usize)] = &[
    // Apps put a return URL or a signed blob in `state`: room for that.
    ("state", 4096),
    ("nonce", 1024),
    ("login_hint", 1024),
    // A registered redirect URI is at most 256 characters
    // (<https://learn.microsoft.com/en-us/entra/identity-platform/reply-url>); a longer one
    // sent cannot match, and is refused as not registered (50011).
    ("redirect_uri", 2048),
    // RFC 7636 §4.2: at most 128 characters; checked again, with its own code, below.
    ("code_challenge", 128),
    ("scope", 4096),
];

/// The most a whole `/authorize` request's parameters (query and form body, names and values
/// decoded) may hold. UNCONFIRMED: chosen because 16 KB is the usual ceiling of a request line
/// in front ends (nginx's `large_client_header_buffers` is 8 KB per line by default; IIS's
/// `maxQueryString` is 2 KB by default and raised for sign-in) and MSAL's longest requests
/// are well under 4 KB.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;

/// The request's size, whole and per parameter: 90015 when over ([`LIMITS`]).
fn sizes(params: &[(String, String)]) -> Result<(), Aadsts> {
    let total: usize = params.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if total > MAX_QUERY_BYTES {
        return Err(Aadsts::QueryStringTooLong {
            parameter: "the query".into(),
            limit: MAX_QUERY_BYTES,
        });
    }
    for (name, value) in params {
        let limit = LIMITS
            .iter()
            .find(|(n, _)| n == name)
            .map_or(MAX_QUERY_BYTES, |(_, l)| *l);
        if value.len() > limit {
            return Err(Aadsts::QueryStringTooLong {
                parameter: name.clone(),
                limit,
            });
        }
    }
    Ok(())
}

/// Checks an `/authorize` request and answers it.
pub fn begin(
    service: &TokenService,
    tenant_segment: &str,
    params: &[(String, String)],
    session: Option<&str>,
    now: i64,
) -> Answer {
    if let Err(e) = sizes(params) {
        return Answer::ErrorPage(e);
    }
    let (tenant, view, redirect_uri) = match trusted(service, tenant_segment, params) {
        Ok(t) => t,
        Err(e) => return Answer::ErrorPage(e),
    };
    let (tenant, app) = (&tenant, &view.app);
    let get = |name: &str| param(params, name).filter(|v| !v.is_empty());
    let mode = match get("response_mode") {
        Some("form_post") => ResponseMode::FormPost,
        Some("fragment") => ResponseMode::Fragment,
        _ => ResponseMode::Query,
    };
    let target = Target {
        redirect_uri,
        mode,
        state: get("state").map(str::to_string),
    };
    let request = match request(service, tenant, app, &target, params) {
        Ok(r) => r,
        Err(e) => return back_with_error(target, &e),
    };
    let flows = &service.flows;
    let prompt = get("prompt").unwrap_or_default();
    let asks_page = matches!(prompt, "login" | "select_account" | "consent");
    if let Some(upn) = &flows.options.auto_sign_in {
        return match service.user(upn) {
            Ok(Some(user)) => complete(flows, request, &user, now),
            Err(e) => Answer::ErrorPage(e),
            Ok(None) => Answer::ErrorPage(Aadsts::UserNotFound {
                upn: upn.clone(),
                tenant: tenant.id.clone(),
            }),
        };
    }
    let kept = match session.map(|s| flows.sessions.get(&Handle::of(s), now)) {
        Some(Err(e)) => return Answer::ErrorPage(e.into()),
        Some(Ok(s)) => s,
        None => None,
    };
    let signed_in = kept.and_then(|s| service.user(&s.user_id).ok().flatten());
    match (signed_in, prompt) {
        (Some(user), _) if !asks_page => complete(flows, request, &user, now),
        (None, "none") => back_with_error(target, &Aadsts::LoginRequired),
        _ => {
            let ctx = flows.pending.insert(
                super::PendingSignIn {
                    what: super::Pending::Authorize(request.clone()),
                    canary: String::new(),
                },
                now.saturating_add(super::PENDING_LIFETIME_SECS),
                now,
            );
            Answer::SignIn { ctx }
        }
    }
}

/// The parts that must be right before anything is sent to the app: its tenant, the app,
/// and a redirect URI registered for it (50011 otherwise).
fn trusted(
    service: &TokenService,
    tenant_segment: &str,
    params: &[(String, String)],
) -> Result<(Tenant, Arc<AppView>, String), Aadsts> {
    let (tenant, view) = client(service, tenant_segment, params)?;
    let app = &view.app;
    let sent = param(params, "redirect_uri").filter(|r| !r.is_empty());
    let redirect_uri = match sent {
        Some(uri)
            if redirect_uri_syntax(uri).is_ok()
                && app.redirect_uris.iter().any(|r| redirect_matches(r, uri)) =>
        {
            uri
        }
        // With none sent, Entra uses the app's only registered URI.
        None if app.redirect_uris.len() == 1 => app.redirect_uris[0].as_str(),
        _ => {
            return Err(Aadsts::RedirectUriMismatch {
                redirect_uri: sent.unwrap_or_default().to_string(),
                client_id: app.client_id.clone(),
            })
        }
    };
    let redirect_uri = redirect_uri.to_string();
    Ok((tenant, view, redirect_uri))
}

/// The tenant of a user-flow URL and the app its `client_id` names (900144, 700016 or the
/// tenant's refusal otherwise): what `/authorize` and `/devicecode` check first.
pub fn client(
    service: &TokenService,
    tenant_segment: &str,
    params: &[(String, String)],
) -> Result<(Tenant, Arc<AppView>), Aadsts> {
    let tenant = service.user_tenant(tenant_segment)?;
    let client_id = param(params, "client_id")
        .filter(|c| !c.is_empty())
        .ok_or(Aadsts::MissingParameter("client_id"))?;
    let app = service
        .app(client_id)?
        .ok_or_else(|| Aadsts::ApplicationNotFound {
            client_id: client_id.to_string(),
            tenant: tenant_segment.to_string(),
        })?;
    Ok((tenant, app))
}

/// Whether `sent` is the registered URI: exactly, or — for a loopback http URI — on any port,
/// as Entra matches them (desktop apps listen on a port of the moment).
pub fn redirect_matches(registered: &str, sent: &str) -> bool {
    if registered == sent {
        return true;
    }
    let (Ok(r), Ok(s)) = (url::Url::parse(registered), url::Url::parse(sent)) else {
        return false;
    };
    r.scheme() == "http"
        && s.scheme() == "http"
        && is_loopback_url(&r)
        && r.host() == s.host()
        && r.path() == s.path()
        && r.query() == s.query()
}

/// The rest of the request, checked once the app can be told of errors.
fn request(
    service: &TokenService,
    tenant: &Tenant,
    app: &App,
    target: &Target,
    params: &[(String, String)],
) -> Result<AuthRequest, Aadsts> {
    let get = |name: &str| param(params, name).filter(|v| !v.is_empty());
    match get("response_type") {
        None => return Err(Aadsts::MissingParameter("response_type")),
        Some("code") => {}
        Some(other) => return Err(Aadsts::UnsupportedResponseType(other.to_string())),
    }
    let scope = get("scope").ok_or(Aadsts::MissingParameter("scope"))?;
    let scope = scopes::parse(&service.directory, app, scope, &tenant.id)?;
    let challenge = match get("code_challenge") {
        None => None,
        Some(value) => Some(challenge(value, get("code_challenge_method"))?),
    };
    Ok(AuthRequest {
        tenant_id: tenant.id.clone(),
        client_id: app.client_id.clone(),
        redirect_uri: target.redirect_uri.clone(),
        response_mode: target.mode,
        state: target.state.clone(),
        nonce: get("nonce").map(str::to_string),
        scope,
        challenge,
        login_hint: get("login_hint").map(str::to_string),
    })
}

/// PKCE (RFC 7636 §4.2): S256 challenges are 43 base64url characters; plain ones are
/// verifiers, 43 to 128 unreserved characters. A missing method means plain.
fn challenge(value: &str, method: Option<&str>) -> Result<Challenge, Aadsts> {
    let s256 = match method {
        None | Some("plain") => false,
        Some("S256") => true,
        Some(other) => return Err(Aadsts::PkceMethod(other.to_string())),
    };
    let unreserved = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let size_ok = if s256 {
        value.len() == 43
    } else {
        (43..=128).contains(&value.len())
    };
    if !size_ok || !unreserved {
        return Err(Aadsts::PkceChallengeSize);
    }
    Ok(Challenge {
        value: value.to_string(),
        s256,
    })
}

/// A signed-in user for `request`: a code (and a session) sent back to the app, both
/// committed to the database first (a 503 page otherwise: nothing goes back).
pub fn complete(flows: &UserFlows, request: AuthRequest, user: &User, now: i64) -> Answer {
    let target = Target {
        redirect_uri: request.redirect_uri.clone(),
        mode: request.response_mode,
        state: request.state.clone(),
    };
    let kept = flows
        .sessions
        .insert(
            &super::Session {
                user_id: user.id.clone(),
            },
            now.saturating_add(super::SESSION_LIFETIME_SECS),
            now,
        )
        .and_then(|session| Ok((session, flows.issue_code(request, &user.id, now)?)));
    let (session, code) = match kept {
        Ok(kept) => kept,
        Err(e) => return Answer::ErrorPage(e.into()),
    };
    let mut fields = vec![("code", code)];
    if let Some(state) = &target.state {
        fields.push(("state", state.clone()));
    }
    // Entra sends the session's id too; clients that track sessions compare it.
    fields.push(("session_state", uuid::Uuid::new_v4().to_string()));
    Answer::Back {
        target,
        fields,
        session: Some(session),
    }
}

/// An error sent back to the app, in Entra's fields.
pub fn back_with_error(target: Target, e: &Aadsts) -> Answer {
    let body = e.body(
        &uuid::Uuid::new_v4().to_string(),
        time::OffsetDateTime::now_utc(),
    );
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let mut fields = vec![
        ("error", e.redirect_error().to_string()),
        ("error_description", text("error_description")),
        ("error_uri", text("error_uri")),
    ];
    if let Some(state) = &target.state {
        fields.push(("state", state.clone()));
    }
    Answer::Back {
        target,
        fields,
        session: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_on_any_port_only() {
        assert!(redirect_matches(
            "http://localhost",
            "http://localhost:53412"
        ));
        assert!(redirect_matches(
            "http://localhost:5000/getAToken",
            "http://localhost:8080/getAToken"
        ));
        assert!(!redirect_matches(
            "http://localhost/a",
            "http://localhost:1/b"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example:8443/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb/"
        ));
        assert!(redirect_matches(
            "https://app.example/cb",
            "https://app.example/cb"
        ));
        assert!(!redirect_matches("http://localhost", "http://127.0.0.1"));
    }

    #[test]
    fn parameters_are_bounded() {
        let p = |k: &str, n: usize| vec![(k.to_string(), "a".repeat(n))];
        assert!(sizes(&p("state", 4096)).is_ok());
        assert_eq!(sizes(&p("state", 4097)).unwrap_err().code(), 90015);
        assert_eq!(sizes(&p("nonce", 1025)).unwrap_err().code(), 90015);
        assert_eq!(sizes(&p("login_hint", 1025)).unwrap_err().code(), 90015);
        assert_eq!(sizes(&p("redirect_uri", 2049)).unwrap_err().code(), 90015);
        assert_eq!(
            sizes(&p("other", MAX_QUERY_BYTES)).unwrap_err().code(),
            90015
        );
        let many: Vec<_> = (0..10)
            .map(|i| (format!("x{i}"), "a".repeat(2000)))
            .collect();
        assert_eq!(sizes(&many).unwrap_err().code(), 90015);
    }

    #[test]
    fn pkce_challenges() {
        let s256 = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(challenge(s256, Some("S256")).unwrap().s256);
        assert_eq!(challenge(s256, Some("S512")).unwrap_err().code(), 50149);
        assert_eq!(challenge("short", Some("S256")).unwrap_err().code(), 501491);
        assert!(!challenge(&"a".repeat(43), None).unwrap().s256);
        assert_eq!(
            challenge(&"a".repeat(129), None).unwrap_err().code(),
            501491
        );
    }
}
