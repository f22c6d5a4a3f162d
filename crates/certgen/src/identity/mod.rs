//! Getting access tokens with the client-credentials grant, in the shape of `azure_identity`:
//! the [`TokenCredential`] trait and its credentials ([`credential`]), the request and its
//! transport ([`client`]), what the endpoint answers ([`response`]), the scope rules toward
//! Entra ([`scope`]), the on-disk cache ([`cache`]), workload identity federation
//! ([`workload`]), managed identities' tokens from the Azure platform ([`managed`]), and the
//! chain the `AZURE_*` variables describe over all of them ([`environment`]).

#[cfg(feature = "azure_core")]
#[cfg_attr(docsrs, doc(cfg(feature = "azure_core")))]
pub mod azure;
pub mod cache;
pub mod client;
pub mod credential;
pub mod environment;
pub mod managed;
pub mod response;
pub mod scope;
pub mod workload;

pub use cache::{CacheKey, CachedToken, KeyCredential, Lookup, TokenCache};
pub use client::{ClientAuth, ClientOptions, TokenClient, TokenRequest};
pub use credential::{
    AccessToken, BoxError, BoxFuture, ClientAssertionCredential, ClientCertificateCredential,
    ClientSecretCredential, CredentialOptions, DiskCache, Source, TokenCredential,
    TokenRequestOptions, WarningSink, REFRESH_AHEAD,
};
pub use environment::EnvironmentCredential;
pub use managed::{ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource};
pub use response::TokenResponse;
pub use workload::{FederatedTokenError, WorkloadIdentityCredential};
