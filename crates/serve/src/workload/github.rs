//! The GitHub Actions runner's OIDC token endpoint: `ACTIONS_ID_TOKEN_REQUEST_URL` answers
//! `GET …&audience=AUD` with `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` by
//! `{"value": JWT}`, as `@actions/core`'s `getIDToken()` asks for it
//! (actions/toolkit `packages/core/src/oidc-utils.ts`). Also each workload issuer's discovery
//! document and key set, for a client that wants to check a token it was given.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::claims;
use super::Workloads;
use crate::config::{Platform, TokenVersion};

/// The URL a job asks: a query already begun, as the runner's own URL is (`…?api-version=2.0`),
/// since the clients append `&audience=…`.
pub fn request_url(base: &str, name: &str) -> String {
    format!("{base}/workloads/{name}/idtoken?api-version=2.0")
}

/// The longest `audience` accepted: Entra bounds a federated credential's audience at 600
/// characters, so a longer one could never match.
const MAX_AUDIENCE: usize = 600;

pub fn router<S: Clone + Send + Sync + 'static>(workloads: Arc<Workloads>) -> Router<S> {
    Router::new()
        .route("/workloads/{name}/idtoken", get(id_token))
        .route(
            "/workloads/{name}/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/workloads/{name}/jwks", get(jwks))
        .with_state(workloads)
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "message": text }))).into_response()
}

async fn id_token(
    State(w): State<Arc<Workloads>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let by_name = w.by_name();
    let Some(r) = by_name
        .get(name.as_str())
        .filter(|r| matches!(r.workload.platform, Platform::Github { .. }))
    else {
        return message(StatusCode::NOT_FOUND, "no such GitHub workload");
    };
    // UNCONFIRMED: the runner service's exact statuses; 401 without a bearer and 403 with a
    // wrong one, as a token service tells the two apart (RFC 6750 §3.1).
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match bearer {
        None => {
            return message(
                StatusCode::UNAUTHORIZED,
                "no bearer token: send Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            )
        }
        Some(t) if !r.accepts(t) => {
            return message(
                StatusCode::FORBIDDEN,
                "the bearer token is not this job's ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            )
        }
        Some(_) => {}
    }
    let audience = query
        .get("audience")
        .map(String::as_str)
        .filter(|a| !a.is_empty());
    if audience.is_some_and(|a| a.len() > MAX_AUDIENCE) {
        return message(StatusCode::BAD_REQUEST, "the audience is too long");
    }
    let c = claims::github(&r.workload, audience, claims::now());
    match r.key.sign(TokenVersion::V2, c) {
        Ok(jwt) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({ "value": jwt })),
        )
            .into_response(),
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "signing failed"),
    }
}

/// The workload issuer's discovery document, in the minimal form a federation issuer
/// publishes (azure-workload-identity's `discovery-document.md`). Its `issuer` is the name
/// tokens carry, which for the platforms' real names is not this URL.
async fn discovery(State(w): State<Arc<Workloads>>, Path(name): Path<String>) -> Response {
    let by_name = w.by_name();
    let Some(r) = by_name.get(name.as_str()) else {
        return message(StatusCode::NOT_FOUND, "no such workload");
    };
    Json(json!({
        "issuer": r.workload.issuer,
        "jwks_uri": format!("{}/workloads/{name}/jwks", w.base),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(w): State<Arc<Workloads>>, Path(name): Path<String>) -> Response {
    let by_name = w.by_name();
    let Some(r) = by_name.get(name.as_str()) else {
        return message(StatusCode::NOT_FOUND, "no such workload");
    };
    Json(crate::metadata::jwks(&r.key, &r.workload.issuer)).into_response()
}
