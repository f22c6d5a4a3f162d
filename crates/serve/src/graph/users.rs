//! `/v1.0/users`: list (paged by store position, `$filter`, `$select`, `$top`), one by id or
//! userPrincipalName, create (<https://learn.microsoft.com/en-us/graph/api/user-post-users>),
//! update (<https://learn.microsoft.com/en-us/graph/api/user-update>), delete
//! (<https://learn.microsoft.com/en-us/graph/api/user-delete>), `/users/{id}/memberOf`
//! (<https://learn.microsoft.com/en-us/graph/api/user-list-memberof>) and `/me`.
//!
//! A `passwordProfile` is accepted and never kept, answered or logged: sign-in here picks a
//! user and asks no password, so nothing of it is needed; only whether a change is asked at the
//! next sign-in is kept (`internal`).

use axum::http::Method;
use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::error::GraphError;
use super::filter;
use super::payload::{self, Shape, Writable};
use super::query::{context, entity, Query};
use super::{json_body, Call, Reply, Route};
use crate::directory::membership::dependents;
use crate::directory::objects::{object, str_of};
use crate::directory::{Change, Directory, Kind, Object, Origin};
use certgen::graph::permissions::{allows, READ_ME, READ_MEMBERSHIPS, READ_USERS, WRITE_USERS};

/// The properties `GET /users` returns without `$select` (user-list.md), in Graph's order.
pub const DEFAULT_PROPERTIES: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

/// What may be written by POST and PATCH (besides `passwordProfile`), and its JSON shape
/// (<https://learn.microsoft.com/en-us/graph/api/resources/user>).
const WRITABLE: &[Writable] = &[
    ("accountEnabled", Shape::Bool),
    ("businessPhones", Shape::Texts),
    ("city", Shape::TextOrNull),
    ("companyName", Shape::TextOrNull),
    ("country", Shape::TextOrNull),
    ("department", Shape::TextOrNull),
    ("displayName", Shape::Text),
    ("employeeId", Shape::TextOrNull),
    ("givenName", Shape::TextOrNull),
    ("jobTitle", Shape::TextOrNull),
    ("mail", Shape::TextOrNull),
    ("mailNickname", Shape::Text),
    ("mobilePhone", Shape::TextOrNull),
    ("officeLocation", Shape::TextOrNull),
    ("onPremisesImmutableId", Shape::TextOrNull),
    ("otherMails", Shape::Texts),
    ("passwordPolicies", Shape::TextOrNull),
    ("passwordProfile", Shape::Object),
    ("postalCode", Shape::TextOrNull),
    ("preferredLanguage", Shape::TextOrNull),
    ("state", Shape::TextOrNull),
    ("streetAddress", Shape::TextOrNull),
    ("surname", Shape::TextOrNull),
    ("usageLocation", Shape::TextOrNull),
    ("userPrincipalName", Shape::Text),
    ("userType", Shape::TextOrNull),
];

/// What POST must carry (user-post-users: "Request body").
const REQUIRED: [&str; 5] = [
    "accountEnabled",
    "displayName",
    "mailNickname",
    "passwordProfile",
    "userPrincipalName",
];

/// What `$select` and `$filter` may name: the defaults, the writable ones and `createdDateTime`.
fn selectable() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = DEFAULT_PROPERTIES.to_vec();
    for (p, _) in WRITABLE {
        if *p != "passwordProfile" && !all.contains(p) {
            all.push(p);
        }
    }
    all.push("createdDateTime");
    all
}

/// The user properties found by the store's index.
const INDEXED: &[(&str, &str)] = &[
    ("userPrincipalName", "upn"),
    ("displayName", "displayName"),
    ("mail", "mail"),
];

/// The `$filter` clauses served on users: what the Azure CLI sends (`userPrincipalName eq`,
/// `startswith(displayName,…)`) and their neighbours.
const FILTERS: &[(&str, &str)] = &[
    ("eq", "userPrincipalName"),
    ("eq", "displayName"),
    ("eq", "mail"),
    ("eq", "mailNickname"),
    ("startswith", "userPrincipalName"),
    ("startswith", "displayName"),
    ("startswith", "mail"),
];

const TYPE: &str = "microsoft.graph.user";

fn require(caller: &Caller, accepted: &[&str]) -> Result<(), GraphError> {
    if allows(&caller.roles(), accepted) {
        Ok(())
    } else {
        Err(GraphError::insufficient_privileges())
    }
}

/// Serves a route under `/users`.
pub fn serve(
    directory: &Directory,
    caller: &Caller,
    route: &Route,
    call: &Call,
) -> Result<Reply, GraphError> {
    let m = call.method;
    match route {
        Route::Users if *m == Method::GET => list(
            directory,
            caller,
            &Query::parse(call.raw_query, true)?,
            call.base,
        )
        .map(Reply::ok),
        Route::Users if *m == Method::POST => create(directory, caller, call.body, call.base),
        Route::User(key) if *m == Method::GET => get(
            directory,
            caller,
            key,
            &Query::parse(call.raw_query, false)?,
            call.base,
        )
        .map(Reply::ok),
        Route::User(key) if *m == Method::PATCH => update(directory, caller, key, call.body),
        Route::User(key) if *m == Method::DELETE => delete(directory, caller, key),
        Route::UserMemberOf(key) if *m == Method::GET => member_of(
            directory,
            caller,
            key,
            &Query::parse(call.raw_query, false)?,
            call.base,
        )
        .map(Reply::ok),
        _ => Err(GraphError::method_not_allowed()),
    }
}

/// The collection: unfiltered, one page read from the store at the position the skip token
/// names; filtered, through the store's index.
pub fn list(
    directory: &Directory,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    require(caller, READ_USERS)?;
    let known = selectable();
    let select = query.select(&known, TYPE)?;
    let url = format!("{graph_base}/v1.0/users");
    let ctx = context(graph_base, "users", select.as_deref(), false);
    filter::collection(
        directory,
        Kind::User,
        query,
        FILTERS,
        INDEXED,
        &url,
        &ctx,
        |o| to_json(&o.doc, select.as_deref()),
    )
}

/// A user by object id or userPrincipalName.
pub fn find(directory: &Directory, key: &str) -> Result<Option<Object>, GraphError> {
    if let Some(o) = directory.get(Kind::User, key)? {
        return Ok(Some(o));
    }
    Ok(directory.find(Kind::User, "upn", key)?.into_iter().next())
}

fn existing(directory: &Directory, key: &str) -> Result<Object, GraphError> {
    find(directory, key)?.ok_or_else(|| GraphError::not_found(key))
}

pub fn get(
    directory: &Directory,
    caller: &Caller,
    key: &str,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    require(caller, READ_USERS)?;
    let select = query.select(&selectable(), TYPE)?;
    let user = existing(directory, key)?;
    Ok(entity(
        context(graph_base, "users", select.as_deref(), true),
        to_json(&user.doc, select.as_deref()),
    ))
}

/// `GET /me` with a delegated token: the signed-in user, as `/users/{id}` returns one.
pub fn me(
    directory: &Directory,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    require(caller, READ_ME)?;
    let select = query.select(&selectable(), TYPE)?;
    let id = caller.user_id.as_deref().unwrap_or_default();
    let user = existing(directory, id)?;
    Ok(entity(
        context(graph_base, "users", select.as_deref(), true),
        to_json(&user.doc, select.as_deref()),
    ))
}

/// Graph's refusal of a second user with one userPrincipalName (what it answers `az ad user
/// create` for a taken name).
fn upn_taken() -> GraphError {
    GraphError::bad_request(
        "Request_BadRequest",
        "Another object with the same value for property userPrincipalName already exists.",
    )
}

/// Checks the values Graph checks beyond their shape: a UPN is `alias@domain`, a
/// mailNickname has no forbidden character; the password profile carries a password.
/// Answers what to keep of the password profile.
fn check_values(props: &Map<String, Value>) -> Result<Option<Value>, GraphError> {
    if let Some(upn) = props.get("userPrincipalName").and_then(Value::as_str) {
        let valid = upn.split_once('@').is_some_and(|(alias, domain)| {
            !alias.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !upn.chars().any(|c| c.is_whitespace() || c.is_control())
        });
        if !valid {
            return Err(payload::invalid_value("userPrincipalName", "User"));
        }
    }
    if let Some(nick) = props.get("mailNickname").and_then(Value::as_str) {
        if !payload::valid_mail_nickname(nick) {
            return Err(payload::invalid_value("mailNickname", "User"));
        }
    }
    let Some(profile) = props.get("passwordProfile") else {
        return Ok(None);
    };
    let password_ok = profile
        .get("password")
        .and_then(Value::as_str)
        .is_some_and(|p| !p.is_empty());
    let force = profile.get("forceChangePasswordNextSignIn");
    if !password_ok || force.is_some_and(|f| !f.is_boolean()) {
        // Never the value itself: the profile holds a password.
        return Err(payload::invalid_value("passwordProfile", "User"));
    }
    Ok(Some(json!({
        "forceChangePasswordNextSignIn": force.and_then(Value::as_bool).unwrap_or(false),
    })))
}

/// `POST /users`: 201 with the user, as `GET /users/{id}` answers it.
pub fn create(
    directory: &Directory,
    caller: &Caller,
    body: &[u8],
    graph_base: &str,
) -> Result<Reply, GraphError> {
    require(caller, WRITE_USERS)?;
    let props = payload::checked(json_body(body)?, WRITABLE, TYPE, "User")?;
    payload::require(&props, &REQUIRED)?;
    let password = check_values(&props)?.unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    let mut doc = Map::new();
    for p in DEFAULT_PROPERTIES {
        doc.insert(p.into(), Value::Null);
    }
    doc.insert("id".into(), json!(id));
    doc.insert("businessPhones".into(), json!([]));
    doc.insert("createdDateTime".into(), json!(payload::now_text()));
    doc.insert("userType".into(), json!("Member"));
    for (k, v) in props {
        if k != "passwordProfile" {
            doc.insert(k, v);
        }
    }
    let doc = Value::Object(doc);
    let upn = str_of(&doc, "userPrincipalName").to_string();
    let user = object(
        Kind::User,
        &id,
        Origin::Graph,
        doc,
        json!({ "passwordProfile": password }),
    );
    let answer = to_json(&user.doc, None);
    directory.modify(Kind::User, &id, |_| {
        match directory.find(Kind::User, "upn", &upn) {
            Err(e) => (Err(e.into()), Vec::new()),
            Ok(found) if !found.is_empty() => (Err(upn_taken()), Vec::new()),
            Ok(_) => (Ok(()), vec![Change::Put(user)]),
        }
    })??;
    Ok(Reply::created(entity(
        context(graph_base, "users", None, true),
        answer,
    )))
}

/// `PATCH /users/{id | userPrincipalName}`: the properties given replace those held; 204.
pub fn update(
    directory: &Directory,
    caller: &Caller,
    key: &str,
    body: &[u8],
) -> Result<Reply, GraphError> {
    require(caller, WRITE_USERS)?;
    let props = payload::checked(json_body(body)?, WRITABLE, TYPE, "User")?;
    for p in ["displayName", "mailNickname", "userPrincipalName"] {
        if props.contains_key(p) {
            payload::require(&props, &[p])?;
        }
    }
    let password = check_values(&props)?;
    let id = existing(directory, key)?.id;
    directory.modify(Kind::User, &id, |current| {
        let Some(mut user) = current else {
            return (Err(GraphError::not_found(key)), Vec::new());
        };
        if let Some(upn) = props.get("userPrincipalName").and_then(Value::as_str) {
            match directory.find(Kind::User, "upn", upn) {
                Err(e) => return (Err(e.into()), Vec::new()),
                Ok(found) if found.iter().any(|o| o.id != user.id) => {
                    return (Err(upn_taken()), Vec::new())
                }
                Ok(_) => {}
            }
        }
        let mut patch = props.clone();
        patch.remove("passwordProfile");
        if let Some(obj) = user.doc.as_object_mut() {
            obj.extend(patch);
        }
        if let (Some(p), Some(internal)) = (&password, user.internal.as_object_mut()) {
            internal.insert("passwordProfile".into(), p.clone());
        }
        let user = crate::directory::reindexed(user);
        (Ok(()), vec![Change::Put(user)])
    })??;
    Ok(Reply::no_content())
}

/// `DELETE /users/{id | userPrincipalName}`: the user, its group memberships and the app roles
/// assigned to it go in one write; 204.
pub fn delete(directory: &Directory, caller: &Caller, key: &str) -> Result<Reply, GraphError> {
    require(caller, WRITE_USERS)?;
    let id = existing(directory, key)?.id;
    let mut changes = dependents(directory, &id)?;
    changes.push(Change::Delete(Kind::User, id));
    directory.write(changes)?;
    Ok(Reply::no_content())
}

/// `GET /users/{id}/memberOf`: the groups the user is a direct member of, as directory
/// objects (`@odata.type` first).
pub fn member_of(
    directory: &Directory,
    caller: &Caller,
    key: &str,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    require(caller, READ_MEMBERSHIPS)?;
    let user = existing(directory, key)?;
    let items = directory
        .groups_of(&user.id)?
        .iter()
        .map(|g| typed("#microsoft.graph.group", &g.doc))
        .collect();
    Ok(query.page(
        &format!("{graph_base}/v1.0/users/{}/memberOf", user.id),
        &context(graph_base, "directoryObjects", None, false),
        items,
    ))
}

/// A directory object in a mixed collection: `@odata.type`, then its properties.
pub fn typed(odata_type: &str, doc: &Value) -> Value {
    let mut out = Map::new();
    out.insert("@odata.type".into(), json!(odata_type));
    if let Some(fields) = doc.as_object() {
        out.extend(fields.clone());
    }
    Value::Object(out)
}

/// A user in Graph's camelCase: every default property (null when not set), or the selection.
pub fn to_json(doc: &Value, select: Option<&[&'static str]>) -> Value {
    let mut out = Map::new();
    for p in select.unwrap_or(&DEFAULT_PROPERTIES) {
        let v = match doc.get(*p) {
            Some(v) => v.clone(),
            None if *p == "businessPhones" || *p == "otherMails" => json!([]),
            None => Value::Null,
        };
        out.insert((*p).to_string(), v);
    }
    Value::Object(out)
}
