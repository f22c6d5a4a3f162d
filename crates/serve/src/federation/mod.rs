//! Workload identity federation (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation>):
//! an app trusts tokens of an outside issuer through its federated identity credentials, and
//! a client presents such a token as its `client_assertion`.
//!
//! `issuers` is who may sign those tokens and with which keys; `exchange` checks a presented
//! token against an app's credentials, with Entra's refusals. A credential itself and Graph's
//! rules for it are config data (`config::federated`), which the directory keeps.

pub mod exchange;
pub mod issuers;

pub use issuers::Issuers;

use certgen::jose::{self, Policy};

/// Before the (synchronous) grant: when the client assertion comes from an issuer on this
/// machine, its keys are fetched or refreshed, so the grant finds them in the cache. Anything
/// unreadable is left for the grant to refuse with its proper code.
pub async fn prepare(issuers: &Issuers, form: &[(String, String)]) {
    let Some((_, jwt)) = form.iter().find(|(k, _)| k == "client_assertion") else {
        return;
    };
    let Ok(jws) = jose::parse(jwt, Policy::Lenient) else {
        return;
    };
    let Some(iss) = jws.claim_str("iss") else {
        return;
    };
    if issuers::is_loopback_issuer(iss) {
        issuers
            .prepare(iss, jws.header_str("kid"), jws.header_str("x5t"))
            .await;
    }
}
