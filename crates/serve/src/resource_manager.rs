//! The little of Azure Resource Manager a login needs, answered on `management.azure.com` (and
//! the national clouds' Resource Manager hosts) through `--proxy`: `az login` lists the
//! subscriptions its token reaches (`GET /subscriptions`), and for a user without `--tenant`
//! the tenants first (`GET /tenants`); `--allow-no-subscriptions` then makes a tenant-level
//! account when the list is empty. Shapes: <https://learn.microsoft.com/en-us/rest/api/resources/subscriptions/list>
//! and <https://learn.microsoft.com/en-us/rest/api/resources/tenants/list>.
//!
//! Only bearer tokens this service issued for Azure Service Management are taken, checked as
//! Graph's are ([`GraphAuth`] with Resource Manager's audiences); anything else gets Resource
//! Manager's 401.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::access_log::LogNote;
use super::config::microsoft::{AZURE_SERVICE_MANAGEMENT_APP_ID, AZURE_SERVICE_MANAGEMENT_URIS};
use super::graph::auth::GraphAuth;
use super::service::TokenService;
use certgen::jose::strip_bearer;
use certgen::verify::VerifyError;

/// The audiences Resource Manager accepts: its identifier URIs with and without their trailing
/// slash (its own 401 lists these four) and the app id.
pub fn audiences() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = AZURE_SERVICE_MANAGEMENT_URIS
        .iter()
        .flat_map(|u| [*u, u.trim_end_matches('/')])
        .collect();
    out.push(AZURE_SERVICE_MANAGEMENT_APP_ID);
    out
}

/// Resource Manager's state: the bearer check for its audiences.
pub struct ResourceManager {
    auth: GraphAuth,
}

/// One refusal, in Resource Manager's envelope (`{"error":{"code","message"}}`,
/// <https://learn.microsoft.com/en-us/azure/azure-resource-manager/troubleshooting/common-deployment-errors>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ArmError {
    fn unauthorized(code: &'static str, message: impl Into<String>) -> ArmError {
        ArmError {
            status: StatusCode::UNAUTHORIZED,
            code,
            message: message.into(),
        }
    }

    /// The answer; a 401 carries Resource Manager's challenge, which names the authority
    /// to get a token from (`az` and the Azure SDKs read it for claims challenges).
    pub fn response(&self, authority: &str) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = format!(
                "Bearer authorization_uri=\"{authority}/\", error=\"invalid_token\", \
                 error_description=\"{}\"",
                self.message.replace('"', "'")
            );
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

const JSON: &str = "application/json; charset=utf-8";

/// What Resource Manager says of a token it refuses. The missing-header and audience texts
/// are Resource Manager's as the Azure CLI prints them; the others are UNCONFIRMED in their
/// wording (the codes `ExpiredAuthenticationToken` and `InvalidAuthenticationToken` are
/// Resource Manager's).
fn refusal(e: &VerifyError) -> ArmError {
    match e {
        VerifyError::Audience { found, .. } => ArmError::unauthorized(
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{}'. \
                 It should exactly match with one of the allowed audiences {}.",
                // `verify` quotes what it found (it may be a JSON array).
                found.trim_matches('"'),
                AZURE_SERVICE_MANAGEMENT_URIS
                    .iter()
                    .flat_map(|u| [*u, u.trim_end_matches('/')])
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
        VerifyError::Expired { at, .. } => ArmError::unauthorized(
            "ExpiredAuthenticationToken",
            format!("The access token expiry UTC time '{at}' is earlier than current UTC time."),
        ),
        _ => ArmError::unauthorized("InvalidAuthenticationToken", "The access token is invalid."),
    }
}

impl ResourceManager {
    pub fn new(service: &TokenService) -> ResourceManager {
        ResourceManager {
            auth: GraphAuth::for_audiences(service, &audiences()),
        }
    }

    /// Answers one request that reached a Resource Manager host; `authority` is that cloud's
    /// Entra (`https://login.microsoftonline.com`), named in a 401's challenge.
    pub async fn answer(
        &self,
        service: &TokenService,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        authority: &str,
    ) -> Response {
        let (result, client_id) = self.serve(service, method, uri, headers).await;
        let mut resp = match result {
            Ok(body) => {
                let mut resp = (StatusCode::OK, body.to_string()).into_response();
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
                resp
            }
            Err(e) => e.response(authority),
        };
        // Resource Manager's request ids, which `az --debug` prints and support asks for.
        let id = uuid::Uuid::new_v4().to_string();
        if let Ok(v) = HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-ms-request-id", v.clone());
            resp.headers_mut().insert("x-ms-correlation-request-id", v);
        }
        resp.extensions_mut().insert(LogNote {
            client_id,
            aadsts: None,
        });
        resp
    }

    async fn serve(
        &self,
        service: &TokenService,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> (Result<Value, ArmError>, Option<String>) {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(strip_bearer)
            .unwrap_or_default();
        if token.is_empty() {
            return (
                Err(ArmError::unauthorized(
                    "AuthenticationFailed",
                    "Authentication failed. The 'Authorization' header is missing.",
                )),
                None,
            );
        }
        let valid = match self.auth.validate(token).await {
            Ok(v) => v,
            Err(e) => return (Err(refusal(&e)), None),
        };
        let client_id = valid.client_id().map(str::to_string);
        let tenant_id = valid.claim_str("tid").unwrap_or_default();
        (route(service, method, uri, tenant_id), client_id)
    }
}

/// The list answers for an authenticated caller of tenant `tenant_id`.
fn route(
    service: &TokenService,
    method: &Method,
    uri: &Uri,
    tenant_id: &str,
) -> Result<Value, ArmError> {
    let path = uri.path().trim_end_matches('/');
    let known = matches!(
        path.to_ascii_lowercase().as_str(),
        "/subscriptions" | "/tenants"
    );
    if !known {
        // UNCONFIRMED: Resource Manager's answer for a path it has no provider for varies by
        // path; this names what is served instead.
        return Err(ArmError {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            message: format!(
                "certgen serve answers only GET /subscriptions and GET /tenants of Azure \
                 Resource Manager, not {method} {path}"
            ),
        });
    }
    if method != Method::GET {
        return Err(ArmError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "MethodNotAllowed",
            message: format!("The requested resource does not support http method '{method}'."),
        });
    }
    let has_api_version = uri.query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "api-version" && !v.is_empty())
    });
    if !has_api_version {
        return Err(ArmError {
            status: StatusCode::BAD_REQUEST,
            code: "MissingApiVersionParameter",
            message: "The api-version query parameter (?api-version=) is required for all \
                      requests."
                .into(),
        });
    }
    if path.eq_ignore_ascii_case("/tenants") {
        Ok(tenants(service, tenant_id))
    } else {
        Ok(subscriptions(service, tenant_id))
    }
}

/// `GET /subscriptions`: the subscriptions of the token's tenant (every one of them: access
/// inside a subscription, Azure RBAC, is not modelled).
pub fn subscriptions(service: &TokenService, tenant_id: &str) -> Value {
    let value: Vec<Value> = service
        .subscriptions
        .iter()
        .filter(|s| s.tenant_id.eq_ignore_ascii_case(tenant_id))
        .map(|s| {
            json!({
                "id": format!("/subscriptions/{}", s.id),
                "authorizationSource": "RoleBased",
                "managedByTenants": [],
                "subscriptionId": s.id,
                "tenantId": s.tenant_id,
                "displayName": s.display_name,
                "state": "Enabled",
                "subscriptionPolicies": {
                    "locationPlacementId": "Public_2014-09-01",
                    "quotaId": "PayAsYouGo_2014-09-01",
                    "spendingLimit": "Off"
                }
            })
        })
        .collect();
    json!({ "value": value })
}

/// `GET /tenants`: the token's tenant (a user of several tenants would see each; every
/// token here names one).
pub fn tenants(service: &TokenService, tenant_id: &str) -> Value {
    let value: Vec<Value> = service
        .directory
        .tenant(tenant_id)
        .ok()
        .flatten()
        .map(|t| {
            let default_domain = t.domains.first().cloned();
            json!({
                "id": format!("/tenants/{}", t.id),
                "tenantId": t.id,
                "tenantCategory": "Home",
                "displayName": default_domain.clone().unwrap_or_else(|| t.id.clone()),
                "domains": t.domains,
                "defaultDomain": default_domain,
                "tenantType": "AAD"
            })
        })
        .into_iter()
        .collect();
    json!({ "value": value })
}
