//! The TOML file's schema: serde structs mirroring the file (unknown fields refused, so a
//! `secret = "…"` written in the file is caught), parsed in one place.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::{Result, ServeError};

/// The TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfigFile {
    /// JSON Lines of Graph user objects, relative to the config file (see `users_file`).
    pub(super) users_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) tenant: Vec<TenantEntry>,
    #[serde(default)]
    pub(super) app: Vec<AppEntry>,
    #[serde(default)]
    pub(super) resource: Vec<ResourceEntry>,
    #[serde(default)]
    pub(super) user: Vec<UserEntry>,
    #[serde(default)]
    pub(super) subscription: Vec<SubscriptionEntry>,
    #[serde(default)]
    pub(super) workload: Vec<super::workloads::WorkloadEntry>,
    /// Outside token issuers trusted with a local key set (workload identity federation).
    #[serde(default)]
    pub(super) issuer: Vec<IssuerEntry>,
    #[serde(default)]
    pub(super) managed_identity: Vec<ManagedIdentityEntry>,
}

/// One `[[issuer]]`: tokens whose `iss` is exactly `url` are verified with the keys of
/// `jwks_file` (relative to the config file), so a real issuer's name can be rehearsed offline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssuerEntry {
    pub(super) url: String,
    pub(super) jwks_file: PathBuf,
}

/// One `[[app.federated]]`: a federated identity credential of the app.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FederatedEntry {
    pub(super) name: String,
    pub(super) issuer: String,
    pub(super) subject: String,
    /// Default: `["api://AzureADTokenExchange"]`, as Entra's portal fills it in.
    pub(super) audiences: Option<Vec<String>>,
    pub(super) description: Option<String>,
}

/// One `[[managed_identity]]`: a system- or user-assigned managed identity, whose tokens the
/// platform endpoints (App Service, IMDS) give (see `config::managed_identities`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ManagedIdentityEntry {
    /// `"system"` or `"user"`.
    pub(super) kind: String,
    pub(super) client_id: String,
    /// The service principal's object id; default: derived from the client id.
    pub(super) principal_id: Option<String>,
    /// The Azure resource id (`xms_mirid`): required for a user-assigned identity.
    pub(super) resource_id: Option<String>,
    pub(super) display_name: Option<String>,
    /// GUID or domain of a `[[tenant]]`; default: the first tenant.
    pub(super) tenant: Option<String>,
    /// Resource (app id or identifier URI) → granted app roles, as an app's `[app.roles]`.
    #[serde(default)]
    pub(super) roles: HashMap<String, Vec<String>>,
}

/// One `[[subscription]]`: what Resource Manager lists to `az login` (`GET /subscriptions`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubscriptionEntry {
    /// GUID.
    pub(super) id: String,
    pub(super) display_name: Option<String>,
    /// The tenant it belongs to (GUID or domain); default: the first tenant.
    pub(super) tenant: Option<String>,
}

/// One `[[user]]`: snake_case keys like the rest of the file; Graph's camelCase in answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserEntry {
    /// Default: derived from the user principal name, so it is stable across runs.
    pub(super) id: Option<String>,
    pub(super) user_principal_name: String,
    pub(super) display_name: Option<String>,
    pub(super) given_name: Option<String>,
    pub(super) surname: Option<String>,
    pub(super) mail: Option<String>,
    pub(super) job_title: Option<String>,
    pub(super) mobile_phone: Option<String>,
    pub(super) office_location: Option<String>,
    pub(super) preferred_language: Option<String>,
    #[serde(default)]
    pub(super) business_phones: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TenantEntry {
    /// GUID, or a DNS name when the tenant is known by name only.
    pub(super) id: String,
    #[serde(default)]
    pub(super) domains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppEntry {
    pub(super) client_id: String,
    pub(super) display_name: Option<String>,
    pub(super) object_id: Option<String>,
    /// Default: derived from the client id, distinct from the service principal's object_id.
    pub(super) application_object_id: Option<String>,
    /// Certificate files, relative to the config file.
    #[serde(default)]
    pub(super) certificates: Vec<PathBuf>,
    /// Environment variables holding client secrets, each a name or `{ var, expires }`.
    #[serde(default)]
    pub(super) secret_env: Vec<SecretEnvEntry>,
    /// Resource (app id or identifier URI) → granted app roles.
    #[serde(default)]
    pub(super) roles: HashMap<String, Vec<String>>,
    /// Where `/authorize` may redirect: absolute URLs, https (or http on a loopback host).
    #[serde(default)]
    pub(super) redirect_uris: Vec<String>,
    #[serde(default)]
    pub(super) public_client: bool,
    /// Resource (app id or identifier URI) → consented delegated scopes.
    #[serde(default)]
    pub(super) delegated: HashMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) federated: Vec<FederatedEntry>,
}

/// One `secret_env` entry: `"NAME"`, or `{ var = "NAME", expires = 2025-01-01T00:00:00Z }`
/// (the time quoted or as a TOML date-time), so a secret past its end date can be modelled.
#[derive(Debug)]
pub(super) struct SecretEnvEntry {
    pub(super) var: String,
    pub(super) expires: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecretEnvTable {
    pub(super) var: String,
    pub(super) expires: Option<toml::Value>,
}

impl<'de> Deserialize<'de> for SecretEnvEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = SecretEnvEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an environment variable name, or a table with var and expires \
                     (RFC 3339, e.g. 2025-01-01T00:00:00Z)",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<SecretEnvEntry, E> {
                Ok(SecretEnvEntry {
                    var: v.to_string(),
                    expires: None,
                })
            }
            // A table goes through a derived struct, so unknown keys get serde's usual message.
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<SecretEnvEntry, A::Error> {
                let t = SecretEnvTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(SecretEnvEntry {
                    var: t.var,
                    expires: t.expires,
                })
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResourceEntry {
    pub(super) app_id: String,
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) identifier_uris: Vec<String>,
    #[serde(default)]
    pub(super) roles: Vec<String>,
    /// Delegated scopes the API exposes (`api://orders/Orders.Read` → `Orders.Read`).
    #[serde(default)]
    pub(super) scopes: Vec<String>,
    pub(super) access_token_version: Option<u8>,
}

/// The 1-based line and column (in characters) of byte `offset` in `text`, as editors count.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The TOML file, parsed; a secret written in it is refused with a hint to name a variable.
pub(super) fn parse_config(text: &str, name: &str) -> Result<ConfigFile> {
    toml::from_str(text).map_err(|e| {
        // `name:line:column: message`, as compilers and editors print a position.
        let what = e.message().trim_end_matches('.');
        let message = match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                format!("{name}:{line}:{column}: {what}")
            }
            None => format!("{name}: {what}"),
        };
        if what.contains("unknown field `secret") {
            ServeError::SecretInConfig { message }
        } else {
            ServeError::Invalid(message)
        }
    })
}
