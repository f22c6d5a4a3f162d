//! Workload identity federation on the command line: `--federated-token-file` (or the
//! webhook's `AZURE_FEDERATED_TOKEN_FILE`) and `--github-actions` (or the runner's
//! `ACTIONS_ID_TOKEN_REQUEST_*` variables) as the credential of every command that gets a
//! token, and the hints for Entra's federation refusals.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use certgen::error::ProviderError;
use certgen::identity::workload::{
    self, FederatedTokenError, ENTRA_EXCHANGE_AUDIENCE, ENV_FEDERATED_TOKEN_FILE,
    ENV_GITHUB_REQUEST_TOKEN, ENV_GITHUB_REQUEST_URL,
};
use certgen::identity::{BoxFuture, ClientOptions};
use certgen::jose::{self, Policy};
use certgen::secret::Secret;
use clap::Args;
use serde_json::{Map, Value};

use super::assertion::env_value;
use super::error::{CliError as Error, Result};

/// `--federated-token-file`, `--github-actions`, `--federated-audience`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Credential")]
pub struct FederationArgs {
    /// A federated token (Kubernetes service account, CI job, other IdP) as the credential, read again for every request [else AZURE_FEDERATED_TOKEN_FILE]
    #[arg(long, value_name = "F", conflicts_with_all = ["cert", "key", "pfx", "password_file", "secret_file"])]
    pub federated_token_file: Option<PathBuf>,
    /// Ask the GitHub Actions runner for the federated token, as azure/login does [or with ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN and no other credential]
    #[arg(long, conflicts_with_all = ["cert", "key", "pfx", "password_file", "secret_file", "federated_token_file"])]
    pub github_actions: bool,
    /// The audience asked of the GitHub Actions runner [default: api://AzureADTokenExchange]
    #[arg(long, value_name = "AUD")]
    pub federated_audience: Option<String>,
}

/// Where the federated token comes from.
#[derive(Debug, Clone)]
pub enum Federated {
    /// A file, and how it was named (`--federated-token-file F` or the variable).
    File { path: PathBuf, named: String },
    /// The GitHub Actions runner.
    GitHub {
        url: String,
        request_token: Secret,
        audience: String,
    },
}

impl FederationArgs {
    /// The flags' federated credential, if they name one.
    pub fn explicit(&self) -> Result<Option<Federated>> {
        if let Some(path) = &self.federated_token_file {
            return Ok(Some(Federated::File {
                named: format!("--federated-token-file {}", path.display()),
                path: path.clone(),
            }));
        }
        if self.github_actions {
            return self.github(true);
        }
        Ok(None)
    }

    /// The environment's federated credential, when no other credential was given: the
    /// webhook's file first, then a GitHub Actions job's runner (Azure Identity's order:
    /// environment, then workload identity).
    pub fn in_environment(&self) -> Result<Option<Federated>> {
        if let Some(path) = env_value(ENV_FEDERATED_TOKEN_FILE) {
            return Ok(Some(Federated::File {
                named: format!("{ENV_FEDERATED_TOKEN_FILE} ({path})"),
                path: path.into(),
            }));
        }
        self.github(false)
    }

    fn github(&self, asked: bool) -> Result<Option<Federated>> {
        let url = env_value(ENV_GITHUB_REQUEST_URL);
        let token = env_value(ENV_GITHUB_REQUEST_TOKEN);
        match (url, token) {
            (Some(url), Some(token)) => Ok(Some(Federated::GitHub {
                url,
                request_token: Secret::new(token),
                audience: self
                    .federated_audience
                    .clone()
                    .unwrap_or_else(|| ENTRA_EXCHANGE_AUDIENCE.to_string()),
            })),
            _ if asked => Err(Error::usage(format!(
                "--github-actions needs {ENV_GITHUB_REQUEST_URL} and {ENV_GITHUB_REQUEST_TOKEN}, which are not both set"
            ))
            .with_hint(
                "the runner sets them for a job whose workflow grants `permissions: id-token: write`",
            )),
            _ => Ok(None),
        }
    }
}

/// The token in the file, checked before anything is sent: readable, a JWT, not expired.
pub fn check_file(path: &std::path::Path) -> Result<String> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    workload::read_token_file(path, now).map_err(token_error)
}

/// A federated token that cannot be presented (exit 1), with what to do.
pub fn token_error(e: FederatedTokenError) -> Error {
    let hint = match &e {
        FederatedTokenError::Expired { .. } => Some(
            "a projected token is rewritten before 80 % of its life: read the file again (or check the kubelet or the writer is running); a CI token lives minutes, so ask for a new one",
        ),
        FederatedTokenError::RunnerRefused { .. } => Some(
            "the runner gives tokens only to the job it started: pass ACTIONS_ID_TOKEN_REQUEST_TOKEN of this job unchanged, and grant `permissions: id-token: write`",
        ),
        _ => None,
    };
    let error = Error::failure(e.to_string());
    match hint {
        Some(h) => error.with_hint(h),
        None => error,
    }
}

/// A failure of the assertion callback: the federated token's own error when it is one.
pub fn assertion_error(inner: &(dyn std::error::Error + Send + Sync + 'static)) -> Option<Error> {
    let f = inner.downcast_ref::<FederatedTokenError>()?;
    Some(token_error(f.clone()).with_hint("nothing was sent to the token endpoint"))
}

/// The GitHub token callback: asks the runner for each request and keeps the last token, so a
/// refusal can show its claims.
pub fn github_callback(
    url: String,
    request_token: Secret,
    audience: String,
    transport: ClientOptions,
    presented: Arc<Mutex<Option<String>>>,
) -> impl Fn() -> BoxFuture<'static, std::result::Result<String, certgen::Error>> + Send + Sync + 'static
{
    move || {
        let (url, request_token, audience, transport, presented) = (
            url.clone(),
            request_token.clone(),
            audience.clone(),
            transport.clone(),
            presented.clone(),
        );
        let fut: BoxFuture<'static, _> = Box::pin(async move {
            let token =
                workload::github_actions_token(&url, &request_token, &audience, &transport).await?;
            *presented.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
            Ok(token)
        });
        fut
    }
}

/// The presented token's claims (unverified), for the hints.
pub fn claims_of(token: &str) -> Option<Map<String, Value>> {
    jose::parse(token, Policy::Lenient).ok().map(|j| j.claims)
}

fn claim(claims: Option<&Map<String, Value>>, name: &str) -> String {
    match claims.and_then(|c| c.get(name)) {
        Some(Value::String(s)) => format!("'{s}'"),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map_or_else(|| v.to_string(), |s| format!("'{s}'"))
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
        None => "(none)".into(),
    }
}

/// Hints for Entra's federation refusals: what to compare between the presented token and the
/// app's federated credentials. `None`: not a federation code.
pub fn hints(
    code: u64,
    answer: &ProviderError,
    claims: Option<&Map<String, Value>>,
    source: &str,
    client_id: &str,
) -> Option<Vec<String>> {
    let iss = claim(claims, "iss");
    let sub = claim(claims, "sub");
    let aud = claim(claims, "aud");
    let presented = format!("the token from {source} has iss {iss}, sub {sub}, aud {aud}");
    let app = if client_id.is_empty() {
        "the app".to_string()
    } else {
        format!("app {client_id}")
    };
    let list = format!(
        "compare with {app}'s federated credentials (az ad app federated-credential list --id {}, or Graph GET /applications(appId='…')/federatedIdentityCredentials)",
        if client_id.is_empty() { "APP_ID" } else { client_id }
    );
    let out = match code {
        70025 => vec![
            format!("{app} has no federated credential at all: add one whose issuer, subject and audience are the token's"),
            presented,
        ],
        700211 => vec![
            format!("no federated credential of {app} names the issuer {iss}: issuers are compared exactly, character for character, including a trailing '/' (AKS issuers end in one)"),
            presented,
            list,
        ],
        700212 => vec![
            format!("no federated credential of {app} has the audience {aud}: the default is {ENTRA_EXCHANGE_AUDIENCE}; ask for that audience (--federated-audience) or change the credential's"),
            presented,
            list,
        ],
        700213 => vec![
            format!("the issuer matched but no subject is {sub}: GitHub writes repo:OWNER/REPO:ref:refs/heads/BRANCH, or repo:OWNER/REPO:environment:NAME for a job with an environment; Kubernetes system:serviceaccount:NAMESPACE:NAME"),
            presented,
            list,
        ],
        7002138 => vec![
            format!("a federated credential's subject equals {sub} only when case is ignored: Entra compares subjects case-sensitively; write the credential's subject exactly as the token has it"),
            presented,
        ],
        70021 => vec![
            "no federated credential matches the token's issuer, subject and audience together (also seen for a minute or two after a credential is created: retry)".to_string(),
            presented,
            list,
            "wildcards are not matched: each (issuer, subject) pair needs a credential of its own, and an app holds at most 20".to_string(),
        ],
        700024 => vec![
            format!("the federated token was outside its validity when Entra checked it: {presented}, exp {}", claim(claims, "exp")),
            "a GitHub token lives 5 minutes and a projected Kubernetes token is rewritten before 80 % of its life: present a fresh one (certgen reads the file again for every request)".to_string(),
        ],
        7000272 => vec![
            format!("the key that signed the token (kid in its header) is not in the key set of the issuer {iss}: the issuer's JWKS must publish it (Entra keeps the first 100 keys)"),
            presented,
        ],
        90061 => vec![
            format!("Entra could not fetch the discovery document of {iss} ({{iss}}/.well-known/openid-configuration) or its jwks_uri: both must be reachable over https from the internet"),
            presented,
        ],
        700222 => vec![
            "an Entra-issued token cannot be a federated credential, except a user-assigned managed identity's token for api://AzureADTokenExchange, matched by its principal id".to_string(),
            presented,
        ],
        // The limit a credential adds is a Graph refusal, but a token request names it too when
        // an app's credentials were cut to fit.
        _ if answer
            .first_line()
            .is_some_and(|l| l.contains("federated identity")) =>
        {
            vec![presented, list, "an app holds at most 20 federated credentials".to_string()]
        }
        _ => return None,
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every federation refusal gets hints, and every one but 70025's own first line quotes
    /// the presented token's issuer, subject and audience.
    #[test]
    fn each_federation_code_has_hints_with_the_presented_claims() {
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::from("https://issuer.example/"));
        claims.insert(
            "sub".into(),
            Value::from("system:serviceaccount:shop:orders"),
        );
        claims.insert("aud".into(), Value::from(vec![ENTRA_EXCHANGE_AUDIENCE]));
        claims.insert("exp".into(), Value::from(1_700_000_000));
        for code in [
            70025u64, 700211, 700212, 700213, 7002138, 70021, 700024, 7000272, 90061, 700222,
        ] {
            let body = format!(r#"{{"error":"invalid_client","error_codes":[{code}]}}"#);
            let answer =
                ProviderError::parse(401, body.as_bytes(), None, time::OffsetDateTime::now_utc());
            let hints = hints(code, &answer, Some(&claims), "F", "app-1")
                .unwrap_or_else(|| panic!("{code}: no hints"));
            let all = hints.join("\n");
            assert!(all.contains("'https://issuer.example/'"), "{code}: {all}");
            assert!(
                all.contains("'system:serviceaccount:shop:orders'"),
                "{code}: {all}"
            );
            assert!(
                all.contains("'api://AzureADTokenExchange'"),
                "{code}: {all}"
            );
        }
        let other = ProviderError::parse(
            400,
            br#"{"error_codes":[50027]}"#,
            None,
            time::OffsetDateTime::now_utc(),
        );
        assert!(hints(50027, &other, Some(&claims), "F", "app-1").is_none());
    }

    #[test]
    fn claims_quoted_for_the_hints() {
        let mut m = Map::new();
        m.insert("iss".into(), Value::from("https://x/"));
        m.insert(
            "aud".into(),
            Value::from(vec!["api://AzureADTokenExchange"]),
        );
        assert_eq!(claim(Some(&m), "iss"), "'https://x/'");
        assert_eq!(claim(Some(&m), "aud"), "'api://AzureADTokenExchange'");
        assert_eq!(claim(Some(&m), "sub"), "(none)");
    }
}
