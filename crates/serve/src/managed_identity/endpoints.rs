//! The two shapes of the platform's token endpoint, as clients call them:
//! - App Service / Functions / Container Apps: `GET {IDENTITY_ENDPOINT}?resource=…&api-version=2019-08-01`
//!   with `X-IDENTITY-HEADER` (<https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference>);
//! - IMDS: `GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=…` with
//!   `Metadata: true` (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token>).
//!
//! Both answer with every value a string (the Rust SDK fails on a number) and refuse as the
//! platform does, `{error, error_description}`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;
use time::OffsetDateTime;
use tower_http::timeout::TimeoutLayer;

use super::{APP_SERVICE_PATH, IMDS_PATH};
use crate::aadsts::{entra_timestamp, json_body, no_store, Aadsts};
use crate::access_log::{self, LogFormat, LogNote};
use crate::directory::managed::Selector;
use crate::face::Face;
use crate::service::{TokenRequest, TokenService};
use crate::tokens::{self, ClientAuth, Endpoint, Grant, EXPIRES_IN, TOKEN_LIFETIME_SECS};

/// Which endpoint was asked: their selectors, headers and unknown-resource codes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    AppService,
    Imds,
}

struct Endpoints {
    service: Arc<TokenService>,
    /// `IDENTITY_HEADER`.
    header: Arc<str>,
}

/// A request is a query string and headers: it never takes long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(service: Arc<TokenService>, header: Arc<str>, log: LogFormat) -> Router {
    let state = Arc::new(Endpoints { service, header });
    Router::new()
        .route(APP_SERVICE_PATH, get(app_service))
        // `@azure/identity` asks for the IMDS path with a trailing slash.
        .route(IMDS_PATH, get(imds))
        .route(&format!("{IMDS_PATH}/"), get(imds))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            log,
            access_log::log_request,
        ))
}

async fn app_service(State(e): State<Arc<Endpoints>>, uri: Uri, headers: HeaderMap) -> Response {
    // UNCONFIRMED: App Service's status and text for a missing or wrong header are not
    // documented; 401 chosen (the request is not authenticated), in the platform's error
    // shape. The comparison is of the whole value, in constant time.
    let presented = headers
        .get("x-identity-header")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(presented, e.header.as_bytes()) {
        return refusal(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "The X-IDENTITY-HEADER header is missing or is not this endpoint's IDENTITY_HEADER.",
            None,
        );
    }
    answer(&e.service, Platform::AppService, &uri)
}

async fn imds(State(e): State<Arc<Endpoints>>, uri: Uri, headers: HeaderMap) -> Response {
    let metadata = headers
        .get("metadata")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    if !metadata && strict_metadata(&e.service, &headers) {
        return refusal(
            StatusCode::BAD_REQUEST,
            "bad_request_102",
            "Required metadata header not specified",
            None,
        );
    }
    answer(&e.service, Platform::Imds, &uri)
}

/// Whether a request without `Metadata: true` is refused. IMDS refuses it
/// (`bad_request_102`), and under `--strict` so does serve. Otherwise it is answered as if
/// the header were there, unless the request names IMDS's own address: the Azure SDKs probe
/// IMDS with the token request minus the header, and .NET's `DefaultAzureCredential` reads a
/// 400 from any host but 169.254.169.254 as "no managed identity here" (its
/// `ImdsManagedIdentityProbeSource`), so a strict answer under `AZURE_POD_IDENTITY_AUTHORITY_HOST`
/// would make the chain skip the identity. Python's and JavaScript's probes take any answer.
fn strict_metadata(service: &TokenService, headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let imds_address = host == "169.254.169.254" || host.starts_with("169.254.169.254:");
    service.strict || imds_address
}

/// The token for the identity and resource the query names, or the platform's refusal.
fn answer(s: &TokenService, platform: Platform, uri: &Uri) -> Response {
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let field = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    // UNCONFIRMED: the platform's texts for a missing api-version or resource; IMDS's
    // `invalid_request` shape chosen for both.
    if field("api-version").is_none() {
        return invalid_request("Required query variable 'api-version' is missing");
    }
    let Some(resource) = field("resource") else {
        return invalid_request("Required query variable 'resource' is missing");
    };
    let Some(selector) = selector(platform, &field) else {
        // UNCONFIRMED text: App Service documents that only one may be given.
        return invalid_request(
            "Only one of client_id, object_id/principal_id and the resource id may be given",
        );
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let identity = match s.directory.managed_identity(&selector) {
        Ok(Some(i)) => i,
        // The live answer for an identity the resource does not have (§2.1 of the facts;
        // quoted by the Azure SDKs' tests).
        Ok(None) => return invalid_request("Identity not found"),
        Err(e) => return server_error(&Aadsts::from(e)),
    };
    let tenant = match s.directory.tenant(&identity.tenant_id) {
        Ok(Some(t)) => t,
        Ok(None) => return invalid_request("Identity not found"),
        Err(e) => return server_error(&Aadsts::from(e)),
    };
    // The resource as the token endpoint reads it: an identifier URI or app id as v1's
    // `resource=`, or with `/.default` as v2's `scope` (the form the SDKs' scopes have).
    let (endpoint, name) = if resource.ends_with("/.default") {
        (Endpoint::V2, "scope")
    } else {
        (Endpoint::V1, "resource")
    };
    let form = [(name.to_string(), resource.to_string())];
    let req = TokenRequest {
        tenant: &tenant.id,
        endpoint,
        form: &form,
        authorization: None,
        now,
        face: Face::Direct,
    };
    let (resolved, requested_as) = match s.requested_resource(&req) {
        Ok(r) => r,
        Err(e @ (Aadsts::DirectoryUnavailable(_) | Aadsts::ServerError(_))) => {
            return server_error(&e)
        }
        Err(e) => return invalid_resource(platform, &e, resource, &tenant.id),
    };
    let names = Face::Direct.names(&s.base);
    let grant = Grant {
        tenant: &tenant,
        app: &identity.app,
        resource: &resolved,
        requested_as: &requested_as,
        // `appidacr`/`azpacr` "2": the platform authenticated the identity, as Entra's
        // managed-identity tokens say.
        auth: ClientAuth::Certificate,
        names: &names,
        now,
        delegated: None,
    };
    let token = match tokens::access_token(&s.signer, &grant) {
        Ok(t) => t,
        Err(e) => return server_error(&e),
    };
    let mut body = json!({
        "access_token": token,
        "client_id": identity.app.client_id,
        "expires_in": EXPIRES_IN.to_string(),
        "expires_on": (now + TOKEN_LIFETIME_SECS).to_string(),
        "ext_expires_in": EXPIRES_IN.to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    });
    if platform == Platform::Imds {
        // IMDS's documented body has an empty refresh token.
        body["refresh_token"] = json!("");
    }
    let mut resp = (StatusCode::OK, json_body(&body)).into_response();
    no_store(&mut resp);
    resp.extensions_mut().insert(LogNote {
        client_id: Some(identity.app.client_id.clone()),
        ..LogNote::default()
    });
    resp
}

/// The identity the query selects. App Service takes `client_id`, `principal_id` (alias
/// `object_id`) or `mi_res_id`; IMDS `client_id`, `object_id` or `msi_res_id`. At most one:
/// `None` when several are given.
fn selector<'a>(platform: Platform, field: &dyn Fn(&str) -> Option<&'a str>) -> Option<Selector> {
    let names: &[(&str, MakeSelector)] = match platform {
        Platform::AppService => &[
            ("client_id", Selector::ClientId),
            ("principal_id", Selector::ObjectId),
            ("object_id", Selector::ObjectId),
            ("mi_res_id", Selector::ResourceId),
            // Rust `azure_identity` sends IMDS's name to App Service (Azure/azure-sdk-for-rust
            // #2407); App Service ignores it there, which selects the wrong identity. Taken
            // here so a Rust program asking for a user-assigned identity by resource id gets
            // the one it named.
            ("msi_res_id", Selector::ResourceId),
        ],
        Platform::Imds => &[
            ("client_id", Selector::ClientId),
            ("object_id", Selector::ObjectId),
            ("msi_res_id", Selector::ResourceId),
        ],
    };
    let given: Vec<Selector> = names
        .iter()
        .filter_map(|(n, make)| field(n).map(|v| make(v.to_string())))
        .collect();
    match given.as_slice() {
        [] => Some(Selector::Default),
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// A selector from its value.
type MakeSelector = fn(String) -> Selector;

/// An unknown resource: `invalid_resource` with AADSTS50001 on IMDS (as its documentation
/// shows) and Entra's 500011 from App Service.
fn invalid_resource(platform: Platform, e: &Aadsts, resource: &str, tenant: &str) -> Response {
    let now = OffsetDateTime::now_utc();
    let trace = uuid::Uuid::new_v4();
    let correlation = uuid::Uuid::new_v4();
    let (code, message) = match (platform, e) {
        (Platform::Imds, Aadsts::ResourceNotFound { .. }) => (
            50001,
            format!(
                "The application named {resource} was not found in the tenant named {tenant}. \
                 This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You \
                 might have sent your authentication request to the wrong tenant."
            ),
        ),
        _ => (e.code(), e.message()),
    };
    let description = format!(
        "AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\n\
         Timestamp: {}",
        entra_timestamp(now)
    );
    refusal(
        StatusCode::BAD_REQUEST,
        "invalid_resource",
        &description,
        Some(code),
    )
}

fn invalid_request(description: &str) -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        description,
        None,
    )
}

/// The service's own trouble (the directory unreadable, signing failed): IMDS's 500 shape.
fn server_error(e: &Aadsts) -> Response {
    refusal(
        e.status(),
        "unknown",
        &format!(
            "Failed to retrieve token from the Active directory: {}",
            e.message()
        ),
        Some(e.code()),
    )
}

fn refusal(status: StatusCode, error: &str, description: &str, code: Option<u32>) -> Response {
    let body = json!({"error": error, "error_description": description});
    let mut resp = (status, json_body(&body)).into_response();
    no_store(&mut resp);
    resp.extensions_mut().insert(LogNote {
        aadsts: code,
        ..LogNote::default()
    });
    resp
}

/// Equal bytes, compared in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
