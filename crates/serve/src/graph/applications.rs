//! Application objects: `GET /v1.0/applications(appId='…')`, `/applications/{object id}`,
//! `/applications?$filter=appId eq '…'`. An app reads its own object with no permission
//! (<https://learn.microsoft.com/en-us/graph/api/application-addkey>); another's needs one of [`READ_APPLICATIONS`]. The certificates are
//! the app's `keyCredentials` as [`KeyRegistry`] holds them now (`addKey`/`removeKey` change
//! them live).

use serde_json::{Map, Value};

use super::auth::Caller;
use super::error::GraphError;
use super::filter::{select as select_objects, Clause, Filter};
use super::query::{context, entity, Query};
use crate::directory::microsoft::is_first_party;
use crate::directory::objects::str_of;
use crate::directory::{Directory, Kind, Object};
use certgen::graph::permissions::{allows, READ_APPLICATIONS};

/// The properties served, in Graph's order (those of `objects::application_doc`).
pub const PROPERTIES: [&str; 22] = [
    "id",
    "appId",
    "displayName",
    "description",
    "signInAudience",
    "identifierUris",
    "groupMembershipClaims",
    "isFallbackPublicClient",
    "keyCredentials",
    "passwordCredentials",
    "appRoles",
    "api",
    "requiredResourceAccess",
    "web",
    "publicClient",
    "spa",
    "tags",
    "createdDateTime",
    "publisherDomain",
    "info",
    "notes",
    "optionalClaims",
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
        AppKey::keyed(segment, "applications")
    }

    /// `{collection}(appId='…')` (the collection's name in any case) → the app id.
    pub fn keyed(segment: &str, collection: &str) -> Option<AppKey> {
        let head = segment.get(..collection.len())?;
        if !head.eq_ignore_ascii_case(collection) {
            return None;
        }
        let inner = segment[collection.len()..]
            .strip_prefix('(')?
            .strip_suffix(')')?;
        let (name, value) = inner.split_once('=')?;
        let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
        name.trim()
            .eq_ignore_ascii_case("appId")
            .then(|| AppKey::AppId(value.to_string()))
    }

    /// The application object named, if any (never one of Microsoft's own, whose application
    /// objects are not in this tenant).
    pub fn find(&self, directory: &Directory) -> Result<Option<Object>, GraphError> {
        let found = match self {
            AppKey::ObjectId(id) => directory.get(Kind::Application, id)?,
            AppKey::AppId(id) => directory
                .find(Kind::Application, "appId", id)?
                .into_iter()
                .next(),
        };
        Ok(found.filter(in_tenant))
    }

    pub fn text(&self) -> &str {
        match self {
            AppKey::ObjectId(s) | AppKey::AppId(s) => s,
        }
    }
}

/// Whether an application object is this tenant's (not one of Microsoft's own).
pub fn in_tenant(app: &Object) -> bool {
    !is_first_party(str_of(&app.doc, "appId"))
}

fn is_self(caller: &Caller, app: &Object) -> bool {
    caller
        .app_id
        .eq_ignore_ascii_case(str_of(&app.doc, "appId"))
}

/// The application a key names, if the caller may read it: 403 before 404, so a caller without
/// the permission learns nothing about apps other than itself.
pub fn readable(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
) -> Result<Object, GraphError> {
    let app = key.find(directory)?;
    let own = app.as_ref().is_some_and(|a| is_self(caller, a));
    if !own && !allows(&caller.roles(), READ_APPLICATIONS) {
        return Err(GraphError::insufficient_privileges());
    }
    app.ok_or_else(|| GraphError::not_found(key.text()))
}

pub fn get(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    let app = readable(directory, caller, key)?;
    let select = query.select(&PROPERTIES, TYPE)?;
    Ok(entity(
        context(graph_base, "applications", select.as_deref(), true),
        to_json(&app.doc, select.as_deref()),
    ))
}

/// The `$filter` forms `/applications` takes (those the Azure CLI sends,
/// <https://learn.microsoft.com/en-us/graph/api/application-list>).
pub const FILTERS: &[(&str, &str)] = &[
    ("eq", "appId"),
    ("eq", "displayName"),
    ("startswith", "displayName"),
    ("any", "identifierUris"),
];

/// The index key each filtered property is found by.
const INDEX: &[(&str, &str)] = &[
    ("appId", "appId"),
    ("displayName", "displayName"),
    ("identifierUris", "identifierUri"),
];

/// The collection, optionally filtered ([`FILTERS`]).
pub fn list(
    directory: &Directory,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    let select = query.select(&PROPERTIES, TYPE)?;
    let filter = query
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, FILTERS))
        .transpose()?;
    let may_read_all = allows(&caller.roles(), READ_APPLICATIONS);
    // An app finds its own object by its app id with no permission, as it reads it.
    let own_only = filter.as_ref().is_some_and(|f| {
        f.0.iter().any(|c| {
            matches!(c, Clause::Eq(p, v) if p == "appId" && v.eq_ignore_ascii_case(&caller.app_id))
        })
    });
    if !may_read_all && !own_only {
        return Err(GraphError::insufficient_privileges());
    }
    let found = select_objects(directory, Kind::Application, filter.as_ref(), INDEX)?;
    let items = found
        .iter()
        .filter(|a| in_tenant(a))
        .map(|a| to_json(&a.doc, select.as_deref()))
        .collect();
    Ok(query.page(
        &format!("{graph_base}/v1.0/applications"),
        &context(graph_base, "applications", select.as_deref(), false),
        items,
    ))
}

/// An application object: every property held, or the selection. `keyCredentials[].key`
/// is the certificate only when `keyCredentials` is selected, as Graph does.
pub fn to_json(doc: &Value, select: Option<&[&'static str]>) -> Value {
    let with_keys = select.is_some_and(|s| s.contains(&"keyCredentials"));
    let mut out = Map::new();
    match select {
        Some(props) => {
            for p in props {
                out.insert(
                    (*p).to_string(),
                    doc.get(*p).cloned().unwrap_or(Value::Null),
                );
            }
        }
        None => {
            if let Some(all) = doc.as_object() {
                out = all.clone();
            }
        }
    }
    if !with_keys {
        if let Some(Value::Array(keys)) = out.get_mut("keyCredentials") {
            for k in keys {
                k["key"] = Value::Null;
            }
        }
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
        assert_eq!(
            AppKey::keyed("SERVICEPRINCIPALS(appId='x')", "servicePrincipals"),
            Some(AppKey::AppId("x".into()))
        );
        assert!(Filter::parse("identifierUris/any(s:s eq 'api://x')", FILTERS).is_ok());
        assert!(Filter::parse("appId eq 6f1c", FILTERS).is_err());
    }
}
