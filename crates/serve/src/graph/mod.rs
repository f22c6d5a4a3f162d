//! A slice of Microsoft Graph on the token service's own listener, under `/v1.0/`: what a
//! daemon calls once it has a token (users; reading application objects), answered as Graph
//! answers, so the whole job can be rehearsed offline.
//!
//! | module | concept |
//! |---|---|
//! | [`auth`] | the bearer check (`verify` over the service's own key set) |
//! | [`error`] | Graph's error envelope, headers and `WWW-Authenticate` |
//! | [`query`] | `$select`, `$top`, paging, `@odata.context` |
//! | [`users`] | `/users`, `/users/{id or UPN}` |
//! | [`applications`] | `/applications…`: self-read, `Application.Read.All` for others |
//! | [`rollkey`] | `…/addKey`, `…/removeKey`: the proof checked as Graph checks it |
//!
//! Routing is done here by hand over the path's segments, because Graph's keys are OData
//! segments (`applications(appId='…')`) that a route pattern cannot express.

pub mod applications;
pub mod auth;
pub mod error;
pub mod query;
pub mod rollkey;
pub mod users;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use self::applications::AppKey;
use self::auth::{Caller, GraphAuth};
use self::error::{GraphError, RequestIds, CONTENT_TYPE};
use self::query::Query;
use self::rollkey::Action;
use super::access_log::LogNote;
use super::face::Face;
use super::service::TokenService;

/// The Graph slice's state: the token service (registry, base URL) and the bearer check.
pub struct Graph {
    service: Arc<TokenService>,
    auth: GraphAuth,
}

/// Routes `/v1.0` and everything under it; merged into the service's router.
pub fn router<S>(service: Arc<TokenService>) -> Router<S> {
    let graph = Arc::new(Graph {
        auth: GraphAuth::new(&service),
        service,
    });
    Router::new()
        .route("/v1.0", any(handle))
        .route("/v1.0/", any(handle))
        .route("/v1.0/{*rest}", any(handle))
        .with_state(graph)
}

/// Where a request's path points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Users,
    User(String),
    Me,
    Applications,
    Application(AppKey),
    /// `…/addKey` or `…/removeKey` on an application.
    ApplicationAction(AppKey, Action),
    /// A segment this slice does not serve (the first such).
    Unknown(String),
}

impl Route {
    /// Parses the path after `/v1.0/` (percent-decoded segment by segment).
    pub fn parse(path: &str) -> Route {
        let rest = path.strip_prefix("/v1.0").unwrap_or(path);
        let segments: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let seg = |i: usize| segments.get(i).map(String::as_str);
        let unknown = |i: usize| Route::Unknown(seg(i).unwrap_or_default().to_string());
        match seg(0) {
            Some("users") => match (seg(1), seg(2)) {
                (None, _) => Route::Users,
                (Some(id), None) => Route::User(id.to_string()),
                _ => unknown(2),
            },
            Some("me") => Route::Me,
            Some("applications") => match (seg(1), seg(2), seg(3)) {
                (None, _, _) => Route::Applications,
                (Some(id), None, _) => Route::Application(AppKey::ObjectId(id.to_string())),
                (Some(id), Some(action), None) => match Action::from_segment(action) {
                    Some(a) => Route::ApplicationAction(AppKey::ObjectId(id.to_string()), a),
                    None => unknown(2),
                },
                _ => unknown(3),
            },
            Some(first) => match AppKey::from_segment(first) {
                Some(key) if seg(1).is_none() => Route::Application(key),
                Some(key) => match (seg(1).and_then(Action::from_segment), seg(2)) {
                    (Some(a), None) => Route::ApplicationAction(key, a),
                    (Some(_), Some(_)) => unknown(2),
                    (None, _) => unknown(1),
                },
                None => unknown(0),
            },
            None => Route::Unknown(String::new()),
        }
    }
}

async fn handle(
    State(g): State<Arc<Graph>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ids = RequestIds::new(&headers);
    let (base, authority_base) = graph_base(&g.service.base, &Face::of(&uri, &headers));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (result, client_id) = match g.auth.check(authorization).await {
        Err(e) => (Err(e), None),
        Ok(caller) => {
            let route = Route::parse(uri.path());
            let result = dispatch(&g, &caller, &method, &route, uri.query(), &body, &base);
            (result, Some(caller.app_id))
        }
    };
    let mut resp = match result {
        Ok(Some(body)) => {
            let mut resp = (StatusCode::OK, body.to_string()).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            ids.stamp(&mut resp);
            resp
        }
        Ok(None) => {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            ids.stamp(&mut resp);
            resp
        }
        Err(e) => e.response(&ids, &authority_base),
    };
    resp.extensions_mut().insert(LogNote {
        client_id,
        aadsts: None,
    });
    resp
}

/// Serves one authenticated request.
fn dispatch(
    g: &Graph,
    caller: &Caller,
    method: &Method,
    route: &Route,
    raw_query: Option<&str>,
    body: &[u8],
    base: &str,
) -> Result<Option<Value>, GraphError> {
    let directory = &g.service.directory;
    if let Route::Unknown(segment) = route {
        return Err(GraphError::unknown_segment(segment));
    }
    if let Route::ApplicationAction(key, action) = route {
        if method != Method::POST {
            return Err(GraphError::method_not_allowed());
        }
        return rollkey::run(&g.service, caller, key, *action, body, base);
    }
    if method != Method::GET {
        return Err(GraphError::method_not_allowed());
    }
    let answer = match route {
        Route::Users => users::list(directory, caller, &Query::parse(raw_query, false)?, base),
        Route::User(id) => users::get(
            directory,
            caller,
            id,
            &Query::parse(raw_query, false)?,
            base,
        ),
        // Graph's answer to an app-only token (msgraph-sdk-php#1163).
        Route::Me if caller.app_only => Err(GraphError::bad_request(
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )),
        Route::Me => users::me(directory, caller, &Query::parse(raw_query, false)?, base),
        Route::Applications => {
            applications::list(directory, caller, &Query::parse(raw_query, true)?, base)
        }
        Route::Application(key) => applications::get(
            directory,
            caller,
            key,
            &Query::parse(raw_query, false)?,
            base,
        ),
        Route::Unknown(segment) => Err(GraphError::unknown_segment(segment)),
        // Answered above, before the method check.
        Route::ApplicationAction(..) => Err(GraphError::method_not_allowed()),
    };
    answer.map(Some)
}

/// The base of Graph's own URLs in an answer (`@odata.context`, `@odata.nextLink`) and of the
/// 401 challenge's authority, named by the face the request came in on: reached as
/// `graph.microsoft.com` (through `--proxy` or an SNI route) a client following `nextLink`
/// must be sent back to that name — the proxy refuses the service's own address — and the
/// challenge names that cloud's Entra; reached directly, the service's own address.
pub fn graph_base(direct_base: &str, face: &Face) -> (String, String) {
    match face {
        Face::Microsoft(h) => (
            format!("https://{}", h.cloud.graph_hosts[0]),
            face.names(direct_base).base,
        ),
        Face::Direct => (direct_base.to_string(), direct_base.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_to_routes() {
        assert_eq!(Route::parse("/v1.0/users"), Route::Users);
        assert_eq!(Route::parse("/v1.0/users/"), Route::Users);
        assert_eq!(
            Route::parse("/v1.0/users/ada%40contoso.example"),
            Route::User("ada@contoso.example".into())
        );
        assert_eq!(Route::parse("/v1.0/me"), Route::Me);
        assert_eq!(
            Route::parse("/v1.0/applications(appId=%276f1c%27)"),
            Route::Application(AppKey::AppId("6f1c".into()))
        );
        assert_eq!(
            Route::parse("/v1.0/applications/abc"),
            Route::Application(AppKey::ObjectId("abc".into()))
        );
        assert_eq!(
            Route::parse("/v1.0/applications/abc/owners"),
            Route::Unknown("owners".into())
        );
        assert_eq!(
            Route::parse("/v1.0/groups"),
            Route::Unknown("groups".into())
        );
        assert_eq!(Route::parse("/v1.0"), Route::Unknown(String::new()));
        assert_eq!(
            Route::parse("/v1.0/applications/abc/addKey"),
            Route::ApplicationAction(AppKey::ObjectId("abc".into()), Action::AddKey)
        );
        assert_eq!(
            Route::parse("/v1.0/applications(appId='6f1c')/removeKey"),
            Route::ApplicationAction(AppKey::AppId("6f1c".into()), Action::RemoveKey)
        );
        assert_eq!(
            Route::parse("/v1.0/applications(appId='6f1c')/addKey/x"),
            Route::Unknown("x".into())
        );
    }

    #[test]
    fn graph_urls_follow_the_name_the_client_reached() {
        let face = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            Face::of(&Uri::from_static("/v1.0/users"), &headers)
        };
        let direct = "https://127.0.0.1:8443";
        assert_eq!(
            graph_base(direct, &face("graph.microsoft.com")),
            (
                "https://graph.microsoft.com".to_string(),
                "https://login.microsoftonline.com".to_string()
            )
        );
        assert_eq!(
            graph_base(direct, &face("graph.microsoft.us")).0,
            "https://graph.microsoft.us"
        );
        assert_eq!(
            graph_base(direct, &face("127.0.0.1:8443")),
            (direct.to_string(), direct.to_string())
        );
    }
}
