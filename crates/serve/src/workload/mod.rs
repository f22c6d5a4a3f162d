//! serve as a workload's token issuer, so the federated path runs offline with unmodified
//! clients: a GitHub Actions job's OIDC token endpoint (`github`) and a Kubernetes
//! service-account token file (`kubernetes`), each issuer with its own RSA key.
//!
//! | module | concept |
//! |---|---|
//! | `claims` | the tokens' claims, as each platform writes them |
//! | `github` | the runner's token endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`) |
//! | `kubernetes` | the token file, rewritten before 80 % of its life |
//!
//! `[[workload]]` as written and as checked is the config's (`crate::config`). A workload
//! entry makes no federated credential: the app must hold one that matches its
//! tokens (issuer, subject, audience), as in Entra.

pub mod claims;
mod github;
mod kubernetes;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{Platform, Workload};
use crate::error::Result;
use crate::state;
use crate::tokens::SigningKey;

/// What the ready line says of one workload: the variables its process needs.
#[derive(Debug, Clone, Serialize)]
pub struct ReadyWorkload {
    pub env: BTreeMap<String, String>,
}

/// One workload as it runs: its entry, its issuer's key, and its secret or file.
#[derive(Debug)]
pub struct Running {
    pub workload: Workload,
    pub key: Arc<SigningKey>,
    /// github: the bearer the runner's endpoint asks for (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`),
    /// made for this process like a job's request token, kept as its digest.
    request_token: Option<(String, [u8; 32])>,
    /// kubernetes: where the token is written.
    pub token_file: Option<PathBuf>,
}

/// Every workload of this process.
#[derive(Debug, Default)]
pub struct Workloads {
    pub running: Vec<Running>,
    /// Each issuer's key (one per issuer, however many workloads share it).
    pub issuers: BTreeMap<String, Arc<SigningKey>>,
    /// serve's base URL (the token endpoint's and the authority host's).
    base: String,
    /// The tenant `AZURE_TENANT_ID` names.
    tenant: String,
    /// `--proxy`: clients reach serve under Microsoft's names.
    proxied: bool,
}

impl Workloads {
    /// Loads (or makes) each issuer's key in the state folder and writes each Kubernetes
    /// workload's first token, so the file exists when the ready line is printed.
    pub fn prepare(
        workloads: &[Workload],
        state_dir: &Path,
        base: &str,
        tenant: &str,
        proxied: bool,
    ) -> Result<Workloads> {
        let mut issuers: BTreeMap<String, Arc<SigningKey>> = BTreeMap::new();
        let mut running = Vec::with_capacity(workloads.len());
        for w in workloads {
            let key = match issuers.get(&w.issuer) {
                Some(k) => k.clone(),
                None => {
                    let k = Arc::new(state::issuer_key(state_dir, &w.issuer)?);
                    issuers.insert(w.issuer.clone(), k.clone());
                    k
                }
            };
            let mut r = Running {
                workload: w.clone(),
                key,
                request_token: None,
                token_file: None,
            };
            match &w.platform {
                Platform::Github { .. } => {
                    let secret = crate::tokens::unique_token_id();
                    let digest = Sha256::digest(secret.as_bytes()).into();
                    r.request_token = Some((secret, digest));
                }
                Platform::Kubernetes { .. } => {
                    let file = kubernetes::token_file(state_dir, &w.name);
                    kubernetes::write(&r, &file, claims::now())?;
                    r.token_file = Some(file);
                }
            }
            running.push(r);
        }
        Ok(Workloads {
            running,
            issuers,
            base: base.to_string(),
            tenant: tenant.to_string(),
            proxied,
        })
    }

    /// The ready line's `workloads` (none: nothing to print).
    pub fn ready(&self) -> Option<BTreeMap<String, ReadyWorkload>> {
        if self.running.is_empty() {
            return None;
        }
        let mut out = BTreeMap::new();
        for r in &self.running {
            let mut env = BTreeMap::new();
            match &r.workload.platform {
                Platform::Github { .. } => {
                    let secret = r.request_token.as_ref().map(|t| t.0.clone());
                    env.insert(
                        "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
                        github::request_url(&self.base, &r.workload.name),
                    );
                    env.insert(
                        "ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(),
                        secret.unwrap_or_default(),
                    );
                }
                Platform::Kubernetes { .. } => {
                    // The four variables the azure-workload-identity webhook injects
                    // (https://azure.github.io/azure-workload-identity/docs/topics/service-account-labels-and-annotations.html).
                    env.insert("AZURE_CLIENT_ID".into(), r.workload.app.clone());
                    env.insert("AZURE_TENANT_ID".into(), self.tenant.clone());
                    if let Some(f) = &r.token_file {
                        env.insert("AZURE_FEDERATED_TOKEN_FILE".into(), f.display().to_string());
                    }
                    // With a trailing `/`, as the webhook writes the cloud's AD endpoint.
                    let host = if self.proxied {
                        "https://login.microsoftonline.com/".to_string()
                    } else {
                        format!("{}/", self.base)
                    };
                    env.insert("AZURE_AUTHORITY_HOST".into(), host);
                }
            }
            out.insert(r.workload.name.clone(), ReadyWorkload { env });
        }
        Some(out)
    }

    /// The routes: each GitHub workload's token endpoint, and every issuer's discovery
    /// document and key set under `/workloads/{name}/`.
    pub fn router<S: Clone + Send + Sync + 'static>(self: &Arc<Self>) -> Router<S> {
        github::router(self.clone())
    }

    /// Rewrites each Kubernetes workload's file at 80 % of its token's life (a task per
    /// workload), until the returned tasks are aborted when the service stops.
    pub fn spawn_writers(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.running.len())
            .filter(|&i| self.running[i].token_file.is_some())
            .map(|i| tokio::spawn(kubernetes::rewrite_loop(self.clone(), i)))
            .collect()
    }

    /// Trusts each workload issuer, with its public key, in the federation's issuer registry,
    /// so the exchange verifies the tokens serve signs for its workloads.
    pub fn register(&self, registry: &crate::federation::Issuers) -> Result<()> {
        use certgen::certificate::CertKey;
        for (issuer, key) in &self.issuers {
            if let CertKey::Rsa { n, e } = &key.certificate.key {
                registry
                    .register_rsa(issuer, [(key.kid.as_str(), n.as_slice(), e.as_slice())])
                    .map_err(|e| {
                        certgen::Error::failure(format!(
                            "cannot trust the workload issuer {issuer}: {e}"
                        ))
                    })?;
            }
        }
        Ok(())
    }

    fn by_name(&self) -> HashMap<&str, &Running> {
        self.running
            .iter()
            .map(|r| (r.workload.name.as_str(), r))
            .collect()
    }
}

impl Running {
    /// Whether `bearer` is this workload's request token (compared as digests, so the
    /// comparison's time says nothing of the secret).
    fn accepts(&self, bearer: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(bearer.as_bytes()).into();
        self.request_token.as_ref().is_some_and(|t| t.1 == digest)
    }
}
