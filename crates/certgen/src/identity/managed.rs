//! Managed identities: tokens from the Azure platform the code runs on, with no credential
//! held. [`ManagedIdentityCredential`] asks the platform's local endpoint, chosen from the
//! environment as Azure Identity chooses it
//! (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token>,
//! <https://learn.microsoft.com/en-us/azure/app-service/overview-managed-identity#rest-endpoint-reference>):
//!
//! 1. `IDENTITY_ENDPOINT` with `IDENTITY_HEADER`: App Service, Functions, Container Apps
//!    (with `IDENTITY_SERVER_THUMBPRINT` too it is Service Fabric: not supported);
//! 2. `IDENTITY_ENDPOINT` with `IMDS_ENDPOINT`: Azure Arc (not supported);
//! 3. `MSI_ENDPOINT`: Azure ML or Cloud Shell (not supported);
//! 4. otherwise IMDS, at `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set, else
//!    `http://169.254.169.254`.
//!
//! `certgen serve` plays both supported shapes, so the same code gets tokens offline: here
//! [`EnvironmentCredential`](super::EnvironmentCredential), whose last link this is, with only
//! the variables serve's ready line lists.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let config = dir.path().join("serve.toml");
//! # std::fs::write(&config, "[[managed_identity]]\nkind = \"system\"\n\
//! #     client_id = \"5e5e5e5e-0000-4000-8000-000000000001\"\n")?;
//! # let registry = certgen_serve::Registry::load(Some(&config), &Default::default(), &|_| None)?;
//! # let options = certgen_serve::Options {
//! #     listen: "127.0.0.1:0".parse()?,
//! #     http: true,
//! #     state_dir: Some(dir.path().join("state")),
//! #     ..Default::default()
//! # };
//! # let prepared = certgen_serve::prepare(&options, registry)?;
//! # for var in ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"] {
//! #     std::env::remove_var(var);
//! # }
//! # for (var, value) in prepared.ready.env.clone().unwrap_or_default() {
//! #     std::env::set_var(var, value);
//! # }
//! # let runtime = tokio::runtime::Runtime::new()?;
//! # runtime.spawn(certgen_serve::serve(prepared, std::future::pending()));
//! # let got = runtime.block_on(async {
//! use certgen::identity::{CredentialOptions, EnvironmentCredential, TokenCredential};
//!
//! // IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service), or AZURE_POD_IDENTITY_AUTHORITY_HOST
//! let credential = EnvironmentCredential::new(CredentialOptions::default())?;
//! let token = credential.get_token(&["https://vault.azure.net/.default"], None).await?;
//! # Ok::<_, certgen::Error>(token)
//! # })?;
//! # let claims = certgen::jose::parse(got.token.expose(), certgen::jose::Policy::Strict)?.claims;
//! # assert_eq!(claims["appid"], "5e5e5e5e-0000-4000-8000-000000000001");
//! # assert_eq!(claims["aud"], "https://vault.azure.net");
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};
use time::OffsetDateTime;

use crate::error::{Error, InputKind, Result};
use crate::http::{self, read_capped};
use crate::secret::Secret;

use super::cache::CachedToken;
use super::client::{with_retries, Answer};
use super::credential::{
    AccessToken, BoxFuture, CredentialOptions, Source, TokenCredential, TokenRequestOptions,
    REFRESH_AHEAD,
};
use super::response::TokenResponse;
use super::scope;

/// IMDS's address on every Azure VM.
pub const IMDS_HOST: &str = "http://169.254.169.254";
const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// The versions the platform documents for each shape.
const IMDS_API_VERSION: &str = "2018-02-01";
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// The most of an answer read: a token answer is a few KiB.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// IMDS's retry guidance: retry 404, 410, 429 and 5xx with exponential back-off, five tries
/// (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#retry-guidance>).
/// A freshly started VM's IMDS answers 404 or 410 for a while, so fewer would fail a daemon
/// at boot; more stay within the caller's deadline.
pub const IMDS_MIN_ATTEMPTS: u32 = 5;

/// Which identity to ask for: the resource's own (system-assigned), or a user-assigned one by
/// any of its three names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentityId {
    /// The system-assigned identity (on IMDS, a lone user-assigned one when there is none).
    #[default]
    SystemAssigned,
    /// A user-assigned identity by its client (application) id.
    ClientId(String),
    /// A user-assigned identity by its principal (object) id.
    ObjectId(String),
    /// A user-assigned identity by its Azure resource id.
    ResourceId(String),
}

/// The platform endpoint a [`ManagedIdentityCredential`] asks.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// App Service, Functions, Container Apps: `IDENTITY_ENDPOINT`, and `IDENTITY_HEADER`
    /// sent as `X-IDENTITY-HEADER`.
    AppService {
        /// The endpoint URL.
        endpoint: String,
        /// The header value (a secret: never shown).
        header: Secret,
    },
    /// The Instance Metadata Service of VMs, scale sets and AKS nodes.
    Imds {
        /// `http://169.254.169.254`, or `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
        host: String,
    },
}

impl fmt::Debug for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagedIdentitySource::AppService { endpoint, .. } => f
                .debug_struct("AppService")
                .field("endpoint", endpoint)
                .finish_non_exhaustive(),
            ManagedIdentitySource::Imds { host } => {
                f.debug_struct("Imds").field("host", host).finish()
            }
        }
    }
}

impl ManagedIdentitySource {
    /// The source the process environment names (see the module's list).
    pub fn from_env() -> Result<ManagedIdentitySource> {
        ManagedIdentitySource::from_vars(&|name| std::env::var(name).ok())
    }

    /// The source the variables `var` reads name; an unset or empty variable is absent.
    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<ManagedIdentitySource> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let unsupported = |platform: &str, vars: &str| {
            Error::input(
                InputKind::UnsupportedManagedIdentity {
                    platform: platform.into(),
                },
                format!(
                    "{vars} set: the managed identity of {platform}, which certgen does not \
                     support (App Service's IDENTITY_ENDPOINT/IDENTITY_HEADER and IMDS are)"
                ),
            )
        };
        if let Some(endpoint) = var("IDENTITY_ENDPOINT") {
            if let Some(header) = var("IDENTITY_HEADER") {
                if var("IDENTITY_SERVER_THUMBPRINT").is_some() {
                    return Err(unsupported(
                        "Service Fabric",
                        "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT",
                    ));
                }
                check_url(&endpoint, "IDENTITY_ENDPOINT")?;
                return Ok(ManagedIdentitySource::AppService {
                    endpoint,
                    header: Secret::new(header),
                });
            }
            if var("IMDS_ENDPOINT").is_some() {
                return Err(unsupported(
                    "Azure Arc",
                    "IDENTITY_ENDPOINT and IMDS_ENDPOINT",
                ));
            }
        }
        if var("MSI_ENDPOINT").is_some() {
            let platform = if var("MSI_SECRET").is_some() {
                "Azure Machine Learning"
            } else {
                "Cloud Shell"
            };
            return Err(unsupported(platform, "MSI_ENDPOINT"));
        }
        let host = match var("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
            Some(h) => {
                check_url(&h, "AZURE_POD_IDENTITY_AUTHORITY_HOST")?;
                h.trim_end_matches('/').to_string()
            }
            None => IMDS_HOST.to_string(),
        };
        Ok(ManagedIdentitySource::Imds { host })
    }

    /// Whether the environment names a managed-identity endpoint (App Service's pair, or a
    /// pod-identity host). Bare IMDS is not named by anything: the environment chain does not
    /// fall back to it, since off Azure a request to 169.254.169.254 only waits.
    pub fn named_by(var: &dyn Fn(&str) -> Option<String>) -> bool {
        let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
        (set("IDENTITY_ENDPOINT") && set("IDENTITY_HEADER"))
            || set("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    }

    /// The request URL for `resource` and `id`, with the shape's own selector names.
    fn url(&self, resource: &str, id: &ManagedIdentityId) -> Result<Url> {
        let (base, version, names) = match self {
            ManagedIdentitySource::AppService { endpoint, .. } => (
                endpoint.clone(),
                APP_SERVICE_API_VERSION,
                ["client_id", "principal_id", "mi_res_id"],
            ),
            ManagedIdentitySource::Imds { host } => (
                format!("{host}{IMDS_PATH}"),
                IMDS_API_VERSION,
                ["client_id", "object_id", "msi_res_id"],
            ),
        };
        let mut url =
            Url::parse(&base).map_err(|e| Error::failure(format!("{base} is not a URL ({e})")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", version);
            q.append_pair("resource", resource);
            match id {
                ManagedIdentityId::SystemAssigned => {}
                ManagedIdentityId::ClientId(v) => {
                    q.append_pair(names[0], v);
                }
                ManagedIdentityId::ObjectId(v) => {
                    q.append_pair(names[1], v);
                }
                ManagedIdentityId::ResourceId(v) => {
                    q.append_pair(names[2], v);
                }
            }
        }
        Ok(url)
    }

    /// Statuses worth asking again. IMDS documents 404 (not ready yet), 410 (being updated),
    /// 429 and 5xx; App Service, the usual 429 and 5xx.
    fn retryable(&self, status: StatusCode) -> bool {
        match self {
            ManagedIdentitySource::Imds { .. } => {
                matches!(status.as_u16(), 404 | 410 | 429) || status.is_server_error()
            }
            ManagedIdentitySource::AppService { .. } => http::is_retryable(status),
        }
    }
}

/// An http(s) URL: the platform's endpoints are plain HTTP on the machine itself.
fn check_url(value: &str, var: &str) -> Result<()> {
    match Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(Error::failure(format!(
            "{var} {value:?} is not an http(s) URL"
        ))),
    }
}

/// A managed identity's tokens, from the platform endpoint the environment names.
///
/// Held tokens are reused until [`REFRESH_AHEAD`] before they expire; concurrent calls share
/// one request. Statuses the platform documents as passing (IMDS: 404, 410, 429, 5xx) are
/// retried with back-off (`Retry-After` when sent), within the transport's attempts (IMDS: at
/// least [`IMDS_MIN_ATTEMPTS`], as its retry guidance says) and deadline
/// ([`ClientOptions`](super::ClientOptions)). Requests never go through a proxy: the
/// endpoints are on the machine itself.
///
/// ```
/// use certgen::identity::{
///     CredentialOptions, ManagedIdentityCredential, ManagedIdentityId, TokenCredential,
/// };
///
/// # async fn demo() -> certgen::Result<()> {
/// let credential = ManagedIdentityCredential::new(
///     ManagedIdentityId::ClientId("5e5e5e5e-0000-4000-8000-000000000002".into()),
///     CredentialOptions::default(),
/// )?;
/// let token = credential.get_token(&["https://vault.azure.net/.default"], None).await?;
/// # let _ = token; Ok(()) }
/// ```
pub struct ManagedIdentityCredential {
    id: ManagedIdentityId,
    source: ManagedIdentitySource,
    options: CredentialOptions,
    http: Mutex<Option<reqwest::Client>>,
    /// By resource.
    memory: Mutex<HashMap<String, CachedToken>>,
    flight: tokio::sync::Mutex<()>,
}

impl fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityCredential")
            .field("id", &self.id)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentityCredential {
    /// The identity `id`, from the platform the process environment names.
    pub fn new(id: ManagedIdentityId, options: CredentialOptions) -> Result<Self> {
        Self::with_source(id, ManagedIdentitySource::from_env()?, options)
    }

    /// The identity `id`, from `source`.
    pub fn with_source(
        id: ManagedIdentityId,
        source: ManagedIdentitySource,
        mut options: CredentialOptions,
    ) -> Result<Self> {
        let empty = match &id {
            ManagedIdentityId::SystemAssigned => false,
            ManagedIdentityId::ClientId(v)
            | ManagedIdentityId::ObjectId(v)
            | ManagedIdentityId::ResourceId(v) => v.trim().is_empty(),
        };
        if empty {
            return Err(Error::input(
                InputKind::BadClientId,
                "the managed identity's id is empty",
            ));
        }
        options.transport.proxy_from_env = false;
        Ok(ManagedIdentityCredential {
            id,
            source,
            options,
            http: Mutex::new(None),
            memory: Mutex::new(HashMap::new()),
            flight: tokio::sync::Mutex::new(()),
        })
    }

    /// The platform endpoint asked.
    pub fn source(&self) -> &ManagedIdentitySource {
        &self.source
    }

    fn http(&self) -> Result<reqwest::Client> {
        let mut slot = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let c = http::client(&self.options.transport)?;
        *slot = Some(c.clone());
        Ok(c)
    }

    fn held(&self, resource: &str, now: i64) -> Option<CachedToken> {
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(resource)
            .filter(|t| t.expires_on.saturating_sub(now) >= REFRESH_AHEAD.as_secs() as i64)
            .cloned()
    }

    async fn token(
        &self,
        scopes: &[&str],
        options: Option<&TokenRequestOptions>,
    ) -> Result<AccessToken> {
        // One `RESOURCE/.default` (none: Graph), as every credential; the platform takes the
        // resource. A tenant cannot be chosen: the identity lives in one.
        let mut scopes: Vec<String> = scopes.iter().map(|s| s.trim().to_string()).collect();
        if scopes.is_empty() {
            scopes.push(scope::DEFAULT_SCOPE.to_string());
        }
        let resource = scope::check_for_entra(&scopes)?;
        let bypass = options.is_some_and(|o| o.force_refresh || o.claims.is_some());
        if !bypass {
            if let Some(t) = self.held(&resource, now_secs()) {
                return Ok(cached(&t));
            }
        }
        let _flight = self.flight.lock().await;
        if !bypass {
            if let Some(t) = self.held(&resource, now_secs()) {
                return Ok(cached(&t));
            }
        }
        let token = self.fetch(&resource).await?;
        self.memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                resource,
                CachedToken {
                    token_type: token.token_type.clone(),
                    access_token: token.access_token.clone(),
                    expires_on: token.expires_on,
                },
            );
        Ok(AccessToken::fetched(token))
    }

    async fn fetch(&self, resource: &str) -> Result<TokenResponse> {
        let url = self.source.url(resource, &self.id)?;
        let client = self.http()?;
        let (client, url_ref) = (&client, &url);
        let mut transport = self.options.transport.clone();
        if matches!(self.source, ManagedIdentitySource::Imds { .. }) {
            transport.max_attempts = transport.max_attempts.max(IMDS_MIN_ATTEMPTS);
        }
        with_retries(
            &url,
            &transport,
            |status| self.source.retryable(status),
            |remaining| Ok(self.exchange(client, url_ref, remaining)),
        )
        .await
    }

    async fn exchange(
        &self,
        client: &reqwest::Client,
        url: &Url,
        remaining: Duration,
    ) -> reqwest::Result<Answer> {
        let mut request = client
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .timeout(remaining);
        request = match &self.source {
            ManagedIdentitySource::AppService { header, .. } => {
                request.header("X-IDENTITY-HEADER", header.expose())
            }
            ManagedIdentitySource::Imds { .. } => request.header("Metadata", "true"),
        };
        let mut response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let (body, _) = read_capped(&mut response, MAX_BODY_BYTES).await?;
        Ok((status, headers, body))
    }
}

fn cached(t: &CachedToken) -> AccessToken {
    AccessToken::cached(t, Source::Memory)
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl TokenCredential for ManagedIdentityCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: Option<&'a TokenRequestOptions>,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        Box::pin(self.token(scopes, options))
    }
}

/// The environment chain's last link: a managed identity, when the environment names a
/// platform endpoint (`AZURE_CLIENT_ID`, when set, selects a user-assigned one, as Azure
/// Identity's `DefaultAzureCredential` does).
pub(super) fn from_environment(
    client_id: Option<&str>,
    options: &CredentialOptions,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ManagedIdentityCredential>> {
    if !ManagedIdentitySource::named_by(var) {
        return Ok(None);
    }
    let id = match client_id {
        Some(c) => ManagedIdentityId::ClientId(c.to_string()),
        None => ManagedIdentityId::SystemAssigned,
    };
    ManagedIdentityCredential::with_source(
        id,
        ManagedIdentitySource::from_vars(&var)?,
        options.clone(),
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(set: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            set.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_source_is_chosen_as_azure_identity_chooses() {
        let app_service = ManagedIdentitySource::from_vars(&vars(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:4141/msi/token"),
            ("IDENTITY_HEADER", "h"),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9"),
        ]))
        .unwrap();
        assert!(
            matches!(app_service, ManagedIdentitySource::AppService { ref endpoint, .. } if endpoint == "http://127.0.0.1:4141/msi/token")
        );
        assert!(!format!("{app_service:?}").contains("\"h\""));
        let pod = ManagedIdentitySource::from_vars(&vars(&[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "http://127.0.0.1:9/",
        )]))
        .unwrap();
        assert_eq!(
            pod,
            ManagedIdentitySource::Imds {
                host: "http://127.0.0.1:9".into()
            }
        );
        let vm =
            ManagedIdentitySource::from_vars(&vars(&[("IDENTITY_ENDPOINT", "http://x")])).unwrap();
        assert_eq!(
            vm,
            ManagedIdentitySource::Imds {
                host: IMDS_HOST.into()
            }
        );
        for (set, platform) in [
            (
                vec![
                    ("IDENTITY_ENDPOINT", "https://x"),
                    ("IDENTITY_HEADER", "h"),
                    ("IDENTITY_SERVER_THUMBPRINT", "ab"),
                ],
                "Service Fabric",
            ),
            (
                vec![
                    ("IDENTITY_ENDPOINT", "http://x"),
                    ("IMDS_ENDPOINT", "http://y"),
                ],
                "Azure Arc",
            ),
            (
                vec![("MSI_ENDPOINT", "http://x"), ("MSI_SECRET", "s")],
                "Azure Machine Learning",
            ),
            (vec![("MSI_ENDPOINT", "http://x")], "Cloud Shell"),
        ] {
            let e = ManagedIdentitySource::from_vars(&vars(&set)).unwrap_err();
            assert!(
                matches!(&e, Error::Input(i) if i.kind == InputKind::UnsupportedManagedIdentity { platform: platform.into() }),
                "{e:?}"
            );
        }
        let e = ManagedIdentitySource::from_vars(&vars(&[
            ("IDENTITY_ENDPOINT", "not a url"),
            ("IDENTITY_HEADER", "h"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("IDENTITY_ENDPOINT"), "{e}");
    }

    #[test]
    fn the_environment_chain_ends_with_a_managed_identity_only_when_one_is_named() {
        let options = CredentialOptions::default();
        let none = from_environment(None, &options, &vars(&[])).unwrap();
        assert!(none.is_none(), "bare IMDS is never assumed");
        let app = from_environment(
            Some("c"),
            &options,
            &vars(&[
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
                ("IDENTITY_HEADER", "h"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(app.id, ManagedIdentityId::ClientId("c".into()));
        assert!(matches!(
            app.source,
            ManagedIdentitySource::AppService { .. }
        ));
        let pod = from_environment(
            None,
            &options,
            &vars(&[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:2")]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(pod.id, ManagedIdentityId::SystemAssigned);
        assert!(
            !pod.options.transport.proxy_from_env,
            "never through a proxy"
        );
    }

    #[test]
    fn each_shape_names_its_selectors() {
        let imds = ManagedIdentitySource::Imds {
            host: IMDS_HOST.into(),
        };
        let app = ManagedIdentitySource::AppService {
            endpoint: "http://127.0.0.1:1/msi/token".into(),
            header: Secret::new("h"),
        };
        let q = |s: &ManagedIdentitySource, id| {
            s.url("https://vault.azure.net", &id).unwrap().to_string()
        };
        assert_eq!(
            q(&imds, ManagedIdentityId::ObjectId("o".into())),
            "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&object_id=o"
        );
        assert_eq!(
            q(&app, ManagedIdentityId::ObjectId("o".into())),
            "http://127.0.0.1:1/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net&principal_id=o"
        );
        assert!(q(&imds, ManagedIdentityId::ResourceId("/r".into())).ends_with("&msi_res_id=%2Fr"));
        assert!(q(&app, ManagedIdentityId::ResourceId("/r".into())).ends_with("&mi_res_id=%2Fr"));
        assert!(q(&app, ManagedIdentityId::SystemAssigned).ends_with("vault.azure.net"));
        assert!(imds.retryable(StatusCode::GONE) && imds.retryable(StatusCode::NOT_FOUND));
        assert!(!app.retryable(StatusCode::NOT_FOUND) && !imds.retryable(StatusCode::BAD_REQUEST));
    }
}
