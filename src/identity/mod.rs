//! Getting an access token with the client-credentials grant. [`acquire`](fn@acquire) is the whole flow
//! `certgen token` runs — cache first, the network only on a miss — for any Rust program;
//! its parts are the target and credential ([`acquire`](mod@acquire)), the request and its
//! transport ([`client`]), what the endpoint answers ([`response`]), what an error answer
//! means for the user ([`explain`]), the scope rules toward Entra ([`scope`]) and the
//! on-disk cache ([`cache`]).

pub mod acquire;
pub mod cache;
pub mod client;
pub mod explain;
pub mod response;
pub mod scope;

pub use acquire::{
    acquire, acquire_async, AcquireRequest, AcquiredToken, CachePolicy, Source, TokenCredential,
    TokenTarget,
};
pub use cache::{CacheKey, CachedToken, KeyCredential, Lookup, TokenCache};
pub use client::{ClientAuth, ClientOptions, FetchError, TokenClient, TokenRequest};
pub use explain::{Sent, SentCredential};
pub use response::{ErrorAnswer, TokenResponse};
