//! A slice of Microsoft Graph on the token service's own listener, under `/v1.0/`: what a
//! daemon calls once it has a token (users; reading application objects), answered as Graph
//! answers, so the whole job can be rehearsed offline.
//!
//! | module | concept |
//! |---|---|
//! | [`auth`] | the bearer check (`verify` over the service's own key set) |
//! | [`error`] | Graph's error envelope, headers and `WWW-Authenticate` |
//! | [`query`] | `$select`, `$top`, paging, `@odata.context` |
//! | [`users`] | `/users`, `/users/{id or UPN}`, `…/memberOf`: read, made, changed, deleted |
//! | [`groups`] | `/groups`, `/groups/{id}`, `…/members`, `…/members/$ref` |
//! | [`payload`] | the bodies of user and group writes, checked as Graph checks them |
//! | [`applications`] | `/applications…`: self-read, `Application.Read.All` for others |
//! | [`rollkey`] | `…/addKey`, `…/removeKey`: the proof checked as Graph checks it |
//! | [`filter`] | the `$filter` forms the directory's collections take |
//! | [`application_writes`] | `/applications`: POST, PATCH (`keyCredentials` too), DELETE |
//! | [`passwords`] | `…/addPassword`, `…/removePassword` |
//! | [`federated_credentials`] | `…/federatedIdentityCredentials`: federated credentials |
//! | [`service_principals`] | `/servicePrincipals`: POST, GET, DELETE |
//! | [`assignments`] | `…/appRoleAssignedTo`, `…/appRoleAssignments`: app roles granted |
//! | [`grants`] | `/oauth2PermissionGrants`: delegated consent |
//! | [`batch`] | `/$batch`: JSON batching |
//!
//! Routing is done here by hand over the path's segments, because Graph's keys are OData
//! segments (`applications(appId='…')`) that a route pattern cannot express.

pub mod application_writes;
pub mod applications;
pub mod assignments;
pub mod auth;
pub mod batch;
pub mod error;
pub mod federated_credentials;
pub mod filter;
pub mod grants;
pub mod groups;
pub mod passwords;
pub mod payload;
pub mod query;
pub mod rollkey;
pub mod service_principals;
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
    /// `/users/{id}/memberOf`.
    UserMemberOf(String),
    Groups,
    Group(String),
    /// `/groups/{id}/members`.
    GroupMembers(String),
    /// `/groups/{id}/members/$ref`.
    GroupMemberRef(String),
    /// `/groups/{id}/members/{member id}/$ref`.
    GroupMember(String, String),
    Me,
    Applications,
    Application(AppKey),
    /// `…/addKey`, `…/removeKey`, `…/addPassword` or `…/removePassword` on an application.
    ApplicationAction(AppKey, Action),
    ServicePrincipals,
    /// A service principal by object id or `servicePrincipals(appId='…')`.
    ServicePrincipal(AppKey),
    /// A service principal's `appRoleAssignedTo` or `appRoleAssignments`, or one of them.
    Assignments(AppKey, assignments::Side, Option<String>),
    Grants,
    Grant(String),
    /// An application's federated identity credentials, or one of them.
    FederatedCredentials(AppKey, federated_credentials::Target),
    Batch,
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
        // Graph's path segments ignore case (the Azure CLI sends `oAuth2PermissionGrants`).
        let first = seg(0).map(str::to_ascii_lowercase);
        match first.as_deref() {
            Some("users") => match (seg(1), seg(2), seg(3)) {
                (None, _, _) => Route::Users,
                (Some(id), None, _) => Route::User(id.to_string()),
                (Some(id), Some(m), None) if m.eq_ignore_ascii_case("memberOf") => {
                    Route::UserMemberOf(id.to_string())
                }
                _ => unknown(2),
            },
            Some("groups") => groups::route(&segments),
            // `az ad user show` names a UPN starting with `$` as `users('$x@y')`.
            Some(f)
                if f.len() >= "users('')".len()
                    && f.starts_with("users('")
                    && f.ends_with("')")
                    && seg(1).is_none() =>
            {
                let keyed = seg(0).unwrap_or_default();
                Route::User(keyed["users('".len()..keyed.len() - 2].to_string())
            }
            Some("me") => Route::Me,
            Some("$batch") if seg(1).is_none() => Route::Batch,
            Some("applications") => match (seg(1), seg(2), seg(3)) {
                (None, _, _) => Route::Applications,
                (Some(id), None, _) => Route::Application(AppKey::ObjectId(id.to_string())),
                (Some(id), Some(_), _)
                    if federated_credentials::route(
                        &AppKey::ObjectId(id.to_string()),
                        &segments,
                        2,
                    )
                    .is_some() =>
                {
                    federated_credentials::route(&AppKey::ObjectId(id.to_string()), &segments, 2)
                        .unwrap_or(Route::Unknown(String::new()))
                }
                (Some(id), Some(action), None) => match Action::from_segment(action) {
                    Some(a) => Route::ApplicationAction(AppKey::ObjectId(id.to_string()), a),
                    None => unknown(2),
                },
                _ => unknown(3),
            },
            Some("serviceprincipals") => match seg(1) {
                None => Route::ServicePrincipals,
                Some(id) => sp_route(AppKey::ObjectId(id.to_string()), &segments, 2),
            },
            Some("oauth2permissiongrants") => match (seg(1), seg(2)) {
                (None, _) => Route::Grants,
                (Some(id), None) => Route::Grant(id.to_string()),
                _ => unknown(2),
            },
            Some(_) => {
                let first = seg(0).unwrap_or_default();
                if let Some(key) = AppKey::keyed(first, "servicePrincipals") {
                    return sp_route(key, &segments, 1);
                }
                match AppKey::from_segment(first) {
                    Some(key) if seg(1).is_none() => Route::Application(key),
                    Some(key) if federated_credentials::route(&key, &segments, 1).is_some() => {
                        federated_credentials::route(&key, &segments, 1)
                            .unwrap_or(Route::Unknown(String::new()))
                    }
                    Some(key) => match (seg(1).and_then(Action::from_segment), seg(2)) {
                        (Some(a), None) => Route::ApplicationAction(key, a),
                        (Some(_), Some(_)) => unknown(2),
                        (None, _) => unknown(1),
                    },
                    None => unknown(0),
                }
            }
            None => Route::Unknown(String::new()),
        }
    }
}

/// What follows a service principal's key: nothing, or its app role assignments.
fn sp_route(key: AppKey, segments: &[String], at: usize) -> Route {
    let seg = |i: usize| segments.get(i).map(String::as_str);
    let unknown = |i: usize| Route::Unknown(seg(i).unwrap_or_default().to_string());
    match seg(at) {
        None => Route::ServicePrincipal(key),
        Some(nav) => match (
            assignments::Side::from_segment(nav),
            seg(at + 1),
            seg(at + 2),
        ) {
            (Some(side), None, _) => Route::Assignments(key, side, None),
            (Some(side), Some(id), None) => Route::Assignments(key, side, Some(id.to_string())),
            (Some(_), Some(_), Some(_)) => unknown(at + 2),
            (None, _, _) => unknown(at),
        },
    }
}

/// A successful answer: its status and JSON body (none for a 204).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Option<Value>,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Some(body),
        }
    }

    pub fn created(body: Value) -> Reply {
        Reply {
            status: StatusCode::CREATED,
            body: Some(body),
        }
    }

    pub fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }
}

/// What a collection's handler needs of a request besides its route and caller.
pub struct Call<'a> {
    pub method: &'a Method,
    pub raw_query: Option<&'a str>,
    pub body: &'a [u8],
    /// The base of Graph's own URLs in the answer (see [`graph_base`]).
    pub base: &'a str,
}

/// A request body that must be a JSON object.
pub fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, GraphError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        // UNCONFIRMED: Graph's exact text for an unreadable body.
        _ => Err(GraphError::bad_request(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and \
             payload is of valid JSON format.",
        )),
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
            let mut route = Route::parse(uri.path());
            // `Prefer: create-if-missing` makes a PATCH by name an upsert.
            if let Route::FederatedCredentials(key, federated_credentials::Target::Name(name)) =
                &route
            {
                if method == Method::PATCH && federated_credentials::prefers_create(&headers) {
                    route = Route::FederatedCredentials(
                        key.clone(),
                        federated_credentials::Target::Upsert(name.clone()),
                    );
                }
            }
            let result = if route == Route::Batch && method == Method::POST {
                batch::run(&body, &ids, &|m, path, query, body| {
                    dispatch(&g, &caller, m, &Route::parse(path), query, body, &base)
                })
            } else {
                dispatch(&g, &caller, &method, &route, uri.query(), &body, &base)
            };
            (result, Some(caller.app_id))
        }
    };
    let mut resp = match result {
        Ok(Reply {
            status,
            body: Some(body),
        }) => {
            let mut resp = (status, body.to_string()).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            ids.stamp(&mut resp);
            resp
        }
        Ok(Reply { status, body: None }) => {
            let mut resp = status.into_response();
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
pub fn dispatch(
    g: &Graph,
    caller: &Caller,
    method: &Method,
    route: &Route,
    raw_query: Option<&str>,
    body: &[u8],
    base: &str,
) -> Result<Reply, GraphError> {
    let service = &g.service;
    let directory = &service.directory;
    let query = |filterable| Query::parse(raw_query, filterable);
    let call = Call {
        method,
        raw_query,
        body,
        base,
    };
    let (get, post, patch, delete) = (
        method == Method::GET,
        method == Method::POST,
        method == Method::PATCH,
        method == Method::DELETE,
    );
    match route {
        Route::Unknown(segment) => Err(GraphError::unknown_segment(segment)),
        Route::ApplicationAction(key, action) if post => match action {
            Action::AddKey | Action::RemoveKey => {
                rollkey::run(service, caller, key, *action == Action::AddKey, body, base).map(|a| {
                    match a {
                        Some(v) => Reply::ok(v),
                        None => Reply::no_content(),
                    }
                })
            }
            Action::AddPassword => passwords::add(directory, caller, key, body, base),
            Action::RemovePassword => passwords::remove(directory, caller, key, body),
        },
        Route::Users | Route::User(_) | Route::UserMemberOf(_) => {
            users::serve(directory, caller, route, &call)
        }
        Route::Groups
        | Route::Group(_)
        | Route::GroupMembers(_)
        | Route::GroupMemberRef(_)
        | Route::GroupMember(..) => groups::serve(directory, caller, route, &call),
        // Graph's answer to an app-only token (msgraph-sdk-php#1163).
        Route::Me if get && caller.app_only => Err(GraphError::bad_request(
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )),
        Route::Me if get => users::me(directory, caller, &query(false)?, base).map(Reply::ok),
        Route::Applications if get => {
            applications::list(directory, caller, &query(true)?, base).map(Reply::ok)
        }
        Route::Applications if post => application_writes::create(service, caller, body, base),
        Route::Application(key) if get => {
            applications::get(directory, caller, key, &query(false)?, base).map(Reply::ok)
        }
        Route::Application(key) if patch => application_writes::update(service, caller, key, body),
        Route::Application(key) if delete => application_writes::delete(directory, caller, key),
        Route::ServicePrincipals if get => {
            service_principals::list(directory, caller, &query(true)?, base)
        }
        Route::ServicePrincipals if post => {
            service_principals::create(directory, caller, body, base)
        }
        Route::ServicePrincipal(key) if get => {
            service_principals::get(directory, caller, key, &query(false)?, base)
        }
        Route::ServicePrincipal(key) if delete => {
            service_principals::delete(directory, caller, key)
        }
        Route::Assignments(key, side, None) if get => {
            assignments::list(directory, caller, key, *side, &query(false)?, base)
        }
        Route::Assignments(key, side, None) if post => {
            assignments::create(directory, caller, key, *side, body, base)
        }
        Route::Assignments(key, side, Some(id)) if get => {
            assignments::get(directory, caller, key, *side, id, base)
        }
        Route::Assignments(key, side, Some(id)) if delete => {
            assignments::delete(directory, caller, key, *side, id)
        }
        Route::Grants if get => grants::list(directory, caller, &query(true)?, base),
        Route::Grants if post => grants::create(directory, caller, body, base),
        Route::Grant(id) if get => grants::get(directory, caller, id, base),
        Route::Grant(id) if patch => grants::update(directory, caller, id, body),
        Route::Grant(id) if delete => grants::delete(directory, caller, id),
        Route::FederatedCredentials(key, target) => {
            federated_credentials::serve(directory, caller, key, target, &call)
        }
        _ => Err(GraphError::method_not_allowed()),
    }
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
        assert_eq!(Route::parse("/v1.0/groups"), Route::Groups);
        assert_eq!(Route::parse("/v1.0/Groups/g1"), Route::Group("g1".into()));
        assert_eq!(
            Route::parse("/v1.0/groups/g1/members"),
            Route::GroupMembers("g1".into())
        );
        assert_eq!(
            Route::parse("/v1.0/groups/g1/members/$ref"),
            Route::GroupMemberRef("g1".into())
        );
        assert_eq!(
            Route::parse("/v1.0/groups/g1/members/u1/%24ref"),
            Route::GroupMember("g1".into(), "u1".into())
        );
        assert_eq!(
            Route::parse("/v1.0/groups/g1/owners"),
            Route::Unknown("owners".into())
        );
        assert_eq!(
            Route::parse("/v1.0/groups/g1/members/u1"),
            Route::Unknown("u1".into())
        );
        assert_eq!(
            Route::parse("/v1.0/users/u1/memberOf"),
            Route::UserMemberOf("u1".into())
        );
        assert_eq!(
            Route::parse("/v1.0/users('$x@contoso.example')"),
            Route::User("$x@contoso.example".into())
        );
        assert_eq!(
            Route::parse("/v1.0/users(')"),
            Route::Unknown("users(')".into())
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
    fn write_paths_to_routes_in_any_case() {
        use assignments::Side;
        let id = || AppKey::ObjectId("abc".into());
        assert_eq!(
            Route::parse("/v1.0/applications/abc/addPassword"),
            Route::ApplicationAction(id(), Action::AddPassword)
        );
        assert_eq!(
            Route::parse("/v1.0/applications/abc/REMOVEPASSWORD"),
            Route::ApplicationAction(id(), Action::RemovePassword)
        );
        assert_eq!(
            Route::parse("/v1.0/servicePrincipals"),
            Route::ServicePrincipals
        );
        assert_eq!(
            Route::parse("/v1.0/serviceprincipals/abc"),
            Route::ServicePrincipal(id())
        );
        assert_eq!(
            Route::parse("/v1.0/servicePrincipals(appId='6f1c')"),
            Route::ServicePrincipal(AppKey::AppId("6f1c".into()))
        );
        assert_eq!(
            Route::parse("/v1.0/servicePrincipals/abc/appRoleAssignedTo"),
            Route::Assignments(id(), Side::AssignedTo, None)
        );
        assert_eq!(
            Route::parse("/v1.0/servicePrincipals(appId='6f1c')/appRoleAssignments/x1"),
            Route::Assignments(
                AppKey::AppId("6f1c".into()),
                Side::Assignments,
                Some("x1".into())
            )
        );
        assert_eq!(
            Route::parse("/v1.0/servicePrincipals/abc/owners"),
            Route::Unknown("owners".into())
        );
        assert_eq!(
            Route::parse("/v1.0/servicePrincipals/abc/appRoleAssignments/x/y"),
            Route::Unknown("y".into())
        );
        assert_eq!(
            Route::parse("/v1.0/oAuth2PermissionGrants/g1"),
            Route::Grant("g1".into())
        );
        assert_eq!(Route::parse("/v1.0/oauth2PermissionGrants"), Route::Grants);
        assert_eq!(Route::parse("/v1.0/$batch"), Route::Batch);
        assert_eq!(Route::parse("/v1.0/%24batch"), Route::Batch);
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
