//! The credential the environment describes: Azure Identity's chain over the `AZURE_*`
//! variables. It sits above the credentials it picks from (a secret, a certificate, workload
//! identity, a managed identity), so none of them needs to know of it.

use crate::credential::{Credential, CredentialSource};
use crate::error::{Error, InputKind, Result};
use crate::secret::{Secret, SecretSource};

use super::credential::{
    AccessToken, BoxFuture, ClientCertificateCredential, ClientSecretCredential, CredentialOptions,
    TokenCredential, TokenRequestOptions,
};
use super::managed;
use super::workload::{WorkloadIdentityCredential, ENV_FEDERATED_TOKEN_FILE};

/// The credential the `AZURE_*` variables describe, as Azure Identity reads them:
/// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, then `AZURE_CLIENT_SECRET`, else
/// `AZURE_CLIENT_CERTIFICATE_PATH` (with `AZURE_CLIENT_CERTIFICATE_PASSWORD`), else workload
/// identity's `AZURE_FEDERATED_TOKEN_FILE` ([`WorkloadIdentityCredential`]), and
/// `AZURE_AUTHORITY_HOST` and `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` where the options leave
/// them open; with neither secret nor certificate, a [`ManagedIdentityCredential`](super::ManagedIdentityCredential)
/// when the environment names a platform endpoint (`IDENTITY_ENDPOINT` and `IDENTITY_HEADER`,
/// or `AZURE_POD_IDENTITY_AUTHORITY_HOST`; `AZURE_CLIENT_ID` then selects a user-assigned one).
///
/// ```
/// use certgen::identity::{CredentialOptions, EnvironmentCredential};
///
/// match EnvironmentCredential::new(CredentialOptions::default()) {
///     Ok(credential) => println!("{credential:?}"),
///     // Which variable is missing, as a typed refusal.
///     Err(e) => eprintln!("no credential in the environment: {e}"),
/// }
/// ```
#[derive(Debug)]
pub struct EnvironmentCredential {
    inner: Box<dyn TokenCredential>,
}

impl EnvironmentCredential {
    /// Reads the variables now; a missing one is an [`InputKind::MissingVariable`] refusal.
    pub fn new(mut options: CredentialOptions) -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let missing = |name: &str| {
            Error::input(
                InputKind::MissingVariable { var: name.into() },
                format!("{name} is not set"),
            )
        };
        let tenant = var("AZURE_TENANT_ID").unwrap_or_default();
        let client_id = var("AZURE_CLIENT_ID");
        let need_client_id = || client_id.clone().ok_or_else(|| missing("AZURE_CLIENT_ID"));
        if options.authority_host.is_none() {
            options.authority_host = var("AZURE_AUTHORITY_HOST");
        }
        if var("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        {
            options.send_x5c = true;
        }
        let inner: Box<dyn TokenCredential> = if let Some(secret) = var("AZURE_CLIENT_SECRET") {
            Box::new(ClientSecretCredential::new(
                &tenant,
                &need_client_id()?,
                Secret::new(secret),
                options,
            )?)
        } else if let Some(path) = var("AZURE_CLIENT_CERTIFICATE_PATH") {
            let passwords = SecretSource::default()
                .value(var("AZURE_CLIENT_CERTIFICATE_PASSWORD").map(Secret::new));
            let certificate = Credential::load(
                &CredentialSource {
                    cert: Some(path.into()),
                    ..Default::default()
                },
                &passwords,
            )?;
            Box::new(ClientCertificateCredential::new(
                &tenant,
                &need_client_id()?,
                certificate,
                options,
            )?)
        } else if let Some(file) = var(ENV_FEDERATED_TOKEN_FILE) {
            // Workload identity, next in Azure Identity's chain after the secret and the
            // certificate.
            Box::new(WorkloadIdentityCredential::new(
                &tenant,
                &need_client_id()?,
                file,
                options,
            )?)
        } else if let Some(mi) =
            // The chain's last link: a managed identity, when the environment names a
            // platform endpoint (AZURE_CLIENT_ID then picks a user-assigned one).
            managed::from_environment(client_id.as_deref(), &options, &var)?
        {
            Box::new(mi)
        } else {
            need_client_id()?;
            return Err(missing(
                "AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE \
                 or a managed identity's endpoint (IDENTITY_ENDPOINT)",
            ));
        };
        Ok(EnvironmentCredential { inner })
    }
}

impl TokenCredential for EnvironmentCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: Option<&'a TokenRequestOptions>,
    ) -> BoxFuture<'a, Result<AccessToken>> {
        self.inner.get_token(scopes, options)
    }
}
