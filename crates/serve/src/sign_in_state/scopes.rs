//! Delegated scopes: what a user-flow `scope` parameter asks for, resource by resource, and
//! whether the app was consented for it (`[app.delegated]` in the config).
//!
//! Forms (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>): the OpenID scopes (`openid profile email offline_access`),
//! `{resource}/{scope}` (`api://orders/Orders.Read`), `{resource}/.default` (every consented
//! scope of the resource), and a bare name, which is Microsoft Graph's (`User.Read`).

use crate::aadsts::Aadsts;
use crate::config::{App, Resource, GRAPH_APP_ID, GRAPH_URI};
use crate::directory::Directory;

/// Graph's scope every app may ask for without consent (Entra's default permission).
const FREE_GRAPH_SCOPE: &str = "User.Read";

/// The OpenID Connect scopes asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Oidc {
    pub openid: bool,
    pub profile: bool,
    pub email: bool,
    pub offline_access: bool,
}

impl Oidc {
    fn take(&mut self, scope: &str) -> bool {
        let flag = match scope.to_ascii_lowercase().as_str() {
            "openid" => &mut self.openid,
            "profile" => &mut self.profile,
            "email" => &mut self.email,
            "offline_access" => &mut self.offline_access,
            _ => return false,
        };
        *flag = true;
        true
    }

    /// The names, in Entra's order, for a response's `scope`.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.openid, "openid"),
            (self.profile, "profile"),
            (self.email, "email"),
            (self.offline_access, "offline_access"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect()
    }
}

/// The scopes asked of one resource.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceScopes {
    /// The resource's app id.
    pub resource: String,
    /// How the client named it (`api://orders`, a GUID, `https://graph.microsoft.com`): the
    /// `aud` of a v1 token and the prefix of the response's `scope`.
    pub named_as: String,
    /// Scope names on the resource (`Orders.Read`), in the order asked.
    pub scopes: Vec<String>,
}

impl ResourceScopes {
    /// `scp`: the names, space-separated.
    pub fn scp(&self) -> String {
        self.scopes.join(" ")
    }

    /// The resource's part of a response's `scope`: Graph's names bare, as Entra answers
    /// them; others prefixed by the resource as named.
    pub fn qualified(&self) -> Vec<String> {
        if self.resource == GRAPH_APP_ID {
            return self.scopes.clone();
        }
        let prefix = self.named_as.trim_end_matches('/');
        self.scopes
            .iter()
            .map(|s| format!("{prefix}/{s}"))
            .collect()
    }
}

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Requested {
    pub oidc: Oidc,
    /// The resources asked for, in order; the first is the one a token is issued for.
    pub resources: Vec<ResourceScopes>,
}

impl Requested {
    /// The resource a token answers for: the first asked, or — with OpenID scopes only —
    /// Microsoft Graph with `User.Read`. UNCONFIRMED: Entra answers an OpenID-only request
    /// with a Graph token; which scopes it carries then is not recorded.
    pub fn token_resource(&self) -> ResourceScopes {
        self.resources
            .first()
            .cloned()
            .unwrap_or_else(|| ResourceScopes {
                resource: GRAPH_APP_ID.to_string(),
                named_as: GRAPH_URI.to_string(),
                scopes: vec![FREE_GRAPH_SCOPE.to_string()],
            })
    }

    /// The `scope` of a token response for `granted` (the token's resource).
    pub fn response_scope(&self, granted: &ResourceScopes) -> String {
        let mut all = granted.qualified();
        all.extend(self.oidc.names().into_iter().map(str::to_string));
        all.join(" ")
    }
}

/// Parses `scope` for `app` and checks consent: 500011 for an unknown resource, 70011 for a
/// scope the resource does not expose, 65001 for one the app was not consented for.
pub fn parse(
    directory: &Directory,
    app: &App,
    scope: &str,
    tenant: &str,
) -> Result<Requested, Aadsts> {
    let mut out = Requested::default();
    for s in scope.split_whitespace() {
        if out.oidc.take(s) {
            continue;
        }
        let (resource_name, name) = match s.rsplit_once('/') {
            Some((r, n)) => (r, n),
            None => (GRAPH_URI, s),
        };
        if resource_name.trim_end_matches('/').is_empty() || name.is_empty() {
            return Err(Aadsts::InvalidScope(s.to_string()));
        }
        let resource =
            directory
                .resource(resource_name)?
                .ok_or_else(|| Aadsts::ResourceNotFound {
                    resource: resource_name.to_string(),
                    tenant: tenant.to_string(),
                })?;
        let resource = &*resource;
        let names = if name == ".default" {
            default_scopes(app, resource)?
        } else {
            vec![exposed(resource, name, s)?]
        };
        for n in &names {
            check_consent(app, resource, n)?;
        }
        let entry = match out
            .resources
            .iter_mut()
            .position(|r| r.resource == resource.app_id)
        {
            Some(i) => &mut out.resources[i],
            None => {
                out.resources.push(ResourceScopes {
                    resource: resource.app_id.clone(),
                    named_as: resource_name.to_string(),
                    scopes: Vec::new(),
                });
                out.resources.last_mut().expect("just pushed")
            }
        };
        for n in names {
            if !entry.scopes.iter().any(|x| x.eq_ignore_ascii_case(&n)) {
                entry.scopes.push(n);
            }
        }
    }
    if out.resources.is_empty() && out.oidc == Oidc::default() {
        return Err(Aadsts::InvalidScope(scope.to_string()));
    }
    Ok(out)
}

/// The scope as the resource spells it, or 70011 when it does not expose it.
fn exposed(resource: &Resource, name: &str, asked: &str) -> Result<String, Aadsts> {
    if resource.scopes.is_empty() {
        return Ok(name.to_string());
    }
    resource
        .scopes
        .iter()
        .find(|x| x.eq_ignore_ascii_case(name))
        .cloned()
        .ok_or_else(|| Aadsts::InvalidScope(asked.to_string()))
}

/// `{resource}/.default`: every scope consented on the resource (Graph's free `User.Read` when
/// none is); 65001 when an API was consented for nothing.
fn default_scopes(app: &App, resource: &Resource) -> Result<Vec<String>, Aadsts> {
    let mut names = app
        .delegated
        .get(&resource.app_id)
        .cloned()
        .unwrap_or_default();
    if resource.app_id == GRAPH_APP_ID
        && !names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(FREE_GRAPH_SCOPE))
    {
        names.insert(0, FREE_GRAPH_SCOPE.to_string());
    }
    if names.is_empty() {
        return Err(consent_required(app));
    }
    Ok(names)
}

fn check_consent(app: &App, resource: &Resource, name: &str) -> Result<(), Aadsts> {
    let free = resource.app_id == GRAPH_APP_ID && name.eq_ignore_ascii_case(FREE_GRAPH_SCOPE);
    let consented = app
        .delegated
        .get(&resource.app_id)
        .is_some_and(|s| s.iter().any(|x| x.eq_ignore_ascii_case(name)));
    if free || consented {
        Ok(())
    } else {
        Err(consent_required(app))
    }
}

fn consent_required(app: &App) -> Aadsts {
    Aadsts::ConsentRequired {
        client_id: app.client_id.clone(),
        app_name: app.display_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flags, Registry};

    fn registry() -> Registry {
        let toml = r#"
[[resource]]
app_id = "33333333-3333-3333-3333-333333333333"
identifier_uris = ["api://orders"]
scopes = ["Orders.Read", "Orders.Write"]
[[app]]
client_id = "44444444-4444-4444-4444-444444444444"
public_client = true
[app.delegated]
"api://orders" = ["Orders.Read"]
"https://graph.microsoft.com" = ["Mail.Read"]
"#;
        Registry::from_toml(
            toml,
            "t",
            std::path::Path::new(""),
            &Flags::default(),
            &|_| None,
        )
        .unwrap()
    }

    #[test]
    fn forms_and_consent() {
        let r = Directory::in_memory(&registry()).unwrap();
        let view = r
            .app("44444444-4444-4444-4444-444444444444")
            .unwrap()
            .unwrap();
        let app = &view.app;
        let got = parse(
            &r,
            app,
            "openid profile offline_access User.Read Mail.Read",
            "t",
        )
        .unwrap();
        assert!(got.oidc.openid && got.oidc.profile && got.oidc.offline_access && !got.oidc.email);
        let graph = got.token_resource();
        assert_eq!(graph.resource, GRAPH_APP_ID);
        assert_eq!(graph.scp(), "User.Read Mail.Read");
        assert_eq!(
            got.response_scope(&graph),
            "User.Read Mail.Read openid profile offline_access"
        );

        let got = parse(&r, app, "api://orders/orders.read openid", "t").unwrap();
        let orders = got.token_resource();
        assert_eq!(orders.scp(), "Orders.Read");
        assert_eq!(
            got.response_scope(&orders),
            "api://orders/Orders.Read openid"
        );
        let got = parse(&r, app, "api://orders/.default", "t").unwrap();
        assert_eq!(got.token_resource().scp(), "Orders.Read");

        let code = |scope: &str| parse(&r, app, scope, "t").unwrap_err().code();
        assert_eq!(code("api://orders/Orders.Write"), 65001);
        assert_eq!(code("User.Read.All"), 65001);
        assert_eq!(code("api://orders/Nope"), 70011);
        assert_eq!(code("api://unknown/x"), 500011);
        assert_eq!(code(""), 70011);
        // Only OpenID scopes: a Graph token with User.Read.
        let got = parse(&r, app, "openid", "t").unwrap();
        assert_eq!(got.token_resource().scp(), "User.Read");
    }
}
