//! Workload identity federation on the client side
//! (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation>): the
//! workload's own token from its platform (a Kubernetes service-account token file, a GitHub
//! Actions OIDC token) is the client assertion, exchanged at Entra for an access token through
//! a federated identity credential on the app.
//!
//! [`WorkloadIdentityCredential`] reads the token file for every request that goes to the
//! network, as the file rotates (the kubelet rewrites it before 80 % of its life). An expired
//! token in the file is refused before anything is sent ([`FederatedTokenError::Expired`]).
//! [`github_actions_token`] asks a GitHub Actions runner for a token, as `azure/login` does.
//!
//! In a pod the webhook's variables are all it takes: [`EnvironmentCredential`] chains the
//! environment's secret or certificate, then workload identity, as Azure Identity does. Here
//! `certgen serve` plays the cluster (a `[[workload]]` writing the token file) and Entra:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let app = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";
//! # let config = format!(r#"
//! # [[app]]
//! # client_id = "{app}"
//! # [app.roles]
//! # "https://graph.microsoft.com" = ["User.Read.All"]
//! # [[app.federated]]
//! # name = "orders-pod"
//! # issuer = "https://kubernetes.default.svc.cluster.local"
//! # subject = "system:serviceaccount:shop:orders"
//! # [[workload]]
//! # name = "orders"
//! # kind = "kubernetes"
//! # app = "{app}"
//! # namespace = "shop"
//! # service_account = "orders"
//! # "#);
//! # let flags = certgen_serve::Flags::default();
//! # let registry = certgen_serve::Registry::from_toml(&config, "c.toml", dir.path(), &flags, &|_| None)?;
//! # let options = certgen_serve::Options {
//! #     listen: "127.0.0.1:0".parse()?,
//! #     http: true,
//! #     state_dir: Some(dir.path().join("state")),
//! #     ..Default::default()
//! # };
//! # let prepared = certgen_serve::prepare(&options, registry)?;
//! # let ready = serde_json::to_value(&prepared.ready)?;
//! # // What the webhook injects: AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE,
//! # // AZURE_AUTHORITY_HOST.
//! # for (var, value) in ready["workloads"]["orders"]["env"].as_object().unwrap() {
//! #     std::env::set_var(var, value.as_str().unwrap());
//! # }
//! # for var in ["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
//! #     std::env::remove_var(var);
//! # }
//! # let runtime = tokio::runtime::Runtime::new()?;
//! # runtime.spawn(certgen_serve::serve(prepared, std::future::pending()));
//! # let got = runtime.block_on(async {
//! use certgen::identity::{CredentialOptions, EnvironmentCredential, TokenCredential};
//!
//! let credential = EnvironmentCredential::new(CredentialOptions::default())?;
//! let token = credential.get_token(&["https://graph.microsoft.com/.default"], None).await?;
//! # Ok::<_, certgen::Error>(token)
//! # })?;
//! # let claims = certgen::jose::parse(got.token.expose(), certgen::jose::Policy::Strict)?.claims;
//! # assert_eq!(claims["appid"], app);
//! # Ok(())
//! # }
//! ```
//!
//! [`EnvironmentCredential`]: super::EnvironmentCredential

use std::path::{Path, PathBuf};

use serde_json::Value;
use time::OffsetDateTime;

use super::credential::{
    AccessToken, BoxFuture, ClientAssertionCredential, CredentialOptions, TokenCredential,
    TokenRequestOptions,
};
use crate::error::{Error, InputKind, Result, Service};
use crate::http::{self, ClientOptions};
use crate::jose::{self, DateRule, Policy};
use crate::read;
use crate::secret::Secret;

/// The file the workload-identity webhook names (`AZURE_FEDERATED_TOKEN_FILE`).
pub const ENV_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// The runner's token URL in a GitHub Actions job with `permissions: id-token: write`.
pub const ENV_GITHUB_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The bearer token for [`ENV_GITHUB_REQUEST_URL`].
pub const ENV_GITHUB_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// The audience Entra expects of a federated token in the public cloud, and what
/// `azure/login` asks GitHub for
/// (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-create-trust>).
pub const ENTRA_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Largest runner answer read: `{"value": JWT}` is a few KiB.
const MAX_RUNNER_ANSWER: usize = 256 * 1024;

/// Why no federated token could be presented; nothing was sent to the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FederatedTokenError {
    /// The token file is missing, unreadable, too large or not UTF-8.
    #[error("cannot read the federated token file {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// The token file holds nothing but whitespace.
    #[error("the federated token file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The token is not a JWT (three base64url parts with JSON header and claims).
    #[error("the federated token from {origin} is not a JWT ({reason})")]
    NotAJwt {
        /// The file, or the runner's URL.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token's `exp` is past: Entra would refuse it (AADSTS700024).
    #[error("the federated token from {origin} expired at {expired_at} (now {now})")]
    Expired {
        /// The file, or the runner's URL.
        origin: String,
        /// Its `exp`, RFC 3339.
        expired_at: String,
        /// The time it was read, RFC 3339.
        now: String,
    },
    /// The GitHub Actions runner answered with an error status.
    #[error("the GitHub Actions runner refused the token request (HTTP {status}): {message}")]
    RunnerRefused {
        /// HTTP status.
        status: u16,
        /// The answer's `message`, or its start.
        message: String,
    },
    /// The runner's answer has no `value` string.
    #[error("the GitHub Actions runner's answer has no \"value\" token")]
    RunnerAnswer,
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Checks that `token` is a JWT whose `exp` (if any) is after `now`; `origin` names where it
/// came from in the error.
pub fn check_token(
    token: &str,
    origin: &str,
    now: i64,
) -> std::result::Result<(), FederatedTokenError> {
    let jws = jose::parse(token, Policy::Lenient).map_err(|e| FederatedTokenError::NotAJwt {
        origin: origin.to_string(),
        reason: e.to_string(),
    })?;
    if let Some(exp) = jws.claims.get("exp") {
        let exp = jose::numeric_date(exp, DateRule::Lenient).map_err(|e| {
            FederatedTokenError::NotAJwt {
                origin: origin.to_string(),
                reason: format!("exp {e}"),
            }
        })?;
        if exp <= now {
            return Err(FederatedTokenError::Expired {
                origin: origin.to_string(),
                expired_at: rfc3339(exp),
                now: rfc3339(now),
            });
        }
    }
    Ok(())
}

/// The token in `path`, trimmed (the SDKs disagree on trimming; a newline a shell or an editor
/// added would only make Entra refuse the token), read with a size bound, refused when empty,
/// not a JWT or past its `exp` at `now`.
pub fn read_token_file(path: &Path, now: i64) -> std::result::Result<String, FederatedTokenError> {
    let bytes = read::file(path, read::TOKEN).map_err(|e| FederatedTokenError::Unreadable {
        path: path.to_path_buf(),
        reason: e.message(&path.display().to_string()),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| FederatedTokenError::Unreadable {
        path: path.to_path_buf(),
        reason: "not UTF-8 text".into(),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(FederatedTokenError::Empty {
            path: path.to_path_buf(),
        });
    }
    check_token(token, &path.display().to_string(), now)?;
    Ok(token.to_string())
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Asks a GitHub Actions runner for an OIDC token for `audience`, as `@actions/core`'s
/// `getIDToken()` does: `GET {request_url}&audience=…` with the request token as bearer,
/// answered `{"value": JWT}` (actions/toolkit, `packages/core/src/oidc-utils.ts`).
pub async fn github_actions_token(
    request_url: &str,
    request_token: &Secret,
    audience: &str,
    transport: &ClientOptions,
) -> Result<String> {
    // The request token is a bearer secret: https, or http to loopback only.
    let mut url = crate::authority::check_endpoint_url(request_url)?;
    url.query_pairs_mut().append_pair("audience", audience);
    let client = http::client(transport)?;
    let mut response = client
        .get(url.clone())
        .bearer_auth(request_token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(transport.timeout)
        .send()
        .await
        .map_err(|e| http::transport_error(e, &url, transport, Service::Api))?;
    let status = response.status();
    let (body, _) = http::read_capped(&mut response, MAX_RUNNER_ANSWER)
        .await
        .map_err(|e| http::transport_error(e, &url, transport, Service::Api))?;
    let doc: Option<Value> = serde_json::from_slice(&body).ok();
    if !status.is_success() {
        let message = doc
            .as_ref()
            .and_then(|d| d.get("message"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
        return Err(Error::Assertion(Box::new(
            FederatedTokenError::RunnerRefused {
                status: status.as_u16(),
                message,
            },
        )));
    }
    let token = doc
        .as_ref()
        .and_then(|d| d.get("value"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Assertion(Box::new(FederatedTokenError::RunnerAnswer)))?;
    check_token(token, "the GitHub Actions runner", now_secs())
        .map_err(|e| Error::Assertion(Box::new(e)))?;
    Ok(token.to_string())
}

/// A workload's federated token file as the app's credential: the file is read for every
/// request that goes to the network (never while a cached access token serves), so a rotated
/// token is used as soon as one is needed.
///
/// ```
/// use certgen::identity::{CredentialOptions, WorkloadIdentityCredential};
///
/// # fn demo() -> certgen::Result<()> {
/// // What the azure-workload-identity webhook injects: AZURE_TENANT_ID, AZURE_CLIENT_ID,
/// // AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST.
/// let credential = WorkloadIdentityCredential::from_env(CredentialOptions::default())?;
/// // Or named outright:
/// let credential = WorkloadIdentityCredential::new(
///     "contoso.onmicrosoft.com",
///     "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8",
///     "/var/run/secrets/azure/tokens/azure-identity-token",
///     CredentialOptions::default(),
/// )?;
/// # let _ = credential; Ok(()) }
/// ```
#[derive(Debug)]
pub struct WorkloadIdentityCredential {
    inner: ClientAssertionCredential,
    token_file: PathBuf,
}

impl WorkloadIdentityCredential {
    /// A credential for app `client_id` in `tenant` presenting the token in `token_file`.
    /// Nothing is read yet: a missing or expired file is a [`FederatedTokenError`] (inside
    /// [`Error::Assertion`]) from the first `get_token` that needs the network.
    pub fn new(
        tenant: &str,
        client_id: &str,
        token_file: impl Into<PathBuf>,
        options: CredentialOptions,
    ) -> Result<Self> {
        let token_file = token_file.into();
        let path = token_file.clone();
        let inner = ClientAssertionCredential::new(
            tenant,
            client_id,
            move || {
                // A small local file, read on the caller's task: a thread hop would cost more.
                let read = read_token_file(&path, now_secs());
                async move { read }
            },
            options,
        )?;
        Ok(WorkloadIdentityCredential { inner, token_file })
    }

    /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_FEDERATED_TOKEN_FILE` (each
    /// required: a missing one is an [`InputKind::MissingVariable`] refusal), and
    /// `AZURE_AUTHORITY_HOST` where `options` leave the authority host open.
    pub fn from_env(mut options: CredentialOptions) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let need = |name: &str| {
            var(name).ok_or_else(|| {
                Error::input(
                    InputKind::MissingVariable { var: name.into() },
                    format!("{name} is not set"),
                )
            })
        };
        let tenant = need("AZURE_TENANT_ID")?;
        let client_id = need("AZURE_CLIENT_ID")?;
        let file = need(ENV_FEDERATED_TOKEN_FILE)?;
        if options.authority_host.is_none() {
            options.authority_host = var("AZURE_AUTHORITY_HOST");
        }
        WorkloadIdentityCredential::new(&tenant, &client_id, file, options)
    }

    /// The file the token is read from.
    pub fn token_file(&self) -> &Path {
        &self.token_file
    }

    /// The URL tokens are asked from.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }
}

impl TokenCredential for WorkloadIdentityCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: Option<&'a TokenRequestOptions>,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        self.inner.get_token(scopes, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            b64::encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64::encode(claims)
        )
    }

    #[test]
    fn file_read_trimmed_and_refused_when_expired() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        let live = jwt(r#"{"exp":2000}"#);
        std::fs::write(&f, format!("  {live}\n")).unwrap();
        assert_eq!(read_token_file(&f, 1000).unwrap(), live);
        match read_token_file(&f, 2000).unwrap_err() {
            FederatedTokenError::Expired {
                origin, expired_at, ..
            } => {
                assert_eq!(origin, f.display().to_string());
                assert_eq!(expired_at, "1970-01-01T00:33:20Z");
            }
            other => panic!("{other:?}"),
        }
        std::fs::write(&f, "\n \n").unwrap();
        assert!(matches!(
            read_token_file(&f, 0),
            Err(FederatedTokenError::Empty { .. })
        ));
        std::fs::write(&f, "not a token").unwrap();
        assert!(matches!(
            read_token_file(&f, 0),
            Err(FederatedTokenError::NotAJwt { .. })
        ));
        assert!(matches!(
            read_token_file(&dir.path().join("missing"), 0),
            Err(FederatedTokenError::Unreadable { .. })
        ));
    }
}
