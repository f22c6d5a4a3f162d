//! Directory objects as Graph shapes them (camelCase documents), and the keys each is found
//! by. Every writer — the config's seeding and every Graph write — makes its objects here, so
//! an object is indexed the same way whoever made it.

use serde_json::{json, Map, Value};

use super::store::{Kind, Object, Origin};
use crate::config::federated::FederatedCredential;

/// The keys an object is found by, computed from its document. Values that Graph compares
/// ignoring case are lower-cased.
pub fn index_of(kind: Kind, doc: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut lower = |name: &'static str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push((name, v.to_lowercase()));
        }
    };
    let s = |k: &str| doc.get(k).and_then(Value::as_str);
    match kind {
        Kind::Tenant => {
            for d in strings(doc, "domains") {
                lower("domain", Some(d));
            }
        }
        Kind::Application => {
            lower("appId", s("appId"));
            lower("displayName", s("displayName"));
            for u in strings(doc, "identifierUris") {
                lower("identifierUri", Some(u.trim_end_matches('/')));
            }
        }
        Kind::ServicePrincipal => {
            lower("appId", s("appId"));
            lower("displayName", s("displayName"));
            for n in strings(doc, "servicePrincipalNames") {
                lower("servicePrincipalName", Some(n));
            }
            lower("servicePrincipalType", s("servicePrincipalType"));
            // A managed identity is found by its Azure resource id (`msi_res_id`).
            for n in strings(doc, "alternativeNames") {
                lower("alternativeName", Some(n));
            }
        }
        Kind::AppRoleAssignment => {
            lower("principalId", s("principalId"));
            lower("resourceId", s("resourceId"));
        }
        Kind::OAuth2PermissionGrant => {
            lower("clientId", s("clientId"));
            lower("resourceId", s("resourceId"));
        }
        Kind::User => {
            lower("upn", s("userPrincipalName"));
            lower("displayName", s("displayName"));
            lower("mail", s("mail"));
        }
        Kind::Group => {
            lower("displayName", s("displayName"));
            lower("mailNickname", s("mailNickname"));
        }
        Kind::Member => {
            lower("group", s("groupId"));
            lower("member", s("memberId"));
        }
        Kind::FederatedCredential => {
            let app = s(FIC_APPLICATION).unwrap_or_default();
            lower("application", Some(app));
            // Names are unique per application (ignoring case, as Graph's keys compare).
            if let Some(name) = s("name").filter(|n| !n.is_empty()) {
                lower("name", Some(&format!("{app}/{name}")));
            }
        }
    }
    out
}

/// The property of a federated credential's kept document naming its application object
/// (never answered: Graph's answers are made by `FederatedCredential::doc`).
pub const FIC_APPLICATION: &str = "applicationObjectId";

/// A federated credential of the application object `application_id` as kept.
pub fn federated_credential(
    application_id: &str,
    fic: &FederatedCredential,
    origin: Origin,
) -> Object {
    let app = application_id.to_ascii_lowercase();
    let mut doc = fic.doc();
    doc[FIC_APPLICATION] = json!(app);
    object(
        Kind::FederatedCredential,
        &format!("{app}/{}", fic.id.to_ascii_lowercase()),
        origin,
        doc,
        json!({}),
    )
}

/// A federated credential read back from its kept document (`None` when it lacks what the
/// exchange needs): the inverse of [`federated_credential`].
pub fn federated_credential_of(doc: &Value) -> Option<FederatedCredential> {
    let id = str_of(doc, "id");
    let name = str_of(doc, "name");
    if id.is_empty() || name.is_empty() {
        return None;
    }
    Some(FederatedCredential {
        id: id.to_string(),
        name: name.to_string(),
        issuer: str_of(doc, "issuer").to_string(),
        subject: str_of(doc, "subject").to_string(),
        audiences: strings(doc, "audiences").map(str::to_string).collect(),
        description: doc
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// The strings of an array property (absent or not an array: none).
pub fn strings<'a>(doc: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    doc.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// A string property, or "".
pub fn str_of<'a>(doc: &'a Value, key: &str) -> &'a str {
    doc.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An object of `kind` with its index keys.
pub fn object(kind: Kind, id: &str, origin: Origin, doc: Value, internal: Value) -> Object {
    Object {
        kind,
        index: index_of(kind, &doc),
        id: id.to_ascii_lowercase(),
        origin,
        seed: None,
        doc,
        internal,
    }
}

/// A membership object (`{group}/{member}`).
// Made by the group-membership writes of another branch; unused until they are merged.
#[allow(dead_code)]
pub fn member(group_id: &str, member_id: &str, member_type: &str, origin: Origin) -> Object {
    let (g, m) = (
        group_id.to_ascii_lowercase(),
        member_id.to_ascii_lowercase(),
    );
    object(
        Kind::Member,
        &format!("{g}/{m}"),
        origin,
        json!({"groupId": g, "memberId": m, "memberType": member_type}),
        json!({}),
    )
}

/// An application object as Graph answers it, with every property this directory serves at
/// its empty value; `extra` (what a client posted) is laid over it.
pub fn application_doc(
    id: &str,
    app_id: &str,
    display_name: &str,
    extra: &Map<String, Value>,
) -> Value {
    let mut doc = json!({
        "id": id,
        "appId": app_id,
        "displayName": display_name,
        "description": null,
        "signInAudience": "AzureADMyOrg",
        "identifierUris": [],
        "groupMembershipClaims": null,
        "isFallbackPublicClient": false,
        "keyCredentials": [],
        "passwordCredentials": [],
        "appRoles": [],
        "api": {
            "acceptMappedClaims": null,
            "knownClientApplications": [],
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": [],
            "requestedAccessTokenVersion": null,
        },
        "requiredResourceAccess": [],
        "web": {"redirectUris": [], "homePageUrl": null, "logoutUrl": null,
                "implicitGrantSettings": {"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}},
        "publicClient": {"redirectUris": []},
        "spa": {"redirectUris": []},
        "tags": [],
        "createdDateTime": null,
        "publisherDomain": null,
    });
    merge(&mut doc, extra);
    doc
}

/// Lays `patch` over `doc` as Graph's PATCH does: each property given replaces the one held
/// (objects such as `web` merged one level down, so `{"web": {"redirectUris": […]}}` keeps
/// `web`'s other properties).
pub fn merge(doc: &mut Value, patch: &Map<String, Value>) {
    let Some(target) = doc.as_object_mut() else {
        return;
    };
    for (k, v) in patch {
        match (target.get_mut(k), v) {
            (Some(Value::Object(held)), Value::Object(given)) => {
                for (k2, v2) in given {
                    held.insert(k2.clone(), v2.clone());
                }
            }
            _ => {
                target.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A service principal for an application, as `POST /servicePrincipals {appId}` makes one.
pub fn service_principal_doc(id: &str, app: &Value) -> Value {
    let app_id = str_of(app, "appId");
    let mut names = vec![Value::from(app_id)];
    names.extend(strings(app, "identifierUris").map(Value::from));
    json!({
        "id": id,
        "appId": app_id,
        "appDisplayName": str_of(app, "displayName"),
        "displayName": str_of(app, "displayName"),
        "accountEnabled": true,
        "appRoleAssignmentRequired": false,
        "servicePrincipalType": "Application",
        "signInAudience": "AzureADMyOrg",
        "servicePrincipalNames": names,
        "appRoles": app.get("appRoles").cloned().unwrap_or(json!([])),
        "oauth2PermissionScopes": app
            .pointer("/api/oauth2PermissionScopes")
            .cloned()
            .unwrap_or(json!([])),
        "keyCredentials": [],
        "passwordCredentials": [],
        "tags": [],
    })
}

/// An app role as Graph lists it.
pub fn app_role(id: &str, value: &str, member_types: &[&str]) -> Value {
    json!({
        "id": id,
        "value": value,
        "displayName": value,
        "description": value,
        "allowedMemberTypes": member_types,
        "isEnabled": true,
        "origin": "Application",
    })
}

/// A delegated permission scope as Graph lists it.
pub fn scope(id: &str, value: &str) -> Value {
    json!({
        "id": id,
        "value": value,
        "type": "User",
        "adminConsentDisplayName": value,
        "adminConsentDescription": value,
        "userConsentDisplayName": value,
        "userConsentDescription": value,
        "isEnabled": true,
    })
}

/// The value of the role `role_id` among a resource's `appRoles`.
pub fn role_value<'a>(resource_sp: &'a Value, role_id: &str) -> Option<&'a str> {
    resource_sp
        .get("appRoles")?
        .as_array()?
        .iter()
        .find(|r| str_of(r, "id").eq_ignore_ascii_case(role_id))
        .map(|r| str_of(r, "value"))
}
