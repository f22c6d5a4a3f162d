//! App role assignments through a service principal: `…/appRoleAssignedTo` (the service
//! principal is the resource that defines the role;
//! <https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-approleassignedto>) and
//! `…/appRoleAssignments` (it is the principal given the role;
//! <https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-approleassignments>):
//! POST, GET (list, one), DELETE.
//!
//! An assignment to a client's service principal is an application permission: the role is in
//! the `roles` of that client's next token (the directory drops its cached view on the write).
//! Writes need `AppRoleAssignment.ReadWrite.All` together with one of [`READ_APPLICATIONS`], as
//! Graph's permission table says; reads one of [`READ_APPLICATIONS`] or the write role.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::applications::AppKey;
use super::auth::Caller;
use super::error::GraphError;
use super::query::{entity, Query};
use super::{json_body, service_principals, Reply};
use crate::directory::objects::{self, str_of};
use crate::directory::{Change, Directory, Kind, Object, Origin};
use certgen::authority::is_guid;
use certgen::certificate::rfc3339;
use certgen::graph::permissions::{allows, READ_APPLICATIONS, WRITE_APP_ROLE_ASSIGNMENTS};

/// The id of the "default access" role every resource has, assignable when it defines none
/// (<https://learn.microsoft.com/en-us/graph/api/resources/approleassignment>).
pub const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";

/// Which side of the assignments the service principal in the path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `appRoleAssignedTo`: the resource, whose roles are given to others.
    AssignedTo,
    /// `appRoleAssignments`: the principal the roles are given to.
    Assignments,
}

impl Side {
    pub fn from_segment(segment: &str) -> Option<Side> {
        if segment.eq_ignore_ascii_case("appRoleAssignedTo") {
            Some(Side::AssignedTo)
        } else if segment.eq_ignore_ascii_case("appRoleAssignments") {
            Some(Side::Assignments)
        } else {
            None
        }
    }

    fn segment(self) -> &'static str {
        match self {
            Side::AssignedTo => "appRoleAssignedTo",
            Side::Assignments => "appRoleAssignments",
        }
    }

    /// The assignment property that names the path's service principal.
    fn property(self) -> &'static str {
        match self {
            Side::AssignedTo => "resourceId",
            Side::Assignments => "principalId",
        }
    }
}

fn may_write(caller: &Caller) -> Result<(), GraphError> {
    let roles = caller.roles();
    if allows(&roles, WRITE_APP_ROLE_ASSIGNMENTS) && allows(&roles, READ_APPLICATIONS) {
        Ok(())
    } else {
        Err(GraphError::insufficient_privileges())
    }
}

fn may_read(caller: &Caller) -> Result<(), GraphError> {
    let roles = caller.roles();
    if allows(&roles, READ_APPLICATIONS) || allows(&roles, WRITE_APP_ROLE_ASSIGNMENTS) {
        Ok(())
    } else {
        Err(GraphError::insufficient_privileges())
    }
}

fn bad_request(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

fn path_sp(directory: &Directory, key: &AppKey) -> Result<Object, GraphError> {
    service_principals::find(directory, key)?.ok_or_else(|| GraphError::not_found(key.text()))
}

fn context(graph_base: &str, sp_id: &str, side: Side, one: bool) -> String {
    format!(
        "{graph_base}/v1.0/$metadata#servicePrincipals('{sp_id}')/{}{}",
        side.segment(),
        if one { "/$entity" } else { "" }
    )
}

/// The principal an assignment names: a service principal, a user or a group, with its
/// `principalType` and display name.
fn principal(
    directory: &Directory,
    id: &str,
) -> Result<Option<(&'static str, String)>, GraphError> {
    for (kind, type_name) in [
        (Kind::ServicePrincipal, "ServicePrincipal"),
        (Kind::User, "User"),
        (Kind::Group, "Group"),
    ] {
        if let Some(o) = directory.get(kind, id)? {
            return Ok(Some((type_name, str_of(&o.doc, "displayName").to_string())));
        }
    }
    Ok(None)
}

pub fn create(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    side: Side,
    body: &[u8],
    graph_base: &str,
) -> Result<Reply, GraphError> {
    may_write(caller)?;
    let sp = path_sp(directory, key)?;
    let body = json_body(body)?;
    let field = |name: &'static str| -> Result<String, GraphError> {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|v| is_guid(v))
            .map(str::to_ascii_lowercase)
            // UNCONFIRMED: Graph's text for a missing or malformed id.
            .ok_or_else(|| bad_request(format!("The {name} property must be a GUID.")))
    };
    let (principal_id, resource_id, role_id) = (
        field("principalId")?,
        field("resourceId")?,
        field("appRoleId")?,
    );
    let named = match side {
        Side::AssignedTo => &resource_id,
        Side::Assignments => &principal_id,
    };
    if *named != sp.id {
        // UNCONFIRMED: Graph's text when the body names another service principal than the
        // path.
        return Err(bad_request(format!(
            "The {} of the assignment must be the service principal {} of the request URL.",
            side.property(),
            sp.id
        )));
    }
    let resource = directory
        .get(Kind::ServicePrincipal, &resource_id)?
        .ok_or_else(|| GraphError::not_found(&resource_id))?;
    let (principal_type, principal_name) =
        principal(directory, &principal_id)?.ok_or_else(|| GraphError::not_found(&principal_id))?;
    let role = resource
        .doc
        .get("appRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| str_of(r, "id").eq_ignore_ascii_case(&role_id));
    let wanted_type = if principal_type == "ServicePrincipal" {
        "Application"
    } else {
        "User"
    };
    match role {
        None if role_id != DEFAULT_ACCESS => {
            // The text Graph answers for a role the resource does not define
            // (hashicorp/terraform-provider-azuread#736 and others).
            return Err(bad_request(format!(
                "Permission being assigned was not found on application '{}'.",
                str_of(&resource.doc, "appId")
            )));
        }
        Some(r) if !objects::strings(r, "allowedMemberTypes").any(|t| t == wanted_type) => {
            // UNCONFIRMED: Graph's text for a role not meant for this kind of principal.
            return Err(bad_request(format!(
                "The app role {role_id} cannot be assigned to a {principal_type}: its \
                 allowedMemberTypes do not include {wanted_type}."
            )));
        }
        _ => {}
    }
    let duplicate = directory
        .find(Kind::AppRoleAssignment, "principalId", &principal_id)?
        .iter()
        .any(|a| {
            str_of(&a.doc, "resourceId").eq_ignore_ascii_case(&resource_id)
                && str_of(&a.doc, "appRoleId").eq_ignore_ascii_case(&role_id)
        });
    if duplicate {
        // Graph's text for an assignment that exists (seen in live answers; UNCONFIRMED code).
        return Err(bad_request(
            "Permission being assigned already exists on the object.",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let doc = json!({
        "id": id,
        "appRoleId": role_id,
        "createdDateTime": rfc3339(OffsetDateTime::now_utc()),
        "deletedDateTime": null,
        "principalDisplayName": principal_name,
        "principalId": principal_id,
        "principalType": principal_type,
        "resourceDisplayName": str_of(&resource.doc, "displayName"),
        "resourceId": resource_id,
    });
    directory.write(vec![Change::Put(objects::object(
        Kind::AppRoleAssignment,
        &id,
        Origin::Graph,
        doc.clone(),
        json!({}),
    ))])?;
    Ok(Reply::created(entity(
        context(graph_base, &sp.id, side, true),
        doc,
    )))
}

pub fn list(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    side: Side,
    query: &Query,
    graph_base: &str,
) -> Result<Reply, GraphError> {
    may_read(caller)?;
    let sp = path_sp(directory, key)?;
    let items = directory
        .find(Kind::AppRoleAssignment, side.property(), &sp.id)?
        .into_iter()
        .map(|a| a.doc)
        .collect();
    Ok(Reply::ok(query.page(
        &format!(
            "{graph_base}/v1.0/servicePrincipals/{}/{}",
            sp.id,
            side.segment()
        ),
        &context(graph_base, &sp.id, side, false),
        items,
    )))
}

/// The assignment `id` among the path's service principal's.
fn one(
    directory: &Directory,
    key: &AppKey,
    side: Side,
    id: &str,
) -> Result<(Object, Object), GraphError> {
    let sp = path_sp(directory, key)?;
    let assignment = directory
        .get(Kind::AppRoleAssignment, id)?
        .filter(|a| str_of(&a.doc, side.property()).eq_ignore_ascii_case(&sp.id))
        .ok_or_else(|| GraphError::not_found(id))?;
    Ok((sp, assignment))
}

pub fn get(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    side: Side,
    id: &str,
    graph_base: &str,
) -> Result<Reply, GraphError> {
    may_read(caller)?;
    let (sp, assignment) = one(directory, key, side, id)?;
    Ok(Reply::ok(entity(
        context(graph_base, &sp.id, side, true),
        assignment.doc,
    )))
}

pub fn delete(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    side: Side,
    id: &str,
) -> Result<Reply, GraphError> {
    may_write(caller)?;
    let (_, assignment) = one(directory, key, side, id)?;
    directory.write(vec![Change::Delete(Kind::AppRoleAssignment, assignment.id)])?;
    Ok(Reply::no_content())
}
