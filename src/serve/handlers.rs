//! The HTTP surface: the routes of the spec, each a thin handler over [`TokenService`] and
//! [`metadata`], plus the limits that keep the service up under any input.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::aadsts::{json_body, no_store, Aadsts};
use super::access_log::{self, LogFormat, LogNote};
use super::grant::{TokenRequest, TokenService};
use super::metadata;
use super::tokens::{issuer_v1, issuer_v2, Endpoint};

/// Largest request body accepted: a token request with a 4096-bit assertion and an `x5c`
/// chain is a few KiB; anything near this is not a token request.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest a request may take from its headers to its response.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The default of `--max-in-flight`: far above what a test suite or a developer's machine
/// sends at once, low enough that a runaway client cannot pile up unbounded work.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// What a client at the in-flight limit is told to wait (`Retry-After`): requests here take
/// milliseconds, so a slot is free again long before a second has passed.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The router of the service; at most `max_in_flight` requests are handled at once.
pub fn router(service: Arc<TokenService>, log: LogFormat, max_in_flight: usize) -> Router {
    // Clamped: 0 would refuse everything, and above MAX_PERMITS the semaphore panics.
    let slots = Arc::new(Semaphore::new(
        max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
    ));
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(token_v2).fallback(post_only),
        )
        .route("/{tenant}/oauth2/token", post(token_v1).fallback(post_only))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery_v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery_v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys_v2))
        .route("/{tenant}/discovery/keys", get(keys_v1))
        .route("/health", get(health))
        .merge(super::graph::router(service.clone()))
        .fallback(not_found)
        .with_state(service)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Outside the timeout, so a request cut off by it gives its slot back; inside the log,
        // so refusals for overload are logged like any other.
        .layer(axum::middleware::from_fn_with_state(slots, limit_in_flight))
        .layer(axum::middleware::from_fn_with_state(
            log,
            access_log::log_request,
        ))
}

/// Holds one slot from the request's headers until its response (the body is read inside, so
/// a slow sender keeps its slot); with none free, refuses at once rather than queueing.
async fn limit_in_flight(
    State(slots): State<Arc<Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    match slots.try_acquire_owned() {
        Ok(_slot) => next.run(req).await,
        Err(_) => refuse(
            &Aadsts::Overloaded {
                retry_after_secs: RETRY_AFTER_SECS,
            },
            req.headers(),
        ),
    }
}

async fn token_v2(
    State(s): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&s, &tenant, Endpoint::V2, &headers, &body)
}

async fn token_v1(
    State(s): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(&s, &tenant, Endpoint::V1, &headers, &body)
}

fn token(
    s: &TokenService,
    tenant: &str,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    // The body is parsed as a form whatever its Content-Type, as a lenient server would;
    // bad encodings decode lossily and then fail as missing or wrong fields.
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let outcome = s.token(&TokenRequest {
        tenant,
        endpoint,
        form: &form,
        authorization,
        now: OffsetDateTime::now_utc().unix_timestamp(),
    });
    let corr = correlation_id(headers);
    let (mut resp, code) = match outcome.result {
        Ok(body) => {
            let mut resp = (StatusCode::OK, json_body(&body)).into_response();
            no_store(&mut resp);
            (resp, None)
        }
        Err(e) => (e.response(&corr), Some(e.code())),
    };
    echo_request_id(&mut resp, headers, &corr);
    resp.extensions_mut().insert(LogNote {
        client_id: outcome.client_id,
        aadsts: code,
    });
    resp
}

async fn post_only(method: Method, headers: HeaderMap) -> Response {
    refuse(&Aadsts::PostOnly(method.to_string()), &headers)
}

async fn discovery_v2(s: State<Arc<TokenService>>, t: Path<String>, h: HeaderMap) -> Response {
    for_tenant(s, t, h, |s, segment, tid| {
        metadata::openid_configuration_v2(&s.base, segment, tid)
    })
}

async fn discovery_v1(s: State<Arc<TokenService>>, t: Path<String>, h: HeaderMap) -> Response {
    for_tenant(s, t, h, |s, segment, tid| {
        metadata::openid_configuration_v1(&s.base, segment, tid)
    })
}

async fn keys_v2(s: State<Arc<TokenService>>, t: Path<String>, h: HeaderMap) -> Response {
    for_tenant(s, t, h, |s, _, tid| {
        metadata::jwks(&s.signer, &issuer_v2(&s.base, tid))
    })
}

async fn keys_v1(s: State<Arc<TokenService>>, t: Path<String>, h: HeaderMap) -> Response {
    for_tenant(s, t, h, |s, _, tid| {
        metadata::jwks(&s.signer, &issuer_v1(&s.base, tid))
    })
}

/// A metadata document for a known tenant (by the URL segment and its id), or 90002.
fn for_tenant(
    State(s): State<Arc<TokenService>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    document: impl FnOnce(&TokenService, &str, &str) -> serde_json::Value,
) -> Response {
    match s.tenant(&segment, true) {
        Ok(t) => metadata_response(document(&s, &segment, &t.id)),
        Err(e) => refuse(&e, &headers),
    }
}

async fn health() -> Response {
    json_body(&json!({"status": "ok"})).into_response()
}

async fn not_found(method: Method) -> Response {
    let body = json!({
        "error": "not_found",
        "error_description": format!(
            "certgen serve has no {method} endpoint at this path; see /{{tenant}}/v2.0/.well-known/openid-configuration"
        ),
    });
    (StatusCode::NOT_FOUND, json_body(&body)).into_response()
}

fn refuse(e: &Aadsts, headers: &HeaderMap) -> Response {
    let corr = correlation_id(headers);
    let mut resp = e.response(&corr);
    echo_request_id(&mut resp, headers, &corr);
    resp.extensions_mut().insert(LogNote {
        client_id: None,
        aadsts: Some(e.code()),
    });
    resp
}

/// Discovery documents and keys may be cached by clients, as Entra allows (a day, private).
fn metadata_response(body: serde_json::Value) -> Response {
    let mut resp = json_body(&body).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    resp
}

/// Entra uses the client's `client-request-id` (MSAL sends one) as the correlation id.
fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn echo_request_id(resp: &mut Response, headers: &HeaderMap, corr: &str) {
    if headers.contains_key("client-request-id") {
        if let Ok(v) = HeaderValue::from_str(corr) {
            resp.headers_mut().insert("client-request-id", v);
        }
    }
}
