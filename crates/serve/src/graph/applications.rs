//! Application objects: `GET /v1.0/applications(appId='…')`, `/applications/{object id}`,
//! `/applications?$filter=appId eq '…'`. An app reads its own object with no permission
//! (<https://learn.microsoft.com/en-us/graph/api/application-addkey>); another's needs one of [`READ_APPLICATIONS`]. The certificates are
//! the app's `keyCredentials` as [`KeyRegistry`] holds them now (`addKey`/`removeKey` change
//! them live).

use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::error::GraphError;
use super::query::{context, entity, Query};
use crate::config::{name_based_guid, App, Registry};
use crate::keys::KeyRegistry;
use certgen::certificate::rfc3339;
use certgen::graph::keycred::key_credential_with;
use certgen::graph::permissions::{allows, READ_APPLICATIONS};

/// The properties served, in Graph's order.
pub const PROPERTIES: [&str; 6] = [
    "id",
    "appId",
    "displayName",
    "signInAudience",
    "keyCredentials",
    "passwordCredentials",
];

const TYPE: &str = "microsoft.graph.application";

/// How a URL names an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppKey {
    /// `/applications/{id}`: the application object id.
    ObjectId(String),
    /// `/applications(appId='{appId}')`: the client id.
    AppId(String),
}

impl AppKey {
    /// The segment after `/v1.0/`: `applications(appId='…')`; `None` for anything else.
    pub fn from_segment(segment: &str) -> Option<AppKey> {
        let inner = segment.strip_prefix("applications(")?.strip_suffix(')')?;
        let (name, value) = inner.split_once('=')?;
        let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
        name.trim()
            .eq_ignore_ascii_case("appId")
            .then(|| AppKey::AppId(value.to_string()))
    }

    pub fn find<'r>(&self, registry: &'r Registry) -> Option<&'r App> {
        match self {
            AppKey::ObjectId(id) => registry.app_by_object_id(id),
            AppKey::AppId(id) => registry.app(id),
        }
    }

    pub fn text(&self) -> &str {
        match self {
            AppKey::ObjectId(s) | AppKey::AppId(s) => s,
        }
    }
}

fn is_self(caller: &Caller, app: &App) -> bool {
    caller.app_id.eq_ignore_ascii_case(&app.client_id)
}

/// The application a key names, if the caller may read it: 403 before 404, so a caller without
/// the permission learns nothing about apps other than itself.
pub fn readable<'r>(
    registry: &'r Registry,
    caller: &Caller,
    key: &AppKey,
) -> Result<&'r App, GraphError> {
    let app = key.find(registry);
    let own = app.is_some_and(|a| is_self(caller, a));
    if !own && !allows(&caller.roles(), READ_APPLICATIONS) {
        return Err(GraphError::insufficient_privileges());
    }
    app.ok_or_else(|| GraphError::not_found(key.text()))
}

pub fn get(
    registry: &Registry,
    keys: &KeyRegistry,
    caller: &Caller,
    key: &AppKey,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    let app = readable(registry, caller, key)?;
    let select = query.select(&PROPERTIES, TYPE)?;
    Ok(entity(
        context(graph_base, "applications", select.as_deref(), true),
        to_json(app, keys, select.as_deref()),
    ))
}

/// The collection, optionally filtered by `appId eq '…'` (the only filter served).
pub fn list(
    registry: &Registry,
    keys: &KeyRegistry,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    let select = query.select(&PROPERTIES, TYPE)?;
    let wanted = match &query.filter {
        None => None,
        Some(f) => Some(app_id_filter(f).ok_or_else(|| {
            GraphError::bad_request(
                "Request_UnsupportedQuery",
                format!("certgen serve filters applications by appId eq '…' only, not '{f}'."),
            )
        })?),
    };
    let may_read_all = allows(&caller.roles(), READ_APPLICATIONS);
    let own_only = wanted
        .as_deref()
        .is_some_and(|id| id.eq_ignore_ascii_case(&caller.app_id));
    if !may_read_all && !own_only {
        return Err(GraphError::insufficient_privileges());
    }
    let items = registry
        .apps
        .iter()
        .filter(|a| {
            wanted
                .as_deref()
                .is_none_or(|id| a.client_id.eq_ignore_ascii_case(id))
        })
        .map(|a| to_json(a, keys, select.as_deref()))
        .collect();
    Ok(query.page(
        &format!("{graph_base}/v1.0/applications"),
        &context(graph_base, "applications", select.as_deref(), false),
        items,
    ))
}

/// `appId eq 'x'` (any case for the property and `eq`, spaces as typed) → `x`.
fn app_id_filter(filter: &str) -> Option<String> {
    let mut words = filter.split_whitespace();
    let (prop, op, value) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some()
        || !prop.eq_ignore_ascii_case("appId")
        || !op.eq_ignore_ascii_case("eq")
    {
        return None;
    }
    Some(value.strip_prefix('\'')?.strip_suffix('\'')?.to_string())
}

/// An application object: every served property, or the selection. `keyCredentials[].key`
/// is the certificate only when `keyCredentials` is selected, as Graph does.
pub fn to_json(app: &App, keys: &KeyRegistry, select: Option<&[&'static str]>) -> Value {
    let with_keys = select.is_some_and(|s| s.contains(&"keyCredentials"));
    let mut out = Map::new();
    for p in select.unwrap_or(&PROPERTIES) {
        let v = match *p {
            "id" => json!(app.application_object_id),
            "appId" => json!(app.client_id),
            "displayName" => json!(app.display_name),
            "signInAudience" => json!("AzureADMyOrg"),
            "keyCredentials" => Value::Array(
                keys.keys(app)
                    .iter()
                    .map(|k| {
                        key_credential_with(&k.certificate, &k.display_name, &k.key_id, with_keys)
                    })
                    .collect(),
            ),
            "passwordCredentials" => Value::Array(
                app.secrets
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        json!({
                            "customKeyIdentifier": null,
                            "displayName": null,
                            "endDateTime": s.expires.map(rfc3339),
                            "hint": null,
                            "keyId": name_based_guid(&format!("password {} {i}", app.client_id)),
                            "secretText": null,
                            "startDateTime": null,
                        })
                    })
                    .collect(),
            ),
            _ => Value::Null,
        };
        out.insert((*p).to_string(), v);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_filters_as_graph_writes_them() {
        assert_eq!(
            AppKey::from_segment("applications(appId='6f1c')"),
            Some(AppKey::AppId("6f1c".into()))
        );
        assert_eq!(
            AppKey::from_segment("applications(APPID = '6f1c')"),
            Some(AppKey::AppId("6f1c".into()))
        );
        assert_eq!(AppKey::from_segment("applications(id='x')"), None);
        assert_eq!(AppKey::from_segment("applications"), None);
        assert_eq!(app_id_filter("appId eq '6f1c'"), Some("6f1c".into()));
        assert_eq!(app_id_filter("appid  EQ  '6f1c'"), Some("6f1c".into()));
        assert_eq!(app_id_filter("displayName eq 'x'"), None);
        assert_eq!(app_id_filter("appId eq 6f1c"), None);
    }
}
