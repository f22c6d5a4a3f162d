//! The client-credentials grant: from the form fields of a token request to an access token
//! or the AADSTS refusal Entra would give. No HTTP here; `handlers` does the transport.

use std::sync::Arc;

use serde_json::Value;

use super::aadsts::Aadsts;
use super::client_assertion;
use super::client_secret::{self, SecretMatch};
use super::config::{App, Resource, Tenant};
use super::service::{TokenRequest, TokenService};
use super::tokens::{self, ClientAuth, Endpoint, Grant};
use super::user_flow::grants::{self as user_grants, is_user_grant};
use certgen::assertion::ASSERTION_TYPE;
use certgen::authority::{is_dns_name, is_guid};
use certgen::secret::Secret;

/// What a token request came to, with the client id for the log line.
pub struct Outcome {
    pub client_id: Option<String>,
    pub result: Result<Value, Aadsts>,
}

impl TokenService {
    /// Resolves the tenant segment of a URL.
    pub fn tenant(&self, segment: &str, discovery: bool) -> Result<Tenant, Aadsts> {
        if let Some(t) = self.directory.tenant(segment)? {
            return Ok(t);
        }
        let lower = segment.to_ascii_lowercase();
        if matches!(lower.as_str(), "common" | "organizations" | "consumers") && !discovery {
            return Err(Aadsts::TenantlessAuthority(lower));
        }
        if is_guid(segment) || is_dns_name(segment) || discovery {
            return Err(Aadsts::TenantNotFound {
                tenant: segment.to_string(),
                discovery,
            });
        }
        Err(Aadsts::InvalidTenantName(segment.to_string()))
    }

    /// The tenant of a user flow: a known one by id or domain, or — for the multi-tenant
    /// segments, which user flows accept — the first registered tenant. UNCONFIRMED choice:
    /// Entra resolves `/common` to the user's home tenant; here every user is in every tenant.
    pub fn user_tenant(&self, segment: &str) -> Result<Tenant, Aadsts> {
        match self.tenant(segment, false) {
            Err(Aadsts::TenantlessAuthority(_)) => self
                .directory
                .tenants()?
                .first()
                .cloned()
                .ok_or_else(|| Aadsts::ServerError("no tenant is registered".into())),
            other => other,
        }
    }

    /// Handles one token request.
    pub fn token(&self, req: &TokenRequest) -> Outcome {
        let mut client_id = None;
        let result = self.token_inner(req, &mut client_id);
        Outcome { client_id, result }
    }

    fn token_inner(
        &self,
        req: &TokenRequest,
        client_id_out: &mut Option<String>,
    ) -> Result<Value, Aadsts> {
        // The tenant is judged first (as before the user flows), except that the
        // multi-tenant segments are the user flows' to accept.
        let named = self.tenant(req.tenant, false);
        if let Err(e) = &named {
            if !matches!(e, Aadsts::TenantlessAuthority(_)) {
                return Err(e.clone());
            }
        }
        let grant_type = match req.field("grant_type") {
            None | Some("") => return Err(Aadsts::MissingParameter("grant_type")),
            Some("client_credentials") => "client_credentials",
            // The user flows run on the v2.0 endpoint only.
            Some(g) if is_user_grant(g) && req.endpoint == Endpoint::V2 => g,
            Some(other) => return Err(Aadsts::UnsupportedGrantType(other.to_string())),
        };
        let user_flow = grant_type != "client_credentials";
        let tenant = if user_flow {
            self.user_tenant(req.tenant)?
        } else {
            named?
        };
        let basic = req.authorization.and_then(client_secret::basic_credentials);
        let client_id = match (req.field("client_id"), &basic) {
            (Some(id), _) if !id.is_empty() => id.to_string(),
            (_, Some((id, _))) if !id.is_empty() => id.clone(),
            _ => return Err(Aadsts::MissingParameter("client_id")),
        };
        *client_id_out = Some(client_id.clone());
        let view = self
            .app(&client_id)?
            .ok_or_else(|| Aadsts::ApplicationNotFound {
                client_id: client_id.clone(),
                tenant: req.tenant.to_string(),
            })?;
        let app = view.at(req.now);
        let app = &*app;
        if app.missing_service_principal {
            return Err(Aadsts::MissingServicePrincipal {
                client_id,
                tenant: req.tenant.to_string(),
            });
        }
        let basic_secrets = basic.map(|(_, presented)| presented).unwrap_or_default();
        let auth = if user_flow && app.public_client {
            let presented = !basic_secrets.is_empty()
                || req.field("client_secret").is_some_and(|s| !s.is_empty())
                || req.field("client_assertion").is_some_and(|s| !s.is_empty());
            if presented {
                return Err(Aadsts::PublicClientCredential);
            }
            ClientAuth::Public
        } else {
            self.authenticate(req, &tenant, app, basic_secrets)?
        };
        if user_flow {
            let client = user_grants::Client {
                tenant: &tenant,
                app,
                auth,
            };
            return user_grants::redeem(self, req, &client, grant_type);
        }
        let (resource, requested_as) = self.requested_resource(req)?;
        let names = req.face.names(&self.base);
        let grant = Grant {
            tenant: &tenant,
            app,
            resource: &resource,
            requested_as: &requested_as,
            auth,
            names: &names,
            now: req.now,
            delegated: None,
        };
        let token = tokens::access_token(&self.signer, &grant)?;
        Ok(tokens::response(req.endpoint, token, &grant))
    }

    /// How the client proved it is `app`: exactly one credential, a secret (from the form or
    /// HTTP Basic) or a client assertion, checked.
    fn authenticate(
        &self,
        req: &TokenRequest,
        tenant: &Tenant,
        app: &App,
        basic_secrets: Vec<Secret>,
    ) -> Result<ClientAuth, Aadsts> {
        let mut secrets: Vec<Secret> = Vec::new();
        if let Some(s) = req.field("client_secret").filter(|s| !s.is_empty()) {
            secrets.push(Secret::new(s));
        }
        secrets.extend(basic_secrets);
        let assertion = req.field("client_assertion").filter(|s| !s.is_empty());
        match (assertion, secrets.is_empty()) {
            (None, true) => Err(Aadsts::NoCredential),
            (Some(_), false) => Err(Aadsts::TwoCredentials),
            (None, false) => match client_secret::check(app, &secrets, req.now) {
                SecretMatch::Valid => Ok(ClientAuth::Secret),
                SecretMatch::Expired => Err(Aadsts::ExpiredSecret {
                    client_id: app.client_id.clone(),
                }),
                SecretMatch::None => Err(Aadsts::InvalidSecret {
                    client_id: app.client_id.clone(),
                }),
            },
            (Some(jwt), true) => {
                if req.field("client_assertion_type") != Some(ASSERTION_TYPE) {
                    return Err(Aadsts::MissingParameter("client_assertion_type"));
                }
                if crate::federation::exchange::is_federated(jwt, &app.client_id) {
                    self.federated(jwt, app, req.now)?;
                    return Ok(ClientAuth::Federated);
                }
                self.check_assertion(jwt, req, tenant, app)?;
                Ok(ClientAuth::Certificate)
            }
        }
    }

    /// A client assertion for `app`, addressed to the name the client reached; under
    /// `--strict`, also never seen before (its `jti`).
    fn check_assertion(
        &self,
        jwt: &str,
        req: &TokenRequest,
        tenant: &Tenant,
        app: &App,
    ) -> Result<(), Aadsts> {
        let now = req.now;
        let bases = req.face.audience_bases(&self.audience_bases);
        let accepted = client_assertion::validate(
            jwt,
            &client_assertion::Expected {
                app,
                tenant,
                bases: &bases,
                now,
                strict: self.strict,
                keys: &self.public_keys,
            },
        )?;
        if self.strict {
            if let Some(jti) = &accepted.jti {
                self.replay
                    .check_and_record(&app.client_id, jti, accepted.exp, now)?;
            }
        }
        Ok(())
    }

    /// The resource asked for (v2: `scope`, v1: `resource`) and the name it was asked by.
    pub(crate) fn requested_resource(
        &self,
        req: &TokenRequest,
    ) -> Result<(Arc<Resource>, String), Aadsts> {
        match req.endpoint {
            Endpoint::V2 => self.scope_resource(req.field("scope"), req.tenant),
            Endpoint::V1 => {
                let name = match req.field("resource") {
                    Some(r) if !r.trim().is_empty() => r.trim(),
                    _ => return Err(Aadsts::MissingParameter("resource")),
                };
                Ok((self.resource(name, req.tenant)?, name.to_string()))
            }
        }
    }

    /// The one resource a v2 `scope` names (`{resource}/.default`, RFC 6749 §3.3, <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>).
    fn scope_resource(
        &self,
        scope: Option<&str>,
        tenant: &str,
    ) -> Result<(Arc<Resource>, String), Aadsts> {
        let Some(scope) = scope.filter(|s| !s.trim().is_empty()) else {
            return Err(Aadsts::MissingParameter("scope"));
        };
        let mut names: Vec<String> = Vec::new();
        for s in scope.split_whitespace() {
            // OIDC's reserved scopes mean nothing in an app-only grant; MSAL may add them.
            if matches!(s, "openid" | "profile" | "offline_access" | "email") {
                continue;
            }
            let Some(name) = s.strip_suffix("/.default") else {
                return Err(Aadsts::ScopeNotDefault(s.to_string()));
            };
            let name = name.trim_end_matches('/');
            if name.is_empty() {
                return Err(Aadsts::InvalidScope(s.to_string()));
            }
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name.to_string());
            }
        }
        match names.as_slice() {
            [] => Err(Aadsts::InvalidScope(scope.to_string())),
            [name] => {
                let resource = self.resource(name, tenant)?;
                let as_registered = resource.identifier_uri_as_registered(name);
                Ok((resource, as_registered))
            }
            _ => Err(Aadsts::SeveralResources),
        }
    }
}
