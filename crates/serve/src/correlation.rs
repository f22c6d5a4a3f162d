//! The correlation id of a request, as Entra reports it in error bodies and pages, and the
//! `client-request-id` header echoed back (MSAL sends one and logs the echo); see
//! <https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

/// Entra uses the client's `client-request-id` (MSAL sends one) as the correlation id.
pub fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Echoes `client-request-id` when the client sent one.
pub fn echo_request_id(resp: &mut Response, headers: &HeaderMap, corr: &str) {
    if headers.contains_key("client-request-id") {
        if let Ok(v) = HeaderValue::from_str(corr) {
            resp.headers_mut().insert("client-request-id", v);
        }
    }
}
