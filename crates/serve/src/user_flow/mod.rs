//! Users signing in (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>): the authorization-code flow with PKCE, refresh
//! tokens and the device-code flow, as Entra's v2 endpoints run them for web apps, desktop
//! apps and devices.
//!
//! | module | concept |
//! |---|---|
//! | [`authorize`] | `/authorize`: checks, the sign-in step, the redirect back (query, fragment, form_post) |
//! | [`grants`] | the token endpoint's `authorization_code`, `refresh_token` and device-code grants |
//! | [`device`] | `/devicecode` and the page where the user enters the code |
//! | [`pages`] | the HTML pages: sign-in, device code, form_post, errors, signed out |
//! | [`routes`] | the HTTP routes of all of the above, and logout |

pub mod authorize;
pub mod device;
pub mod grants;
pub mod pages;
pub mod routes;

// The state the flows keep (in the service, below them), under the names the flows use.
pub use crate::sign_in_state::*;
