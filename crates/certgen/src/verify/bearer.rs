//! The HTTP side of a protected API (RFC 6750): take the bearer token from `Authorization`,
//! validate it, and answer what the client needs to know when it fails.
//!
//! - no token (or another scheme): 401 with `WWW-Authenticate: Bearer`
//! - a token that fails validation: 401, `Bearer error="invalid_token", error_description="…"`
//! - a valid token without a required role: 403, `Bearer error="insufficient_scope", …`
//! - the keys or metadata cannot be read: 503 (the caller's token may be fine)

use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{ValidToken, Validator, VerifyError};

/// Why a request was refused, ready to become a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status to answer with (401 or 403).
    pub status: StatusCode,
    /// The `WWW-Authenticate` value (absent for 503).
    pub challenge: Option<String>,
    /// RFC 6750 error code (`invalid_token`, `insufficient_scope`), if any.
    pub error: Option<&'static str>,
    /// The `error_description` of the `WWW-Authenticate` header.
    pub description: String,
}

/// Validates the request's bearer token.
pub async fn authorize(
    validator: &Validator,
    headers: &HeaderMap,
) -> Result<ValidToken, Rejection> {
    let token = bearer_token(headers).ok_or_else(|| Rejection {
        status: StatusCode::UNAUTHORIZED,
        challenge: Some("Bearer".into()),
        error: None,
        description: "a bearer token is required (Authorization: Bearer <access token>)".into(),
    })?;
    validator.validate(token).await.map_err(Rejection::from)
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive), if there is one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    crate::jose::bearer_token(headers.get(AUTHORIZATION)?.to_str().ok()?)
}

impl From<VerifyError> for Rejection {
    fn from(e: VerifyError) -> Self {
        let description = e.to_string();
        let (status, error) = if e.is_insufficient_scope() {
            (StatusCode::FORBIDDEN, Some("insufficient_scope"))
        } else if e.is_rejection() {
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, None)
        };
        let challenge = error.map(|code| {
            format!(
                "Bearer error=\"{code}\", error_description=\"{}\"",
                quoted_string_safe(&description)
            )
        });
        Rejection {
            status,
            challenge,
            error,
            description,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = Json(json!({
            "error": self.error.unwrap_or("temporarily_unavailable"),
            "error_description": self.description,
        }));
        let mut response = (self.status, body).into_response();
        if let Some(value) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// RFC 6750 allows only printable ASCII without `"` and `\` in `error_description`.
fn quoted_string_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_from_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer  abc "));
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwdw=="),
        );
        assert_eq!(bearer_token(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn challenges_follow_rfc6750() {
        let r = Rejection::from(VerifyError::AlgNone);
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.challenge.as_deref(),
            Some("Bearer error=\"invalid_token\", error_description=\"alg 'none': unsigned tokens are never accepted, only RS256\"")
        );
        let r = Rejection::from(VerifyError::MissingRoles {
            missing: vec!["W".into()],
            has: vec![],
        });
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r
            .challenge
            .unwrap()
            .starts_with("Bearer error=\"insufficient_scope\""));
        let r = Rejection::from(VerifyError::Unreachable {
            url: "https://idp".into(),
            reason: "timeout".into(),
        });
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.challenge, None);
    }
}
