//! What the token endpoints read, made from directory objects: an app (application object,
//! its service principal, the roles assigned to it and the delegated grants it holds), a
//! resource API, a user, a tenant. Built once per change and shared, so a token request reads
//! memory.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use super::objects::{federated_credential_of, role_value, str_of, strings};
use super::store::Object;
use crate::config::{App, AppSecret, Resource, SecretDigest, Tenant, TokenVersion, User};
use certgen::certificate::Certificate;

/// An app's view, and the moment it next changes by itself (a key added with a replication
/// delay becoming usable).
#[derive(Debug)]
pub struct AppView {
    pub app: App,
    /// Each certificate with the second from which it is usable (all certificates, in
    /// `keyCredentials` order).
    pub keys: Vec<(Certificate, i64)>,
}

impl AppView {
    /// The app as the token endpoint sees it at `now`: certificates past their delay only
    /// (the shared view itself when every key is usable, as almost always).
    pub fn at(&self, now: i64) -> Cow<'_, App> {
        if self.keys.iter().all(|(_, from)| *from <= now) {
            return Cow::Borrowed(&self.app);
        }
        let mut app = self.app.clone();
        app.certificates = self
            .keys
            .iter()
            .filter(|(_, from)| *from <= now)
            .map(|(c, _)| c.clone())
            .collect();
        Cow::Owned(app)
    }
}

/// The parts of an app held elsewhere than its application object.
pub struct Related<'a> {
    pub service_principal: Option<&'a Object>,
    /// Role assignments to the service principal, each with the resource's service principal.
    pub assignments: Vec<(&'a Object, Object)>,
    /// All-principals delegated grants held by the service principal, each with the resource's
    /// service principal.
    pub grants: Vec<(&'a Object, Object)>,
    /// Its federated identity credentials.
    pub federated: Vec<Object>,
}

pub fn app(application: &Object, related: &Related) -> AppView {
    let doc = &application.doc;
    let mut app = App {
        client_id: str_of(doc, "appId").to_ascii_lowercase(),
        display_name: str_of(doc, "displayName").to_string(),
        application_object_id: application.id.clone(),
        public_client: doc
            .get("isFallbackPublicClient")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..App::default()
    };
    for p in [
        "/web/redirectUris",
        "/publicClient/redirectUris",
        "/spa/redirectUris",
    ] {
        if let Some(list) = doc.pointer(p).and_then(Value::as_array) {
            app.redirect_uris
                .extend(list.iter().filter_map(Value::as_str).map(String::from));
        }
    }
    let usable = application.internal.get("usableFrom");
    let mut keys = Vec::new();
    for k in doc
        .get("keyCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let der = base64::engine::general_purpose::STANDARD.decode(str_of(k, "key"));
        // A key credential that does not hold a certificate (Graph also lists symmetric keys)
        // authenticates nothing here.
        let Ok(cert) = der
            .map_err(drop)
            .and_then(|d| Certificate::from_der(&d).map_err(drop))
        else {
            continue;
        };
        let from = usable
            .and_then(|u| u.get(str_of(k, "keyId")))
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN);
        keys.push((cert, from));
    }
    for p in application
        .internal
        .get("passwords")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(digest) = SecretDigest::from_hex(str_of(p, "sha256")) else {
            continue;
        };
        let expires = p
            .get("end")
            .and_then(Value::as_i64)
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok());
        app.secrets.push(AppSecret { digest, expires });
    }
    match related.service_principal {
        Some(sp) => app.object_id = sp.id.clone(),
        None => app.missing_service_principal = true,
    }
    app.roles = roles(&related.assignments);
    for (g, resource_sp) in &related.grants {
        app.delegated
            .entry(str_of(&resource_sp.doc, "appId").to_ascii_lowercase())
            .or_default()
            .extend(str_of(&g.doc, "scope").split_whitespace().map(String::from));
    }
    app.federated = related
        .federated
        .iter()
        .filter_map(|o| federated_credential_of(&o.doc))
        .collect();
    app.certificates = keys.iter().map(|(c, _)| c.clone()).collect();
    AppView { app, keys }
}

/// The role values of app role assignments (each with the resource's service principal), by
/// the resource's app id.
fn roles(assignments: &[(&Object, Object)]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (a, resource_sp) in assignments {
        let role_id = str_of(&a.doc, "appRoleId");
        if let Some(value) = role_value(&resource_sp.doc, role_id) {
            out.entry(str_of(&resource_sp.doc, "appId").to_ascii_lowercase())
                .or_default()
                .push(value.to_string());
        }
    }
    out
}

/// A managed identity as the token path reads it: an app with no application object (no
/// credential: the platform vouches for it), named by its service principal, with the roles
/// assigned to it and its Azure resource id; and the tenant it belongs to.
pub fn managed_identity(sp: &Object, assignments: &[(&Object, Object)]) -> (App, String) {
    let doc = &sp.doc;
    let resource_id = strings(doc, "alternativeNames")
        .find(|n| n.starts_with('/'))
        .map(String::from);
    let app = App {
        client_id: str_of(doc, "appId").to_ascii_lowercase(),
        display_name: str_of(doc, "displayName").to_string(),
        object_id: sp.id.clone(),
        roles: roles(assignments),
        managed_identity: Some(resource_id.unwrap_or_default()),
        ..App::default()
    };
    (
        app,
        str_of(doc, "appOwnerOrganizationId").to_ascii_lowercase(),
    )
}

/// A resource API: an application with a service principal in the tenant. Microsoft's own
/// resources define "any" roles and scopes (`internal.anyRole`, `anyScope`), since their
/// catalogue is not modelled whole; so does a config resource that lists none.
pub fn resource(application: &Object, sp: &Object) -> Resource {
    let doc = &application.doc;
    let flag = |name: &str| {
        application
            .internal
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let values = |any: bool, list: Option<&Value>| -> Vec<String> {
        if any {
            return Vec::new();
        }
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r.get("isEnabled").and_then(Value::as_bool) != Some(false))
            .map(|r| str_of(r, "value").to_string())
            .filter(|v| !v.is_empty())
            .collect()
    };
    let token_version = match doc
        .pointer("/api/requestedAccessTokenVersion")
        .and_then(Value::as_i64)
    {
        Some(2) => TokenVersion::V2,
        _ => TokenVersion::V1,
    };
    Resource {
        app_id: str_of(doc, "appId").to_ascii_lowercase(),
        display_name: str_of(&sp.doc, "displayName").to_string(),
        identifier_uris: strings(doc, "identifierUris").map(String::from).collect(),
        roles: values(flag("anyRole"), sp.doc.get("appRoles")),
        scopes: values(flag("anyScope"), sp.doc.get("oauth2PermissionScopes")),
        token_version,
    }
}

pub fn user(o: &Object) -> User {
    let d = &o.doc;
    let opt = |k: &str| d.get(k).and_then(Value::as_str).map(String::from);
    User {
        id: o.id.clone(),
        user_principal_name: str_of(d, "userPrincipalName").to_string(),
        display_name: opt("displayName"),
        given_name: opt("givenName"),
        surname: opt("surname"),
        mail: opt("mail"),
        job_title: opt("jobTitle"),
        mobile_phone: opt("mobilePhone"),
        office_location: opt("officeLocation"),
        preferred_language: opt("preferredLanguage"),
        business_phones: strings(d, "businessPhones").map(String::from).collect(),
        disabled: d.get("accountEnabled").and_then(Value::as_bool) == Some(false),
    }
}

pub fn tenant(o: &Object) -> Tenant {
    Tenant {
        id: o.id.clone(),
        domains: strings(&o.doc, "domains").map(String::from).collect(),
    }
}
