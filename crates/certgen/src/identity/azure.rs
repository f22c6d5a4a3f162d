//! Every credential as an `azure_core::credentials::TokenCredential` (feature `azure_core`), so
//! Azure SDK for Rust clients take certgen's credentials as they are.
//!
//! ```
//! use std::sync::Arc;
//! use azure_core::credentials::TokenCredential;
//! use certgen::identity::{ClientSecretCredential, CredentialOptions};
//! use certgen::Secret;
//!
//! # fn demo() -> certgen::Result<()> {
//! let credential: Arc<dyn TokenCredential> = Arc::new(ClientSecretCredential::new(
//!     "contoso.onmicrosoft.com",
//!     "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8",
//!     Secret::new("…"),
//!     CredentialOptions::default(),
//! )?);
//! // Hand `credential` to any Azure SDK client (Key Vault, Storage, …).
//! # let _ = credential; Ok(()) }
//! ```
//!
//! The azure_core `TokenRequestOptions` carry no tenant, claims or refresh flag in 1.x, so
//! calls through this trait use the credential's defaults. An error keeps certgen's
//! [`Error`](crate::Error) as its source, with kind `Credential`.

use azure_core::credentials::{
    AccessToken as AzureToken, TokenCredential as AzureCredential,
    TokenRequestOptions as AzureOptions,
};
use azure_core::error::ErrorKind;

use super::credential::{
    ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential, TokenCredential,
};
use super::environment::EnvironmentCredential;
use super::managed::ManagedIdentityCredential;

async fn azure_token(
    credential: &dyn TokenCredential,
    scopes: &[&str],
) -> azure_core::Result<AzureToken> {
    let token = credential
        .get_token(scopes, None)
        .await
        .map_err(|e| azure_core::Error::new(ErrorKind::Credential, e))?;
    Ok(AzureToken::new(
        token.token.expose().to_string(),
        token.expires_on.into(),
    ))
}

macro_rules! azure_credential {
    ($($t:ty),*) => {$(
        #[async_trait::async_trait]
        impl AzureCredential for $t {
            async fn get_token(
                &self,
                scopes: &[&str],
                _options: Option<AzureOptions<'_>>,
            ) -> azure_core::Result<AzureToken> {
                azure_token(self, scopes).await
            }
        }
    )*};
}

azure_credential!(
    ClientCertificateCredential,
    ClientSecretCredential,
    ClientAssertionCredential,
    EnvironmentCredential,
    ManagedIdentityCredential
);
