//! `certgen token --managed-identity` (and `certgen call` with it): a managed identity's token
//! from the platform endpoint the environment names, through the library's
//! [`ManagedIdentityCredential`]; the platform's refusals explained.

use certgen::error::ProviderError;
use certgen::identity::{
    AccessToken, ClientOptions, CredentialOptions, ManagedIdentityCredential, ManagedIdentityId,
    ManagedIdentitySource, TokenCredential, TokenRequestOptions,
};
use clap::Args;

use super::error::{CliError as Error, Result, EXIT_PROVIDER, EXIT_TRANSPORT};

/// `--managed-identity`, `--object-id`, `--resource-id` (`certgen token`, `certgen call`).
#[derive(Debug, Clone, Default, Args)]
pub struct ManagedIdentityArgs {
    /// The managed identity of the Azure resource this runs on (IDENTITY_ENDPOINT+IDENTITY_HEADER, else IMDS); --client-id, --object-id or --resource-id picks a user-assigned one
    #[arg(long, help_heading = "Managed identity", conflicts_with_all = ["cert", "key", "pfx", "password_file", "secret_file", "federated_token_file", "github_actions", "token_endpoint", "audience", "x5c", "authority_host", "tenant"])]
    pub managed_identity: bool,
    /// A user-assigned managed identity by its object (principal) ID
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Managed identity",
        requires = "managed_identity",
        conflicts_with = "resource_id"
    )]
    pub object_id: Option<String>,
    /// A user-assigned managed identity by its Azure resource ID
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Managed identity",
        requires = "managed_identity"
    )]
    pub resource_id: Option<String>,
}

/// The token for `scopes` of the identity `--client-id` (or `AZURE_CLIENT_ID`), `--object-id`
/// or `--resource-id` names; none: the system-assigned one.
pub(super) fn get(
    args: &ManagedIdentityArgs,
    client_id: Option<&str>,
    scopes: &[String],
    transport: ClientOptions,
    force_refresh: bool,
) -> Result<AccessToken> {
    let id = match (&args.object_id, &args.resource_id, client_id) {
        (Some(o), _, _) => ManagedIdentityId::ObjectId(o.trim().to_string()),
        (_, Some(r), _) => ManagedIdentityId::ResourceId(r.trim().to_string()),
        (None, None, Some(c)) if !c.trim().is_empty() => {
            ManagedIdentityId::ClientId(c.trim().to_string())
        }
        _ => ManagedIdentityId::SystemAssigned,
    };
    let options = CredentialOptions::default().transport(transport);
    let source = ManagedIdentitySource::from_env()?;
    let endpoint = match &source {
        ManagedIdentitySource::AppService { endpoint, .. } => endpoint.clone(),
        ManagedIdentitySource::Imds { host } => format!("{host}/metadata/identity/oauth2/token"),
        other => format!("{other:?}"),
    };
    let credential = ManagedIdentityCredential::with_source(id, source, options)?;
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let call = TokenRequestOptions::default().force_refresh(force_refresh);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the network runtime: {e}")))?;
    runtime
        .block_on(credential.get_token(&scopes, Some(&call)))
        .map_err(|e| match e {
            certgen::Error::Provider(p) => refused(&p, &endpoint),
            certgen::Error::Transport(t) => Error::new(EXIT_TRANSPORT, t.to_string()).with_hint(
                "the managed-identity endpoint answers only on Azure, or from certgen serve with \
                 a [[managed_identity]]: export the variables of its ready line's env",
            ),
            other => other.into(),
        })
}

/// The platform's refusal, with what to check.
fn refused(p: &ProviderError, endpoint: &str) -> Error {
    let what = match (&p.error, &p.description) {
        (Some(e), Some(d)) => format!("{e}: {}", d.lines().next().unwrap_or_default()),
        (Some(e), None) => e.clone(),
        _ => p.body_excerpt.clone().unwrap_or_default(),
    };
    let e = Error::new(
        EXIT_PROVIDER,
        format!(
            "the managed-identity endpoint {endpoint} refused ({}): {what}",
            p.status
        ),
    );
    match p.error.as_deref() {
        Some("invalid_request") if what.contains("Identity not found") => e.with_hint(
            "this resource has no such identity: check --client-id (or AZURE_CLIENT_ID), \
             --object-id or --resource-id; with none, the system-assigned identity is asked for",
        ),
        Some("invalid_resource") => e.with_hint(
            "the tenant has no such resource: check --scope (RESOURCE/.default, e.g. \
             https://vault.azure.net/.default)",
        ),
        Some("bad_request_102") | Some("unauthorized_client") => e.with_hint(
            "the endpoint did not take the request's header: check IDENTITY_HEADER (App Service \
             rotates it) or that IDENTITY_ENDPOINT is the platform's",
        ),
        _ => e,
    }
}
