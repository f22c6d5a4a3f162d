//! The token service's state for the life of the process, and one token request as the
//! endpoint received it: what the client-credentials grant, the user grants
//! and the Graph slice all read.

use std::sync::Arc;

use super::aadsts::Aadsts;
use super::client_assertion::{PublicKeys, ReplayGuard};
use super::config::{Resource, User};
use super::directory::view::AppView;
use super::directory::{Directory, StoreError};
use super::face::Face;
use super::sign_in_state::UserFlows;
use super::tokens::{Endpoint, SigningKey};

/// Everything the token endpoints share for the life of the service.
#[derive(Debug)]
pub struct TokenService {
    /// Tenants, apps, resources, users: kept, and changed by Graph.
    pub directory: Directory,
    /// The config's Azure subscriptions (Resource Manager's `/subscriptions`).
    pub subscriptions: Vec<super::config::Subscription>,
    pub signer: SigningKey,
    /// `https://127.0.0.1:8443`: the base of issuers and endpoint URLs.
    pub base: String,
    /// Every base an assertion's `aud` may name (the listen address, and `localhost`,
    /// `127.0.0.1`, `[::1]` on the same port), since clients reach the service by any of them.
    pub audience_bases: Vec<String>,
    pub strict: bool,
    pub replay: ReplayGuard,
    /// The keys of the certificates client assertions are checked against, parsed once.
    pub public_keys: PublicKeys,
    /// The outside issuers whose tokens federated credentials may name, with their keys.
    pub issuers: super::federation::Issuers,
    /// Users signing in: pending sign-ins, codes, refresh tokens, device codes, sessions.
    pub flows: UserFlows,
}

/// The directory failing (disk full, file damaged) is the service's trouble, answered 503.
impl From<StoreError> for Aadsts {
    fn from(e: StoreError) -> Aadsts {
        Aadsts::DirectoryUnavailable(e.to_string())
    }
}

impl TokenService {
    /// The app with this client id, as the token endpoint reads it.
    pub fn app(&self, client_id: &str) -> Result<Option<Arc<AppView>>, Aadsts> {
        Ok(self.directory.app(client_id)?)
    }

    /// A user by object id or user principal name who may sign in: a disabled account is
    /// refused wherever a user signs in or a token is issued for them, as Entra refuses it.
    pub fn user(&self, key: &str) -> Result<Option<User>, Aadsts> {
        match self.directory.user(key)? {
            Some(u) if u.disabled => Err(Aadsts::UserDisabled),
            found => Ok(found),
        }
    }

    /// The resource named by app id or identifier URI, or 500011.
    pub fn resource(&self, name: &str, tenant: &str) -> Result<Arc<Resource>, Aadsts> {
        self.directory
            .resource(name)?
            .ok_or_else(|| Aadsts::ResourceNotFound {
                resource: name.to_string(),
                tenant: tenant.to_string(),
            })
    }
}

/// The fields of a token request body, in order. The body is parsed as a form whatever its
/// Content-Type, as a lenient server would; bad encodings decode lossily and then fail as
/// missing or wrong fields.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// One token request as the endpoint received it.
pub struct TokenRequest<'a> {
    pub tenant: &'a str,
    pub endpoint: Endpoint,
    /// Decoded form fields, in order.
    pub form: &'a [(String, String)],
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// Seconds since 1970.
    pub now: i64,
    /// How the client reached the service: the issuer it gets.
    pub face: Face,
}

impl TokenRequest<'_> {
    /// The first form field of that name.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
