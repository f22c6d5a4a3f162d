//! `/applications/{id}/federatedIdentityCredentials` and
//! `/applications(appId='…')/federatedIdentityCredentials`: list, get (by id or by the
//! alternate key `(name='…')`), create, update (by id or name; `Prefer: create-if-missing`
//! makes the name's PATCH an upsert) and delete
//! (<https://learn.microsoft.com/en-us/graph/api/resources/federatedidentitycredential>).
//!
//! Permissions as for the application object: reading needs `Application.Read.All` (or being
//! the app), writing one of [`certgen::graph::permissions::WRITE_APPLICATIONS`]. Graph's rules
//! are `config::federated`'s (shared with `[[app.federated]]` in the config file).

use serde_json::{json, Map, Value};

use super::applications::{readable, AppKey};
use super::auth::Caller;
use super::error::GraphError;
use super::filter::Filter;
use super::query::{context, entity, Query};
use super::{json_body, Call, Reply, Route};
use crate::config::federated::{
    check_name, pair_taken, FederatedCredential, MAX_PER_APP, PAIR_TAKEN,
};
use crate::directory::objects::{federated_credential, federated_credential_of};
use crate::directory::{Change, Directory, Kind, Object, Origin};
use axum::http::{self, Method};

/// The navigation property's segment.
const SEGMENT: &str = "federatedIdentityCredentials";
const TYPE: &str = "microsoft.graph.federatedIdentityCredential";
/// What a client may write (`id` is the directory's; `name` only when creating).
const WRITABLE: [&str; 5] = ["name", "issuer", "subject", "audiences", "description"];

/// Which credential(s) a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    Id(String),
    Name(String),
    /// `(name='…')` with `Prefer: create-if-missing` on a PATCH: update or create.
    Upsert(String),
}

/// The route after an application's key (`segments[at]` on), when it is this collection.
pub fn route(key: &AppKey, segments: &[String], at: usize) -> Option<Route> {
    let seg = |i: usize| segments.get(i).map(String::as_str);
    let first = seg(at)?;
    let target = if first.eq_ignore_ascii_case(SEGMENT) {
        match (seg(at + 1), seg(at + 2)) {
            (None, _) => Target::All,
            (Some(id), None) => Target::Id(id.to_string()),
            _ => return Some(Route::Unknown(seg(at + 2).unwrap_or_default().into())),
        }
    } else {
        let name = named(first)?;
        if seg(at + 1).is_some() {
            return Some(Route::Unknown(seg(at + 1).unwrap_or_default().into()));
        }
        Target::Name(name)
    };
    Some(Route::FederatedCredentials(key.clone(), target))
}

/// `federatedIdentityCredentials(name='…')` → the name (`''` inside is a quote, as OData writes it).
fn named(segment: &str) -> Option<String> {
    let head = segment.get(..SEGMENT.len())?;
    if !head.eq_ignore_ascii_case(SEGMENT) {
        return None;
    }
    let inner = segment[SEGMENT.len()..]
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let (k, v) = inner.split_once('=')?;
    let v = v.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    k.trim()
        .eq_ignore_ascii_case("name")
        .then(|| v.replace("''", "'"))
}

/// Whether a request's headers ask a PATCH by name to create what is missing
/// (`Prefer: create-if-missing`).
pub fn prefers_create(headers: &http::HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("create-if-missing"))
}

fn bad_request(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

fn held(
    directory: &Directory,
    app: &Object,
) -> Result<Vec<(Object, FederatedCredential)>, GraphError> {
    Ok(directory
        .find(Kind::FederatedCredential, "application", &app.id)?
        .into_iter()
        .filter_map(|o| federated_credential_of(&o.doc).map(|f| (o, f)))
        .collect())
}

fn find<'a>(
    held: &'a [(Object, FederatedCredential)],
    target: &Target,
) -> Option<&'a (Object, FederatedCredential)> {
    held.iter().find(|(_, f)| match target {
        Target::Id(id) => f.id.eq_ignore_ascii_case(id),
        Target::Name(n) | Target::Upsert(n) => f.name.eq_ignore_ascii_case(n),
        Target::All => false,
    })
}

fn not_found(target: &Target) -> GraphError {
    match target {
        Target::Id(s) | Target::Name(s) | Target::Upsert(s) => GraphError::not_found(s),
        Target::All => GraphError::not_found(SEGMENT),
    }
}

fn set_url(base: &str, app: &Object) -> String {
    context(
        base,
        &format!("applications('{}')/{SEGMENT}", app.id),
        None,
        false,
    )
}

fn answer(base: &str, app: &Object, f: &FederatedCredential) -> Value {
    entity(
        context(
            base,
            &format!("applications('{}')/{SEGMENT}", app.id),
            None,
            true,
        ),
        f.doc(),
    )
}

/// Serves one request on the collection.
pub fn serve(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    target: &Target,
    call: &Call,
) -> Result<Reply, GraphError> {
    let m = call.method;
    match target {
        Target::All if *m == Method::GET => list(directory, caller, key, call),
        Target::All if *m == Method::POST => create(directory, caller, key, call),
        Target::All => Err(GraphError::method_not_allowed()),
        _ if *m == Method::GET => {
            let app = readable(directory, caller, key)?;
            let held = held(directory, &app)?;
            let (_, f) = find(&held, target).ok_or_else(|| not_found(target))?;
            Ok(Reply::ok(answer(call.base, &app, f)))
        }
        Target::Upsert(_) if *m != Method::PATCH => Err(GraphError::method_not_allowed()),
        _ if *m == Method::PATCH => update(directory, caller, key, target, call),
        _ if *m == Method::DELETE => delete(directory, caller, key, target),
        _ => Err(GraphError::method_not_allowed()),
    }
}

fn list(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    call: &Call,
) -> Result<Reply, GraphError> {
    let query = Query::parse(call.raw_query, true)?;
    let filter = query
        .filter
        .as_deref()
        .map(|f| Filter::parse(f, &[("eq", "name"), ("eq", "subject"), ("eq", "issuer")]))
        .transpose()?;
    let app = readable(directory, caller, key)?;
    let items: Vec<Value> = held(directory, &app)?
        .into_iter()
        .map(|(_, f)| f.doc())
        .filter(|d| filter.as_ref().is_none_or(|f| f.matches(d)))
        .collect();
    Ok(Reply::ok(json!({
        "@odata.context": set_url(call.base, &app),
        "value": items,
    })))
}

/// The application named, for a write: 403 before 404, as every Graph write here.
fn writable(directory: &Directory, caller: &Caller, key: &AppKey) -> Result<Object, GraphError> {
    caller.require_application_write()?;
    key.find(directory)?
        .ok_or_else(|| GraphError::not_found(key.text()))
}

/// Checks a body's properties: only the writable ones, each of its type.
fn fields(body: &Map<String, Value>) -> Result<(), GraphError> {
    for (k, v) in body {
        if k.starts_with("@odata.") || k == "id" {
            continue;
        }
        if !WRITABLE.contains(&k.as_str()) {
            return Err(bad_request(format!(
                "Property '{k}' does not exist on type '{TYPE}'."
            )));
        }
        let ok = match k.as_str() {
            "audiences" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "description" => v.is_string() || v.is_null(),
            _ => v.is_string(),
        };
        if !ok {
            return Err(bad_request(format!(
                "Invalid value specified for property '{k}' of resource 'FederatedIdentityCredential'."
            )));
        }
    }
    Ok(())
}

fn text(body: &Map<String, Value>, k: &str) -> Option<String> {
    body.get(k).and_then(Value::as_str).map(str::to_string)
}

/// A new credential from a body (its name from the URL for an upsert).
fn new_credential(
    body: &Map<String, Value>,
    name: Option<&str>,
) -> Result<FederatedCredential, GraphError> {
    fields(body)?;
    let name = match (name, text(body, "name")) {
        (Some(url), Some(given)) if !given.eq_ignore_ascii_case(url) => {
            return Err(bad_request(format!(
                "The name '{given}' in the body differs from the name '{url}' in the URL."
            )))
        }
        (Some(url), _) => url.to_string(),
        (None, Some(given)) => given,
        (None, None) => return Err(bad_request("Property 'name' is required.")),
    };
    let fic = FederatedCredential {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        issuer: text(body, "issuer").unwrap_or_default(),
        subject: text(body, "subject").unwrap_or_default(),
        audiences: body
            .get("audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        description: text(body, "description"),
    };
    fic.check().map_err(bad_request)?;
    Ok(fic)
}

/// Adds `fic` to `app` unless a rule forbids it; the writing lock held by `modify`.
fn add(
    directory: &Directory,
    caller: &Caller,
    app: &Object,
    fic: FederatedCredential,
    base: &str,
) -> Result<Reply, GraphError> {
    let app_id = app.id.clone();
    directory.modify(Kind::Application, &app_id, |current| {
        let Some(app) = current else {
            return (Err(GraphError::not_found(&app_id)), Vec::new());
        };
        let held = match held(directory, &app) {
            Ok(h) => h,
            Err(e) => return (Err(e), Vec::new()),
        };
        // UNCONFIRMED: Graph's status and text for a 21st credential are not recorded; 400
        // Request_BadRequest as for Graph's other per-application limits, in the words of
        // the documented limit.
        if held.len() >= MAX_PER_APP {
            return (
                Err(bad_request(format!(
                    "The application already has {} federated identity credentials; at most \
                     {MAX_PER_APP} are allowed per application.",
                    held.len()
                ))),
                Vec::new(),
            );
        }
        if held.iter().any(|(_, f)| f.name.eq_ignore_ascii_case(&fic.name)) {
            return (
                Err(bad_request(format!(
                    "A federated identity credential named '{}' already exists on this \
                     application.",
                    fic.name
                ))),
                Vec::new(),
            );
        }
        if pair_taken(held.iter().map(|(_, f)| f), &fic) {
            return (Err(bad_request(PAIR_TAKEN)), Vec::new());
        }
        let mut body = answer(base, &app, &fic);
        // The documented answer's `@odata.id` names the object as the directory does.
        body["@odata.id"] = json!(format!(
            "{base}/v2/{}/directoryObjects/$/Microsoft.DirectoryServices.Application('{}')/{SEGMENT}/{}",
            caller.tenant_id,
            app.id,
            fic.id
        ));
        if let Some(map) = body.as_object_mut() {
            // `@odata.id` right after `@odata.context`, as Graph orders them.
            let id = map.shift_remove("@odata.id");
            let ctx = map.shift_remove("@odata.context");
            let rest = std::mem::take(map);
            map.extend(ctx.map(|c| ("@odata.context".to_string(), c)));
            map.extend(id.map(|i| ("@odata.id".to_string(), i)));
            map.extend(rest);
        }
        let change = Change::Put(federated_credential(&app.id, &fic, Origin::Graph));
        (Ok(Reply::created(body)), vec![change])
    })?
}

fn create(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    call: &Call,
) -> Result<Reply, GraphError> {
    let app = writable(directory, caller, key)?;
    let body = json_body(call.body)?;
    let fic = new_credential(&body, None)?;
    add(directory, caller, &app, fic, call.base)
}

fn update(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    target: &Target,
    call: &Call,
) -> Result<Reply, GraphError> {
    let app = writable(directory, caller, key)?;
    let body = json_body(call.body)?;
    fields(&body)?;
    let held = held(directory, &app)?;
    let Some((object, current)) = find(&held, target) else {
        return match target {
            Target::Upsert(name) => {
                check_name(name).map_err(bad_request)?;
                add(
                    directory,
                    caller,
                    &app,
                    new_credential(&body, Some(name))?,
                    call.base,
                )
            }
            _ => Err(not_found(target)),
        };
    };
    if let Some(name) = text(&body, "name") {
        if name != current.name {
            // Graph: "name … is immutable once created".
            return Err(bad_request(
                "Property 'name' is read-only and cannot be changed once the federated \
                 identity credential is created.",
            ));
        }
    }
    let mut changed = current.clone();
    if let Some(v) = text(&body, "issuer") {
        changed.issuer = v;
    }
    if let Some(v) = text(&body, "subject") {
        changed.subject = v;
    }
    if let Some(a) = body.get("audiences").and_then(Value::as_array) {
        changed.audiences = a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
    }
    if body.contains_key("description") {
        changed.description = text(&body, "description");
    }
    changed.check().map_err(bad_request)?;
    if pair_taken(held.iter().map(|(_, f)| f), &changed) {
        return Err(bad_request(PAIR_TAKEN));
    }
    let mut kept = federated_credential(&app.id, &changed, object.origin);
    kept.seed = object.seed.clone();
    directory.write(vec![Change::Put(kept)])?;
    Ok(Reply::no_content())
}

fn delete(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    target: &Target,
) -> Result<Reply, GraphError> {
    let app = writable(directory, caller, key)?;
    let held = held(directory, &app)?;
    let (object, _) = find(&held, target).ok_or_else(|| not_found(target))?;
    directory.write(vec![Change::Delete(
        Kind::FederatedCredential,
        object.id.clone(),
    )])?;
    Ok(Reply::no_content())
}

/// The changes that delete every federated credential of the application object `app_id`
/// (with the application).
pub fn removal(directory: &Directory, app_id: &str) -> Result<Vec<Change>, GraphError> {
    Ok(directory
        .find(Kind::FederatedCredential, "application", app_id)?
        .into_iter()
        .map(|o| Change::Delete(Kind::FederatedCredential, o.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let segs = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        let key = AppKey::ObjectId("a".into());
        assert_eq!(
            route(
                &key,
                &segs("applications/a/federatedIdentityCredentials"),
                2
            ),
            Some(Route::FederatedCredentials(key.clone(), Target::All))
        );
        assert_eq!(
            route(
                &key,
                &segs("applications/a/FederatedIdentityCredentials/f1"),
                2
            ),
            Some(Route::FederatedCredentials(
                key.clone(),
                Target::Id("f1".into())
            ))
        );
        assert_eq!(
            route(
                &key,
                &segs("applications/a/federatedIdentityCredentials(name='it''s')"),
                2
            ),
            Some(Route::FederatedCredentials(
                key.clone(),
                Target::Name("it's".into())
            ))
        );
        assert_eq!(route(&key, &segs("applications/a/owners"), 2), None);
        let mut h = http::HeaderMap::new();
        assert!(!prefers_create(&h));
        h.insert(
            "prefer",
            "return=minimal, create-if-missing".parse().unwrap(),
        );
        assert!(prefers_create(&h));
    }
}
