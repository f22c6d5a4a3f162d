//! Writing application objects: `POST /applications`
//! (<https://learn.microsoft.com/en-us/graph/api/application-post-applications>), `PATCH
//! /applications/{id}` (<https://learn.microsoft.com/en-us/graph/api/application-update>),
//! including `keyCredentials` replaced whole as `az ad app credential reset` does, and `DELETE`
//! (<https://learn.microsoft.com/en-us/graph/api/application-delete>), which takes the app's
//! service principal and what hangs on it along.
//!
//! Permissions: one of [`WRITE_APPLICATIONS`]. `Application.ReadWrite.OwnedBy` is not honoured
//! (owners are not modelled): a caller holding only it gets 403.

use std::collections::HashSet;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::applications::{to_json, AppKey};
use super::auth::Caller;
use super::error::GraphError;
use super::query::{context, entity};
use super::rollkey::{invalid_credential, too_many_keys};
use super::{json_body, service_principals, Reply};
use crate::directory::objects::{self, application_doc, str_of};
use crate::directory::{reindexed, Change, Directory, Kind, Object, Origin};
use crate::keys::{MAX_KEYS_PER_APP, MAX_KEY_BYTES_PER_APP};
use crate::service::TokenService;
use certgen::authority::is_guid;
use certgen::certificate::{rfc3339, Certificate};
use certgen::graph::keycred::key_credential_with;
use certgen::jose;

/// Properties the directory sets and a client's value for is ignored (Graph treats them as
/// read-only; UNCONFIRMED whether it refuses or ignores them on create: ignored here).
const SERVER_SET: [&str; 4] = ["id", "appId", "createdDateTime", "publisherDomain"];

fn bad_request(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

/// Graph's text for a property of the wrong shape (seen in live answers, e.g. for
/// `identifierUris`; UNCONFIRMED for every property).
fn invalid_value(property: &str) -> GraphError {
    bad_request(format!(
        "Invalid value specified for property '{property}' of resource 'Application'."
    ))
}

/// Checks the shapes the token endpoints read, so a write cannot leave an app the directory
/// misreads: strings where strings go, lists of strings, objects.
fn check_shapes(given: &Map<String, Value>) -> Result<(), GraphError> {
    let string_list = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    for (k, v) in given {
        let ok = match k.as_str() {
            "displayName" => v.is_string(),
            "description" | "notes" | "groupMembershipClaims" => v.is_string() || v.is_null(),
            "signInAudience" => v.as_str().is_some_and(|a| {
                [
                    "AzureADMyOrg",
                    "AzureADMultipleOrgs",
                    "AzureADandPersonalMicrosoftAccount",
                    "PersonalMicrosoftAccount",
                ]
                .contains(&a)
            }),
            "identifierUris" | "tags" => string_list(v),
            "isFallbackPublicClient" => v.is_boolean() || v.is_null(),
            "appRoles" | "requiredResourceAccess" | "keyCredentials" | "passwordCredentials" => {
                v.as_array().is_some_and(|a| a.iter().all(Value::is_object))
            }
            "web" | "publicClient" | "spa" => {
                v.is_object() && v.get("redirectUris").is_none_or(string_list)
            }
            "api" | "info" | "optionalClaims" => v.is_object() || v.is_null(),
            _ => true,
        };
        if !ok {
            return Err(invalid_value(k));
        }
    }
    Ok(())
}

/// Every `identifierUris` value names one application only (Graph's text for the clash).
fn check_identifier_uris(
    directory: &Directory,
    given: &Map<String, Value>,
    own_id: &str,
) -> Result<(), GraphError> {
    let Some(uris) = given.get("identifierUris").and_then(Value::as_array) else {
        return Ok(());
    };
    for uri in uris.iter().filter_map(Value::as_str) {
        let taken = directory
            .find(
                Kind::Application,
                "identifierUri",
                uri.trim_end_matches('/'),
            )?
            .into_iter()
            .any(|o| o.id != own_id);
        if taken {
            return Err(bad_request(
                "Another object with the same value for property identifierUris already exists.",
            ));
        }
    }
    Ok(())
}

/// `appRoles` entries without an `id` are given one (the Azure CLI gives them one itself;
/// UNCONFIRMED what Graph does without).
fn with_role_ids(given: &mut Map<String, Value>) {
    if let Some(Value::Array(roles)) = given.get_mut("appRoles") {
        for r in roles {
            if r.get("id")
                .and_then(Value::as_str)
                .is_none_or(|id| !is_guid(id))
            {
                r["id"] = json!(uuid::Uuid::new_v4().to_string());
            }
            if r.get("isEnabled").is_none() {
                r["isEnabled"] = json!(true);
            }
        }
    }
}

/// The key credentials a write asks for, checked against those held: an entry naming a held
/// `keyId` with `key` null keeps that certificate (the Azure CLI sends the held entries back
/// as it read them, key null); an entry with a certificate in `key` (base64 DER, line breaks
/// allowed) is new and becomes usable after the replication delay; held entries not named are
/// removed. Returns the new list and the new `usableFrom` map.
pub fn replace_key_credentials(
    held: &Object,
    given: &[Value],
    now: i64,
    delay: i64,
) -> Result<(Vec<Value>, Map<String, Value>), GraphError> {
    let held_keys = crate::directory::key_credentials(&held.doc);
    let held_from = held
        .internal
        .get("usableFrom")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut usable = Map::new();
    let mut thumbprints = HashSet::new();
    let mut ids = HashSet::new();
    let mut bytes = 0usize;
    for entry in given {
        let field = |name: &str| entry.get(name).and_then(Value::as_str);
        let key_id = match field("keyId") {
            Some(id) if is_guid(id) => id.to_ascii_lowercase(),
            Some(_) => return Err(bad_request("The keyId of a key credential must be a GUID.")),
            None => uuid::Uuid::new_v4().to_string(),
        };
        if !ids.insert(key_id.clone()) {
            return Err(bad_request(format!(
                "A key credential with keyId {key_id} is given twice."
            )));
        }
        let held_entry = held_keys
            .iter()
            .find(|k| str_of(k, "keyId").eq_ignore_ascii_case(&key_id));
        let (credential, der_len, fresh) = match field("key").filter(|k| !k.trim().is_empty()) {
            None => {
                // UNCONFIRMED: Graph's answer to a new keyId without a certificate.
                let Some(k) = held_entry else {
                    return Err(bad_request(format!(
                        "The key credential {key_id} is not on the application and has no key."
                    )));
                };
                let cert = certificate_of(str_of(k, "key"))?;
                (k.clone(), cert.der().len(), None)
            }
            Some(text) => {
                if field("type") != Some("AsymmetricX509Cert") || field("usage") != Some("Verify") {
                    return Err(bad_request(
                        "certgen serve takes keyCredential type AsymmetricX509Cert with usage \
                         Verify.",
                    ));
                }
                let cert = certificate_of(text)?;
                let same = held_entry.filter(|k| {
                    str_of(k, "customKeyIdentifier")
                        .eq_ignore_ascii_case(&cert.thumbprints.thumbprint())
                });
                match same {
                    Some(k) => (k.clone(), cert.der().len(), None),
                    None => {
                        check_new_certificate(&cert, now)?;
                        let name = field("displayName").unwrap_or(&cert.subject).to_string();
                        let c = key_credential_with(&cert, &name, &key_id, true);
                        (c, cert.der().len(), Some(now.saturating_add(delay)))
                    }
                }
            }
        };
        if !thumbprints.insert(str_of(&credential, "customKeyIdentifier").to_ascii_uppercase()) {
            // UNCONFIRMED: Graph's text for one certificate listed twice.
            return Err(bad_request(
                "The same certificate is given twice in keyCredentials.",
            ));
        }
        bytes = bytes.saturating_add(der_len);
        match fresh {
            Some(from) => {
                usable.insert(key_id.clone(), json!(from));
            }
            None => {
                if let Some(from) = held_from.get(&key_id) {
                    usable.insert(key_id.clone(), from.clone());
                }
            }
        }
        out.push(credential);
    }
    if out.len() > MAX_KEYS_PER_APP || bytes > MAX_KEY_BYTES_PER_APP {
        return Err(too_many_keys(out.len(), bytes));
    }
    Ok((out, usable))
}

/// A certificate from `key`: base64 of its DER, line breaks and spaces allowed (the Azure CLI
/// sends a PEM body with its line breaks).
fn certificate_of(text: &str) -> Result<Certificate, GraphError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(compact).map_err(|_| invalid_credential())?;
    Certificate::from_der(&der).map_err(|_| invalid_credential())
}

/// What addKey checks of a new certificate, checked the same way here.
fn check_new_certificate(cert: &Certificate, now: i64) -> Result<(), GraphError> {
    if cert.key.rsa_bits().is_none_or(|b| b < jose::MIN_RSA_BITS) {
        // UNCONFIRMED message; Entra refuses such a key at the token endpoint (AADSTS50032).
        return Err(bad_request(format!(
            "Invalid credential value. The key must be RSA of at least {} bits.",
            jose::MIN_RSA_BITS
        )));
    }
    if cert.not_after.unix_timestamp() <= now {
        return Err(bad_request("Key credential end date is invalid."));
    }
    Ok(())
}

/// The client's properties, minus what the directory sets, checked.
fn given_properties(mut given: Map<String, Value>) -> Result<Map<String, Value>, GraphError> {
    given.retain(|k, _| !k.starts_with('@') && !SERVER_SET.contains(&k.as_str()));
    check_shapes(&given)?;
    with_role_ids(&mut given);
    Ok(given)
}

/// `POST /applications`: 201 with the new object. It has no service principal until one is
/// made (`POST /servicePrincipals`), so its token requests get AADSTS7000229 until then.
pub fn create(
    service: &TokenService,
    caller: &Caller,
    body: &[u8],
    graph_base: &str,
) -> Result<Reply, GraphError> {
    caller.require_application_write()?;
    let directory = &service.directory;
    let mut given = given_properties(json_body(body)?)?;
    let Some(name) = given
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        // UNCONFIRMED: Graph's text when displayName is missing.
        return Err(bad_request("Property 'displayName' is required."));
    };
    if given
        .get("passwordCredentials")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty())
    {
        // UNCONFIRMED: Graph's text; secrets are made by addPassword, which answers them once.
        return Err(bad_request(
            "passwordCredentials cannot be set when an application is created; use addPassword.",
        ));
    }
    given.remove("passwordCredentials");
    let id = uuid::Uuid::new_v4().to_string();
    let app_id = uuid::Uuid::new_v4().to_string();
    check_identifier_uris(directory, &given, &id)?;
    let now = OffsetDateTime::now_utc();
    let keys = given.remove("keyCredentials");
    let mut doc = application_doc(&id, &app_id, &name, &given);
    let empty = objects::object(
        Kind::Application,
        &id,
        Origin::Graph,
        doc.clone(),
        json!({}),
    );
    let (keys, usable) = replace_key_credentials(
        &empty,
        keys.as_ref()
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        now.unix_timestamp(),
        directory.replication_delay_secs(),
    )?;
    doc["keyCredentials"] = Value::Array(keys);
    doc["createdDateTime"] = json!(rfc3339(now));
    let tenant = directory.tenant(&caller.tenant_id)?;
    doc["publisherDomain"] = json!(tenant.and_then(|t| t.domains.first().cloned()));
    let internal = json!({"usableFrom": usable, "passwords": []});
    directory.write(vec![Change::Put(objects::object(
        Kind::Application,
        &id,
        Origin::Graph,
        doc.clone(),
        internal,
    ))])?;
    Ok(Reply::created(entity(
        context(graph_base, "applications", None, true),
        to_json(&doc, None),
    )))
}

/// `PATCH /applications/{id}`: each property given replaces the one held; 204.
pub fn update(
    service: &TokenService,
    caller: &Caller,
    key: &AppKey,
    body: &[u8],
) -> Result<Reply, GraphError> {
    caller.require_application_write()?;
    let directory = &service.directory;
    let app = key
        .find(directory)?
        .ok_or_else(|| GraphError::not_found(key.text()))?;
    let raw = json_body(body)?;
    for read_only in ["id", "appId"] {
        if let Some(v) = raw.get(read_only) {
            if !v
                .as_str()
                .is_some_and(|v| v.eq_ignore_ascii_case(str_of(&app.doc, read_only)))
            {
                // UNCONFIRMED: Graph's text for a changed read-only property.
                return Err(bad_request(format!(
                    "Property '{read_only}' is read-only and cannot be set."
                )));
            }
        }
    }
    let mut given = given_properties(raw)?;
    // Secrets change through addPassword/removePassword only; a client sending the list back
    // as it read it changes nothing (UNCONFIRMED: what Graph does with one).
    given.remove("passwordCredentials");
    check_identifier_uris(directory, &given, &app.id)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let delay = directory.replication_delay_secs();
    let sps = directory.find(Kind::ServicePrincipal, "appId", str_of(&app.doc, "appId"))?;
    let outcome = directory.modify(Kind::Application, &app.id, |current| {
        let Some(mut current) = current else {
            return (Err(GraphError::not_found(key.text())), Vec::new());
        };
        let mut given = given;
        if let Some(keys) = given.remove("keyCredentials") {
            let list = keys.as_array().map_or(&[][..], Vec::as_slice);
            match replace_key_credentials(&current, list, now, delay) {
                Ok((keys, usable)) => {
                    current.doc["keyCredentials"] = Value::Array(keys);
                    if !current.internal.is_object() {
                        current.internal = json!({});
                    }
                    current.internal["usableFrom"] = Value::Object(usable);
                }
                Err(e) => return (Err(e), Vec::new()),
            }
        }
        objects::merge(&mut current.doc, &given);
        let mut changes = Vec::new();
        for sp in &sps {
            changes.push(Change::Put(reindexed(mirrored(sp.clone(), &current.doc))));
        }
        changes.insert(0, Change::Put(reindexed(current)));
        (Ok(()), changes)
    })?;
    outcome.map(|()| Reply::no_content())
}

/// A service principal after its application changed: Entra copies the app's roles, scopes,
/// name and identifier URIs onto it
/// (<https://learn.microsoft.com/en-us/entra/identity-platform/app-objects-and-service-principals>).
pub fn mirrored(mut sp: Object, application: &Value) -> Object {
    let fresh = objects::service_principal_doc(&sp.id, application);
    for p in [
        "appRoles",
        "oauth2PermissionScopes",
        "appDisplayName",
        "displayName",
        "servicePrincipalNames",
    ] {
        sp.doc[p] = fresh[p].clone();
    }
    sp
}

/// `DELETE /applications/{id}`: the application, its service principal, and the assignments,
/// grants and memberships that name the service principal; 204.
pub fn delete(directory: &Directory, caller: &Caller, key: &AppKey) -> Result<Reply, GraphError> {
    caller.require_application_write()?;
    let app = key
        .find(directory)?
        .ok_or_else(|| GraphError::not_found(key.text()))?;
    let mut changes = vec![Change::Delete(Kind::Application, app.id.clone())];
    changes.extend(super::federated_credentials::removal(directory, &app.id)?);
    for sp in directory.find(Kind::ServicePrincipal, "appId", str_of(&app.doc, "appId"))? {
        changes.extend(service_principals::removal(directory, &sp.id)?);
    }
    directory.write(changes)?;
    Ok(Reply::no_content())
}
