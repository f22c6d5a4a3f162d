//! What `certgen credential` and `certgen rotate` share: the app's own Graph session — a Graph
//! token got as `certgen token` gets it, its application object, and `addKey`/`removeKey`
//! with a proof signed by a local certificate (the library's `AppSession`); error answers
//! explained as `certgen call` does.

use super::error::{CliError as Error, Result};
use certgen::certificate::Certificate;
use certgen::credential::Credential;
use certgen::graph::app_keys::Application;
use certgen::graph::cloud::scope_for_url;
use certgen::graph::{AppKeys, AppSession};
use certgen::secret::Secret;
use clap::Args;

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

/// An open session: a runtime and the library's [`AppSession`] with the app's Graph token.
pub struct Session {
    runtime: tokio::runtime::Runtime,
    inner: AppSession,
    token: String,
}

/// The app's own keys are what these commands work on: a managed identity has none (the
/// platform holds its credential), so `--managed-identity` is refused before anything is read.
pub fn refuse_managed_identity(args: &GraphArgs) -> Result<()> {
    if args.token.managed.managed_identity {
        return Err(Error::usage(
            "--managed-identity: this command works on an app's own certificates, and a managed \
             identity has none",
        )
        .with_hint("sign in as the app: --client-id with --cert/--pfx or a client secret"));
    }
    Ok(())
}

impl Session {
    pub fn open(args: &GraphArgs) -> Result<Session> {
        refuse_managed_identity(args)?;
        let authority = authority_origin(&args.token)?;
        let graph_host = args
            .graph_host
            .clone()
            .or_else(|| env_value("CERTGEN_GRAPH_HOST"));
        let app_id = token::client_id(&args.token)?.to_string();
        let probe = request_url("/v1.0/applications", &authority, graph_host.as_deref())?;
        let mut token_args = args.token.clone();
        if token_args.scopes.is_empty() {
            token_args.scopes = vec![scope_for_url(&probe, &authority, graph_host.as_deref())];
        }
        let token = token::get(&token_args)?.token.expose().to_string();
        let (client, runtime) = super::call::api_client(&args.token)?;
        let graph = request_url("/", &authority, graph_host.as_deref())?;
        let inner = AppSession::new(client, graph, Secret::new(token.clone()), app_id);
        Ok(Session {
            runtime,
            inner,
            token,
        })
    }

    /// A library error as the command's error: Graph's answers explained with the token the
    /// session sent (its app, audience and roles).
    fn explain(&self, e: certgen::Error) -> Error {
        match e {
            certgen::Error::Graph(g) => explain(&g, &self.token),
            other => other.into(),
        }
    }
}

/// The library's calls, their errors explained for the command line.
impl AppKeys for Session {
    type Error = Error;

    fn application(&self) -> Result<Application> {
        self.runtime
            .block_on(self.inner.application())
            .map_err(|e| self.explain(e))
    }

    fn add_key(
        &self,
        app: &Application,
        new: &Certificate,
        display_name: Option<&str>,
        signer: &Credential,
    ) -> Result<String> {
        self.runtime
            .block_on(self.inner.add_key(app, new, display_name, signer))
            .map_err(|e| self.explain(e))
    }

    fn remove_key(&self, app: &Application, key_id: &str, signer: &Credential) -> Result<()> {
        self.runtime
            .block_on(self.inner.remove_key(app, key_id, signer))
            .map_err(|e| self.explain(e))
    }
}
