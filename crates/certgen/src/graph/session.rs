//! An app's own Graph session: its token and Graph's address, and the calls on its own
//! application object that need no administrator (read it, `addKey`, `removeKey`).

use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde_json::Value;

use super::app_keys::{self, Application};
use super::client::{ApiClient, ApiRequest};
use super::proof::{self, MAX_LIFETIME_SECS};
use crate::certificate::Certificate;
use crate::credential::Credential;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// The app's own Graph session. Error answers come back as [`Error::Graph`].
#[derive(Debug, Clone)]
pub struct AppSession {
    client: ApiClient,
    graph: Url,
    token: Secret,
    app_id: String,
}

impl AppSession {
    /// A session on `graph` (Graph's base URL, e.g. `https://graph.microsoft.com`) for the app
    /// `app_id`, with its app-only Graph `token`.
    pub fn new(client: ApiClient, graph: Url, token: Secret, app_id: impl Into<String>) -> Self {
        AppSession {
            client,
            graph,
            token,
            app_id: app_id.into(),
        }
    }

    /// The app's client id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        // Appended, not joined: a Graph stand-in may live under a path of its own.
        let text = format!("{}{path}", self.graph.as_str().trim_end_matches('/'));
        let url = crate::authority::check_endpoint_url(&text)?;
        let request = ApiRequest {
            method,
            url: url.clone(),
            headers: HeaderMap::new(),
            body: body.map(|b| b.to_string().into_bytes()),
        };
        let answer = self.client.send(&request, self.token.expose()).await?;
        if !answer.is_success() {
            return Err(answer.to_error(&url).into());
        }
        if answer.body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&answer.body).map(Some).map_err(|e| {
            Error::failure(format!("{url} answered with a body that is not JSON ({e})"))
        })
    }

    /// The app's own application object.
    pub async fn application(&self) -> Result<Application> {
        let path = app_keys::own_application_path(&self.app_id);
        let doc = self
            .send(Method::GET, &path, None)
            .await?
            .unwrap_or(Value::Null);
        Application::from_json(&doc)
    }

    /// `addKey` of `new`, the proof signed by `signer`; the new key's `keyId`.
    pub async fn add_key(
        &self,
        app: &Application,
        new: &Certificate,
        display_name: Option<&str>,
        signer: &Credential,
    ) -> Result<String> {
        let p = proof::sign(signer, &app.id, MAX_LIFETIME_SECS)?;
        let body = app_keys::add_body(new, display_name, &p.jwt);
        let path = app_keys::action_path(&app.id, "addKey");
        let answer = self.send(Method::POST, &path, Some(&body)).await?;
        Ok(answer
            .as_ref()
            .and_then(|a| a.get("keyId"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// `removeKey` of `key_id`, the proof signed by `signer`.
    pub async fn remove_key(
        &self,
        app: &Application,
        key_id: &str,
        signer: &Credential,
    ) -> Result<()> {
        let p = proof::sign(signer, &app.id, MAX_LIFETIME_SECS)?;
        let body = app_keys::remove_body(key_id, &p.jwt);
        let path = app_keys::action_path(&app.id, "removeKey");
        self.send(Method::POST, &path, Some(&body)).await?;
        Ok(())
    }
}
