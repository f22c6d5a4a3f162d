//! The Entra portal's own API (`main.iam.ad.ext.azure.com`), the one call of it the Azure CLI
//! makes: `az ad app permission admin-consent` posts
//! `/api/RegisteredApplications/{appId}/Consent?onBehalfOfAll=true` with a token for the
//! portal's resource (`74658136-14ec-4630-ad9b-26e160ff0fc6`), not a Graph call
//! (`azure/cli/command_modules/role/custom.py`, `admin_consent`).
//!
//! The portal grants the app's `requiredResourceAccess` there: app roles become app role
//! assignments, scopes an all-principals delegated grant (`Directory::admin_consent`), kept in
//! the directory like any Graph write.

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access_log::LogNote;
use super::config::microsoft::PORTAL_API_APP_ID;
use super::directory::consent::ConsentRefused;
use super::graph::auth::GraphAuth;
use super::service::TokenService;
use certgen::jose::strip_bearer;

/// The portal API's state: the bearer check for its resource.
pub struct PortalApi {
    auth: GraphAuth,
}

/// Where a request to the portal API points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/RegisteredApplications/{appId}/Consent`.
    Consent {
        app_id: String,
    },
    Unknown,
}

impl Route {
    pub fn parse(method: &Method, path: &str) -> Route {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            ["api", registered, app_id, consent]
                if method == Method::POST
                    && registered.eq_ignore_ascii_case("RegisteredApplications")
                    && consent.eq_ignore_ascii_case("Consent") =>
            {
                Route::Consent {
                    app_id: app_id.to_ascii_lowercase(),
                }
            }
            _ => Route::Unknown,
        }
    }
}

impl PortalApi {
    pub fn new(service: &TokenService) -> PortalApi {
        PortalApi {
            auth: GraphAuth::for_audiences(service, &[PORTAL_API_APP_ID]),
        }
    }

    /// Answers one request that reached the portal API's host.
    pub async fn answer(
        &self,
        service: &TokenService,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Response {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(strip_bearer)
            .unwrap_or_default();
        // UNCONFIRMED: the portal API's error bodies are not documented; the status codes are
        // HTTP's and the messages say what happened.
        let (status, message, client_id) = if token.is_empty() {
            (
                StatusCode::UNAUTHORIZED,
                "no bearer token: the portal API takes a token for resource \
                 74658136-14ec-4630-ad9b-26e160ff0fc6"
                    .to_string(),
                None,
            )
        } else {
            match self.auth.validate(token).await {
                Err(e) => (
                    StatusCode::UNAUTHORIZED,
                    format!("the access token is refused: {e}"),
                    None,
                ),
                Ok(valid) => {
                    let caller = valid.client_id().map(str::to_string);
                    match Route::parse(method, uri.path()) {
                        // UNCONFIRMED: the portal lets only an administrator consent; here
                        // any token of the tenant for the portal API may, since a rehearsal's
                        // caller is the tenant's own automation.
                        Route::Consent { app_id } => {
                            let now =
                                certgen::certificate::rfc3339(time::OffsetDateTime::now_utc());
                            match service.directory.admin_consent(&app_id, &now) {
                                Ok(Ok(_)) => (StatusCode::NO_CONTENT, String::new(), caller),
                                Ok(Err(refused)) => (
                                    StatusCode::BAD_REQUEST,
                                    consent_refusal(&app_id, &refused),
                                    caller,
                                ),
                                Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string(), caller),
                            }
                        }
                        Route::Unknown => (
                            StatusCode::NOT_FOUND,
                            format!(
                                "certgen serve answers only POST \
                                 /api/RegisteredApplications/{{appId}}/Consent of the portal \
                                 API, not {method} {}",
                                uri.path()
                            ),
                            caller,
                        ),
                    }
                }
            }
        };
        if status == StatusCode::NO_CONTENT {
            let mut resp = status.into_response();
            resp.extensions_mut().insert(LogNote {
                client_id,
                aadsts: None,
            });
            return resp;
        }
        let body = json!({"errorCode": status.as_u16(), "message": message});
        let mut resp = (status, body.to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        resp.extensions_mut().insert(LogNote {
            client_id,
            aadsts: None,
        });
        resp
    }
}

/// What the portal says when consent cannot be given (UNCONFIRMED texts: the portal API's
/// are not documented).
fn consent_refusal(app_id: &str, refused: &ConsentRefused) -> String {
    match refused {
        ConsentRefused::NoApplication => {
            format!("no application with appId {app_id} in the tenant")
        }
        ConsentRefused::NoServicePrincipal => format!(
            "the application {app_id} has no service principal in the tenant; make one first \
             (az ad sp create --id {app_id})"
        ),
        ConsentRefused::UnknownResource(r) => {
            format!("the application asks for permissions of {r}, which has no service principal in the tenant")
        }
        ConsentRefused::UnknownPermission { resource, id } => {
            format!(
                "the application asks for permission {id} of {resource}, which it does not define"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_path_as_the_cli_sends_it() {
        assert_eq!(
            Route::parse(
                &Method::POST,
                "/api/RegisteredApplications/6F1C5E8A-0000-4000-8000-0000000000A1/Consent"
            ),
            Route::Consent {
                app_id: "6f1c5e8a-0000-4000-8000-0000000000a1".into()
            }
        );
        assert_eq!(
            Route::parse(&Method::GET, "/api/RegisteredApplications/x/Consent"),
            Route::Unknown
        );
        assert_eq!(
            Route::parse(&Method::POST, "/api/RegisteredApplications/x"),
            Route::Unknown
        );
    }
}
