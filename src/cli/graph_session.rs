//! What `certgen credential` and `certgen rotate` share: the app's own Graph session — a Graph
//! token got as `certgen token` gets it, its application object, and `addKey`/`removeKey`
//! with a proof signed by a local certificate; error answers explained as `certgen call` does.

use super::hints::{CliError as Error, Result};
use certgen::credential::Credential;
use certgen::graph::app_keys::{self, Application};
use certgen::graph::cloud::scope_for_url;
use certgen::graph::proof::{self, MAX_LIFETIME_SECS};
use certgen::graph::{ApiClient, ApiRequest};
use clap::Args;
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use serde_json::Value;

use super::assertion::env_value;
use super::call::{authority_origin, explain, request_url};
use super::token::{self, TokenArgs};

/// TOKEN-OPTIONS, and the Graph host when it is not the cloud's.
#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    /// A Graph stand-in's URL [else CERTGEN_GRAPH_HOST, else the cloud's Graph]
    #[arg(long, value_name = "URL")]
    pub graph_host: Option<String>,
    #[command(flatten)]
    pub token: TokenArgs,
}

/// An open session: a runtime, a client, and the app's Graph token.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    client: ApiClient,
    authority: String,
    graph_host: Option<String>,
    token: String,
    pub app_id: String,
}

impl Session {
    pub fn open(args: &GraphArgs) -> Result<Session> {
        let authority = authority_origin(&args.token)?;
        let graph_host = args
            .graph_host
            .clone()
            .or_else(|| env_value("CERTGEN_GRAPH_HOST"));
        let app_id = args.token.client_id.trim().to_string();
        let probe = request_url("/v1.0/applications", &authority, graph_host.as_deref())?;
        let mut token_args = args.token.clone();
        if token_args.scopes.is_empty() {
            token_args.scopes = vec![scope_for_url(&probe, &authority, graph_host.as_deref())];
        }
        let token = token::get(&token_args)?.token.expose().to_string();
        let (client, runtime) = super::call::api_client(&args.token)?;
        Ok(Session {
            runtime,
            client,
            authority,
            graph_host,
            token,
            app_id,
        })
    }

    fn url(&self, path: &str) -> Result<Url> {
        request_url(path, &self.authority, self.graph_host.as_deref())
    }

    fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Option<Value>> {
        let url = self.url(path)?;
        let request = ApiRequest {
            method,
            url: url.clone(),
            headers: HeaderMap::new(),
            body: body.map(|b| b.to_string().into_bytes()),
        };
        let answer = self
            .runtime
            .block_on(self.client.send(&request, &self.token))?;
        if !answer.is_success() {
            return Err(explain(&url, &answer, &self.token));
        }
        if answer.body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&answer.body).map(Some).map_err(|e| {
            Error::failure(format!("{url} answered with a body that is not JSON ({e})"))
        })
    }

    /// The app's own application object.
    pub fn application(&self) -> Result<Application> {
        let doc = self
            .send(
                Method::GET,
                &app_keys::own_application_path(&self.app_id),
                None,
            )?
            .unwrap_or(Value::Null);
        Ok(Application::from_json(&doc)?)
    }

    /// `addKey` of `new`, the proof signed by `signer`; the new key's `keyId`.
    pub fn add_key(
        &self,
        app: &Application,
        new: &certgen::certificate::Certificate,
        display_name: Option<&str>,
        signer: &Credential,
    ) -> Result<String> {
        let p = proof::sign(signer, &app.id, MAX_LIFETIME_SECS)?;
        let body = app_keys::add_body(new, display_name, &p.jwt);
        let answer = self.send(
            Method::POST,
            &app_keys::action_path(&app.id, "addKey"),
            Some(&body),
        )?;
        Ok(answer
            .as_ref()
            .and_then(|a| a.get("keyId"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// `removeKey` of `key_id`, the proof signed by `signer`.
    pub fn remove_key(&self, app: &Application, key_id: &str, signer: &Credential) -> Result<()> {
        let p = proof::sign(signer, &app.id, MAX_LIFETIME_SECS)?;
        let body = app_keys::remove_body(key_id, &p.jwt);
        self.send(
            Method::POST,
            &app_keys::action_path(&app.id, "removeKey"),
            Some(&body),
        )?;
        Ok(())
    }
}
