//! The Entra portal's own API (`main.iam.ad.ext.azure.com`), the one call of it the Azure CLI
//! makes: `az ad app permission admin-consent` posts
//! `/api/RegisteredApplications/{appId}/Consent?onBehalfOfAll=true` with a token for the
//! portal's resource (`74658136-14ec-4630-ad9b-26e160ff0fc6`), not a Graph call
//! (`azure/cli/command_modules/role/custom.py`, `admin_consent`).
//!
//! The portal grants the app's `requiredResourceAccess` there: app roles become app role
//! assignments, scopes an all-principals delegated grant. That needs a directory that can be
//! written, which this service does not have yet: the request is authenticated and routed,
//! then refused with 501 and a message that says so (never a success that changed nothing).

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access_log::LogNote;
use super::config::microsoft::PORTAL_API_APP_ID;
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
    pub async fn answer(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
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
                        // The gap, named: see the module's documentation.
                        Route::Consent { app_id } => (
                            StatusCode::NOT_IMPLEMENTED,
                            format!(
                                "certgen serve cannot grant admin consent for {app_id} yet: \
                                 that needs the writable directory (app role assignments and \
                                 delegated grants made at run time), which this version does \
                                 not have; grant the roles in the config file ([app.roles])"
                            ),
                            caller,
                        ),
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
