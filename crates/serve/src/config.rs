//! The registrations the token service knows: tenants, applications (with their certificates,
//! secrets and granted app roles) and resource APIs — from command-line flags and a TOML file.
//!
//! Secrets are never written in the file or on the command line: the file and the flags name
//! environment variables, read once at start.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Credential, Result, ServeError};
use certgen::authority::is_dns_name;
use certgen::certificate::{CertKey, Certificate};
use certgen::input;
use certgen::read;
use certgen::secret::{Secret, SecretSource};

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
    /// Delegated scopes consented for the app, by resource app id (`[app.delegated]`).
    pub delegated: HashMap<String, Vec<String>>,
}

/// A client secret of an app, with its end date as Entra records one (`endDateTime`).
#[derive(Debug, Clone)]
pub struct AppSecret {
    pub value: Secret,
    /// `None`: never expires (`--app-secret`, or a plain name in `secret_env`).
    pub expires: Option<OffsetDateTime>,
}

impl AppSecret {
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
}

/// Everything registered.
#[derive(Debug, Clone)]
pub struct Registry {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) apps: Vec<App>,
    pub(crate) resources: Vec<Resource>,
    /// The directory's users, in the file's order (Graph's `/v1.0/users`).
    pub(crate) users: Vec<User>,
    /// True when no tenant was given and [`DEFAULT_TENANT`] stands in.
    pub(crate) default_tenant: bool,
}

/// Registrations given as flags.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--tenant`: GUIDs or DNS names.
    pub tenants: Vec<String>,
    /// `--app CLIENT_ID=CERT_FILE`.
    pub app_certs: Vec<(String, PathBuf)>,
    /// `--app-secret CLIENT_ID=ENV_VAR`.
    pub app_secrets: Vec<(String, String)>,
}

/// The TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    tenant: Vec<TenantEntry>,
    #[serde(default)]
    app: Vec<AppEntry>,
    #[serde(default)]
    resource: Vec<ResourceEntry>,
    #[serde(default)]
    user: Vec<UserEntry>,
}

/// One `[[user]]`: snake_case keys like the rest of the file; Graph's camelCase in answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    /// Default: derived from the user principal name, so it is stable across runs.
    id: Option<String>,
    user_principal_name: String,
    display_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    mail: Option<String>,
    job_title: Option<String>,
    mobile_phone: Option<String>,
    office_location: Option<String>,
    preferred_language: Option<String>,
    #[serde(default)]
    business_phones: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantEntry {
    /// GUID, or a DNS name when the tenant is known by name only.
    id: String,
    #[serde(default)]
    domains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppEntry {
    client_id: String,
    display_name: Option<String>,
    object_id: Option<String>,
    /// Default: derived from the client id, distinct from the service principal's object_id.
    application_object_id: Option<String>,
    /// Certificate files, relative to the config file.
    #[serde(default)]
    certificates: Vec<PathBuf>,
    /// Environment variables holding client secrets, each a name or `{ var, expires }`.
    #[serde(default)]
    secret_env: Vec<SecretEnvEntry>,
    /// Resource (app id or identifier URI) → granted app roles.
    #[serde(default)]
    roles: HashMap<String, Vec<String>>,
    /// Where `/authorize` may redirect: absolute URLs, https (or http on a loopback host).
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    public_client: bool,
    /// Resource (app id or identifier URI) → consented delegated scopes.
    #[serde(default)]
    delegated: HashMap<String, Vec<String>>,
}

/// One `secret_env` entry: `"NAME"`, or `{ var = "NAME", expires = 2025-01-01T00:00:00Z }`
/// (the time quoted or as a TOML date-time), so a secret past its end date can be modelled.
#[derive(Debug)]
struct SecretEnvEntry {
    var: String,
    expires: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretEnvTable {
    var: String,
    expires: Option<toml::Value>,
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
struct ResourceEntry {
    app_id: String,
    display_name: Option<String>,
    #[serde(default)]
    identifier_uris: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    /// Delegated scopes the API exposes (`api://orders/Orders.Read` → `Orders.Read`).
    #[serde(default)]
    scopes: Vec<String>,
    access_token_version: Option<u8>,
}

impl Registry {
    /// Builds the registry from an optional TOML file and the flags; `env` reads environment
    /// variables (a parameter so tests need not touch the process environment).
    pub fn load(
        config: Option<&Path>,
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Registry> {
        match config {
            Some(path) => {
                let bytes = read::input(path, read::CONFIG)?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    ServeError::Invalid(format!("{}: not UTF-8 text", path.display()))
                })?;
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                Registry::from_toml(&text, &path.display().to_string(), &dir, flags, env)
            }
            None => Registry::build(ConfigFile::default(), Path::new(""), flags, env),
        }
    }

    /// Builds the registry from the text of a config file (`name` for messages; paths in it are
    /// relative to `base_dir`) and the flags.
    pub fn from_toml(
        text: &str,
        name: &str,
        base_dir: &Path,
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Registry> {
        Registry::build(parse_config(text, name)?, base_dir, flags, env)
    }

    fn build(
        file: ConfigFile,
        base_dir: &Path,
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Registry> {
        let (tenants, default_tenant) = tenants(&file, flags)?;
        let resources = resources(&file)?;
        let mut apps: Vec<App> = Vec::new();
        for a in &file.app {
            let client_id = guid(&a.client_id, "app client_id")?;
            if apps.iter().any(|x| x.client_id == client_id) {
                return Err(ServeError::Invalid(format!(
                    "app {client_id} is registered twice in the config file"
                )));
            }
            apps.push(app_from_file(&client_id, a, base_dir, &resources, env)?);
        }
        add_flag_apps(&mut apps, flags, env)?;
        for app in &apps {
            if app.public_client && !(app.certificates.is_empty() && app.secrets.is_empty()) {
                return Err(ServeError::Invalid(format!(
                    "app {} is a public client (public_client = true) and also has a \
                     credential; Entra refuses a credential from a public client (AADSTS700025)",
                    app.client_id
                )));
            }
            if !app.public_client && app.certificates.is_empty() && app.secrets.is_empty() {
                return Err(ServeError::Invalid(format!(
                    "app {} has no certificate and no secret, so no client could sign in as it",
                    app.client_id
                )));
            }
        }
        let users = load_users(&file.user)?;
        Ok(Registry {
            tenants,
            apps,
            resources,
            users,
            default_tenant,
        })
    }

    /// The tenant named by a URL segment or an `aud` value: its GUID or one of its domains.
    pub(crate) fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| {
            t.id.eq_ignore_ascii_case(name)
                || t.domains.iter().any(|d| d.eq_ignore_ascii_case(name))
        })
    }

    /// The app whose application object has this id (Graph's `/applications/{id}`).
    pub(crate) fn app_by_object_id(&self, id: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| a.application_object_id.eq_ignore_ascii_case(id))
    }

    /// A directory user by object id or user principal name (Graph's `/users/{key}`).
    pub(crate) fn user(&self, key: &str) -> Option<&User> {
        self.users.iter().find(|u| {
            u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key)
        })
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.apps
            .iter()
            .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The resource a scope or `resource=` value names: its app id or an identifier URI.
    pub(crate) fn resource(&self, name: &str) -> Option<&Resource> {
        find_resource(&self.resources, name)
    }
}

fn find_resource<'a>(resources: &'a [Resource], name: &str) -> Option<&'a Resource> {
    // Entra tolerates a trailing slash on identifier URIs (`https://graph.microsoft.com//.default`).
    let wanted = name.trim_end_matches('/');
    resources.iter().find(|r| {
        r.app_id.eq_ignore_ascii_case(wanted)
            || r.identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(wanted))
    })
}

fn add_tenant(tenants: &mut Vec<Tenant>, name: &str, domains: &[String]) -> Result<()> {
    let name = name.trim();
    let (id, mut domains) = if let Ok(u) = uuid::Uuid::parse_str(name) {
        (u.hyphenated().to_string(), domains.to_vec())
    } else if is_dns_name(name) {
        let mut d = vec![name.to_ascii_lowercase()];
        d.extend(domains.iter().cloned());
        (name_based_guid(&name.to_ascii_lowercase()), d)
    } else {
        return Err(ServeError::Argument(format!(
            "tenant '{name}' is neither a GUID nor a DNS name"
        )));
    };
    for d in &domains {
        if !is_dns_name(d) {
            return Err(ServeError::Invalid(format!(
                "tenant {id}: domain '{d}' is not a DNS name"
            )));
        }
    }
    domains.iter_mut().for_each(|d| d.make_ascii_lowercase());
    if let Some(existing) = tenants.iter_mut().find(|t| t.id == id) {
        for d in domains {
            if !existing.domains.contains(&d) {
                existing.domains.push(d);
            }
        }
    } else {
        tenants.push(Tenant { id, domains });
    }
    Ok(())
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

fn guid(value: &str, what: &str) -> Result<String> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ServeError::Argument(format!("{what} '{value}' is not a GUID")))
}

/// The client id of a credential given as a flag: a GUID, or a typed error the CLI names the
/// flag in.
fn flag_client_id(value: &str, credential: Credential) -> Result<String> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ServeError::BadClientId {
            value: value.to_string(),
            credential,
        })
}

fn new_app(client_id: &str) -> App {
    App {
        client_id: client_id.to_string(),
        display_name: format!("app {client_id}"),
        object_id: name_based_guid(&format!("service principal {client_id}")),
        application_object_id: name_based_guid(&format!("application {client_id}")),
        certificates: Vec::new(),
        secrets: Vec::new(),
        roles: HashMap::new(),
        redirect_uris: Vec::new(),
        public_client: false,
        delegated: HashMap::new(),
    }
}

fn load_users(entries: &[UserEntry]) -> Result<Vec<User>> {
    let mut users: Vec<User> = Vec::new();
    for u in entries {
        let upn = u.user_principal_name.trim();
        if !upn.contains('@') {
            return Err(ServeError::Invalid(format!(
                "user '{upn}': user_principal_name must look like name@domain"
            )));
        }
        let id = match &u.id {
            Some(id) => guid(id, "user id")?,
            None => name_based_guid(&format!("user {}", upn.to_ascii_lowercase())),
        };
        if users
            .iter()
            .any(|x| x.id == id || x.user_principal_name.eq_ignore_ascii_case(upn))
        {
            return Err(ServeError::Invalid(format!(
                "user {upn} ({id}) is listed twice in the config file"
            )));
        }
        users.push(User {
            id,
            user_principal_name: upn.to_string(),
            display_name: u.display_name.clone(),
            given_name: u.given_name.clone(),
            surname: u.surname.clone(),
            mail: u.mail.clone(),
            job_title: u.job_title.clone(),
            mobile_phone: u.mobile_phone.clone(),
            office_location: u.office_location.clone(),
            preferred_language: u.preferred_language.clone(),
            business_phones: u.business_phones.clone(),
        });
    }
    Ok(users)
}

fn app_entry<'a>(apps: &'a mut Vec<App>, client_id: &str) -> &'a mut App {
    let index = match apps.iter().position(|a| a.client_id == client_id) {
        Some(i) => i,
        None => {
            apps.push(new_app(client_id));
            apps.len() - 1
        }
    };
    &mut apps[index]
}

/// The TOML file, parsed; a secret written in it is refused with a hint to name a variable.
fn parse_config(text: &str, name: &str) -> Result<ConfigFile> {
    toml::from_str(text).map_err(|e| {
        let message = format!("{name}: {}", e.message().trim_end_matches('.'));
        if e.message().contains("unknown field `secret") {
            ServeError::SecretInConfig { message }
        } else {
            ServeError::Invalid(message)
        }
    })
}

/// The file's tenants, then the flags' ones; [`DEFAULT_TENANT`] when there are none (`true`).
fn tenants(file: &ConfigFile, flags: &Flags) -> Result<(Vec<Tenant>, bool)> {
    let mut tenants: Vec<Tenant> = Vec::new();
    for t in &file.tenant {
        add_tenant(&mut tenants, &t.id, &t.domains)?;
    }
    for t in &flags.tenants {
        add_tenant(&mut tenants, t, &[])?;
    }
    let default_tenant = tenants.is_empty();
    if default_tenant {
        add_tenant(&mut tenants, DEFAULT_TENANT, &[])?;
    }
    Ok((tenants, default_tenant))
}

/// Microsoft Graph, always there, then the file's resources.
fn resources(file: &ConfigFile) -> Result<Vec<Resource>> {
    let mut resources = vec![Resource {
        app_id: GRAPH_APP_ID.into(),
        display_name: "Microsoft Graph".into(),
        identifier_uris: vec![GRAPH_URI.into()],
        roles: Vec::new(),
        scopes: Vec::new(),
        // Graph's tokens are v1 (`ver` 1.0, `aud` https://graph.microsoft.com), as live.
        token_version: TokenVersion::V1,
    }];
    for r in &file.resource {
        let app_id = guid(&r.app_id, "resource app_id")?;
        if resources.iter().any(|x| x.app_id == app_id) {
            return Err(ServeError::Invalid(format!(
                "resource {app_id} is registered twice"
            )));
        }
        let token_version = match r.access_token_version {
            None | Some(1) => TokenVersion::V1,
            Some(2) => TokenVersion::V2,
            Some(v) => {
                return Err(ServeError::Invalid(format!(
                    "resource {app_id}: access_token_version {v} is not 1 or 2"
                )))
            }
        };
        resources.push(Resource {
            display_name: r.display_name.clone().unwrap_or_else(|| app_id.clone()),
            app_id,
            identifier_uris: r.identifier_uris.clone(),
            roles: r.roles.clone(),
            scopes: r.scopes.clone(),
            token_version,
        });
    }
    Ok(resources)
}

/// One `[[app]]` of the file: its certificates (relative to the file's folder), its secrets
/// (read from the environment now) and its granted roles.
fn app_from_file(
    client_id: &str,
    a: &AppEntry,
    base_dir: &Path,
    resources: &[Resource],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<App> {
    let mut app = new_app(client_id);
    if let Some(n) = &a.display_name {
        app.display_name = n.clone();
    }
    if let Some(oid) = &a.object_id {
        app.object_id = guid(oid, "app object_id")?;
    }
    if let Some(id) = &a.application_object_id {
        app.application_object_id = guid(id, "app application_object_id")?;
    }
    if app.application_object_id == app.object_id {
        return Err(ServeError::Invalid(format!(
            "app {client_id}: application_object_id and object_id are the same; in Entra the \
             application object and its service principal are two objects"
        )));
    }
    for c in &a.certificates {
        let path = if c.is_absolute() {
            c.clone()
        } else {
            base_dir.join(c)
        };
        app.certificates
            .extend(load_certificates(client_id, &path)?);
    }
    for entry in &a.secret_env {
        app.secrets.push(AppSecret {
            value: secret_from_env(client_id, &entry.var, env)?,
            expires: entry
                .expires
                .as_ref()
                .map(|e| expiry(client_id, &entry.var, e))
                .transpose()?,
        });
    }
    for (resource, roles) in &a.roles {
        grant(&mut app, resources, resource, roles, Permission::Role)?;
    }
    for (resource, scopes) in &a.delegated {
        grant(&mut app, resources, resource, scopes, Permission::Scope)?;
    }
    for uri in &a.redirect_uris {
        app.redirect_uris.push(redirect_uri(client_id, uri)?);
    }
    app.public_client = a.public_client;
    Ok(app)
}

/// What an app is given on a resource: app roles (`[app.roles]`, application permissions) or
/// delegated scopes (`[app.delegated]`).
#[derive(Clone, Copy)]
enum Permission {
    Role,
    Scope,
}

impl Permission {
    /// What the resource defines of this kind; empty means "any" (Microsoft Graph here).
    fn defined(self, r: &Resource) -> &[String] {
        match self {
            Permission::Role => &r.roles,
            Permission::Scope => &r.scopes,
        }
    }

    /// Roles match as written (they are copied into `roles` claims); scope names, as Entra
    /// reads a `scope` parameter, in any case.
    fn same(self, a: &str, b: &str) -> bool {
        match self {
            Permission::Role => a == b,
            Permission::Scope => a.eq_ignore_ascii_case(b),
        }
    }
}

/// Gives `app` the `names` (roles or scopes, per `kind`) of `resource` (app id or identifier
/// URI); each must be one the resource defines, and a scope a bare name.
fn grant(
    app: &mut App,
    resources: &[Resource],
    resource: &str,
    names: &[String],
    kind: Permission,
) -> Result<()> {
    let client_id = &app.client_id;
    let (given, one, defined) = match kind {
        Permission::Role => ("roles are granted", "role", "defined"),
        Permission::Scope => ("delegated scopes are consented", "scope", "exposed"),
    };
    let Some(r) = find_resource(resources, resource) else {
        return Err(ServeError::UnknownResource {
            message: format!(
                "app {client_id}: {given} on '{resource}', which is not a registered resource"
            ),
        });
    };
    for name in names {
        let bare = !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('/');
        if matches!(kind, Permission::Scope) && !bare {
            return Err(ServeError::Invalid(format!(
                "app {client_id}: delegated scope '{name}' must be a bare scope name such as \
                 User.Read (the resource is the table key)"
            )));
        }
        let list = kind.defined(r);
        if !list.is_empty() && !list.iter().any(|d| kind.same(d, name)) {
            return Err(ServeError::Invalid(format!(
                "app {client_id}: {one} '{name}' is not {defined} by resource '{}'",
                r.display_name
            )));
        }
    }
    let map = match kind {
        Permission::Role => &mut app.roles,
        Permission::Scope => &mut app.delegated,
    };
    map.entry(r.app_id.clone())
        .or_default()
        .extend(names.iter().cloned());
    Ok(())
}

/// A registered redirect URI, checked as Entra's portal checks one: an absolute URL with no
/// fragment, https — or http on a loopback host, the only place Entra allows it.
fn redirect_uri(client_id: &str, uri: &str) -> Result<String> {
    let bad =
        |why: &str| ServeError::Invalid(format!("app {client_id}: redirect URI '{uri}' {why}"));
    let parsed = url::Url::parse(uri).map_err(|e| bad(&format!("is not an absolute URL ({e})")))?;
    if parsed.fragment().is_some() {
        return Err(bad(
            "has a fragment (#…), which a redirect URI may not have",
        ));
    }
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback_url(&parsed) => {}
        "http" => return Err(bad("uses http on a host other than localhost")),
        // Custom schemes (msal{client_id}://auth) are what desktop and mobile apps register.
        _ if parsed.cannot_be_a_base() => return Err(bad("is not a URL with a path")),
        _ => {}
    }
    Ok(uri.to_string())
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

/// `--app CLIENT_ID=CERT_FILE` and `--app-secret CLIENT_ID=ENV_VAR`: added to the app of that
/// id (from the file or an earlier flag), or to a new one.
fn add_flag_apps(
    apps: &mut Vec<App>,
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    for (client_id, path) in &flags.app_certs {
        let client_id = flag_client_id(client_id, Credential::Certificate)?;
        let certs = load_certificates(&client_id, path)?;
        app_entry(apps, &client_id).certificates.extend(certs);
    }
    for (client_id, var) in &flags.app_secrets {
        let client_id = flag_client_id(client_id, Credential::Secret)?;
        let value = secret_from_env(&client_id, var, env)?;
        app_entry(apps, &client_id).secrets.push(AppSecret {
            value,
            expires: None,
        });
    }
    Ok(())
}

/// The certificates of a file (any format certgen reads; a key in the same file is ignored).
/// Entra accepts only RSA credentials, so anything else is refused here rather than at sign-in.
fn load_certificates(client_id: &str, path: &Path) -> Result<Vec<Certificate>> {
    let material = input::load(path, &SecretSource::default())?;
    if material.certs.is_empty() {
        return Err(ServeError::Invalid(format!(
            "{}: no certificate in the file (app {client_id} needs the public certificate)",
            path.display()
        )));
    }
    for c in &material.certs {
        if let CertKey::Other(kind) = &c.key {
            return Err(ServeError::Invalid(format!(
                "{}: the certificate holds an {kind} key; Entra accepts only RSA",
                path.display()
            )));
        }
    }
    Ok(material.certs)
}

fn secret_from_env(
    client_id: &str,
    var: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret> {
    match env(var) {
        Some(v) if !v.is_empty() => Ok(Secret::new(v)),
        // Named only when it looks like a variable name: what is given here is often the
        // secret itself, pasted where its variable's name belongs.
        _ if looks_like_env_name(var) => Err(ServeError::MissingSecret {
            var: var.into(),
            client_id: client_id.into(),
        }),
        _ => Err(ServeError::SecretNotVariableName {
            client_id: client_id.into(),
        }),
    }
}

/// An environment variable name by convention: upper-case letters, digits and `_`, not
/// starting with a digit. Client secrets (`Abc8Q~…`) and passwords are not of this form.
fn looks_like_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// A secret's `expires`: an RFC 3339 time with an offset, quoted or as a TOML date-time.
fn expiry(client_id: &str, var: &str, value: &toml::Value) -> Result<OffsetDateTime> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => other.to_string(),
    };
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| {
        ServeError::Invalid(format!(
            "app {client_id}: expires '{text}' of secret {var} is not an RFC 3339 time with \
             an offset, such as 2025-01-01T00:00:00Z"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn default_tenant_and_graph() {
        let r = Registry::load(None, &Flags::default(), &no_env).unwrap();
        assert!(r.default_tenant);
        assert_eq!(r.tenants[0].id, DEFAULT_TENANT);
        assert_eq!(
            r.resource("https://graph.microsoft.com/").unwrap().app_id,
            GRAPH_APP_ID
        );
        assert!(r.resource(GRAPH_APP_ID).is_some());
    }

    #[test]
    fn tenants_by_name_keep_a_stable_id() {
        let flags = Flags {
            tenants: vec!["Contoso.onmicrosoft.com".into()],
            ..Flags::default()
        };
        let a = Registry::load(None, &flags, &no_env).unwrap();
        let b = Registry::load(None, &flags, &no_env).unwrap();
        assert_eq!(a.tenants[0].id, b.tenants[0].id);
        assert!(a.tenant("contoso.onmicrosoft.com").is_some());
        assert!(a.tenant(&a.tenants[0].id.to_uppercase()).is_some());
        let bad = Flags {
            tenants: vec!["not a tenant".into()],
            ..Flags::default()
        };
        assert!(Registry::load(None, &bad, &no_env).is_err());
    }

    #[test]
    fn secrets_come_from_the_environment() {
        let flags = Flags {
            app_secrets: vec![("AAAAAAAA-0000-0000-0000-000000000001".into(), "S".into())],
            ..Flags::default()
        };
        assert!(Registry::load(None, &flags, &no_env).is_err());
        let env = |v: &str| (v == "S").then(|| "shh".to_string());
        let r = Registry::load(None, &flags, &env).unwrap();
        let app = r.app("aaaaaaaa-0000-0000-0000-000000000001").unwrap();
        assert_eq!(app.secrets[0].value.expose(), "shh");
        assert!(app.secrets[0].expires.is_none());
    }

    #[test]
    fn config_file_roles_and_resources() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(
            &path,
            r#"
[[tenant]]
id = "22222222-2222-2222-2222-222222222222"
domains = ["fabrikam.example"]

[[resource]]
app_id = "33333333-3333-3333-3333-333333333333"
identifier_uris = ["api://orders"]
roles = ["Orders.Read"]
access_token_version = 2

[[app]]
client_id = "44444444-4444-4444-4444-444444444444"
secret_env = ["ORDERS_SECRET"]
[app.roles]
"api://orders" = ["Orders.Read"]
"#,
        )
        .unwrap();
        let env = |_: &str| Some("x".to_string());
        let r = Registry::load(Some(&path), &Flags::default(), &env).unwrap();
        assert!(!r.default_tenant);
        assert!(r.tenant("FABRIKAM.example").is_some());
        let app = r.app("44444444-4444-4444-4444-444444444444").unwrap();
        assert_eq!(
            app.roles["33333333-3333-3333-3333-333333333333"],
            vec!["Orders.Read".to_string()]
        );
        assert_eq!(
            r.resource("api://orders").unwrap().token_version,
            TokenVersion::V2
        );

        std::fs::write(
            &path,
            "[[app]]\nclient_id = \"44444444-4444-4444-4444-444444444444\"\nsecret = \"x\"\n",
        )
        .unwrap();
        let err = Registry::load(Some(&path), &Flags::default(), &env).unwrap_err();
        assert!(matches!(err, ServeError::SecretInConfig { .. }), "{err:?}");
    }

    #[test]
    fn secrets_may_carry_an_end_date() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        let app = "44444444-4444-4444-4444-444444444444";
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Registry::load(Some(&path), &Flags::default(), &|_| Some("x".to_string()))
        };
        // Plain names, inline tables, and the table-array form; quoted or TOML date-times.
        let r = load(&format!(
            "[[app]]\nclient_id = \"{app}\"\nsecret_env = [\"NEW\", \
             {{ var = \"OLD\", expires = \"2025-01-01T00:00:00Z\" }}, \
             {{ var = \"LATER\", expires = 2099-12-31T23:59:59+01:00 }}]\n"
        ))
        .unwrap();
        let s = &r.app(app).unwrap().secrets;
        assert_eq!(s.len(), 3);
        let jan_2025 = 1_735_689_600;
        assert_eq!(s[1].expires.unwrap().unix_timestamp(), jan_2025);
        assert!(!s[0].expired_at(jan_2025));
        assert!(s[1].expired_at(jan_2025) && !s[1].expired_at(jan_2025 - 1));
        assert!(!s[2].expired_at(jan_2025));

        let r = load(&format!(
            "[[app]]\nclient_id = \"{app}\"\n[[app.secret_env]]\nvar = \"OLD\"\n\
             expires = 2020-06-01T00:00:00Z\n"
        ))
        .unwrap();
        assert!(r.app(app).unwrap().secrets[0].expired_at(1_600_000_000));

        for bad in [
            "expires = \"next year\"",
            "expires = 2025-01-01",
            "expire = \"2025-01-01T00:00:00Z\"",
        ] {
            let err = load(&format!(
                "[[app]]\nclient_id = \"{app}\"\n[[app.secret_env]]\nvar = \"OLD\"\n{bad}\n"
            ))
            .unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("RFC 3339") || text.contains("expire"),
                "{bad}: {text}"
            );
        }
    }
}
