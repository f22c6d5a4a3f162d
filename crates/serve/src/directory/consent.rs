//! Admin consent: what an administrator's "Grant admin consent" does to an application's
//! `requiredResourceAccess` — each app role it asks for becomes an app role assignment to the
//! app's service principal, and its delegated scopes one all-principals delegated grant per
//! resource (<https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/grant-admin-consent>).
//! The Azure CLI's `az ad app permission admin-consent` asks the portal's API for exactly this.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::objects::{object, str_of};
use super::store::{Change, Kind, Object, Origin};
use super::{Directory, StoreResult};
use crate::config::name_based_guid;

/// Why consent could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentRefused {
    /// No application with that app id in the tenant.
    NoApplication,
    /// The application has no service principal to consent for (make one first).
    NoServicePrincipal,
    /// A resource it asks for has no service principal here.
    UnknownResource(String),
    /// A permission id the resource does not define.
    UnknownPermission { resource: String, id: String },
}

/// What consent made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consented {
    pub assignments: usize,
    pub grants: usize,
}

impl Directory {
    /// Grants everything the application `app_id` asks for in `requiredResourceAccess`, for
    /// the whole tenant. Assignments and grants that exist already are kept, not doubled.
    pub fn admin_consent(
        &self,
        app_id: &str,
        now_rfc3339: &str,
    ) -> StoreResult<Result<Consented, ConsentRefused>> {
        let Some(application) = self
            .find(Kind::Application, "appId", app_id)?
            .into_iter()
            .next()
        else {
            return Ok(Err(ConsentRefused::NoApplication));
        };
        let Some(client) = self
            .find(Kind::ServicePrincipal, "appId", app_id)?
            .into_iter()
            .next()
        else {
            return Ok(Err(ConsentRefused::NoServicePrincipal));
        };
        let held: Vec<Object> = self.find(Kind::AppRoleAssignment, "principalId", &client.id)?;
        let held_grants: Vec<Object> =
            self.find(Kind::OAuth2PermissionGrant, "clientId", &client.id)?;
        let mut changes = Vec::new();
        let mut done = Consented::default();
        let asks = application
            .doc
            .get("requiredResourceAccess")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for ask in &asks {
            let resource_app = str_of(ask, "resourceAppId");
            let Some(resource) = self
                .find(Kind::ServicePrincipal, "appId", resource_app)?
                .into_iter()
                .next()
            else {
                return Ok(Err(ConsentRefused::UnknownResource(
                    resource_app.to_string(),
                )));
            };
            let mut scopes = BTreeSet::new();
            for access in ask
                .get("resourceAccess")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = str_of(access, "id").to_ascii_lowercase();
                let listed = |list: &str| {
                    resource
                        .doc
                        .get(list)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .find(|p| str_of(p, "id").eq_ignore_ascii_case(&id))
                        .map(|p| str_of(p, "value").to_string())
                };
                let unknown = || ConsentRefused::UnknownPermission {
                    resource: resource_app.to_string(),
                    id: id.clone(),
                };
                match str_of(access, "type") {
                    "Role" => {
                        if listed("appRoles").is_none() {
                            return Ok(Err(unknown()));
                        }
                        let exists = held.iter().any(|a| {
                            str_of(&a.doc, "resourceId").eq_ignore_ascii_case(&resource.id)
                                && str_of(&a.doc, "appRoleId").eq_ignore_ascii_case(&id)
                        });
                        if exists {
                            continue;
                        }
                        let aid = name_based_guid(&format!(
                            "assignment {} {} {id}",
                            client.id, resource.id
                        ));
                        changes.push(Change::Put(object(
                            Kind::AppRoleAssignment,
                            &aid,
                            Origin::Graph,
                            json!({
                                "id": aid,
                                "appRoleId": id,
                                "createdDateTime": now_rfc3339,
                                "deletedDateTime": null,
                                "principalDisplayName": str_of(&client.doc, "displayName"),
                                "principalId": client.id,
                                "principalType": "ServicePrincipal",
                                "resourceDisplayName": str_of(&resource.doc, "displayName"),
                                "resourceId": resource.id,
                            }),
                            json!({}),
                        )));
                        done.assignments += 1;
                    }
                    _ => match listed("oauth2PermissionScopes") {
                        Some(v) => {
                            scopes.insert(v);
                        }
                        None => return Ok(Err(unknown())),
                    },
                }
            }
            if scopes.is_empty() {
                continue;
            }
            let existing = held_grants.iter().find(|g| {
                str_of(&g.doc, "resourceId").eq_ignore_ascii_case(&resource.id)
                    && str_of(&g.doc, "consentType") == "AllPrincipals"
            });
            let (gid, mut all) = match existing {
                Some(g) => (
                    g.id.clone(),
                    str_of(&g.doc, "scope")
                        .split_whitespace()
                        .map(String::from)
                        .collect::<BTreeSet<_>>(),
                ),
                None => (
                    name_based_guid(&format!("grant {} {}", client.id, resource.id)),
                    BTreeSet::new(),
                ),
            };
            let before = all.len();
            all.extend(scopes);
            if all.len() == before && existing.is_some() {
                continue;
            }
            let scope = all.into_iter().collect::<Vec<_>>().join(" ");
            changes.push(Change::Put(object(
                Kind::OAuth2PermissionGrant,
                &gid,
                Origin::Graph,
                json!({
                    "id": gid,
                    "clientId": client.id,
                    "consentType": "AllPrincipals",
                    "principalId": null,
                    "resourceId": resource.id,
                    "scope": scope,
                }),
                json!({}),
            )));
            done.grants += 1;
        }
        self.write(changes)?;
        Ok(Ok(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flags, Registry};

    #[test]
    fn consent_turns_asked_roles_and_scopes_into_assignments_and_a_grant() {
        let registry = Registry::from_toml(
            r#"
[[app]]
client_id = "44444444-4444-4444-4444-444444444444"
secret_env = ["S"]
"#,
            "t",
            std::path::Path::new(""),
            &Flags::default(),
            &|_| Some("x".into()),
        )
        .unwrap();
        let d = Directory::in_memory(&registry).unwrap();
        let app_id = "44444444-4444-4444-4444-444444444444";
        let app = d
            .find(Kind::Application, "appId", app_id)
            .unwrap()
            .remove(0);
        let mut doc = app.doc.clone();
        doc["requiredResourceAccess"] = json!([{
            "resourceAppId": "00000003-0000-0000-c000-000000000000",
            "resourceAccess": [
                {"id": "df021288-bdef-4463-88db-98f22de89214", "type": "Role"},
                {"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"},
            ],
        }]);
        d.write(vec![Change::Put(object(
            Kind::Application,
            &app.id,
            Origin::Config,
            doc,
            app.internal.clone(),
        ))])
        .unwrap();
        let done = d
            .admin_consent(app_id, "2026-01-01T00:00:00Z")
            .unwrap()
            .unwrap();
        assert_eq!(
            done,
            Consented {
                assignments: 1,
                grants: 1
            }
        );
        let view = d.app(app_id).unwrap().unwrap();
        assert_eq!(
            view.app.roles["00000003-0000-0000-c000-000000000000"],
            vec!["User.Read.All".to_string()]
        );
        assert_eq!(
            view.app.delegated["00000003-0000-0000-c000-000000000000"],
            vec!["User.Read".to_string()]
        );
        // Twice is once.
        let again = d
            .admin_consent(app_id, "2026-01-01T00:00:00Z")
            .unwrap()
            .unwrap();
        assert_eq!(again, Consented::default());
    }
}
