//! Users signing in (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>): the authorization-code flow with PKCE, refresh
//! tokens and the device-code flow, as Entra's v2 endpoints run them for web apps, desktop
//! apps and devices.
//!
//! | module | concept |
//! |---|---|
//! | [`scopes`] | delegated scopes and consent (`[app.delegated]`) |
//! | [`store`] | pending sign-ins, codes, refresh tokens, device codes, sessions (bounded) |
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
pub mod scopes;
pub mod store;

use scopes::Requested;
use store::Ttl;

/// How long a sign-in page stays usable, and a device code valid (Entra: 900 s).
pub const PENDING_LIFETIME_SECS: i64 = 600;
pub const DEVICE_CODE_LIFETIME_SECS: i64 = 900;
/// Seconds between device-code polls the client is told (Entra's value).
pub const DEVICE_CODE_INTERVAL_SECS: i64 = 5;
/// How long a browser stays signed in (the session cookie).
pub const SESSION_LIFETIME_SECS: i64 = 24 * 3600;
/// How long an ended code, refresh token or device code is remembered, so a late use is told
/// "expired" (70008, 700082, 70019) rather than "unknown".
pub(super) const REMEMBER_ENDED_SECS: i64 = 3600;

/// The flows' settings (`certgen serve` flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--auto-sign-in UPN`: that user signs in without the page (headless tests).
    pub auto_sign_in: Option<String>,
    /// `--code-lifetime`: an authorization code's life (Entra: about 10 minutes).
    pub code_lifetime_secs: i64,
    /// `--refresh-token-lifetime`: how long a refresh token may lie unused (Entra: 90 days).
    pub refresh_token_lifetime_secs: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            auto_sign_in: None,
            code_lifetime_secs: 600,
            refresh_token_lifetime_secs: 90 * 24 * 3600,
        }
    }
}

/// Where `/authorize` sends its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// PKCE's `code_challenge` and its method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub value: String,
    /// `S256` (else `plain`).
    pub s256: bool,
}

/// A checked `/authorize` request, waiting for its user.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub tenant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub scope: Requested,
    pub challenge: Option<Challenge>,
    pub login_hint: Option<String>,
}

/// A sign-in page shown and not yet answered.
#[derive(Debug, Clone)]
pub enum Pending {
    Authorize(AuthRequest),
    /// The device flow's page, for this device code.
    Device {
        device_code: String,
    },
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub request: AuthRequest,
    pub user_id: String,
    pub expires: i64,
    pub redeemed: bool,
}

/// An issued refresh token. Each use issues a new one and leaves this one valid, as Entra
/// does (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>); each ends after its own inactivity lifetime.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub scope: Requested,
    pub issued: i64,
    pub expires: i64,
}

/// Where a device code stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    Pending,
    Approved { user_id: String },
    Declined,
    Redeemed,
}

/// An issued device code.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    pub client_id: String,
    pub tenant_id: String,
    pub scope: Requested,
    pub user_code: String,
    pub expires: i64,
    pub state: DeviceState,
}

/// A browser's signed-in user (the `certgen_session` cookie).
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
}

/// The flows' state for the life of the service.
#[derive(Debug, Default)]
pub struct UserFlows {
    pub options: Options,
    pub pending: Ttl<Pending>,
    pub codes: Ttl<CodeGrant>,
    pub refresh_tokens: Ttl<RefreshGrant>,
    pub devices: Ttl<DeviceGrant>,
    pub sessions: Ttl<Session>,
}

impl UserFlows {
    pub fn new(options: Options) -> UserFlows {
        UserFlows {
            options,
            ..UserFlows::default()
        }
    }

    /// Issues a refresh token for a signed-in user.
    pub fn issue_refresh_token(
        &self,
        client_id: &str,
        tenant_id: &str,
        user_id: &str,
        scope: &Requested,
        now: i64,
    ) -> String {
        let expires = now.saturating_add(self.options.refresh_token_lifetime_secs);
        self.refresh_tokens.insert(
            RefreshGrant {
                client_id: client_id.to_string(),
                tenant_id: tenant_id.to_string(),
                user_id: user_id.to_string(),
                scope: scope.clone(),
                issued: now,
                expires,
            },
            expires.saturating_add(REMEMBER_ENDED_SECS),
            now,
        )
    }

    /// Issues an authorization code for `request`'s user.
    pub fn issue_code(&self, request: AuthRequest, user_id: &str, now: i64) -> String {
        let expires = now.saturating_add(self.options.code_lifetime_secs);
        self.codes.insert(
            CodeGrant {
                request,
                user_id: user_id.to_string(),
                expires,
                redeemed: false,
            },
            expires.saturating_add(REMEMBER_ENDED_SECS),
            now,
        )
    }
}
