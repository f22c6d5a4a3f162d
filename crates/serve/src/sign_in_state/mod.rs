//! What users signing in leave in the service while they do: pending sign-ins, codes, refresh
//! tokens, device codes and sessions, in bounded stores, and the delegated scopes they ask for.
//! The flows that make and spend them are in `user_flow`.
//!
//! | module | concept |
//! |---|---|
//! | [`scopes`] | delegated scopes and consent (`[app.delegated]`) |
//! | [`store`] | the bounded, expiring stores (by count and by bytes) |
//! | [`kept`] | codes, refresh tokens, device codes and sessions kept in the directory's database |

pub mod kept;
pub mod scopes;
pub mod store;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::directory::store::{Store, StoreResult};
use kept::{Handle, Kept};
use scopes::Requested;
use store::{Evict, Ttl, Weigh};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// PKCE's `code_challenge` and its method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub value: String,
    /// `S256` (else `plain`).
    pub s256: bool,
}

/// A checked `/authorize` request, waiting for its user.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        device: Handle,
    },
}

/// A pending sign-in and the browser it was shown to.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub what: Pending,
    /// The sign-in cookie's value of the browser the page was served to (empty until it is
    /// served): the form's POST must carry it in the cookie and in a field, so another site
    /// cannot post the form for that browser (what Entra's `flowToken` and canary do).
    pub canary: String,
}

/// An issued authorization code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub request: AuthRequest,
    pub user_id: String,
    pub expires: i64,
    pub redeemed: bool,
}

/// An issued refresh token. Each use issues a new one and leaves this one valid, as Entra
/// does (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>); each ends after its own inactivity lifetime.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub client_id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub scope: Requested,
    pub issued: i64,
    pub expires: i64,
}

/// Where a device code stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceState {
    Pending,
    Approved { user_id: String },
    Declined,
    Redeemed,
}

/// An issued device code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceGrant {
    pub client_id: String,
    pub tenant_id: String,
    pub scope: Requested,
    pub user_code: String,
    pub expires: i64,
    pub state: DeviceState,
}

/// A browser's signed-in user (the `certgen_session` cookie).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user_id: String,
}

/// The flows' state: pending sign-ins in this process's memory (a page is answered by the
/// process that showed it), the rest kept in the directory's database.
#[derive(Debug)]
pub struct UserFlows {
    pub options: Options,
    pub pending: Ttl<PendingSignIn>,
    pub codes: Kept<CodeGrant>,
    pub refresh_tokens: Kept<RefreshGrant>,
    pub devices: Kept<DeviceGrant>,
    pub sessions: Kept<Session>,
}

/// Bytes each store may hold. With every request parameter bounded ([`authorize::LIMITS`]),
/// an entry is at most about 17 KB, so these hold thousands of the largest sign-ins and
/// together stay far under the 256 MB a flood must not push the service past.
pub const PENDING_BUDGET_BYTES: usize = 32 * 1024 * 1024;
pub const CODES_BUDGET_BYTES: usize = 32 * 1024 * 1024;
pub const REFRESH_BUDGET_BYTES: usize = 32 * 1024 * 1024;
pub const DEVICES_BUDGET_BYTES: usize = 8 * 1024 * 1024;
pub const SESSIONS_BUDGET_BYTES: usize = 8 * 1024 * 1024;

impl UserFlows {
    /// The flows over `store` (the directory's), counting what it already keeps at `now`
    /// against the bounds.
    pub fn new(options: Options, store: Arc<dyn Store>) -> UserFlows {
        use store::CAPACITY;
        // The table names are stored: never renamed.
        UserFlows {
            options,
            // Anonymous requests make these: a flood displaces its own newest entries,
            // never a page already shown or a code already sent (see [`Evict::Newest`]).
            pending: Ttl::bounded(CAPACITY, PENDING_BUDGET_BYTES, Evict::Newest),
            codes: Kept::new(
                "code",
                store.clone(),
                CAPACITY,
                CODES_BUDGET_BYTES,
                Evict::Newest,
            ),
            devices: Kept::new(
                "deviceCode",
                store.clone(),
                CAPACITY,
                DEVICES_BUDGET_BYTES,
                Evict::Newest,
            ),
            // Made by a client that authenticated (refresh tokens) or by a completed
            // sign-in (sessions): the oldest goes.
            refresh_tokens: Kept::new(
                "refreshToken",
                store.clone(),
                CAPACITY,
                REFRESH_BUDGET_BYTES,
                Evict::ClosestToEnd,
            ),
            sessions: Kept::new(
                "session",
                store,
                CAPACITY,
                SESSIONS_BUDGET_BYTES,
                Evict::ClosestToEnd,
            ),
        }
    }

    /// Counts what the database keeps from earlier runs against this process's bounds (and
    /// forgets what has ended): at start.
    pub fn load(&self, now: i64) -> StoreResult<usize> {
        self.codes.store().entries_expire(now)?;
        Ok(self.codes.load(now)?
            + self.refresh_tokens.load(now)?
            + self.devices.load(now)?
            + self.sessions.load(now)?)
    }

    /// Issues a refresh token for a signed-in user.
    pub fn issue_refresh_token(
        &self,
        client_id: &str,
        tenant_id: &str,
        user_id: &str,
        scope: &Requested,
        now: i64,
    ) -> StoreResult<String> {
        let expires = now.saturating_add(self.options.refresh_token_lifetime_secs);
        self.refresh_tokens.insert(
            &RefreshGrant {
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
    pub fn issue_code(&self, request: AuthRequest, user_id: &str, now: i64) -> StoreResult<String> {
        let expires = now.saturating_add(self.options.code_lifetime_secs);
        self.codes.insert(
            &CodeGrant {
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

// What each stored value holds, for the stores' byte budgets.

impl Weigh for Requested {
    fn weight(&self) -> usize {
        std::mem::size_of::<Requested>()
            + self
                .resources
                .iter()
                .map(|r| {
                    std::mem::size_of_val(r)
                        + r.resource.weight()
                        + r.named_as.weight()
                        + r.scopes.weight()
                })
                .sum::<usize>()
    }
}

impl Weigh for AuthRequest {
    fn weight(&self) -> usize {
        std::mem::size_of::<AuthRequest>()
            + self.tenant_id.capacity()
            + self.client_id.capacity()
            + self.redirect_uri.capacity()
            + self.state.weight()
            + self.nonce.weight()
            + self.scope.weight()
            + self.challenge.as_ref().map_or(0, |c| c.value.weight())
            + self.login_hint.weight()
    }
}

impl Weigh for PendingSignIn {
    fn weight(&self) -> usize {
        std::mem::size_of::<PendingSignIn>()
            + self.canary.capacity()
            + match &self.what {
                Pending::Authorize(r) => r.weight(),
                Pending::Device { device } => std::mem::size_of_val(device) + 64,
            }
    }
}
