//! The HTTP surface: the routes of the spec, each a thin handler over [`TokenService`] and
//! [`metadata`], plus the limits that keep the service up under any input.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;

use super::aadsts::{json_body, no_store, Aadsts};
use super::access_log::{self, LogFormat, LogNote};
use super::body_limit;
use super::correlation::{correlation_id, echo_request_id};
use super::face::{Face, Names};
use super::instance_discovery;
use super::metadata;
use super::portal_api::PortalApi;
use super::resource_manager::ResourceManager;
use super::service::{TokenRequest, TokenService};
use super::tokens::Endpoint;
use certgen::cloud::Service;

/// Tenant segments whose discovery documents are served with the `{tenantid}` template.
const MULTI_TENANT_DOCUMENTS: [&str; 2] = ["common", "organizations"];

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
pub fn router(
    service: Arc<TokenService>,
    workloads: Router<Arc<TokenService>>,
    log: LogFormat,
    max_in_flight: usize,
) -> Router {
    // Clamped: 0 would refuse everything, and above MAX_PERMITS the semaphore panics.
    let slots = Arc::new(Semaphore::new(
        max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let other_hosts = Arc::new(OtherHosts {
        resource_manager: ResourceManager::new(&service),
        portal: PortalApi::new(&service),
        service: service.clone(),
    });
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
        .route("/{tenant}/discovery/instance", get(instance_discovery))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .merge(super::graph::router(service.clone()))
        .merge(super::user_flow::routes::router(service.clone()))
        .merge(workloads)
        .fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let other_hosts = other_hosts.clone();
            async move { other_hosts.answer(method, uri, headers).await }
        })
        .with_state(service)
        .layer(axum::middleware::from_fn(|req, next| {
            body_limit::limit(MAX_BODY_BYTES, req, next)
        }))
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

/// Paths are routed with empty segments collapsed, as Entra answers them: MSAL Python asks for
/// `{authority}//v2.0/.well-known/openid-configuration` when its authority ends in `/`.
pub fn collapse_empty_segments<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let uri = req.uri();
    if !uri.path().contains("//") {
        return req;
    }
    let mut path = String::with_capacity(uri.path().len());
    for c in uri.path().chars() {
        if !(c == '/' && path.ends_with('/')) {
            path.push(c);
        }
    }
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    // A path made only shorter stays a valid path; on the impossible failure, route it as sent.
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(collapsed) = Uri::from_parts(parts) {
            *req.uri_mut() = collapsed;
        }
    }
    req
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
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let face = Face::of(&uri, &headers);
    let form = super::service::form_fields(&body);
    super::federation::prepare(&s.issuers, &form).await;
    token(&s, &tenant, Endpoint::V2, face, &headers, &form)
}

async fn token_v1(
    State(s): State<Arc<TokenService>>,
    Path(tenant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let face = Face::of(&uri, &headers);
    let form = super::service::form_fields(&body);
    super::federation::prepare(&s.issuers, &form).await;
    token(&s, &tenant, Endpoint::V1, face, &headers, &form)
}

fn token(
    s: &TokenService,
    tenant: &str,
    endpoint: Endpoint,
    face: Face,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let outcome = s.token(&TokenRequest {
        tenant,
        endpoint,
        form,
        authorization,
        now: OffsetDateTime::now_utc().unix_timestamp(),
        face,
    });
    // The correlation id is made only when something shows it (an error body, the echoed
    // header): a fresh one costs a getrandom(2) call, on the grant path for nothing.
    let (mut resp, code, corr) = match outcome.result {
        Ok(body) => {
            let mut resp = (StatusCode::OK, json_body(&body)).into_response();
            no_store(&mut resp);
            (resp, None, None)
        }
        Err(e) => {
            let corr = correlation_id(headers);
            (e.response(&corr), Some(e.code()), Some(corr))
        }
    };
    if let Some(corr) = corr.or_else(|| {
        headers
            .contains_key("client-request-id")
            .then(|| correlation_id(headers))
    }) {
        echo_request_id(&mut resp, headers, &corr);
    }
    resp.extensions_mut().insert(LogNote {
        client_id: outcome.client_id,
        aadsts: code,
    });
    resp
}

async fn post_only(method: Method, headers: HeaderMap) -> Response {
    refuse(&Aadsts::PostOnly(method.to_string()), &headers)
}

async fn discovery_v2(s: State<Arc<TokenService>>, t: Path<String>, r: Parts) -> Response {
    for_tenant(s, t, r, |_, names, segment, tid| {
        metadata::openid_configuration_v2(names, segment, tid)
    })
}

async fn discovery_v1(s: State<Arc<TokenService>>, t: Path<String>, r: Parts) -> Response {
    for_tenant(s, t, r, |_, names, segment, tid| {
        metadata::openid_configuration_v1(names, segment, tid)
    })
}

async fn keys_v2(s: State<Arc<TokenService>>, t: Path<String>, r: Parts) -> Response {
    for_tenant(s, t, r, |s, names, _, tid| {
        metadata::jwks(&s.signer, &names.issuer_v2(tid))
    })
}

async fn keys_v1(s: State<Arc<TokenService>>, t: Path<String>, r: Parts) -> Response {
    for_tenant(s, t, r, |s, names, _, tid| {
        metadata::jwks(&s.signer, &names.issuer_v1(tid))
    })
}

/// A metadata document for a known tenant (by the URL segment and its id), for the
/// multi-tenant segments with Entra's `{tenantid}` template, or 90002; named for the face the
/// client reached.
fn for_tenant(
    State(s): State<Arc<TokenService>>,
    Path(segment): Path<String>,
    request: Parts,
    document: impl FnOnce(&TokenService, &Names, &str, &str) -> serde_json::Value,
) -> Response {
    let names = Face::of(&request.uri, &request.headers).names(&s.base);
    if MULTI_TENANT_DOCUMENTS
        .iter()
        .any(|m| m.eq_ignore_ascii_case(&segment))
    {
        return metadata_response(document(&s, &names, &segment, metadata::TENANT_TEMPLATE));
    }
    match s.tenant(&segment, true) {
        Ok(t) => metadata_response(document(&s, &names, &segment, &t.id)),
        Err(e) => refuse(&e, &request.headers),
    }
}

/// `/{tenant}/discovery/instance`: Entra's cloud aliases, so MSAL and Azure Identity can keep
/// instance discovery on.
async fn instance_discovery(
    State(s): State<Arc<TokenService>>,
    Query(query): Query<Vec<(String, String)>>,
    request: Parts,
) -> Response {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let face = Face::of(&request.uri, &request.headers);
    let answer = instance_discovery::answer(
        &face.names(&s.base),
        &s.audience_bases,
        param("api-version"),
        param("authorization_endpoint"),
    );
    match answer {
        Ok(body) => {
            let mut resp = metadata_response(body);
            resp.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            resp
        }
        Err(e) => refuse(&e, &request.headers),
    }
}

async fn health() -> Response {
    json_body(&json!({"status": "ok"})).into_response()
}

/// Readiness, for CI service containers and compose health checks: the listener only accepts
/// once the directory is open and seeded, so this answers 200 with what it holds while the
/// directory can be read, and 503 when it cannot (a damaged or vanished database).
async fn ready(State(s): State<Arc<TokenService>>) -> Response {
    use crate::directory::Kind;
    let counts = (|| -> Result<Value, crate::directory::StoreError> {
        Ok(json!({
            "tenants": s.directory.count(Kind::Tenant)?,
            "applications": s.directory.count(Kind::Application)?,
            "servicePrincipals": s.directory.count(Kind::ServicePrincipal)?,
            "users": s.directory.count(Kind::User)?,
            "groups": s.directory.count(Kind::Group)?,
        }))
    })();
    match counts {
        Ok(directory) => {
            json_body(&json!({"status": "ready", "directory": directory})).into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json_body(&json!({"status": "unavailable", "reason": e.to_string()})),
        )
            .into_response(),
    }
}

/// What answers the paths no route took: Resource Manager's and the portal API's, when the
/// request reached their host (through `--proxy` or an SNI route); a 404 otherwise. By host,
/// not by path: `/subscriptions` is Resource Manager's only on Resource Manager's name.
struct OtherHosts {
    resource_manager: ResourceManager,
    portal: PortalApi,
    service: Arc<TokenService>,
}

impl OtherHosts {
    async fn answer(&self, method: Method, uri: Uri, headers: HeaderMap) -> Response {
        match Face::of(&uri, &headers) {
            face @ Face::Microsoft(h) if h.service == Service::ResourceManager => {
                let authority = face.names(&self.service.base).base;
                self.resource_manager
                    .answer(&self.service, &method, &uri, &headers, &authority)
                    .await
            }
            Face::Microsoft(h) if h.service == Service::PortalApi => {
                self.portal
                    .answer(&self.service, &method, &uri, &headers)
                    .await
            }
            _ => not_found(method).await,
        }
    }
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
