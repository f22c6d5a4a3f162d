//! Getting an access token with the client-credentials grant: the request and its transport
//! ([`client`]), what the endpoint answers ([`response`]), what an error answer means for the
//! user ([`explain`]), the scope rules toward Entra ([`scope`]) and the on-disk cache
//! ([`cache`]).

pub mod cache;
pub mod client;
pub mod explain;
pub mod response;
pub mod scope;

pub use cache::{CacheKey, CachedToken, KeyCredential, Lookup, TokenCache};
pub use client::{ClientAuth, ClientOptions, FetchError, TokenClient, TokenRequest};
pub use explain::{Sent, SentCredential};
pub use response::{ErrorAnswer, TokenResponse};
