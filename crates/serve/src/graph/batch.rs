//! JSON batching: `POST /v1.0/$batch` (<https://learn.microsoft.com/en-us/graph/json-batching>)
//! with up to [`MAX_REQUESTS`] requests, each served as if sent alone with the batch's own
//! token, and answered with its `id`, `status`, `headers` and `body`.
//!
//! Requests run one after the other in the order given, so a `dependsOn` naming an earlier
//! request is always met; a request whose dependency failed is answered 424, as Graph does.
//! Graph may run requests without `dependsOn` in parallel and answer in any order; here the
//! order is the one given (clients match answers by `id`).

use axum::http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::error::{GraphError, RequestIds, CONTENT_TYPE};
use super::{json_body, Reply};

/// The most requests one batch carries (<https://learn.microsoft.com/en-us/graph/json-batching>:
/// "JSON batch requests are currently limited to 20 individual requests").
pub const MAX_REQUESTS: usize = 20;

/// Serves one request of a batch: method, path under `/v1.0`, query, body.
pub type Serve<'a> = dyn Fn(&Method, &str, Option<&str>, &[u8]) -> Result<Reply, GraphError> + 'a;

/// UNCONFIRMED: Graph's code and text for a payload it cannot read as a batch.
fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("BadRequest", message)
}

pub fn run(body: &[u8], ids: &RequestIds, serve: &Serve) -> Result<Reply, GraphError> {
    let body = json_body(body)?;
    let Some(requests) = body.get("requests").and_then(Value::as_array) else {
        return Err(invalid(
            "Invalid batch payload format: 'requests' must be an array.",
        ));
    };
    if requests.len() > MAX_REQUESTS {
        // UNCONFIRMED: Graph's exact text.
        return Err(invalid(format!(
            "The batch has {} requests; at most {MAX_REQUESTS} are allowed.",
            requests.len()
        )));
    }
    let mut seen: Vec<(String, u16)> = Vec::new();
    let mut responses = Vec::new();
    for r in requests {
        let Some(r) = r.as_object() else {
            return Err(invalid(
                "Invalid batch payload format: each request must be an object.",
            ));
        };
        let Some(id) = r
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Err(invalid(
                "Invalid batch payload format: each request needs an 'id'.",
            ));
        };
        if seen.iter().any(|(s, _)| s == id) {
            return Err(invalid(format!("Batch request id '{id}' is used twice.")));
        }
        let status_of = |reply: Result<Reply, GraphError>| -> (u16, Option<Value>) {
            match reply {
                Ok(Reply { status, body }) => (status.as_u16(), body),
                Err(e) => (
                    e.status.as_u16(),
                    serde_json::to_value(e.envelope(ids, OffsetDateTime::now_utc())).ok(),
                ),
            }
        };
        let failed_dependency = depends_on(r)
            .iter()
            .find(|d| seen.iter().any(|(s, st)| s == *d && *st >= 400))
            .map(|d| GraphError {
                status: StatusCode::FAILED_DEPENDENCY,
                code: "BadRequest",
                message: format!("Failed dependency: request '{d}' failed."),
            });
        let (status, answer) = match failed_dependency {
            Some(e) => status_of(Err(e)),
            None => status_of(one(r, serve)),
        };
        seen.push((id.to_string(), status));
        let mut item = Map::new();
        item.insert("id".into(), json!(id));
        item.insert("status".into(), json!(status));
        match answer {
            Some(b) => {
                item.insert("headers".into(), json!({"Content-Type": CONTENT_TYPE}));
                item.insert("body".into(), b);
            }
            None => {
                item.insert("headers".into(), json!({}));
            }
        }
        responses.push(Value::Object(item));
    }
    Ok(Reply::ok(json!({ "responses": responses })))
}

fn depends_on(r: &Map<String, Value>) -> Vec<&str> {
    r.get("dependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// One request of the batch.
fn one(r: &Map<String, Value>, serve: &Serve) -> Result<Reply, GraphError> {
    let method = r
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .ok_or_else(|| invalid("Invalid batch payload format: 'method' is missing."))?;
    let url = r
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("Invalid batch payload format: 'url' is missing."))?;
    if url.contains("://") {
        // Graph's batch URLs are relative to the version (`/users`, `users/{id}`).
        return Err(invalid(
            "The url of a batch request must be relative, such as /users.",
        ));
    }
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (url, None),
    };
    let path = format!("/v1.0/{}", path.trim_start_matches('/'));
    if path.eq_ignore_ascii_case("/v1.0/$batch") {
        return Err(invalid("A batch request cannot contain another batch."));
    }
    let body = match r.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(b) => serde_json::to_vec(b).unwrap_or_default(),
    };
    serve(&method, &path, query, &body)
}
