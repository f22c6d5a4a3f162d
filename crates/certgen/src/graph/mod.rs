//! Microsoft Graph (and any API that takes Entra tokens) from a daemon: which cloud's Graph a
//! URL is on and the scope to ask for, Graph's OData error and paging shapes, and the
//! application permissions that decide what an app-only caller may read.
//!
//! | module | concept |
//! |---|---|
//! | [`app_keys`] | an app's own registered certificates: read, state, addKey/removeKey bodies, lock-out guards |
//! | [`client`] | one call with retries, or every page of a collection |
//! | [`cloud`] | Graph hosts per cloud; the scope a URL needs |
//! | [`keycred`] | the `keyCredential` object; `customKeyIdentifier` read as hex or base64 |
//! | [`AppSession`] | the app's own Graph session: its application object, addKey, removeKey |
//! | [`proof`] | the addKey/removeKey proof-of-possession JWT and Graph's rules for it |
//! | [`odata`] | the error envelope, `@odata.nextLink` pages |
//! | [`permissions`] | app roles on Graph and what they allow |

pub mod app_keys;
pub mod client;
pub mod cloud;
pub mod keycred;
pub mod odata;
pub mod permissions;
pub mod proof;
mod session;

pub use app_keys::AppKeys;
pub use client::{AllPages, ApiClient, ApiRequest, ApiResponse};
pub use cloud::{graph_host, scope_for_url};
pub use odata::{ErrorEnvelope, InnerError, ODataError, Pages};
pub use session::AppSession;
