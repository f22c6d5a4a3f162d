//! The token endpoint's user grants (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>, <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-device-code>): `authorization_code`,
//! `refresh_token` and the device-code grant. The client has been authenticated by
//! [`TokenService::token`] already (a public client with nothing, a confidential one with a
//! secret or an assertion, exactly as in the client-credentials grant).

use serde_json::{json, Value};

use super::kept::Handle;
use super::scopes::{self, Requested};
use super::DeviceState;
use crate::aadsts::Aadsts;
use crate::config::{App, Tenant, User};
use crate::service::{TokenRequest, TokenService};
use crate::tokens::{self, ClientAuth, Delegated, Grant, IdTokenFacts, EXPIRES_IN};

pub const AUTHORIZATION_CODE: &str = "authorization_code";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Whether a `grant_type` is one of the user grants.
pub fn is_user_grant(grant_type: &str) -> bool {
    matches!(grant_type, AUTHORIZATION_CODE | REFRESH_TOKEN | DEVICE_CODE)
}

/// The authenticated client of a user-grant request.
pub struct Client<'a> {
    pub tenant: &'a Tenant,
    pub app: &'a App,
    pub auth: ClientAuth,
}

/// Answers a user grant.
pub fn redeem(
    service: &TokenService,
    req: &TokenRequest,
    client: &Client,
    grant_type: &str,
) -> Result<Value, Aadsts> {
    let (user_id, scope, nonce) = match grant_type {
        AUTHORIZATION_CODE => authorization_code(service, req, client)?,
        REFRESH_TOKEN => refresh_token(service, req, client)?,
        _ => device_code(service, req, client)?,
    };
    let user = service
        .user(&user_id)?
        .ok_or_else(|| Aadsts::ServerError("the signed-in user is no longer known".into()))?;
    user_tokens(service, req, client, &user, &scope, nonce.as_deref())
}

type Redeemed = (String, Requested, Option<String>);

fn required<'a>(req: &'a TokenRequest, name: &'static str) -> Result<&'a str, Aadsts> {
    req.field(name)
        .filter(|v| !v.is_empty())
        .ok_or(Aadsts::MissingParameter(name))
}

/// The `scope` of a redemption, when sent (consent checked again: it may name another
/// resource), else what was granted before; the OpenID scopes of both count.
fn scope_now(
    service: &TokenService,
    req: &TokenRequest,
    client: &Client,
    before: &Requested,
) -> Result<Requested, Aadsts> {
    match req.field("scope").filter(|s| !s.trim().is_empty()) {
        None => Ok(before.clone()),
        Some(s) => {
            let mut now = scopes::parse(&service.directory, client.app, s, &client.tenant.id)?;
            now.oidc.openid |= before.oidc.openid;
            now.oidc.profile |= before.oidc.profile;
            now.oidc.email |= before.oidc.email;
            now.oidc.offline_access |= before.oidc.offline_access;
            Ok(now)
        }
    }
}

fn authorization_code(
    service: &TokenService,
    req: &TokenRequest,
    client: &Client,
) -> Result<Redeemed, Aadsts> {
    let code = required(req, "code")?;
    let redirect_uri = required(req, "redirect_uri")?;
    let verifier = req.field("code_verifier").filter(|v| !v.is_empty());
    let now = req.now;
    // Checked and spent in one transaction, so a code is redeemed once even when raced, by
    // this process or another on the same state folder.
    let grant = service
        .flows
        .codes
        .update(&Handle::of(code), now, |c| {
            if !c
                .request
                .client_id
                .eq_ignore_ascii_case(&client.app.client_id)
            {
                return Err(Aadsts::InvalidGrant(
                    "The provided value for the 'code' parameter is not valid: the code was \
                     issued to another application."
                        .into(),
                ));
            }
            if c.request.tenant_id != client.tenant.id {
                return Err(Aadsts::GrantOtherTenant);
            }
            if c.redeemed {
                return Err(Aadsts::CodeRedeemed);
            }
            if c.expires <= now {
                return Err(Aadsts::CodeExpired);
            }
            if c.request.redirect_uri != redirect_uri {
                return Err(Aadsts::RedirectUriChanged {
                    sent: redirect_uri.to_string(),
                    issued: c.request.redirect_uri.clone(),
                });
            }
            if let Some(ch) = &c.request.challenge {
                let verifier = verifier.ok_or(Aadsts::PkceVerifierMissing)?;
                if !pkce_matches(ch, verifier) {
                    return Err(Aadsts::PkceMismatch);
                }
            }
            c.redeemed = true;
            Ok(c.clone())
        })?
        .ok_or_else(|| {
            Aadsts::InvalidGrant("The provided value for the 'code' parameter is not valid.".into())
        })??;
    let scope = scope_now(service, req, client, &grant.request.scope)?;
    Ok((grant.user_id, scope, grant.request.nonce))
}

/// RFC 7636 §4.6: S256 compares base64url(SHA-256(verifier)); plain compares as is.
fn pkce_matches(ch: &super::Challenge, verifier: &str) -> bool {
    use sha2::{Digest, Sha256};
    if ch.s256 {
        certgen::jose::b64::encode(Sha256::digest(verifier.as_bytes())) == ch.value
    } else {
        verifier == ch.value
    }
}

fn refresh_token(
    service: &TokenService,
    req: &TokenRequest,
    client: &Client,
) -> Result<Redeemed, Aadsts> {
    let token = required(req, "refresh_token")?;
    let now = req.now;
    let grant = service
        .flows
        .refresh_tokens
        .get(&Handle::of(token), now)?
        .ok_or(Aadsts::MalformedGrant)?;
    if !grant.client_id.eq_ignore_ascii_case(&client.app.client_id) {
        return Err(Aadsts::InvalidGrant(
            "The refresh token was issued to another application.".into(),
        ));
    }
    if grant.tenant_id != client.tenant.id {
        return Err(Aadsts::GrantOtherTenant);
    }
    if grant.expires <= now {
        return Err(Aadsts::RefreshTokenExpired {
            issued: grant.issued,
            inactive_secs: now - grant.issued,
        });
    }
    let mut scope = scope_now(service, req, client, &grant.scope)?;
    // A refresh always answers with a new refresh token.
    scope.oidc.offline_access = true;
    Ok((grant.user_id, scope, None))
}

fn device_code(
    service: &TokenService,
    req: &TokenRequest,
    client: &Client,
) -> Result<Redeemed, Aadsts> {
    let code = required(req, "device_code")?;
    let now = req.now;
    service
        .flows
        .devices
        .update(&Handle::of(code), now, |d| {
            if !d.client_id.eq_ignore_ascii_case(&client.app.client_id)
                || d.tenant_id != client.tenant.id
            {
                return Err(Aadsts::BadVerificationCode);
            }
            if d.expires <= now {
                return Err(Aadsts::DeviceCodeExpired);
            }
            match std::mem::replace(&mut d.state, DeviceState::Redeemed) {
                DeviceState::Approved { user_id } => Ok((user_id, d.scope.clone(), None)),
                other => {
                    let refusal = match &other {
                        DeviceState::Pending => Aadsts::AuthorizationPending,
                        DeviceState::Declined => Aadsts::AuthorizationDeclined,
                        _ => Aadsts::InvalidGrant(
                            "The device code was redeemed already; start the device flow \
                             again."
                                .into(),
                        ),
                    };
                    d.state = other;
                    Err(refusal)
                }
            }
        })?
        .ok_or(Aadsts::BadVerificationCode)?
}

/// The answer to a user grant: a delegated access token for the first resource asked, an
/// id_token with `openid`, a refresh token with `offline_access`, `client_info` when asked.
fn user_tokens(
    service: &TokenService,
    req: &TokenRequest,
    client: &Client,
    user: &User,
    scope: &Requested,
    nonce: Option<&str>,
) -> Result<Value, Aadsts> {
    let granted = scope.token_resource();
    let resource = service
        .directory
        .resource(&granted.resource)?
        .ok_or_else(|| Aadsts::ServerError("a granted resource is no longer known".into()))?;
    let resource = &*resource;
    let names = req.face.names(&service.base);
    let scp = granted.scp();
    let access_claims = service.directory.user_claims(&user.id, &resource.app_id)?;
    let grant = Grant {
        tenant: client.tenant,
        app: client.app,
        resource,
        requested_as: &granted.named_as,
        auth: client.auth,
        names: &names,
        now: req.now,
        delegated: Some(Delegated {
            user,
            scp: &scp,
            claims: &access_claims,
        }),
    };
    let access_token = tokens::access_token(&service.signer, &grant)?;
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope.response_scope(&granted),
        "expires_in": EXPIRES_IN,
        "ext_expires_in": EXPIRES_IN,
        "access_token": access_token,
    });
    if scope.oidc.offline_access {
        body["refresh_token"] = json!(service.flows.issue_refresh_token(
            &client.app.client_id,
            &client.tenant.id,
            &user.id,
            scope,
            req.now
        )?);
    }
    if scope.oidc.openid {
        let id_claims = service
            .directory
            .user_claims(&user.id, &client.app.client_id)?;
        let facts = IdTokenFacts {
            profile: scope.oidc.profile,
            email: scope.oidc.email,
            nonce,
            claims: &id_claims,
        };
        body["id_token"] = json!(tokens::id_token(&service.signer, &grant, user, &facts)?);
    }
    if req.field("client_info") == Some("1") {
        body["client_info"] = json!(tokens::client_info(user, client.tenant));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        let ch = super::super::Challenge {
            value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            s256: true,
        };
        assert!(pkce_matches(
            &ch,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!pkce_matches(
            &ch,
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"
        ));
    }
}
