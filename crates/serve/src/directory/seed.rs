//! The config file (and flags) as directory objects: what a start brings the directory to.
//! Each object carries a digest of the config entry that made it, so a later start changes an
//! object only when the file changed that entry: a Graph write to a config-made app (a
//! rotation's `addKey`, an `addPassword`) stays across restarts until the file is edited, and
//! an object the file no longer names goes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::objects::{self, app_role, application_doc, object, scope, service_principal_doc};
use super::store::{Kind, Object, Origin};
use crate::config::microsoft::permission_id;
use crate::config::{
    name_based_guid, App, ManagedIdentity, ManagedIdentityKind, Registry, Resource, User,
};
use crate::keys::stable_key_id;
use certgen::certificate::rfc3339;
use certgen::graph::cloud::GRAPH_APP_ID;
use certgen::graph::keycred::key_credential_with;

/// The id of the service principal of a resource known only by app id.
pub fn resource_sp_id(app_id: &str) -> String {
    name_based_guid(&format!(
        "service principal {}",
        app_id.to_ascii_lowercase()
    ))
}

fn resource_application_id(app_id: &str) -> String {
    name_based_guid(&format!("application {}", app_id.to_ascii_lowercase()))
}

/// Every object the registrations name, each with its seed digest.
pub fn objects(registry: &Registry) -> Vec<Object> {
    let mut out = Vec::new();
    for t in &registry.tenants {
        out.push(object(
            Kind::Tenant,
            &t.id,
            Origin::Config,
            json!({"id": t.id, "domains": t.domains}),
            json!({}),
        ));
    }
    // Roles and scopes apps are given on each resource, so a resource that defines "any" (an
    // empty list, as Microsoft Graph) still lists them, with ids, for Graph's readers.
    let mut used_roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut used_scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mi_roles = registry.managed_identities.iter().flat_map(|m| &m.roles);
    for (r, roles) in registry.apps.iter().flat_map(|a| &a.roles).chain(mi_roles) {
        used_roles
            .entry(r.clone())
            .or_default()
            .extend(roles.clone());
    }
    for a in &registry.apps {
        for (r, scopes) in &a.delegated {
            used_scopes
                .entry(r.clone())
                .or_default()
                .extend(scopes.clone());
        }
    }
    let mut applications: BTreeMap<String, (Value, Value)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for a in &registry.apps {
        let (doc, internal) = app_application(a);
        order.push(a.client_id.clone());
        applications.insert(a.client_id.clone(), (doc, internal));
    }
    for r in &registry.resources {
        let roles = used_roles.get(&r.app_id).cloned().unwrap_or_default();
        let scopes = used_scopes.get(&r.app_id).cloned().unwrap_or_default();
        match applications.get_mut(&r.app_id) {
            Some((doc, internal)) => resource_fields(doc, internal, r, &roles, &scopes),
            None => {
                let mut doc = application_doc(
                    &resource_application_id(&r.app_id),
                    &r.app_id,
                    &r.display_name,
                    &Map::new(),
                );
                let mut internal = json!({});
                resource_fields(&mut doc, &mut internal, r, &roles, &scopes);
                order.push(r.app_id.clone());
                applications.insert(r.app_id.clone(), (doc, internal));
            }
        }
    }
    // By id, not a scan per app: 10,000 apps would make that 10^8 comparisons.
    let sp_ids: HashMap<&str, &str> = registry
        .apps
        .iter()
        .map(|a| (a.client_id.as_str(), a.object_id.as_str()))
        .collect();
    let sp_of = |app_id: &str| -> String {
        sp_ids
            .get(app_id)
            .map(|id| id.to_string())
            .unwrap_or_else(|| resource_sp_id(app_id))
    };
    for app_id in &order {
        let (doc, internal) = &applications[app_id];
        let sp_id = sp_of(app_id);
        out.push(object(
            Kind::ServicePrincipal,
            &sp_id,
            Origin::Config,
            service_principal_doc(&sp_id, doc),
            json!({}),
        ));
        out.push(object(
            Kind::Application,
            objects::str_of(doc, "id"),
            Origin::Config,
            doc.clone(),
            internal.clone(),
        ));
    }
    for a in &registry.apps {
        out.extend(assignments(a, &sp_of));
        for f in &a.federated {
            out.push(objects::federated_credential(
                &a.application_object_id,
                f,
                Origin::Config,
            ));
        }
    }
    for m in &registry.managed_identities {
        out.push(managed_identity(m));
        out.extend(role_assignments(
            &m.principal_id,
            &m.display_name,
            &m.roles,
            &sp_of,
        ));
    }
    for u in &registry.users {
        out.push(user(u, Origin::Config));
    }
    for o in &mut out {
        o.seed = Some(digest(o));
    }
    out
}

fn digest(o: &Object) -> String {
    let mut h = Sha256::new();
    h.update(o.kind.name());
    h.update([0]);
    h.update(o.doc.to_string());
    h.update([0]);
    h.update(o.internal.to_string());
    hex::encode(&h.finalize()[..16])
}

/// One digest of every config object: when it is the one recorded, the start has nothing to
/// bring back and skips the per-object pass.
pub fn whole_digest(objects: &[Object]) -> String {
    let mut h = Sha256::new();
    for o in objects {
        h.update(o.seed.as_deref().unwrap_or_default());
    }
    hex::encode(&h.finalize()[..16])
}

fn app_application(a: &App) -> (Value, Value) {
    let key_credentials: Vec<Value> = a
        .certificates
        .iter()
        .map(|c| key_credential_with(c, &c.subject, &stable_key_id(c), true))
        .collect();
    let mut passwords = Vec::new();
    let mut password_docs = Vec::new();
    for (i, s) in a.secrets.iter().enumerate() {
        let key_id = name_based_guid(&format!("password {} {i}", a.client_id));
        password_docs.push(json!({
            "customKeyIdentifier": null,
            "displayName": null,
            "endDateTime": s.expires.map(rfc3339),
            "hint": null,
            "keyId": key_id,
            "secretText": null,
            "startDateTime": null,
        }));
        passwords.push(json!({
            "keyId": key_id,
            "sha256": s.digest.to_hex(),
            "end": s.expires.map(|e| e.unix_timestamp()),
        }));
    }
    let mut extra = Map::new();
    extra.insert("keyCredentials".into(), Value::Array(key_credentials));
    extra.insert("passwordCredentials".into(), Value::Array(password_docs));
    extra.insert("isFallbackPublicClient".into(), json!(a.public_client));
    let uris = json!({"redirectUris": a.redirect_uris});
    extra.insert(
        if a.public_client {
            "publicClient"
        } else {
            "web"
        }
        .into(),
        uris,
    );
    let doc = application_doc(
        &a.application_object_id,
        &a.client_id,
        &a.display_name,
        &extra,
    );
    (doc, json!({"passwords": passwords}))
}

/// A resource's roles, scopes, identifier URIs and token version on its application object.
fn resource_fields(
    doc: &mut Value,
    internal: &mut Value,
    r: &Resource,
    used_roles: &[String],
    used_scopes: &[String],
) {
    let any_role = r.roles.is_empty();
    let mut role_names: Vec<String> = r.roles.clone();
    let mut scope_names: Vec<String> = r.scopes.clone();
    if r.app_id == GRAPH_APP_ID {
        role_names.extend(
            crate::config::microsoft::GRAPH_ROLES
                .iter()
                .map(|(v, _)| v.to_string()),
        );
        scope_names.extend(
            crate::config::microsoft::GRAPH_SCOPES
                .iter()
                .map(|(v, _)| v.to_string()),
        );
    }
    if any_role {
        role_names.extend(used_roles.iter().cloned());
    }
    if r.scopes.is_empty() {
        scope_names.extend(used_scopes.iter().cloned());
    }
    let mut seen = HashSet::new();
    let roles: Vec<Value> = role_names
        .iter()
        .filter(|v| seen.insert(v.to_string()))
        .map(|v| app_role(&permission_id(&r.app_id, v, false), v, &["Application"]))
        .collect();
    let mut seen = HashSet::new();
    let scopes: Vec<Value> = scope_names
        .iter()
        .filter(|v| seen.insert(v.to_ascii_lowercase()))
        .map(|v| scope(&permission_id(&r.app_id, v, true), v))
        .collect();
    let mut extra = Map::new();
    extra.insert("identifierUris".into(), json!(r.identifier_uris));
    extra.insert("appRoles".into(), Value::Array(roles));
    extra.insert(
        "api".into(),
        json!({
            "oauth2PermissionScopes": scopes,
            "requestedAccessTokenVersion": match r.token_version {
                crate::config::TokenVersion::V2 => json!(2),
                _ => Value::Null,
            },
        }),
    );
    objects::merge(doc, &extra);
    if let Some(name) = doc.get_mut("displayName") {
        if name.as_str().is_none_or(str::is_empty) {
            *name = json!(r.display_name);
        }
    }
    if any_role || r.scopes.is_empty() {
        internal["anyRole"] = json!(any_role);
        internal["anyScope"] = json!(r.scopes.is_empty());
    }
}

/// A managed identity's service principal: type `ManagedIdentity`, no application object,
/// its Azure resource id among `alternativeNames` (as Graph lists one:
/// `["isExplicit=True", "/subscriptions/…"]`, `isExplicit` true for a user-assigned one).
fn managed_identity(m: &ManagedIdentity) -> Object {
    let explicit = m.kind == ManagedIdentityKind::User;
    object(
        Kind::ServicePrincipal,
        &m.principal_id,
        Origin::Config,
        json!({
            "id": m.principal_id,
            "accountEnabled": true,
            "alternativeNames": [
                if explicit { "isExplicit=True" } else { "isExplicit=False" },
                m.resource_id,
            ],
            "appDisplayName": null,
            "appId": m.client_id,
            "appOwnerOrganizationId": m.tenant_id,
            "appRoleAssignmentRequired": false,
            "appRoles": [],
            "displayName": m.display_name,
            "keyCredentials": [],
            "oauth2PermissionScopes": [],
            "passwordCredentials": [],
            "servicePrincipalNames": [m.client_id],
            "servicePrincipalType": "ManagedIdentity",
            "signInAudience": null,
            "tags": [],
        }),
        json!({
            "managedIdentity": if explicit { "user" } else { "system" },
            "tenant": m.tenant_id,
        }),
    )
}

/// An app's `[app.roles]` as app role assignments and its `[app.delegated]` as all-principals
/// grants, on the resources' service principals.
fn assignments(a: &App, sp_of: &dyn Fn(&str) -> String) -> Vec<Object> {
    let mut out = role_assignments(&a.object_id, &a.display_name, &a.roles, sp_of);
    let mut resources: Vec<&String> = a.delegated.keys().collect();
    resources.sort();
    for r in resources {
        let resource_sp = sp_of(r);
        let id = name_based_guid(&format!("grant {} {r}", a.object_id));
        out.push(object(
            Kind::OAuth2PermissionGrant,
            &id,
            Origin::Config,
            json!({
                "id": id,
                "clientId": a.object_id,
                "consentType": "AllPrincipals",
                "principalId": null,
                "resourceId": resource_sp,
                "scope": a.delegated[r].join(" "),
            }),
            json!({}),
        ));
    }
    out
}

/// Roles given to the service principal `principal_id` (by resource app id) as app role
/// assignments on the resources' service principals.
fn role_assignments(
    principal_id: &str,
    display_name: &str,
    roles: &HashMap<String, Vec<String>>,
    sp_of: &dyn Fn(&str) -> String,
) -> Vec<Object> {
    let mut out = Vec::new();
    let mut resources: Vec<&String> = roles.keys().collect();
    resources.sort();
    for r in resources {
        let resource_sp = sp_of(r);
        for role in &roles[r] {
            let id = name_based_guid(&format!("assignment {principal_id} {r} {role}"));
            out.push(object(
                Kind::AppRoleAssignment,
                &id,
                Origin::Config,
                json!({
                    "id": id,
                    "appRoleId": permission_id(r, role, false),
                    "createdDateTime": null,
                    "deletedDateTime": null,
                    "principalDisplayName": display_name,
                    "principalId": principal_id,
                    "principalType": "ServicePrincipal",
                    "resourceDisplayName": null,
                    "resourceId": resource_sp,
                }),
                json!({}),
            ));
        }
    }
    out
}

/// A user object as Graph answers it.
pub fn user(u: &User, origin: Origin) -> Object {
    object(
        Kind::User,
        &u.id,
        origin,
        json!({
            "id": u.id,
            "accountEnabled": true,
            "businessPhones": u.business_phones,
            "displayName": u.display_name,
            "givenName": u.given_name,
            "jobTitle": u.job_title,
            "mail": u.mail,
            "mobilePhone": u.mobile_phone,
            "officeLocation": u.office_location,
            "preferredLanguage": u.preferred_language,
            "surname": u.surname,
            "userPrincipalName": u.user_principal_name,
        }),
        json!({}),
    )
}
