//! Delegated permission grants: `/oauth2PermissionGrants` POST
//! (<https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-post>), GET (list with
//! `$filter`, one; <https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-list>),
//! PATCH `scope` (<https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-update>)
//! and DELETE.
//!
//! A grant with `consentType` `AllPrincipals` is an administrator's consent for every user: a
//! sign-in asking for those scopes needs no consent (no AADSTS65001) from the next request on.
//! A `Principal` grant is kept and listed, but the sign-in reads all-principals grants only.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::GraphError;
use super::filter::{select as select_objects, Filter};
use super::query::{context, entity, Query};
use super::{json_body, Reply};
use crate::directory::objects::{self, str_of};
use crate::directory::{reindexed, Change, Directory, Kind, Origin};
use certgen::authority::is_guid;
use certgen::graph::permissions::{allows, READ_DELEGATED_GRANTS, WRITE_DELEGATED_GRANTS};

const SET: &str = "oauth2PermissionGrants";

/// The `$filter` forms taken (the Azure CLI lists a client's grants by `clientId`).
pub const FILTERS: &[(&str, &str)] = &[
    ("eq", "clientId"),
    ("eq", "resourceId"),
    ("eq", "consentType"),
    ("eq", "principalId"),
];

const INDEX: &[(&str, &str)] = &[("clientId", "clientId"), ("resourceId", "resourceId")];

fn need(caller: &Caller, accepted: &[&str]) -> Result<(), GraphError> {
    if allows(&caller.roles(), accepted) {
        Ok(())
    } else {
        Err(GraphError::insufficient_privileges())
    }
}

fn bad_request(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

/// A `scope` value: space-separated names, kept in the order given without repeats.
fn scope_of(v: Option<&Value>) -> Result<String, GraphError> {
    let text = v
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("The scope property must be a string."))?;
    let mut names: Vec<&str> = Vec::new();
    for n in text.split_whitespace() {
        if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
            names.push(n);
        }
    }
    Ok(names.join(" "))
}

pub fn create(
    directory: &Directory,
    caller: &Caller,
    body: &[u8],
    graph_base: &str,
) -> Result<Reply, GraphError> {
    need(caller, WRITE_DELEGATED_GRANTS)?;
    let body = json_body(body)?;
    let id_field = |name: &str| -> Result<String, GraphError> {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|v| is_guid(v))
            .map(str::to_ascii_lowercase)
            // UNCONFIRMED: Graph's text for a missing or malformed id.
            .ok_or_else(|| bad_request(format!("The {name} property must be a GUID.")))
    };
    let client_id = id_field("clientId")?;
    let resource_id = id_field("resourceId")?;
    let consent_type = match body.get("consentType").and_then(Value::as_str) {
        Some(t) if t.eq_ignore_ascii_case("AllPrincipals") => "AllPrincipals",
        Some(t) if t.eq_ignore_ascii_case("Principal") => "Principal",
        _ => {
            return Err(bad_request(
                "The consentType property must be AllPrincipals or Principal.",
            ))
        }
    };
    let principal_id = match consent_type {
        "Principal" => {
            let p = id_field("principalId")?;
            if directory.get(Kind::User, &p)?.is_none() {
                return Err(GraphError::not_found(&p));
            }
            Value::String(p)
        }
        _ => Value::Null,
    };
    let scope = scope_of(body.get("scope"))?;
    // Both are service principal object ids; one that names none is Graph's 404.
    for id in [&client_id, &resource_id] {
        if directory.get(Kind::ServicePrincipal, id)?.is_none() {
            return Err(GraphError::not_found(id));
        }
    }
    let exists = directory
        .find(Kind::OAuth2PermissionGrant, "clientId", &client_id)?
        .iter()
        .any(|g| {
            str_of(&g.doc, "resourceId").eq_ignore_ascii_case(&resource_id)
                && str_of(&g.doc, "consentType") == consent_type
                && g.doc.get("principalId").unwrap_or(&Value::Null) == &principal_id
        });
    if exists {
        // UNCONFIRMED: Graph's status and text for a second grant of the same client,
        // resource and principal (the Azure CLI deletes the old one first).
        return Err(GraphError {
            status: StatusCode::CONFLICT,
            code: "Request_MultipleObjectsWithSameKeyValue",
            message: "Permission entry already exists.".into(),
        });
    }
    let id = uuid::Uuid::new_v4().to_string();
    let doc = json!({
        "id": id,
        "clientId": client_id,
        "consentType": consent_type,
        "principalId": principal_id,
        "resourceId": resource_id,
        "scope": scope,
    });
    directory.write(vec![Change::Put(objects::object(
        Kind::OAuth2PermissionGrant,
        &id,
        Origin::Graph,
        doc.clone(),
        json!({}),
    ))])?;
    Ok(Reply::created(entity(
        context(graph_base, SET, None, true),
        doc,
    )))
}

pub fn list(
    directory: &Directory,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Reply, GraphError> {
    need(caller, READ_DELEGATED_GRANTS)?;
    let filter = query
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, FILTERS))
        .transpose()?;
    let items = select_objects(
        directory,
        Kind::OAuth2PermissionGrant,
        filter.as_ref(),
        INDEX,
    )?
    .into_iter()
    .map(|g| g.doc)
    .collect();
    Ok(Reply::ok(query.page(
        &format!("{graph_base}/v1.0/{SET}"),
        &context(graph_base, SET, None, false),
        items,
    )))
}

pub fn get(
    directory: &Directory,
    caller: &Caller,
    id: &str,
    graph_base: &str,
) -> Result<Reply, GraphError> {
    need(caller, READ_DELEGATED_GRANTS)?;
    let grant = directory
        .get(Kind::OAuth2PermissionGrant, id)?
        .ok_or_else(|| GraphError::not_found(id))?;
    Ok(Reply::ok(entity(
        context(graph_base, SET, None, true),
        grant.doc,
    )))
}

/// PATCH: only `scope` changes (the one property Graph's update takes); 204.
pub fn update(
    directory: &Directory,
    caller: &Caller,
    id: &str,
    body: &[u8],
) -> Result<Reply, GraphError> {
    need(caller, WRITE_DELEGATED_GRANTS)?;
    let body = json_body(body)?;
    if let Some(other) = body.keys().find(|k| *k != "scope" && !k.starts_with('@')) {
        // UNCONFIRMED: Graph's text for a property other than scope.
        return Err(bad_request(format!(
            "Property '{other}' cannot be changed; an oauth2PermissionGrant's scope can."
        )));
    }
    let scope = scope_of(body.get("scope"))?;
    let outcome = directory.modify(Kind::OAuth2PermissionGrant, id, |current| match current {
        None => (Err(GraphError::not_found(id)), Vec::new()),
        Some(mut g) => {
            g.doc["scope"] = json!(scope);
            (Ok(()), vec![Change::Put(reindexed(g))])
        }
    })?;
    outcome.map(|()| Reply::no_content())
}

pub fn delete(directory: &Directory, caller: &Caller, id: &str) -> Result<Reply, GraphError> {
    need(caller, WRITE_DELEGATED_GRANTS)?;
    let grant = directory
        .get(Kind::OAuth2PermissionGrant, id)?
        .ok_or_else(|| GraphError::not_found(id))?;
    directory.write(vec![Change::Delete(Kind::OAuth2PermissionGrant, grant.id)])?;
    Ok(Reply::no_content())
}
