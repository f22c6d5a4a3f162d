//! Service principals: `POST /servicePrincipals {appId}`
//! (<https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-serviceprincipals>),
//! `GET` (list with `$filter`, by id, `servicePrincipals(appId='…')`;
//! <https://learn.microsoft.com/en-us/graph/api/serviceprincipal-list>) and `DELETE`
//! (<https://learn.microsoft.com/en-us/graph/api/serviceprincipal-delete>).
//!
//! An application made through Graph gets its service principal here; until then its token
//! requests are AADSTS7000229. Writes need one of [`WRITE_APPLICATIONS`] (`OwnedBy` not
//! honoured); reads one of [`READ_APPLICATIONS`], or none for the caller's own.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::applications::AppKey;
use super::auth::Caller;
use super::error::GraphError;
use super::filter::{select as select_objects, Clause, Filter};
use super::query::{context, entity, Query};
use super::{json_body, Reply};
use crate::config::microsoft::is_microsoft;
use crate::directory::objects::{self, str_of};
use crate::directory::{Change, Directory, Kind, Object, Origin};
use certgen::graph::permissions::{allows, READ_APPLICATIONS, WRITE_APPLICATIONS};

/// The properties served, in Graph's order (those of `objects::service_principal_doc`).
pub const PROPERTIES: [&str; 15] = [
    "id",
    "accountEnabled",
    "alternativeNames",
    "appDisplayName",
    "appId",
    "appRoleAssignmentRequired",
    "appRoles",
    "displayName",
    "keyCredentials",
    "oauth2PermissionScopes",
    "passwordCredentials",
    "servicePrincipalNames",
    "servicePrincipalType",
    "signInAudience",
    "tags",
];

const TYPE: &str = "microsoft.graph.servicePrincipal";

/// The `$filter` forms taken (the Azure CLI resolves an app's service principal with the
/// `servicePrincipalNames/any` one).
pub const FILTERS: &[(&str, &str)] = &[
    ("eq", "appId"),
    ("eq", "displayName"),
    ("startswith", "displayName"),
    ("any", "servicePrincipalNames"),
    // `servicePrincipalType eq 'ManagedIdentity'`: how scripts list managed identities. Not
    // in INDEX: directories kept from before this index key existed lack it, and a scan of
    // the service principals is always right.
    ("eq", "servicePrincipalType"),
];

const INDEX: &[(&str, &str)] = &[
    ("appId", "appId"),
    ("displayName", "displayName"),
    ("servicePrincipalNames", "servicePrincipalName"),
];

/// Properties a client may set when it makes one; the rest come from the application.
const SETTABLE: [&str; 4] = [
    "accountEnabled",
    "appRoleAssignmentRequired",
    "tags",
    "notes",
];

/// The service principal a key names.
pub fn find(directory: &Directory, key: &AppKey) -> Result<Option<Object>, GraphError> {
    Ok(match key {
        AppKey::ObjectId(id) => directory.get(Kind::ServicePrincipal, id)?,
        AppKey::AppId(id) => directory
            .find(Kind::ServicePrincipal, "appId", id)?
            .into_iter()
            .next(),
    })
}

fn is_own(caller: &Caller, sp: &Object) -> bool {
    caller.app_id.eq_ignore_ascii_case(str_of(&sp.doc, "appId"))
}

/// The service principal a key names, if the caller may read it (403 before 404).
pub fn readable(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
) -> Result<Object, GraphError> {
    let sp = find(directory, key)?;
    let own = sp.as_ref().is_some_and(|s| is_own(caller, s));
    if !own && !allows(&caller.roles(), READ_APPLICATIONS) {
        return Err(GraphError::insufficient_privileges());
    }
    sp.ok_or_else(|| GraphError::not_found(key.text()))
}

pub fn to_json(doc: &Value, select: Option<&[&'static str]>) -> Value {
    match select {
        None => doc.clone(),
        Some(props) => Value::Object(
            props
                .iter()
                .map(|p| {
                    (
                        (*p).to_string(),
                        doc.get(*p).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect(),
        ),
    }
}

pub fn get(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    query: &Query,
    graph_base: &str,
) -> Result<Reply, GraphError> {
    let sp = readable(directory, caller, key)?;
    let select = query.select(&PROPERTIES, TYPE)?;
    Ok(Reply::ok(entity(
        context(graph_base, "servicePrincipals", select.as_deref(), true),
        to_json(&sp.doc, select.as_deref()),
    )))
}

pub fn list(
    directory: &Directory,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Reply, GraphError> {
    let select = query.select(&PROPERTIES, TYPE)?;
    let filter = query
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, FILTERS))
        .transpose()?;
    let own_only = filter.as_ref().is_some_and(|f| {
        f.0.iter().any(|c| match c {
            Clause::Eq(p, v) if p == "appId" => v.eq_ignore_ascii_case(&caller.app_id),
            Clause::Any(_, v) => v.eq_ignore_ascii_case(&caller.app_id),
            _ => false,
        })
    });
    let may_read_all = allows(&caller.roles(), READ_APPLICATIONS);
    if !own_only && !may_read_all {
        return Err(GraphError::insufficient_privileges());
    }
    let found = select_objects(directory, Kind::ServicePrincipal, filter.as_ref(), INDEX)?;
    let items = found
        .iter()
        .filter(|sp| may_read_all || is_own(caller, sp))
        .map(|sp| to_json(&sp.doc, select.as_deref()))
        .collect();
    Ok(Reply::ok(query.page(
        &format!("{graph_base}/v1.0/servicePrincipals"),
        &context(graph_base, "servicePrincipals", select.as_deref(), false),
        items,
    )))
}

/// `POST /servicePrincipals`: 201 with the new service principal, for an application of this
/// tenant that has none.
pub fn create(
    directory: &Directory,
    caller: &Caller,
    body: &[u8],
    graph_base: &str,
) -> Result<Reply, GraphError> {
    if !allows(&caller.roles(), WRITE_APPLICATIONS) {
        return Err(GraphError::insufficient_privileges());
    }
    let body = json_body(body)?;
    let Some(app_id) = body.get("appId").and_then(Value::as_str) else {
        // UNCONFIRMED: Graph's text when appId is missing.
        return Err(GraphError::bad_request(
            "Request_BadRequest",
            "The appId property is required to create a service principal.",
        ));
    };
    let Some(app) = directory
        .find(Kind::Application, "appId", app_id)?
        .into_iter()
        .next()
    else {
        // UNCONFIRMED: the text Graph is reported to answer for an appId no application has.
        return Err(GraphError::bad_request(
            "Request_BadRequest",
            format!(
                "The appId '{app_id}' of the service principal does not reference a valid \
                 application object."
            ),
        ));
    };
    if !directory
        .find(Kind::ServicePrincipal, "appId", app_id)?
        .is_empty()
    {
        return Err(already_exists(app_id));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut doc = objects::service_principal_doc(&id, &app.doc);
    let extra: Map<String, Value> = body
        .into_iter()
        .filter(|(k, _)| SETTABLE.contains(&k.as_str()))
        .collect();
    objects::merge(&mut doc, &extra);
    directory.write(vec![Change::Put(objects::object(
        Kind::ServicePrincipal,
        &id,
        Origin::Graph,
        doc.clone(),
        serde_json::json!({}),
    ))])?;
    Ok(Reply::created(entity(
        context(graph_base, "servicePrincipals", None, true),
        doc,
    )))
}

/// A second service principal for one app. UNCONFIRMED: status 409 and this code and text are
/// what Graph is reported to answer (the service principal name, the app id, is taken).
fn already_exists(app_id: &str) -> GraphError {
    GraphError {
        status: StatusCode::CONFLICT,
        code: "Request_MultipleObjectsWithSameKeyValue",
        message: format!(
            "The service principal cannot be created, updated, or restored because the service \
             principal name {app_id} is already in use."
        ),
    }
}

/// `DELETE /servicePrincipals/{id}`: 204; its assignments, grants and memberships go too.
pub fn delete(directory: &Directory, caller: &Caller, key: &AppKey) -> Result<Reply, GraphError> {
    if !allows(&caller.roles(), WRITE_APPLICATIONS) {
        return Err(GraphError::insufficient_privileges());
    }
    let sp = find(directory, key)?.ok_or_else(|| GraphError::not_found(key.text()))?;
    if is_microsoft(str_of(&sp.doc, "appId")) {
        // UNCONFIRMED: Graph lets an administrator delete some of Microsoft's service
        // principals; here Microsoft's resources exist in every tenant, always.
        return Err(GraphError::bad_request(
            "Request_BadRequest",
            "certgen serve keeps the service principals of Microsoft's own applications.",
        ));
    }
    directory.write(removal(directory, &sp.id)?)?;
    Ok(Reply::no_content())
}

/// The changes that delete a service principal and everything that names it: app role
/// assignments it holds or grants, delegated grants it holds or is the resource of, and its
/// group memberships.
pub fn removal(directory: &Directory, sp_id: &str) -> Result<Vec<Change>, GraphError> {
    let mut changes = vec![Change::Delete(
        Kind::ServicePrincipal,
        sp_id.to_ascii_lowercase(),
    )];
    let mut seen = std::collections::HashSet::new();
    for (kind, index) in [
        (Kind::AppRoleAssignment, "principalId"),
        (Kind::AppRoleAssignment, "resourceId"),
        (Kind::OAuth2PermissionGrant, "clientId"),
        (Kind::OAuth2PermissionGrant, "resourceId"),
        (Kind::Member, "member"),
    ] {
        for o in directory.find(kind, index, sp_id)? {
            if seen.insert((o.kind.name(), o.id.clone())) {
                changes.push(Change::Delete(kind, o.id));
            }
        }
    }
    Ok(changes)
}
