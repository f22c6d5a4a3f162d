//! The registrations as the service uses them: tenants, apps (with their certificates,
//! secrets, granted roles and delegated scopes), resource APIs and the directory's users.

use std::collections::HashMap;

use time::OffsetDateTime;

use certgen::certificate::Certificate;
use certgen::secret::Secret;

/// The tenant used when none is given (documented in the README and shown in the banner).
pub const DEFAULT_TENANT: &str = "11111111-1111-1111-1111-111111111111";

/// Microsoft Graph's well-known application id.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub const GRAPH_URI: &str = "https://graph.microsoft.com";

/// A directory (tenant).
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant id, lower-case GUID: `tid` in tokens.
    pub id: String,
    /// DNS names that also name this tenant in URLs and `aud` values.
    pub domains: Vec<String>,
}

/// An application registration (a client of the token service).
#[derive(Debug, Clone, Default)]
pub struct App {
    /// Lower-case GUID.
    pub client_id: String,
    pub display_name: String,
    /// The service principal's object id: `oid` and `sub` in tokens.
    pub object_id: String,
    /// The application object's id: Graph's `/applications/{id}` and an addKey proof's `iss`.
    pub application_object_id: String,
    pub certificates: Vec<Certificate>,
    pub secrets: Vec<AppSecret>,
    /// Granted app roles, by resource app id.
    pub roles: HashMap<String, Vec<String>>,
    /// Where `/authorize` may send a user back (`redirect_uris`), as registered.
    pub redirect_uris: Vec<String>,
    /// A public client (desktop, mobile, device code): it holds no credential and must not
    /// present one.
    pub public_client: bool,
    /// Made through Graph and never given a service principal: Entra refuses its token
    /// requests (AADSTS7000229) until one is made.
    pub missing_service_principal: bool,
    /// Delegated scopes consented for the app, by resource app id (`[app.delegated]`).
    pub delegated: HashMap<String, Vec<String>>,
    /// Federated identity credentials: outside tokens it may present (`[[app.federated]]`).
    pub federated: Vec<super::federated::FederatedCredential>,
    /// A managed identity (no application object): its Azure resource id, the `xms_mirid`
    /// of its tokens.
    pub managed_identity: Option<String>,
}

/// A client secret of an app, with its end date as Entra records one (`endDateTime`). Only
/// its digest is held (and kept in the directory), never the secret.
#[derive(Debug, Clone)]
pub struct AppSecret {
    pub digest: SecretDigest,
    /// `None`: never expires (`--app-secret`, or a plain name in `secret_env`).
    pub expires: Option<OffsetDateTime>,
}

/// The SHA-256 of a client secret: what is kept and compared. A secret made by Entra or by
/// `addPassword` has over 200 bits of entropy, so a plain digest cannot be reversed by search;
/// a weak secret from the environment is the user's own choice and stays on their machine.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretDigest(pub [u8; 32]);

impl SecretDigest {
    pub fn of(secret: &str) -> SecretDigest {
        use sha2::{Digest, Sha256};
        SecretDigest(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<SecretDigest> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(SecretDigest(out))
    }
}

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest(…)")
    }
}

impl AppSecret {
    pub fn new(secret: &Secret, expires: Option<OffsetDateTime>) -> AppSecret {
        AppSecret {
            digest: SecretDigest::of(secret.expose()),
            expires,
        }
    }

    /// Whether the secret has expired at `now` (seconds since 1970).
    pub fn expired_at(&self, now: i64) -> bool {
        self.expires.is_some_and(|e| e.unix_timestamp() <= now)
    }
}

/// The access-token format a resource asks for (`accessTokenAcceptedVersion`): the same two
/// versions `verify` tells apart.
pub use certgen::verify::TokenVersion;

/// A resource API tokens can be requested for.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Lower-case GUID: `aud` of v2 tokens.
    pub app_id: String,
    pub display_name: String,
    pub identifier_uris: Vec<String>,
    /// App roles the resource defines; empty means "any" (Microsoft Graph).
    pub roles: Vec<String>,
    /// Delegated scopes the resource defines; empty means "any" (Microsoft Graph).
    pub scopes: Vec<String>,
    pub token_version: TokenVersion,
}

impl Resource {
    /// The identifier URI `name` stands for, spelled as registered (trailing slash included);
    /// `name` itself when it is the app id. A scope loses the slash (`X//.default`, `X/.default`)
    /// while a v1 `aud` keeps the registered spelling: Entra's tokens for `az login`'s
    /// `https://management.core.windows.net//.default` carry `aud`
    /// `https://management.core.windows.net/`, Graph's `https://graph.microsoft.com`.
    /// UNCONFIRMED beyond those two: chosen as the one rule that gives both.
    pub fn identifier_uri_as_registered(&self, name: &str) -> String {
        let wanted = name.trim_end_matches('/');
        self.identifier_uris
            .iter()
            .find(|u| u.trim_end_matches('/').eq_ignore_ascii_case(wanted))
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }
}

/// A directory user, as the Graph slice lists it (`[[user]]` in the config file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// Lower-case GUID.
    pub id: String,
    pub user_principal_name: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub job_title: Option<String>,
    pub mobile_phone: Option<String>,
    pub office_location: Option<String>,
    pub preferred_language: Option<String>,
    pub business_phones: Vec<String>,
    /// `accountEnabled` is false: the user cannot sign in (AADSTS50057).
    pub disabled: bool,
}

/// An Azure subscription, as Resource Manager lists it (`[[subscription]]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subscription {
    /// Lower-case GUID.
    pub id: String,
    pub display_name: String,
    /// The tenant it belongs to (its `tenantId`).
    pub tenant_id: String,
}

/// Which kind of managed identity: the one an Azure resource has (system-assigned) or one
/// made on its own and given to resources (user-assigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagedIdentityKind {
    System,
    User,
}

/// A managed identity (`[[managed_identity]]`): a service principal of type
/// `ManagedIdentity`, with no application object.
#[derive(Debug, Clone)]
pub struct ManagedIdentity {
    pub kind: ManagedIdentityKind,
    /// Lower-case GUID: `appid` in its tokens, `client_id` of the platform endpoints.
    pub client_id: String,
    /// Lower-case GUID: the service principal's object id, `oid` and `sub` in its tokens.
    pub principal_id: String,
    /// The Azure resource id (`xms_mirid`): the identity's own for a user-assigned one, the
    /// resource's (a VM) for a system-assigned one.
    pub resource_id: String,
    pub display_name: String,
    pub tenant_id: String,
    /// Granted app roles, by resource app id.
    pub roles: HashMap<String, Vec<String>>,
}

/// A checked workload: what serve signs for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Workload {
    pub name: String,
    /// Lower-case GUID.
    pub app: String,
    pub issuer: String,
    pub platform: Platform,
}

/// The platform a workload runs on, with what names it there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Platform {
    Github {
        repository: String,
        git_ref: String,
        environment: Option<String>,
        /// The event that started the run (`event_name`; `pull_request` names the subject).
        event: String,
    },
    Kubernetes {
        namespace: String,
        service_account: String,
        lifetime_secs: u64,
    },
}

/// Everything registered.
#[derive(Debug, Clone)]
pub struct Registry {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) apps: Vec<App>,
    pub(crate) resources: Vec<Resource>,
    /// The directory's users, in the file's order (Graph's `/v1.0/users`).
    pub(crate) users: Vec<User>,
    /// Azure subscriptions, in the file's order (Resource Manager's `/subscriptions`).
    pub(crate) subscriptions: Vec<Subscription>,
    /// `[[workload]]`: what serve issues tokens for (no directory objects).
    pub(crate) workloads: Vec<Workload>,
    /// `[[managed_identity]]`, in the file's order.
    pub(crate) managed_identities: Vec<ManagedIdentity>,
    /// True when no tenant was given and [`DEFAULT_TENANT`] stands in.
    pub(crate) default_tenant: bool,
    /// What the load read (files and environment variables), as digests.
    pub(crate) sources: super::sources::Sources,
    /// Outside token issuers trusted with a local key set (`[[issuer]]`).
    pub(crate) issuers: Vec<ConfiguredIssuer>,
}

/// One `[[issuer]]`: an issuer name and its JWKS document, read (size-bounded) and checked at
/// load; kept with the start record so an unchanged config is not read again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConfiguredIssuer {
    pub url: String,
    pub jwks: String,
}

impl Registry {
    /// The subscriptions the config names (Resource Manager's `/subscriptions`).
    pub(crate) fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    #[cfg(test)]
    pub(crate) fn subscriptions_of<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> impl Iterator<Item = &'a Subscription> {
        self.subscriptions
            .iter()
            .filter(move |s| s.tenant_id.eq_ignore_ascii_case(tenant_id))
    }

    #[cfg(test)]
    pub(crate) fn resource(&self, name: &str) -> Option<&Resource> {
        find_resource(&self.resources, name)
    }

    #[cfg(test)]
    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }
}

/// The tenant a URL segment or an `aud` value names: its GUID or one of its domains.
pub(super) fn find_tenant<'a>(tenants: &'a [Tenant], name: &str) -> Option<&'a Tenant> {
    tenants.iter().find(|t| {
        t.id.eq_ignore_ascii_case(name) || t.domains.iter().any(|d| d.eq_ignore_ascii_case(name))
    })
}

pub(super) fn find_resource<'a>(resources: &'a [Resource], name: &str) -> Option<&'a Resource> {
    // Entra tolerates a trailing slash on identifier URIs (`https://graph.microsoft.com//.default`).
    let wanted = name.trim_end_matches('/');
    resources.iter().find(|r| {
        r.app_id.eq_ignore_ascii_case(wanted)
            || r.identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(wanted))
    })
}

/// A stable GUID for a name, so a tenant or app known only by name keeps its id across runs.
pub fn name_based_guid(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// `http://localhost…`, `http://127.0.0.1…` or `http://[::1]…`.
pub fn is_loopback_url(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// What a redirect URI must be before it is compared, registered (the config) or sent
/// (`/authorize`): why not, otherwise. A URL parser forgives what Entra refuses: it drops tabs
/// and line breaks, reads `http:localhost:5000/cb` as `http://localhost:5000/cb`, keeps a
/// fragment and userinfo apart from the parts compared — so a URI that is not the one
/// registered could match it, and the app be sent to something else than it asked.
/// - no fragment: RFC 6749 §3.1.2 ("The endpoint URI MUST NOT include a fragment
///   component");
/// - no userinfo (`user@`): RFC 3986 §3.2.1 deprecates it, and Entra's reply-URL rules
///   (<https://learn.microsoft.com/en-us/entra/identity-platform/reply-url>) list none;
///   UNCONFIRMED that Entra answers 50011 for it, chosen because it never matches as sent;
/// - no space, tab or other control character, and no backslash (which parsers read as `/`);
/// - http and https written with their `//`.
pub fn redirect_uri_syntax(uri: &str) -> Result<url::Url, &'static str> {
    if uri.chars().any(|c| c.is_control() || c == ' ') {
        return Err("contains a space, tab or other control character");
    }
    if uri.contains('\\') {
        return Err("contains a backslash");
    }
    if uri.contains('#') {
        return Err("has a fragment (#…), which a redirect URI may not have (RFC 6749 §3.1.2)");
    }
    let parsed = url::Url::parse(uri).map_err(|_| "is not an absolute URL")?;
    let after_scheme = &uri[parsed.scheme().len()..];
    if matches!(parsed.scheme(), "http" | "https") && !after_scheme.starts_with("://") {
        return Err("does not have // after its scheme (http://host/…)");
    }
    let authority = after_scheme
        .strip_prefix("://")
        .map(|rest| rest.split(['/', '?']).next().unwrap_or_default());
    if authority.is_some_and(|a| a.contains('@'))
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err("has a user name or password (user@host), which a redirect URI may not have");
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_entra_refuses() {
        for bad in [
            "http://localhost:5000/cb#frag",
            "http://localhost:5000/cb#",
            "http://user@localhost:5000/cb",
            "http://user:pw@localhost/cb",
            "http://@localhost/cb",
            "http:localhost:5000/cb",
            "http:/localhost:5000/cb",
            "http://local\thost:5000/cb",
            "http://localhost:5000/c\tb",
            "http://localhost:5000/cb\n",
            "http://localhost:5000/c b",
            "http:\\\\localhost/cb",
            "https://app.example/cb#x",
        ] {
            assert!(redirect_uri_syntax(bad).is_err(), "{bad:?}");
        }
        for good in [
            "http://localhost",
            "http://localhost:5000/getAToken",
            "http://127.0.0.1:8400/cb?x=1",
            "https://app.example/cb",
            "msal6f1c5e8a-0000-4000-8000-0000000000a1://auth",
        ] {
            assert!(redirect_uri_syntax(good).is_ok(), "{good:?}");
        }
    }
}
