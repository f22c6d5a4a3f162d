//! Graph's refusals as `certgen serve` answers them: status, OData envelope
//! (<https://learn.microsoft.com/en-us/graph/api/application-addkey>, <https://learn.microsoft.com/en-us/graph/errors>), Graph's headers, and `WWW-Authenticate` on a 401.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use certgen::graph::cloud::GRAPH_APP_ID;
use certgen::graph::odata::{ErrorEnvelope, InnerError, ODataError};

/// What every Graph answer carries (Graph sends OData JSON with these parameters).
pub const CONTENT_TYPE: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// The ids of one request: a fresh `request-id`, and the caller's `client-request-id` (Graph
/// echoes it; without one it uses the request id).
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub client_request_id: String,
}

impl RequestIds {
    pub fn new(headers: &HeaderMap) -> RequestIds {
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string)
            .unwrap_or_else(|| request_id.clone());
        RequestIds {
            request_id,
            client_request_id,
        }
    }

    /// Graph's `request-id` and `client-request-id` response headers.
    pub fn stamp(&self, resp: &mut Response) {
        for (name, value) in [
            ("request-id", &self.request_id),
            ("client-request-id", &self.client_request_id),
        ] {
            if let Ok(v) = HeaderValue::from_str(value) {
                resp.headers_mut().insert(name, v);
            }
        }
    }
}

/// One refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl GraphError {
    /// 401 `InvalidAuthenticationToken` (<https://learn.microsoft.com/en-us/graph/errors>).
    pub fn invalid_token(message: impl Into<String>) -> GraphError {
        GraphError {
            status: StatusCode::UNAUTHORIZED,
            code: "InvalidAuthenticationToken",
            message: message.into(),
        }
    }

    /// 403, exactly what the Python daemon sample's troubleshooting section shows.
    pub fn insufficient_privileges() -> GraphError {
        GraphError {
            status: StatusCode::FORBIDDEN,
            code: "Authorization_RequestDenied",
            message: "Insufficient privileges to complete the operation.".into(),
        }
    }

    /// 404 for a user or application that does not exist (Graph's directory text).
    pub fn not_found(id: &str) -> GraphError {
        GraphError {
            status: StatusCode::NOT_FOUND,
            code: "Request_ResourceNotFound",
            message: format!(
                "Resource '{id}' does not exist or one of its queried reference-property \
                 objects are not present."
            ),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> GraphError {
        GraphError {
            status: StatusCode::BAD_REQUEST,
            code,
            message: message.into(),
        }
    }

    /// A path this slice does not serve, as Graph answers an unknown segment.
    pub fn unknown_segment(segment: &str) -> GraphError {
        GraphError::bad_request(
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
    }

    /// A method the resource does not take. UNCONFIRMED: Graph's code for this case is not in
    /// the reference; the directory's `Request_BadRequest` with 405 is what it is seen to send.
    pub fn method_not_allowed() -> GraphError {
        GraphError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "Request_BadRequest",
            message: "Specified HTTP method is not allowed for the request uri.".into(),
        }
    }

    /// 503 `serviceNotAvailable` when the directory cannot be read or written
    /// (<https://learn.microsoft.com/en-us/graph/errors>: "The service is temporarily
    /// unavailable"); nothing of the request was kept, and clients retry.
    pub fn unavailable(message: impl Into<String>) -> GraphError {
        GraphError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "serviceNotAvailable",
            message: message.into(),
        }
    }

    /// The envelope, with `innerError` as Graph fills it.
    pub fn envelope(&self, ids: &RequestIds, now: OffsetDateTime) -> ErrorEnvelope {
        ErrorEnvelope {
            error: ODataError {
                code: self.code.to_string(),
                message: self.message.clone(),
                inner_error: Some(InnerError {
                    date: Some(graph_date(now)),
                    request_id: Some(ids.request_id.clone()),
                    client_request_id: Some(ids.client_request_id.clone()),
                }),
            },
        }
    }

    /// The answer. A 401 carries Graph's challenge, pointing at this service's authority
    /// (Graph names `login.microsoftonline.com/common`; here the local authority stands in).
    pub fn response(&self, ids: &RequestIds, authority_base: &str) -> Response {
        let body =
            serde_json::to_vec(&self.envelope(ids, OffsetDateTime::now_utc())).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = format!(
                "Bearer realm=\"\", authorization_uri=\"{authority_base}/common/oauth2/authorize\", \
                 client_id=\"{GRAPH_APP_ID}\""
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        ids.stamp(&mut resp);
        resp
    }
}

/// `innerError.date`: UTC to the second, without an offset (`2020-08-18T16:38:16`).
pub fn graph_date(now: OffsetDateTime) -> String {
    let t = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl From<crate::directory::StoreError> for GraphError {
    fn from(e: crate::directory::StoreError) -> GraphError {
        GraphError::unavailable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_graph_writes_them() {
        let t = time::macros::datetime!(2026-03-04 05:06:07.89 +01:00);
        assert_eq!(graph_date(t), "2026-03-04T04:06:07");
    }

    #[test]
    fn the_client_request_id_is_echoed_or_stands_in() {
        let mut h = HeaderMap::new();
        let ids = RequestIds::new(&h);
        assert_eq!(ids.request_id, ids.client_request_id);
        h.insert("client-request-id", HeaderValue::from_static("abc"));
        let ids = RequestIds::new(&h);
        assert_eq!(ids.client_request_id, "abc");
        assert_ne!(ids.request_id, "abc");
    }
}
