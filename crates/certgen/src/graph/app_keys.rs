//! The certificates registered on an application, as the app itself reads and changes them
//! through Graph with no permission (<https://learn.microsoft.com/en-us/graph/api/application-addkey>): its own application object,
//! each key's state, the bodies of `addKey`/`removeKey`, and the guards that keep an app from
//! locking itself out (once every certificate has expired only an administrator can add one).

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::keycred::{key_credential, thumbprint_of_identifier};
use crate::certificate::{rfc3339, Certificate};
use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::jose::MIN_RSA_BITS;

/// The path (after the Graph host) of an app's own object. No `$select`: `keyCredentials` come
/// by default (with `key` null, all that is needed here), while `$select=keyCredentials` adds
/// every certificate's bytes and is throttled to 150 requests a minute per tenant
/// (application-get.md), which a fleet of daemons could meet.
/// The calls on an app's own application object that renewing its certificate makes
/// (<https://learn.microsoft.com/en-us/graph/api/application-addkey>,
/// <https://learn.microsoft.com/en-us/graph/api/application-removekey>), each answered or
/// refused with [`Error::Graph`]. [`AppSession`](super::AppSession) makes
/// them over HTTP.
pub trait AppKeys {
    /// The implementation's error type ([`Error`] for the library's own).
    type Error: From<Error>;
    /// The app's own application object, with its registered certificates.
    fn application(&self) -> std::result::Result<Application, Self::Error>;
    /// `addKey` of `new`, with a proof signed by `signer` (a certificate already registered);
    /// the new key's `keyId`.
    fn add_key(
        &self,
        app: &Application,
        new: &Certificate,
        display_name: Option<&str>,
        signer: &Credential,
    ) -> std::result::Result<String, Self::Error>;
    /// `removeKey` of `key_id`, with a proof signed by `signer`.
    fn remove_key(
        &self,
        app: &Application,
        key_id: &str,
        signer: &Credential,
    ) -> std::result::Result<(), Self::Error>;
}

/// The Graph path of the calling application (`applications(appId='…')`).
pub fn own_application_path(app_id: &str) -> String {
    format!("/v1.0/applications(appId='{app_id}')")
}

/// `addKey`/`removeKey` on the application whose object id is `object_id`.
pub fn action_path(object_id: &str, action: &str) -> String {
    format!("/v1.0/applications/{object_id}/{action}")
}

/// An application object, reduced to what key management needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The object id (`id`): what a proof's `iss` names.
    pub id: String,
    /// The application (client) id.
    pub app_id: String,
    /// Its display name.
    pub display_name: String,
    /// Its certificates (`keyCredentials`).
    pub keys: Vec<RegisteredKey>,
}

/// One `keyCredential`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredKey {
    /// Graph's `keyId` of the key.
    pub key_id: String,
    /// Upper-case hex SHA-1, from `customKeyIdentifier` (hex or base64); `None` when absent or
    /// unreadable.
    pub thumbprint: Option<String>,
    /// Its `displayName`, when set.
    pub display_name: Option<String>,
    /// Its `startDateTime`.
    pub start: Option<OffsetDateTime>,
    /// Its `endDateTime`.
    pub end: Option<OffsetDateTime>,
}

/// Where a key stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Within its validity period.
    Valid,
    /// Its start is in the future.
    NotYetValid,
    /// Its end is past.
    Expired,
}

impl KeyState {
    /// The state in one word: `valid`, `not yet valid`, `expired`.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::Valid => "valid",
            KeyState::NotYetValid => "not_yet_valid",
            KeyState::Expired => "expired",
        }
    }
}

impl RegisteredKey {
    /// The key's state at `now`.
    pub fn state(&self, now: OffsetDateTime) -> KeyState {
        if self.end.is_some_and(|e| e <= now) {
            KeyState::Expired
        } else if self.start.is_some_and(|s| s > now) {
            KeyState::NotYetValid
        } else {
            KeyState::Valid
        }
    }

    /// Whether this key is the certificate of SHA-1 `thumbprint` (hex, any case).
    pub fn is(&self, thumbprint: &str) -> bool {
        self.thumbprint
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(thumbprint))
    }

    /// The key as a JSON object.
    pub fn to_json(&self, now: OffsetDateTime, this_machine: Option<&str>) -> Value {
        json!({
            "keyId": self.key_id,
            "thumbprint": self.thumbprint,
            "displayName": self.display_name,
            "startDateTime": self.start.map(rfc3339),
            "endDateTime": self.end.map(rfc3339),
            "state": self.state(now).name(),
            "this_machine": this_machine.is_some_and(|t| self.is(t)),
        })
    }
}

fn date(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339).ok()
}

impl Application {
    /// From Graph's answer: the entity (`applications(appId=…)`, `applications/{id}`) or a
    /// collection (`?$filter=appId eq …`) holding exactly one.
    pub fn from_json(doc: &Value) -> Result<Application> {
        let entity = match doc.get("value").and_then(Value::as_array) {
            Some(list) => match list.as_slice() {
                [one] => one,
                [] => return Err(Error::failure("Graph found no application with that appId")),
                _ => return Err(Error::failure("Graph returned several applications")),
            },
            None => doc,
        };
        let text = |name: &str| entity.get(name).and_then(Value::as_str).map(str::to_string);
        let id =
            text("id").ok_or_else(|| Error::failure("Graph's application object has no id"))?;
        let keys = entity
            .get("keyCredentials")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|k| RegisteredKey {
                        key_id: k
                            .get("keyId")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        thumbprint: k
                            .get("customKeyIdentifier")
                            .and_then(Value::as_str)
                            .and_then(thumbprint_of_identifier),
                        display_name: k
                            .get("displayName")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                        start: k.get("startDateTime").and_then(date),
                        end: k.get("endDateTime").and_then(date),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Application {
            id,
            app_id: text("appId").unwrap_or_default(),
            display_name: text("displayName").unwrap_or_default(),
            keys,
        })
    }

    /// The registered key of SHA-1 `thumbprint` (hex, any case).
    pub fn key_for(&self, thumbprint: &str) -> Option<&RegisteredKey> {
        self.keys.iter().find(|k| k.is(thumbprint))
    }

    /// A key named by its `keyId` or its SHA-1 thumbprint (hex, colons allowed).
    pub fn find(&self, id_or_thumbprint: &str) -> Option<&RegisteredKey> {
        let wanted = id_or_thumbprint.trim();
        if let Some(k) = self
            .keys
            .iter()
            .find(|k| k.key_id.eq_ignore_ascii_case(wanted))
        {
            return Some(k);
        }
        let hex = crate::thumbprint::parse_hex(wanted).map(hex::encode_upper)?;
        self.key_for(&hex)
    }

    /// The application and its keys as a JSON document.
    pub fn to_json(&self, now: OffsetDateTime, this_machine: Option<&str>) -> Value {
        json!({
            "application": {"id": self.id, "appId": self.app_id, "displayName": self.display_name},
            "keyCredentials": self.keys.iter().map(|k| k.to_json(now, this_machine)).collect::<Vec<_>>(),
        })
    }

    /// Why removing `key` would lock the app out, if it would: it is the last valid one, or
    /// the one this machine signs with.
    pub fn removal_risk(
        &self,
        key: &RegisteredKey,
        this_machine: Option<&str>,
        now: OffsetDateTime,
    ) -> Option<String> {
        let others_valid = self
            .keys
            .iter()
            .filter(|k| k.key_id != key.key_id && k.state(now) == KeyState::Valid)
            .count();
        if key.state(now) == KeyState::Valid && others_valid == 0 {
            return Some(
                "it is the app's last valid certificate: without one, only an administrator can \
                 add a certificate again"
                    .into(),
            );
        }
        if this_machine.is_some_and(|t| key.is(t)) {
            return Some("it is the certificate this machine signs with".into());
        }
        None
    }
}

/// Refuses a certificate Entra would refuse as a credential: not RSA of at least 2048 bits, or
/// outside its validity.
pub fn check_addable(cert: &Certificate, now: OffsetDateTime) -> Result<()> {
    match cert.key.rsa_bits() {
        Some(bits) if bits >= MIN_RSA_BITS => {}
        Some(bits) => {
            return Err(Error::failure(format!(
            "the certificate holds an RSA {bits}-bit key; Entra needs at least {MIN_RSA_BITS} bits"
        )))
        }
        None => {
            return Err(Error::failure(format!(
                "the certificate holds an {} key; Entra accepts only RSA",
                cert.key.describe()
            )))
        }
    }
    if cert.not_after <= now {
        return Err(Error::failure(format!(
            "the certificate expired on {}",
            rfc3339(cert.not_after)
        )));
    }
    Ok(())
}

/// `addKey`'s body.
pub fn add_body(cert: &Certificate, display_name: Option<&str>, proof: &str) -> Value {
    json!({
        "keyCredential": key_credential(cert, display_name),
        "passwordCredential": null,
        "proof": proof,
    })
}

/// `removeKey`'s body.
pub fn remove_body(key_id: &str, proof: &str) -> Value {
    json!({ "keyId": key_id, "proof": proof })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphs_answers_are_read_with_hex_or_base64_identifiers() {
        let doc = json!({"value": [{
            "id": "o1", "appId": "a1", "displayName": "d",
            "keyCredentials": [
                {"keyId": "k1", "customKeyIdentifier": "0123456789ABCDEF0123456789ABCDEF01234567",
                 "startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2021-01-01T00:00:00Z"},
                {"keyId": "k2", "customKeyIdentifier": "ASNFZ4mrze8BI0VniavN7wEjRWc=",
                 "startDateTime": "2020-01-01T00:00:00Z", "endDateTime": "2099-01-01T00:00:00Z"},
            ]
        }]});
        let app = Application::from_json(&doc).unwrap();
        assert_eq!(app.id, "o1");
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let tp = "0123456789ABCDEF0123456789ABCDEF01234567";
        assert_eq!(app.keys[0].thumbprint.as_deref(), Some(tp));
        assert_eq!(app.keys[1].thumbprint.as_deref(), Some(tp));
        assert_eq!(app.keys[0].state(now), KeyState::Expired);
        assert_eq!(app.keys[1].state(now), KeyState::Valid);
        assert_eq!(app.find("k2").unwrap().key_id, "k2");
        // The last valid one is guarded; the expired one is not.
        assert!(app.removal_risk(&app.keys[1], None, now).is_some());
        assert!(app.removal_risk(&app.keys[0], None, now).is_none());
    }
}
