//! What a prepared service answers for, as plain data for the CLI's banner: counts and the
//! first few of each kind, read from the directory (so objects made through Graph show, and a
//! start that did not parse the config has the same banner). The directory's types stay
//! private to the crate.

use std::collections::HashSet;

use crate::config::microsoft::permission_id;
use crate::config::TokenVersion;
use crate::directory::objects::str_of;
use crate::directory::{Directory, Kind, StoreResult};
use certgen::graph::cloud::GRAPH_APP_ID;
use certgen::graph::permissions::READ_USERS;

/// How many of each kind the summary names; the rest are counted.
pub const FIRST_FEW: usize = 5;

/// Applications looked at for the first few apps that hold a credential or sign users in
/// (resource-only applications, such as Microsoft Graph's, are passed over).
const APP_SCAN: usize = 200;

/// The registrations a prepared service answers for.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The service's own base URL (`https://127.0.0.1:8443`).
    pub base: String,
    /// The first few tenants, in the order made.
    pub tenants: Vec<TenantSummary>,
    pub tenant_count: u64,
    /// The first few apps with a credential or a sign-in (client apps).
    pub apps: Vec<AppSummary>,
    /// Every application object, resources' included.
    pub application_count: u64,
    /// The first few resources (applications with an identifier URI).
    pub resources: Vec<ResourceSummary>,
    /// More resources than [`Summary::resources`] lists.
    pub more_resources: bool,
    /// The first few users' user principal names, in the order made.
    pub users: Vec<String>,
    pub user_count: u64,
    /// The first few apps that may list the users app-only through the Graph slice, with the
    /// role that lets each.
    pub user_readers: Vec<UserReader>,
    pub user_reader_count: usize,
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
    /// The summary of `directory` at `now` (seconds since 1970: which credentials expired).
    /// Its cost does not grow with the directory, beyond the count queries and the Graph
    /// role assignments.
    pub(crate) fn of(
        directory: &Directory,
        base: &str,
        now: i64,
        default_tenant: bool,
    ) -> StoreResult<Summary> {
        let tenants = directory.tenants()?;
        let resource_ids = resource_ids(directory, FIRST_FEW + 1)?;
        Summary {
            base: base.to_string(),
            tenants: tenants
                .iter()
                .take(FIRST_FEW)
                .map(|t| TenantSummary {
                    id: t.id.clone(),
                    domains: t.domains.clone(),
                })
                .collect(),
            tenant_count: tenants.len() as u64,
            apps: apps(directory, now)?,
            application_count: directory.count(Kind::Application)?,
            resources: {
                // Microsoft's own, always (one banner line), then the tenant's first few.
                let microsoft: Vec<String> = crate::config::microsoft::resources()
                    .into_iter()
                    .map(|r| r.app_id)
                    .collect();
                let mut all = resources(directory, microsoft.iter())?;
                all.extend(resources(directory, resource_ids.iter().take(FIRST_FEW))?);
                all
            },
            more_resources: resource_ids.len() > FIRST_FEW,
            users: directory
                .page(Kind::User, None, FIRST_FEW)?
                .objects
                .iter()
                .map(|u| str_of(&u.doc, "userPrincipalName").to_string())
                .collect(),
            user_count: directory.count(Kind::User)?,
            user_readers: Vec::new(),
            user_reader_count: 0,
            default_tenant,
        }
        .with_user_readers(directory)
    }

    /// Apps given a Graph role that reads users: the assignments to Graph's service principal
    /// with one of those roles.
    fn with_user_readers(mut self, directory: &Directory) -> StoreResult<Summary> {
        let Some(graph) = directory
            .find(Kind::ServicePrincipal, "appId", GRAPH_APP_ID)?
            .into_iter()
            .next()
        else {
            return Ok(self);
        };
        let roles: Vec<(String, &str)> = READ_USERS
            .iter()
            .map(|r| (permission_id(GRAPH_APP_ID, r, false), *r))
            .collect();
        for a in directory.find(Kind::AppRoleAssignment, "resourceId", &graph.id)? {
            let id = str_of(&a.doc, "appRoleId");
            let Some((_, role)) = roles.iter().find(|(r, _)| r.eq_ignore_ascii_case(id)) else {
                continue;
            };
            self.user_reader_count += 1;
            if self.user_readers.len() >= FIRST_FEW {
                continue;
            }
            let principal = str_of(&a.doc, "principalId");
            if let Some(sp) = directory.get(Kind::ServicePrincipal, principal)? {
                self.user_readers.push(UserReader {
                    client_id: str_of(&sp.doc, "appId").to_string(),
                    display_name: str_of(&sp.doc, "displayName").to_string(),
                    role: role.to_string(),
                });
            }
        }
        Ok(self)
    }
}

/// The first few client apps: applications in the order made, read as the token endpoint
/// reads them, passing over those with no credential and no sign-in.
fn apps(directory: &Directory, now: i64) -> StoreResult<Vec<AppSummary>> {
    let mut out = Vec::new();
    for o in directory
        .page(Kind::Application, None, APP_SCAN)?
        .objects
        .iter()
    {
        if out.len() >= FIRST_FEW {
            break;
        }
        let Some(view) = directory.app(str_of(&o.doc, "appId"))? else {
            continue;
        };
        let a = &view.app;
        let client = !a.certificates.is_empty()
            || !a.secrets.is_empty()
            || a.public_client
            || !a.redirect_uris.is_empty();
        if !client {
            continue;
        }
        out.push(AppSummary {
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
        });
    }
    Ok(out)
}

/// The app ids of the first `limit` applications with an identifier URI, in the order made.
fn resource_ids(directory: &Directory, limit: usize) -> StoreResult<Vec<String>> {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    // An app with several identifier URIs comes once per URI: ask for enough rows.
    // Microsoft's four with identifier URIs come first in the index's order: skip past them.
    for o in directory.find_prefix(Kind::Application, "identifierUri", "", limit * 4 + 8)? {
        if ids.len() >= limit {
            break;
        }
        let app_id = str_of(&o.doc, "appId");
        if crate::config::microsoft::is_microsoft(app_id) {
            continue;
        }
        if seen.insert(o.id.clone()) {
            ids.push(app_id.to_string());
        }
    }
    Ok(ids)
}

fn resources<'a>(
    directory: &Directory,
    app_ids: impl Iterator<Item = &'a String>,
) -> StoreResult<Vec<ResourceSummary>> {
    let mut out = Vec::new();
    for app_id in app_ids {
        if let Some(r) = directory.resource(app_id)? {
            out.push(ResourceSummary {
                app_id: r.app_id.clone(),
                display_name: r.display_name.clone(),
                identifier_uris: r.identifier_uris.clone(),
                token_version: match r.token_version {
                    TokenVersion::V1 => 1,
                    TokenVersion::V2 => 2,
                },
                microsoft: crate::config::microsoft::is_microsoft(&r.app_id),
            });
        }
    }
    Ok(out)
}
