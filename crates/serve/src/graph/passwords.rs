//! Client secrets: `POST /applications/{id}/addPassword`
//! (<https://learn.microsoft.com/en-us/graph/api/application-addpassword>) and
//! `…/removePassword` (<https://learn.microsoft.com/en-us/graph/api/application-removepassword>).
//!
//! The secret is made here, answered once as `secretText`, and never kept: the directory holds
//! its SHA-256 digest (`internal.passwords`), which the token endpoint compares, so it works at
//! once. Permissions as for other application writes (an app-only caller needs
//! `Application.ReadWrite.All` or `Directory.ReadWrite.All`; Graph's `OwnedBy` + ownership
//! route is not modelled).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::applications::AppKey;
use super::auth::Caller;
use super::error::GraphError;
use super::query::entity;
use super::{json_body, Reply};
use crate::config::SecretDigest;
use crate::directory::objects::str_of;
use crate::directory::{reindexed, Change, Directory, Kind};
use crate::keys::MAX_KEYS_PER_APP;
use certgen::authority::is_guid;
use certgen::certificate::rfc3339;

/// Random bytes in a secret: 30 bytes are 40 base64url characters, the length of Entra's
/// secrets (which carry about 240 bits).
const SECRET_BYTES: usize = 30;

/// A secret's life when the caller names no end: Graph's default is two years
/// (<https://learn.microsoft.com/en-us/graph/api/resources/passwordcredential>).
const DEFAULT_LIFETIME: time::Duration = time::Duration::days(730);

fn bad_request(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

/// A fresh secret, base64url.
fn new_secret() -> Result<String, GraphError> {
    let mut bytes = [0u8; SECRET_BYTES];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| GraphError::unavailable("The system's random source failed."))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn date(credential: &Map<String, Value>, name: &str) -> Result<Option<OffsetDateTime>, GraphError> {
    match credential.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Some)
            // UNCONFIRMED: Graph's text for an unreadable date.
            .map_err(|_| bad_request(format!("Invalid value specified for property '{name}'."))),
        Some(_) => Err(bad_request(format!(
            "Invalid value specified for property '{name}'."
        ))),
    }
}

/// `addPassword`: 200 with the new `passwordCredential`, `secretText` included this once.
pub fn add(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    body: &[u8],
    graph_base: &str,
) -> Result<Reply, GraphError> {
    caller.require_application_write()?;
    let app = key
        .find(directory)?
        .ok_or_else(|| GraphError::not_found(key.text()))?;
    let body = json_body(body)?;
    let credential = match body.get("passwordCredential") {
        Some(Value::Object(c)) => c.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(bad_request("The passwordCredential parameter is invalid.")),
    };
    let now = OffsetDateTime::now_utc();
    let start = date(&credential, "startDateTime")?.unwrap_or(now);
    let end = match date(&credential, "endDateTime")? {
        Some(end) => end,
        None => start
            .checked_add(DEFAULT_LIFETIME)
            .ok_or_else(|| bad_request("Invalid value specified for property 'startDateTime'."))?,
    };
    if end <= start {
        return Err(bad_request("Key credential end date is invalid."));
    }
    let display_name = match credential.get("displayName") {
        Some(Value::String(s)) => Value::String(s.clone()),
        _ => Value::Null,
    };
    let secret = new_secret()?;
    let key_id = uuid::Uuid::new_v4().to_string();
    let shown = json!({
        "customKeyIdentifier": null,
        "displayName": display_name,
        "endDateTime": rfc3339(end),
        "hint": secret.get(..3),
        "keyId": key_id,
        "secretText": null,
        "startDateTime": rfc3339(start),
    });
    let kept = json!({
        "keyId": key_id,
        "sha256": SecretDigest::of(&secret).to_hex(),
        "end": end.unix_timestamp(),
    });
    let added = directory.modify(Kind::Application, &app.id, |current| {
        let Some(mut app) = current else {
            return (Err(GraphError::not_found(key.text())), Vec::new());
        };
        let held = app
            .internal
            .get("passwords")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if held >= MAX_KEYS_PER_APP {
            // UNCONFIRMED: Graph's limit and text; the cap of key credentials applies.
            return (
                Err(bad_request(format!(
                    "The application has {held} password credentials; certgen serve allows at \
                     most {MAX_KEYS_PER_APP}. Remove one with removePassword first."
                ))),
                Vec::new(),
            );
        }
        match app.doc["passwordCredentials"].as_array_mut() {
            Some(list) => list.push(shown.clone()),
            None => app.doc["passwordCredentials"] = json!([shown.clone()]),
        }
        if !app.internal.is_object() {
            app.internal = json!({});
        }
        match app.internal["passwords"].as_array_mut() {
            Some(list) => list.push(kept.clone()),
            None => app.internal["passwords"] = json!([kept.clone()]),
        }
        (Ok(()), vec![Change::Put(reindexed(app))])
    })?;
    added?;
    let mut answer = shown;
    answer["secretText"] = Value::String(secret);
    Ok(Reply::ok(entity(
        format!("{graph_base}/v1.0/$metadata#microsoft.graph.passwordCredential"),
        answer,
    )))
}

/// `removePassword`: 204; a `keyId` the app does not hold is Graph's 400 (as removeKey's).
pub fn remove(
    directory: &Directory,
    caller: &Caller,
    key: &AppKey,
    body: &[u8],
) -> Result<Reply, GraphError> {
    caller.require_application_write()?;
    let app = key
        .find(directory)?
        .ok_or_else(|| GraphError::not_found(key.text()))?;
    let body = json_body(body)?;
    let key_id = body
        .get("keyId")
        .and_then(Value::as_str)
        .filter(|id| is_guid(id))
        .ok_or_else(|| bad_request("The keyId parameter must be a GUID."))?
        .to_string();
    let removed = directory.modify(Kind::Application, &app.id, |current| {
        let Some(mut app) = current else {
            return (Err(GraphError::not_found(key.text())), Vec::new());
        };
        let other = |v: &Value| !str_of(v, "keyId").eq_ignore_ascii_case(&key_id);
        let mut found = false;
        if let Some(list) = app.doc["passwordCredentials"].as_array_mut() {
            let before = list.len();
            list.retain(other);
            found |= list.len() != before;
        }
        if let Some(list) = app
            .internal
            .get_mut("passwords")
            .and_then(Value::as_array_mut)
        {
            let before = list.len();
            list.retain(other);
            found |= list.len() != before;
        }
        if !found {
            return (
                Err(bad_request("No credentials found to be removed.")),
                Vec::new(),
            );
        }
        (Ok(()), vec![Change::Put(reindexed(app))])
    })?;
    removed.map(|()| Reply::no_content())
}
