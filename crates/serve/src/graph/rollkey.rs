//! `POST /applications/{id}/addKey` and `…/removeKey` (<https://learn.microsoft.com/en-us/graph/api/application-addkey>): an app
//! rolls its own certificates with no permission, but only with a proof-of-possession JWT
//! signed by one of its currently valid certificates. Every fault in the proof is answered as
//! Graph answers it, 401 `Authentication_MissingOrMalformed` with no detail; `certgen decode`
//! of the proof says which rule was broken.

use axum::http::StatusCode;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::applications::AppKey;
use super::auth::Caller;
use super::error::GraphError;
use crate::config::App;
use crate::directory::objects::str_of;
use crate::directory::view::AppView;
use crate::keys::AddRefused;
use crate::service::TokenService;
use certgen::authority::is_guid;
use certgen::certificate::{CertKey, Certificate};
use certgen::graph::permissions::{allows, WRITE_APPLICATIONS};
use certgen::graph::proof::{self, Expected};
use certgen::jose::{self, Alg, Policy, VerifyingKey};

/// The credential actions on an application (`addPassword`/`removePassword` are served by
/// [`super::passwords`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AddKey,
    RemoveKey,
    AddPassword,
    RemovePassword,
}

impl Action {
    /// The path segment, as Graph spells it (case-insensitive, as Graph routes it).
    pub fn from_segment(segment: &str) -> Option<Action> {
        [
            ("addKey", Action::AddKey),
            ("removeKey", Action::RemoveKey),
            ("addPassword", Action::AddPassword),
            ("removePassword", Action::RemovePassword),
        ]
        .into_iter()
        .find(|(name, _)| segment.eq_ignore_ascii_case(name))
        .map(|(_, a)| a)
    }
}

/// Runs addKey (`adding`) or removeKey: the JSON answer of addKey, or `None` for removeKey's
/// 204.
pub fn run(
    service: &TokenService,
    caller: &Caller,
    key: &AppKey,
    adding: bool,
    body: &[u8],
    graph_base: &str,
) -> Result<Option<Value>, GraphError> {
    let object = key
        .find(&service.directory)?
        .ok_or_else(|| GraphError::not_found(key.text()))?;
    let view = service
        .directory
        .app(str_of(&object.doc, "appId"))?
        .ok_or_else(|| GraphError::not_found(key.text()))?;
    let app = &view.app;
    let own = caller.app_id.eq_ignore_ascii_case(&app.client_id);
    if !caller.app_only || (!own && !allows(&caller.roles(), WRITE_APPLICATIONS)) {
        return Err(GraphError::insufficient_privileges());
    }
    let body = super::json_body(body)?;
    // UNCONFIRMED: the status Graph gives a request without a proof is not in
    // https://learn.microsoft.com/en-us/graph/api/application-addkey; 403
    // Authorization_RequestDenied chosen because a live tenant answered so through the
    // PowerShell SDK.
    let Some(proof_text) = body.get("proof").and_then(Value::as_str) else {
        return Err(GraphError::insufficient_privileges());
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    check_proof(&view, proof_text, now).map_err(|_| malformed())?;
    if adding {
        add(service, app, &body, now, graph_base).map(Some)
    } else {
        remove(service, app, &body).map(|()| None)
    }
}

fn malformed() -> GraphError {
    GraphError {
        status: StatusCode::UNAUTHORIZED,
        code: "Authentication_MissingOrMalformed",
        message: "Access Token missing or malformed.".into(),
    }
}

fn bad_request(message: impl Into<String>) -> GraphError {
    GraphError::bad_request("Request_BadRequest", message)
}

/// Why a proof was refused (never sent: Graph gives no detail).
#[derive(Debug)]
pub enum ProofRefused {
    /// Not a JWS.
    Unreadable,
    /// It breaks one of the rules of the proof.
    Rules,
    /// No currently valid certificate of the app verifies the signature.
    Signature,
}

/// Graph's checks (<https://learn.microsoft.com/en-us/graph/api/application-addkey>): the rules of [`proof::broken_rules`] with this app's
/// object id, then a signature by one of its keys that is registered, replicated and inside
/// its validity now.
pub fn check_proof(view: &AppView, token: &str, now: i64) -> Result<(), ProofRefused> {
    let app = &view.app;
    let expected = Expected {
        object_id: Some(&app.application_object_id),
        app_id: Some(&app.client_id),
        now: Some(now),
    };
    let broken = proof::broken_rules(token, &expected).map_err(|_| ProofRefused::Unreadable)?;
    if !broken.is_empty() {
        return Err(ProofRefused::Rules);
    }
    let jws = jose::parse(token.trim(), Policy::Strict).map_err(|_| ProofRefused::Unreadable)?;
    let sent_x5t = jws.header_str("x5t");
    let candidates = view.keys.iter().filter(|(c, usable_from)| {
        *usable_from <= now
            && c.not_before.unix_timestamp() <= now
            && now < c.not_after.unix_timestamp()
            && sent_x5t.is_none_or(|x| x == c.thumbprints.x5t())
    });
    for (c, _) in candidates {
        if verifies(c, &jws) {
            return Ok(());
        }
    }
    Err(ProofRefused::Signature)
}

fn verifies(cert: &Certificate, jws: &jose::Jws) -> bool {
    let CertKey::Rsa { n, e } = &cert.key else {
        return false;
    };
    VerifyingKey::from_rsa_components(n, e)
        .and_then(|k| k.verify(Alg::Rs256, jws.signing_input.as_bytes(), &jws.signature))
        .is_ok()
}

/// The invalid-certificate answer of a live tenant (<https://learn.microsoft.com/en-us/graph/api/application-addkey>).
pub fn invalid_credential() -> GraphError {
    bad_request("Invalid credential value. Error: Cannot find the requested object.\r\n")
}

fn add(
    service: &TokenService,
    app: &App,
    body: &Map<String, Value>,
    now: i64,
    graph_base: &str,
) -> Result<Value, GraphError> {
    let Some(Value::Object(kc)) = body.get("keyCredential") else {
        return Err(bad_request("The keyCredential parameter is required."));
    };
    let field = |name: &str| kc.get(name).and_then(Value::as_str);
    if field("type") != Some("AsymmetricX509Cert") || field("usage") != Some("Verify") {
        // X509CertAndPassword (Sign) is for SAML signing, not app authentication; not served.
        return Err(bad_request(
            "certgen serve takes keyCredential type AsymmetricX509Cert with usage Verify.",
        ));
    }
    let der = field("key")
        .and_then(|k| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(k).ok()
        })
        .ok_or_else(invalid_credential)?;
    let cert = Certificate::from_der(&der).map_err(|_| invalid_credential())?;
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
    let key_id = match field("keyId") {
        Some(id) if is_guid(id) => id.to_ascii_lowercase(),
        _ => uuid::Uuid::new_v4().to_string(),
    };
    let display_name = field("displayName").unwrap_or(&cert.subject).to_string();
    let added = service
        .directory
        .add_key(
            &app.application_object_id,
            &cert,
            &key_id,
            &display_name,
            now,
        )?
        .ok_or_else(|| GraphError::not_found(&app.application_object_id))?
        .map_err(|refused| match refused {
            // UNCONFIRMED: what Graph answers for a certificate already registered.
            AddRefused::Duplicate(existing) => bad_request(format!(
                "This certificate is already registered on the application (keyId {existing})."
            )),
            AddRefused::KeyIdTaken(id) => {
                bad_request(format!("A key credential with keyId {id} already exists."))
            }
            AddRefused::Full { count, bytes } => too_many_keys(count, bytes),
        })?;
    Ok(answer(added, graph_base))
}

/// The refusal of a key past the per-application cap ([`crate::keys::MAX_KEYS_PER_APP`] keys,
/// [`crate::keys::MAX_KEY_BYTES_PER_APP`] bytes of certificates). Graph refuses a write that
/// takes an application object past its size limit with a 400
/// (<https://learn.microsoft.com/en-us/entra/identity/users/directory-service-limits-restrictions>).
/// UNCONFIRMED: the code and text Graph sends then; `Request_BadRequest` chosen because it is
/// the directory's code for every other refused credential change (removeKey, a bad key).
pub fn too_many_keys(count: usize, bytes: usize) -> GraphError {
    bad_request(format!(
        "The application has {count} key credentials ({bytes} bytes of certificates); certgen \
         serve allows at most {} per application and {} bytes in all. Remove one with removeKey \
         first.",
        crate::keys::MAX_KEYS_PER_APP,
        crate::keys::MAX_KEY_BYTES_PER_APP
    ))
}

/// addKey's 200: the new keyCredential, `key` null (the live capture of §1.1).
fn answer(mut v: Value, graph_base: &str) -> Value {
    v["key"] = Value::Null;
    if let Value::Object(map) = &mut v {
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            Value::String(format!(
                "{graph_base}/v1.0/$metadata#microsoft.graph.keyCredential"
            )),
        );
        out.append(map);
        return Value::Object(out);
    }
    v
}

fn remove(service: &TokenService, app: &App, body: &Map<String, Value>) -> Result<(), GraphError> {
    let key_id = body
        .get("keyId")
        .and_then(Value::as_str)
        .filter(|id| is_guid(id))
        .ok_or_else(|| bad_request("The keyId parameter must be a GUID."))?;
    match service
        .directory
        .remove_key(&app.application_object_id, key_id)?
    {
        Some(true) => Ok(()),
        Some(false) => Err(bad_request("No credentials found to be removed.")),
        None => Err(GraphError::not_found(&app.application_object_id)),
    }
}
