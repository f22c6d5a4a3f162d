//! The user flows' HTTP surface: `/authorize`, the sign-in form, `/devicecode` and its page,
//! and logout. Thin: each handler reads the request, asks [`authorize`], [`device`] or the
//! store, and turns the answer into a page, a redirect or Entra's JSON.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use time::OffsetDateTime;

use super::authorize::{self, param, Answer, Target};
use super::device;
use super::kept::Handle;
use super::pages;
use super::{Pending, PendingSignIn, ResponseMode};
use crate::aadsts::{json_body, no_store, Aadsts};
use crate::access_log::LogNote;
use crate::correlation::{correlation_id, echo_request_id};
use crate::face::Face;
use crate::service::{form_fields, TokenService};

/// The browser session's cookie.
const SESSION_COOKIE: &str = "certgen_session";

/// The sign-in form's cookie: a random value set when the page is served and echoed in the
/// form's `canary` field; a POST of the form must carry both, equal to what the pending
/// sign-in was shown with. A cross-site POST carries no cookie (SameSite=Lax) and cannot read
/// it (HttpOnly), so it cannot sign a browser in as a user of its choosing — the part of
/// Entra's `flowToken` and canary that guards its sign-in form (OWASP's double-submit cookie,
/// <https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html>).
const CANARY_COOKIE: &str = "certgen_signin";

pub fn router<S>(service: Arc<TokenService>) -> Router<S> {
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize_request).post(authorize_request),
        )
        .route("/{tenant}/login", post(sign_in))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
        .route(
            device::PAGE_PATH,
            get(device_page).post(device_code_entered),
        )
        .route("/{tenant}/oauth2/v2.0/logout", get(logout))
        .route("/{tenant}/oauth2/logout", get(logout))
        .with_state(service)
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The query's parameters, then (for a POST) the form body's.
fn params(uri: &Uri, method: &Method, body: &[u8]) -> Vec<(String, String)> {
    let mut all = form_fields(uri.query().unwrap_or_default().as_bytes());
    if method == Method::POST {
        all.extend(form_fields(body));
    }
    all
}

async fn authorize_request(
    State(s): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = params(&uri, &method, &body);
    let session = session_cookie(&headers);
    let answer = authorize::begin(&s, &tenant, &params, session.as_deref(), now());
    respond(&s, answer, &headers)
}

/// The sign-in form's answer: a user picked, or Cancel.
async fn sign_in(
    State(s): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The tenant of the URL first, as every other route of a tenant: an unknown one is
    // Entra's 90002 page, never echoed into a form.
    let tenant = match s.user_tenant(&tenant) {
        Ok(t) => t.id.clone(),
        Err(e) => return error_page(&e, &headers),
    };
    let form = form_fields(&body);
    let now = now();
    let ctx = param(&form, "ctx").unwrap_or_default();
    let Some(entry) = s
        .flows
        .pending
        .get(ctx, now)
        .filter(|p| pending_tenant(&s, &p.what, now).as_deref() == Some(tenant.as_str()))
    else {
        return html(
            StatusCode::BAD_REQUEST,
            pages::message(
                "This sign-in has expired",
                "The sign-in page was open too long, or was used already. Start the sign-in \
                 again from the app.",
            ),
        );
    };
    let cookie = cookie(&headers, CANARY_COOKIE);
    let field = param(&form, "canary");
    if !same_canary(&entry.canary, cookie.as_deref()) || !same_canary(&entry.canary, field) {
        // Not a redirect: nothing goes to the app, and the pending sign-in stays for the
        // browser it was shown to.
        return html(
            StatusCode::BAD_REQUEST,
            pages::message(
                "This sign-in was not sent from its page",
                "The sign-in form was sent without the cookie of the browser it was shown \
                 in, or from another site. Start the sign-in again from the app, in one \
                 browser, with cookies allowed.",
            ),
        );
    }
    let pending = entry.what.clone();
    if param(&form, "action") == Some("cancel") {
        s.flows.pending.remove(ctx);
        return match pending {
            Pending::Authorize(r) => respond(
                &s,
                authorize::back_with_error(target(&r), &Aadsts::UserDeclined),
                &headers,
            ),
            Pending::Device { device } => {
                if let Err(e) = device::answer(&s, &device, None, now) {
                    return error_page(&e, &headers);
                }
                html(
                    StatusCode::OK,
                    pages::message(
                        "Sign-in declined",
                        "You declined to sign in to the application on your device. You may \
                         now close this window.",
                    ),
                )
            }
        };
    }
    let upn = param(&form, "user").unwrap_or_default();
    let found = match s.user(upn) {
        Ok(u) => u.filter(|_| !upn.is_empty()),
        Err(e) => return error_page(&e, &headers),
    };
    let Some(user) = found else {
        let e = Aadsts::UserNotFound {
            upn: upn.to_string(),
            tenant: tenant.clone(),
        };
        let text = format!("AADSTS{}: {}", e.code(), e.message());
        return sign_in_page(&s, ctx, &entry, Some(&text), StatusCode::BAD_REQUEST);
    };
    s.flows.pending.remove(ctx);
    match pending {
        Pending::Authorize(r) => {
            respond(&s, authorize::complete(&s.flows, r, &user, now), &headers)
        }
        Pending::Device { device } => device_signed_in(&s, &device, &user.id, now, &headers),
    }
}

/// The tenant a pending sign-in belongs to (its device code's, for the device flow).
fn pending_tenant(s: &TokenService, p: &Pending, now: i64) -> Option<String> {
    match p {
        Pending::Authorize(r) => Some(r.tenant_id.clone()),
        Pending::Device { device } => s
            .flows
            .devices
            .get(device, now)
            .ok()
            .flatten()
            .map(|d| d.tenant_id),
    }
}

/// Whether the canary sent is the one the page was served with, compared in constant time.
fn same_canary(expected: &str, sent: Option<&str>) -> bool {
    match sent {
        Some(sent) if !expected.is_empty() => {
            aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), sent.as_bytes())
                .is_ok()
        }
        _ => false,
    }
}

fn device_signed_in(
    s: &TokenService,
    device: &Handle,
    user_id: &str,
    now: i64,
    headers: &HeaderMap,
) -> Response {
    let app_name = s
        .flows
        .devices
        .get(device, now)
        .ok()
        .flatten()
        .and_then(|d| app_name(s, &d.client_id))
        .unwrap_or_else(|| "the application".into());
    let answered = match device::answer(s, device, Some(user_id), now) {
        Ok(answered) => answered,
        Err(e) => return error_page(&e, headers),
    };
    if answered {
        html(
            StatusCode::OK,
            pages::message(
                "You have signed in",
                &format!(
                    "You have signed in to the {app_name} application on your device. You may \
                     now close this window."
                ),
            ),
        )
    } else {
        html(
            StatusCode::BAD_REQUEST,
            pages::message(
                "This code has expired",
                "The code expired or was used while you signed in. Start again on your device.",
            ),
        )
    }
}

async fn device_code(
    State(s): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form_fields(&body);
    let base = Face::of(&uri, &headers).names(&s.base).base;
    let corr = correlation_id(&headers);
    let client_id = param(&form, "client_id").map(str::to_string);
    let (mut resp, code) = match device::start(&s, &tenant, &form, &base, now()) {
        Ok(body) => (json_body(&body).into_response(), None),
        Err(e) => (e.response(&corr), Some(e.code())),
    };
    no_store(&mut resp);
    echo_request_id(&mut resp, &headers, &corr);
    resp.extensions_mut().insert(LogNote {
        client_id,
        aadsts: code,
    });
    resp
}

async fn device_page() -> Response {
    html(StatusCode::OK, pages::device_entry(device::PAGE_PATH, None))
}

async fn device_code_entered(
    State(s): State<Arc<TokenService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form_fields(&body);
    let now = now();
    let typed = param(&form, "user_code").unwrap_or_default();
    let (device, _) = match device::find(&s, typed, now) {
        Ok(found) => found,
        Err(why) => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::device_entry(device::PAGE_PATH, Some(why)),
            )
        }
    };
    if let Some(upn) = &s.flows.options.auto_sign_in {
        if let Ok(Some(user)) = s.user(upn) {
            return device_signed_in(&s, &device, &user.id, now, &headers);
        }
    }
    let ctx = s.flows.pending.insert(
        PendingSignIn {
            what: Pending::Device { device },
            canary: String::new(),
        },
        now.saturating_add(super::PENDING_LIFETIME_SECS),
        now,
    );
    open_sign_in_page(&s, &ctx, &headers, now)
}

/// `/logout`: the browser's session ends; the user goes back to `post_logout_redirect_uri`
/// when it is a redirect URI registered for the app (for any app when no `client_id` is
/// given), else sees a signed-out page, as Entra does.
async fn logout(
    State(s): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = s.user_tenant(&tenant) {
        return error_page(&e, &headers);
    }
    if let Some(id) = session_cookie(&headers) {
        if let Err(e) = s.flows.sessions.remove(&Handle::of(&id)) {
            return error_page(&e.into(), &headers);
        }
    }
    let uri = param(&query, "post_logout_redirect_uri").filter(|u| !u.is_empty());
    let client = param(&query, "client_id").and_then(|c| s.app(c).ok().flatten());
    let registered = |u: &str| {
        let matches = |a: &crate::config::App| {
            a.redirect_uris
                .iter()
                .any(|r| authorize::redirect_matches(r, u))
        };
        match &client {
            Some(view) => matches(&view.app),
            None => s.directory.any_app(&matches).unwrap_or(false),
        }
    };
    let mut resp = match uri {
        Some(u) if registered(u) => redirect(u),
        Some(u) => html(
            StatusCode::OK,
            pages::message(
                "You signed out of your account",
                &format!(
                    "You were not sent back to {u}: it is not a redirect URI registered for \
                     the app. It's a good idea to close all browser windows."
                ),
            ),
        ),
        None => html(
            StatusCode::OK,
            pages::message(
                "You signed out of your account",
                "It's a good idea to close all browser windows.",
            ),
        ),
    };
    let expired = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&expired) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn target(r: &super::AuthRequest) -> Target {
    Target {
        redirect_uri: r.redirect_uri.clone(),
        mode: r.response_mode,
        state: r.state.clone(),
    }
}

/// An [`Answer`] as HTTP.
fn respond(s: &TokenService, answer: Answer, headers: &HeaderMap) -> Response {
    match answer {
        Answer::ErrorPage(e) => error_page(&e, headers),
        Answer::SignIn { ctx } => open_sign_in_page(s, &ctx, headers, now()),
        Answer::Back {
            target,
            fields,
            session,
        } => {
            let mut resp = back(&target, &fields);
            if let Some(id) = session {
                let secure = if s.base.starts_with("https:") {
                    "; Secure"
                } else {
                    ""
                };
                let cookie =
                    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax{secure}");
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
    }
}

/// Fields sent to the redirect URI in the response mode asked.
fn back(target: &Target, fields: &[(&'static str, String)]) -> Response {
    let encoded = || {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            ser.append_pair(k, v);
        }
        ser.finish()
    };
    match (target.mode, url::Url::parse(&target.redirect_uri)) {
        // This page's one form posts to the app: exactly its origin may be posted to.
        (ResponseMode::FormPost, _) => html_csp(
            StatusCode::OK,
            pages::form_post(&target.redirect_uri, fields),
            &csp_source(&target.redirect_uri).unwrap_or_else(|| "'none'".into()),
        ),
        (ResponseMode::Query, Ok(mut u)) => {
            {
                let mut q = u.query_pairs_mut();
                for (k, v) in fields {
                    q.append_pair(k, v);
                }
            }
            redirect(u.as_str())
        }
        (ResponseMode::Fragment, Ok(mut u)) => {
            u.set_fragment(Some(&encoded()));
            redirect(u.as_str())
        }
        // Registered URIs are parsed when the config is loaded; this cannot happen.
        (_, Err(_)) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            pages::message("Sign-in error", "The redirect URI cannot be used."),
        ),
    }
}

fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    no_store(&mut resp);
    resp
}

/// The sign-in page for the pending sign-in `ctx`, just made: it is bound to this browser's
/// sign-in cookie (the one it has, or a new one), which the page sets.
fn open_sign_in_page(s: &TokenService, ctx: &str, headers: &HeaderMap, now: i64) -> Response {
    let canary = cookie(headers, CANARY_COOKIE)
        .filter(|c| {
            c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or_else(|| super::store::random_token(32));
    let entry = s.flows.pending.update(ctx, now, |p| {
        p.canary = canary.clone();
        p.clone()
    });
    let Some(entry) = entry else {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::message(
                "Sign-in is busy",
                "Too many sign-ins are open at once. Try again in a few minutes.",
            ),
        );
    };
    let mut resp = sign_in_page(s, ctx, &entry, None, StatusCode::OK);
    let secure = if s.base.starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{CANARY_COOKIE}={canary}; Path=/; HttpOnly; SameSite=Lax{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn sign_in_page(
    s: &TokenService,
    ctx: &str,
    entry: &PendingSignIn,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let now = now();
    let (client_id, hint, device, back_to) = match &entry.what {
        Pending::Authorize(r) => (
            Some(r.client_id.clone()),
            r.login_hint.clone(),
            false,
            Some(r.redirect_uri.as_str()),
        ),
        Pending::Device { device } => (
            s.flows
                .devices
                .get(device, now)
                .ok()
                .flatten()
                .map(|d| d.client_id),
            None,
            true,
            None,
        ),
    };
    let app_name = client_id
        .and_then(|c| app_name(s, &c))
        .unwrap_or_else(|| "the application".into());
    // The form posts to a route of this service built from the tenant's id as the config
    // has it (a GUID or a DNS name), never from the URL a request came in on.
    let tenant = pending_tenant(s, &entry.what, now)
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
        .or_else(|| {
            s.directory
                .tenants()
                .ok()
                .and_then(|t| t.first().map(|t| t.id.clone()))
        })
        .unwrap_or_else(|| "common".into());
    let action = format!("/{tenant}/login");
    // The answer to the form may be a redirect to the app, which form-action also governs.
    let form_action = match back_to.and_then(csp_source) {
        Some(app) => format!("'self' {app}"),
        None => "'self'".to_string(),
    };
    html_csp(
        status,
        pages::sign_in(&pages::SignIn {
            app_name: &app_name,
            action: &action,
            ctx,
            canary: &entry.canary,
            users: &listed_users(s, hint.as_deref()),
            checked: hint.as_deref(),
            error,
            device,
        }),
        &form_action,
    )
}

/// A redirect URI's origin as a CSP source (`https://app.example:8443`), or its scheme for an
/// app's own scheme (`msal…:`), whose origin is opaque.
fn csp_source(redirect_uri: &str) -> Option<String> {
    let u = url::Url::parse(redirect_uri).ok()?;
    let origin = u.origin();
    let source = if origin.is_tuple() {
        origin.ascii_serialization()
    } else {
        format!("{}:", u.scheme())
    };
    source
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',' && b != b'\'')
        .then_some(source)
}

fn error_page(e: &Aadsts, headers: &HeaderMap) -> Response {
    let corr = correlation_id(headers);
    let trace = uuid::Uuid::new_v4().to_string();
    // The service's own trouble (its database unavailable) keeps its 5xx, so a browser test or
    // a proxy sees a failure to retry rather than a refusal of the request.
    let status = if e.status().is_server_error() {
        e.status()
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut resp = html(status, pages::error(e.code(), &e.message(), &trace, &corr));
    resp.extensions_mut().insert(LogNote {
        client_id: None,
        aadsts: Some(e.code()),
    });
    resp
}

/// A page, never cached or framed, and leaking no URL through `Referer`; its forms may post
/// only to this service.
fn html(status: StatusCode, page: Markup) -> Response {
    html_csp(status, page, "'self'")
}

/// [`html`], its forms allowed to post to `form_action` (CSP sources).
fn html_csp(status: StatusCode, page: Markup, form_action: &str) -> Response {
    let mut resp = (status, page.into_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
         frame-ancestors 'none'; form-action {form_action}"
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).unwrap_or_else(|_| {
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                 frame-ancestors 'none'; form-action 'self'",
            )
        }),
    );
    no_store(&mut resp);
    resp
}

/// The session id the browser sent, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of the cookie `name` the browser sent, if any.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The users a sign-in page lists: the directory's first [`SIGN_IN_PAGE_USERS`], and the one
/// `login_hint` names wherever it is, so a page for a directory of 100,000 stays small and
/// any user can still be picked.
fn listed_users(s: &TokenService, hint: Option<&str>) -> Vec<crate::config::User> {
    let mut users: Vec<crate::config::User> = s
        .directory
        .page(crate::directory::Kind::User, None, SIGN_IN_PAGE_USERS)
        .map(|p| p.objects.iter().map(crate::directory::view::user).collect())
        .unwrap_or_default();
    if let Some(hinted) = hint.and_then(|h| s.user(h).ok().flatten()) {
        if !users.iter().any(|u| u.id == hinted.id) {
            users.insert(0, hinted);
        }
    }
    users
}

/// How many users a sign-in page lists.
const SIGN_IN_PAGE_USERS: usize = 50;

/// An app's display name, for a page.
fn app_name(s: &TokenService, client_id: &str) -> Option<String> {
    s.app(client_id)
        .ok()
        .flatten()
        .map(|v| v.app.display_name.clone())
}
