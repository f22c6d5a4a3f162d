//! What a prepared service was configured with, as plain data for the CLI's banner: the
//! registry's types stay private to the crate.

use crate::config::{Registry, TokenVersion};

/// The registrations a prepared service answers for.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The service's own base URL (`https://127.0.0.1:8443`).
    pub base: String,
    pub tenants: Vec<TenantSummary>,
    pub apps: Vec<AppSummary>,
    pub resources: Vec<ResourceSummary>,
    /// The directory's users, by user principal name, in configuration order.
    pub users: Vec<String>,
    /// Apps that may list the users app-only through the Graph slice, with the role that lets
    /// each.
    pub user_readers: Vec<UserReader>,
    /// No tenant was configured: the service answers for [`crate::DEFAULT_TENANT`].
    pub default_tenant: bool,
}

/// A tenant: its GUID and DNS names.
#[derive(Debug, Clone)]
pub struct TenantSummary {
    pub id: String,
    pub domains: Vec<String>,
}

/// A registered app and the state of its credentials.
#[derive(Debug, Clone)]
pub struct AppSummary {
    pub client_id: String,
    pub display_name: String,
    /// The SHA-1 thumbprints of its certificates.
    pub thumbprints: Vec<String>,
    /// Certificates past notAfter (refused with AADSTS700027).
    pub expired_certificates: usize,
    pub secrets: usize,
    /// Secrets past their end date (refused with AADSTS7000222).
    pub expired_secrets: usize,
    /// A public client: no credential.
    pub public_client: bool,
    /// Where users who signed in are sent back.
    pub redirect_uris: Vec<String>,
}

/// A resource (API) tokens are issued for.
#[derive(Debug, Clone)]
pub struct ResourceSummary {
    pub app_id: String,
    pub display_name: String,
    pub identifier_uris: Vec<String>,
    /// The access-token version it gets: 1 or 2.
    pub token_version: u8,
    /// One of Microsoft's own resources, in every tenant (not from the config).
    pub microsoft: bool,
}

/// An app that may read the directory's users, and the Graph role that lets it.
#[derive(Debug, Clone)]
pub struct UserReader {
    pub client_id: String,
    pub display_name: String,
    pub role: String,
}

impl Summary {
    /// The summary of `registry` at `now` (seconds since 1970: which credentials expired).
    pub(crate) fn of(registry: &Registry, base: &str, now: i64) -> Summary {
        Summary {
            base: base.to_string(),
            tenants: registry
                .tenants
                .iter()
                .map(|t| TenantSummary {
                    id: t.id.clone(),
                    domains: t.domains.clone(),
                })
                .collect(),
            apps: registry
                .apps
                .iter()
                .map(|a| AppSummary {
                    client_id: a.client_id.clone(),
                    display_name: a.display_name.clone(),
                    thumbprints: a
                        .certificates
                        .iter()
                        .map(|c| c.thumbprints.thumbprint())
                        .collect(),
                    expired_certificates: a
                        .certificates
                        .iter()
                        .filter(|c| c.not_after.unix_timestamp() <= now)
                        .count(),
                    secrets: a.secrets.len(),
                    expired_secrets: a.secrets.iter().filter(|s| s.expired_at(now)).count(),
                    public_client: a.public_client,
                    redirect_uris: a.redirect_uris.clone(),
                })
                .collect(),
            resources: registry
                .resources
                .iter()
                .map(|r| ResourceSummary {
                    app_id: r.app_id.clone(),
                    display_name: r.display_name.clone(),
                    identifier_uris: r.identifier_uris.clone(),
                    token_version: match r.token_version {
                        TokenVersion::V1 => 1,
                        TokenVersion::V2 => 2,
                    },
                    microsoft: crate::config::microsoft::is_microsoft(&r.app_id),
                })
                .collect(),
            users: registry
                .users
                .iter()
                .map(|u| u.user_principal_name.clone())
                .collect(),
            user_readers: crate::graph::user_readers(registry)
                .into_iter()
                .map(|(a, role)| UserReader {
                    client_id: a.client_id.clone(),
                    display_name: a.display_name.clone(),
                    role: role.to_string(),
                })
                .collect(),
            default_tenant: registry.default_tenant,
        }
    }
}
