//! `GET /v1.0/users` and `GET /v1.0/users/{id | userPrincipalName}`, from `[[user]]`.

use serde_json::{Map, Value};

use super::auth::Caller;
use super::error::GraphError;
use super::query::{context, entity, Query};
use crate::config::User;
use crate::directory::{view, Directory, Kind};
use certgen::graph::permissions::{allows, READ_ME, READ_USERS};

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

const TYPE: &str = "microsoft.graph.user";

fn require_read(caller: &Caller) -> Result<(), GraphError> {
    if allows(&caller.roles(), READ_USERS) {
        Ok(())
    } else {
        Err(GraphError::insufficient_privileges())
    }
}

pub fn list(
    directory: &Directory,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    require_read(caller)?;
    let select = query.select(&DEFAULT_PROPERTIES, TYPE)?;
    let mut items = Vec::new();
    let mut from = None;
    loop {
        let page = directory.page(Kind::User, from, 1000)?;
        items.extend(
            page.objects
                .iter()
                .map(|o| to_json(&view::user(o), select.as_deref())),
        );
        match page.next {
            Some(n) => from = Some(n),
            None => break,
        }
    }
    Ok(query.page(
        &format!("{graph_base}/v1.0/users"),
        &context(graph_base, "users", select.as_deref(), false),
        items,
    ))
}

pub fn get(
    directory: &Directory,
    caller: &Caller,
    key: &str,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    require_read(caller)?;
    let select = query.select(&DEFAULT_PROPERTIES, TYPE)?;
    let user = directory
        .user(key)?
        .ok_or_else(|| GraphError::not_found(key))?;
    Ok(entity(
        context(graph_base, "users", select.as_deref(), true),
        to_json(&user, select.as_deref()),
    ))
}

/// `GET /me` with a delegated token: the signed-in user, as `/users/{id}` returns one.
pub fn me(
    directory: &Directory,
    caller: &Caller,
    query: &Query,
    graph_base: &str,
) -> Result<Value, GraphError> {
    if !allows(&caller.roles(), READ_ME) {
        return Err(GraphError::insufficient_privileges());
    }
    let select = query.select(&DEFAULT_PROPERTIES, TYPE)?;
    let id = caller.user_id.as_deref().unwrap_or_default();
    let user = directory
        .user(id)?
        .ok_or_else(|| GraphError::not_found(id))?;
    Ok(entity(
        context(graph_base, "users", select.as_deref(), true),
        to_json(&user, select.as_deref()),
    ))
}

/// A user in Graph's camelCase: every default property (null when not set), or the selection.
fn to_json(u: &User, select: Option<&[&'static str]>) -> Value {
    let text = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
    let mut out = Map::new();
    for p in select.unwrap_or(&DEFAULT_PROPERTIES) {
        let v = match *p {
            "businessPhones" => Value::from(u.business_phones.clone()),
            "displayName" => text(&u.display_name),
            "givenName" => text(&u.given_name),
            "id" => Value::String(u.id.clone()),
            "jobTitle" => text(&u.job_title),
            "mail" => text(&u.mail),
            "mobilePhone" => text(&u.mobile_phone),
            "officeLocation" => text(&u.office_location),
            "preferredLanguage" => text(&u.preferred_language),
            "surname" => text(&u.surname),
            "userPrincipalName" => Value::String(u.user_principal_name.clone()),
            _ => Value::Null,
        };
        out.insert((*p).to_string(), v);
    }
    Value::Object(out)
}
