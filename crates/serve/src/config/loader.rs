//! Loading: the config file and the flags read, environment variables looked up, certificate
//! files loaded, every reference checked, and the [`Registry`] built.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::checks::{grant, guid, Permission};
use super::federated::FederatedCredential;
use super::flags::Flags;
use super::model::*;
use super::schema::*;
use super::sources::{self, sha256, Sources};
use super::users_file;
use crate::error::{Credential, Result, ServeError};
use certgen::authority::is_dns_name;
use certgen::certificate::{CertKey, Certificate};
use certgen::input;
use certgen::read;
use certgen::secret::{Secret, SecretSource};

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
                let bytes = read::input(path, read::CONFIG).map_err(too_large_hint)?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    ServeError::Invalid(format!("{}: not UTF-8 text", path.display()))
                })?;
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let mut sources = Sources::default();
                sources.file(path, sha256(text.as_bytes()));
                let file = parse_config(&text, &path.display().to_string())?;
                drop(text);
                Registry::build(file, &dir, flags, env, sources)
            }
            None => Registry::build(
                ConfigFile::default(),
                Path::new(""),
                flags,
                env,
                Sources::default(),
            ),
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
        Registry::build(
            parse_config(text, name)?,
            base_dir,
            flags,
            env,
            Sources::default(),
        )
    }

    fn build(
        file: ConfigFile,
        base_dir: &Path,
        flags: &Flags,
        env: &dyn Fn(&str) -> Option<String>,
        sources: Sources,
    ) -> Result<Registry> {
        let sources = RefCell::new(sources);
        let recorder = sources::recording(env, &sources);
        let env: &dyn Fn(&str) -> Option<String> = &recorder;
        let (tenants, default_tenant) = tenants(&file, flags)?;
        let resources = resources(&file)?;
        let mut apps: Vec<App> = Vec::new();
        let mut seen = HashSet::new();
        for a in &file.app {
            let client_id = guid(&a.client_id, "app client_id")?;
            if !seen.insert(client_id.clone()) {
                return Err(ServeError::Invalid(format!(
                    "app {client_id} is registered twice in the config file"
                )));
            }
            apps.push(app_from_file(
                &client_id, a, base_dir, &resources, env, &sources,
            )?);
        }
        add_flag_apps(&mut apps, flags, env, &sources)?;
        for app in &apps {
            if app.public_client && !(app.certificates.is_empty() && app.secrets.is_empty()) {
                return Err(ServeError::Invalid(format!(
                    "app {} is a public client (public_client = true) and also has a \
                     credential; Entra refuses a credential from a public client (AADSTS700025)",
                    app.client_id
                )));
            }
            if app.public_client && !app.federated.is_empty() {
                return Err(ServeError::Invalid(format!(
                    "app {} is a public client (public_client = true) and also has federated \
                     credentials; a public client presents no credential",
                    app.client_id
                )));
            }
            if !app.public_client
                && app.certificates.is_empty()
                && app.secrets.is_empty()
                && app.federated.is_empty()
            {
                return Err(ServeError::Invalid(format!(
                    "app {} has no certificate, no secret and no federated credential, so no \
                     client could sign in as it",
                    app.client_id
                )));
            }
        }
        let mut users = Users::default();
        for u in &file.user {
            users.add(u).map_err(|(upn, why)| {
                ServeError::Invalid(format!("user '{upn}': {why} (in the config file)"))
            })?;
        }
        if let Some(f) = &file.users_file {
            let path = if f.is_absolute() {
                f.clone()
            } else {
                base_dir.join(f)
            };
            let read = users_file::read(&path)?;
            sources.borrow_mut().file(&path, read.digest);
            for (line, u) in &read.users {
                users.add(u).map_err(|(upn, why)| {
                    ServeError::Invalid(format!("{}:{line}: user '{upn}': {why}", path.display()))
                })?;
            }
        }
        drop(recorder);
        let subscriptions = subscriptions(&file.subscription, &tenants)?;
        let workloads = super::workloads::workloads(&file.workload)?;
        let issuers = configured_issuers(&file.issuer, base_dir, &sources)?;
        let managed_identities = super::managed_identities::from_file(
            &file.managed_identity,
            &tenants,
            &resources,
            &apps,
            &subscriptions,
        )?;
        Ok(Registry {
            workloads,
            issuers,
            managed_identities,
            tenants,
            apps,
            resources,
            users: users.list,
            subscriptions,
            default_tenant,
            sources: sources.into_inner(),
        })
    }
}

/// A config file too large: say what the bound is for, and what to do instead.
fn too_large_hint(e: certgen::Error) -> ServeError {
    let text = e.to_string();
    if text.contains("larger than") {
        return ServeError::Invalid(format!(
            "{text}; a directory that large goes in a users_file (JSON Lines, up to {}) named \
             by the config",
            read::USERS_FILE.human()
        ));
    }
    ServeError::Library(e)
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
        missing_service_principal: false,
        delegated: HashMap::new(),
        federated: Vec::new(),
        managed_identity: None,
    }
}

/// The users so far, with the ids and names taken (a user listed twice is refused).
#[derive(Default)]
struct Users {
    list: Vec<User>,
    ids: HashSet<String>,
    names: HashSet<String>,
}

impl Users {
    /// Adds one user; on refusal, its name and why.
    fn add(&mut self, u: &UserEntry) -> std::result::Result<(), (String, String)> {
        let upn = u.user_principal_name.trim();
        let refuse = |why: String| (upn.to_string(), why);
        if !upn.contains('@') {
            return Err(refuse(
                "the user principal name must look like name@domain".into(),
            ));
        }
        let id = match &u.id {
            Some(id) => guid(id, "user id").map_err(|e| refuse(e.to_string()))?,
            None => name_based_guid(&format!("user {}", upn.to_ascii_lowercase())),
        };
        if !self.ids.insert(id.clone()) || !self.names.insert(upn.to_ascii_lowercase()) {
            return Err(refuse(format!("{id} is listed twice")));
        }
        self.list.push(User {
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
            disabled: false,
        });
        Ok(())
    }
}

/// The file's subscriptions, each in a registered tenant (the first when none is named).
fn subscriptions(entries: &[SubscriptionEntry], tenants: &[Tenant]) -> Result<Vec<Subscription>> {
    let mut out: Vec<Subscription> = Vec::new();
    for e in entries {
        let id = guid(&e.id, "subscription id")?;
        if out.iter().any(|s| s.id == id) {
            return Err(ServeError::Invalid(format!(
                "subscription {id} is listed twice in the config file"
            )));
        }
        let tenant = match &e.tenant {
            None => tenants.first(),
            Some(name) => find_tenant(tenants, name.trim()),
        };
        let Some(tenant) = tenant else {
            return Err(ServeError::Invalid(format!(
                "subscription {id}: tenant '{}' is not a [[tenant]] of the config file",
                e.tenant.as_deref().unwrap_or_default()
            )));
        };
        out.push(Subscription {
            display_name: e
                .display_name
                .clone()
                .unwrap_or_else(|| format!("Subscription {id}")),
            id,
            tenant_id: tenant.id.clone(),
        });
    }
    Ok(out)
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

/// Microsoft's own resources (Graph, Azure Service Management, Key Vault, Storage), always
/// there, then the file's resources.
fn resources(file: &ConfigFile) -> Result<Vec<Resource>> {
    let mut resources = super::microsoft::resources();
    for r in &file.resource {
        let app_id = guid(&r.app_id, "resource app_id")?;
        if super::microsoft::is_microsoft(&app_id) {
            return Err(ServeError::Invalid(format!(
                "resource {app_id} is one of Microsoft's own, known in every tenant: remove \
                 its [[resource]]"
            )));
        }
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
    sources: &RefCell<Sources>,
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
            .extend(load_certificates(client_id, &path, sources)?);
    }
    for entry in &a.secret_env {
        app.secrets.push(AppSecret::new(
            &secret_from_env(client_id, &entry.var, env)?,
            entry
                .expires
                .as_ref()
                .map(|e| expiry(client_id, &entry.var, e))
                .transpose()?,
        ));
    }
    let who = format!("app {client_id}");
    for (resource, roles) in &a.roles {
        grant(
            &who,
            &mut app.roles,
            resources,
            resource,
            roles,
            Permission::Role,
        )?;
    }
    for (resource, scopes) in &a.delegated {
        grant(
            &who,
            &mut app.delegated,
            resources,
            resource,
            scopes,
            Permission::Scope,
        )?;
    }
    for uri in &a.redirect_uris {
        app.redirect_uris.push(redirect_uri(client_id, uri)?);
    }
    app.public_client = a.public_client;
    app.federated = federated_credentials(client_id, &a.federated)?;
    Ok(app)
}

/// A registered redirect URI, checked as Entra's portal checks one: an absolute URL with no
/// fragment, https — or http on a loopback host, the only place Entra allows it.
fn redirect_uri(client_id: &str, uri: &str) -> Result<String> {
    let bad = |why: &str| {
        let uri = uri.escape_debug();
        ServeError::Invalid(format!("app {client_id}: redirect URI '{uri}' {why}"))
    };
    let parsed = url::Url::parse(uri).map_err(|e| bad(&format!("is not an absolute URL ({e})")))?;
    // Fragment, userinfo, control characters, `http:` without `//`: what /authorize refuses.
    redirect_uri_syntax(uri).map_err(bad)?;
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

/// `--app CLIENT_ID=CERT_FILE` and `--app-secret CLIENT_ID=ENV_VAR`: added to the app of that
/// id (from the file or an earlier flag), or to a new one.
fn add_flag_apps(
    apps: &mut Vec<App>,
    flags: &Flags,
    env: &dyn Fn(&str) -> Option<String>,
    sources: &RefCell<Sources>,
) -> Result<()> {
    for (client_id, path) in &flags.app_certs {
        let client_id = flag_client_id(client_id, Credential::Certificate)?;
        let certs = load_certificates(&client_id, path, sources)?;
        app_entry(apps, &client_id).certificates.extend(certs);
    }
    for (client_id, var) in &flags.app_secrets {
        let client_id = flag_client_id(client_id, Credential::Secret)?;
        let value = secret_from_env(&client_id, var, env)?;
        app_entry(apps, &client_id)
            .secrets
            .push(AppSecret::new(&value, None));
    }
    Ok(())
}

/// The certificates of a file (any format certgen reads; a key in the same file is ignored).
/// Entra accepts only RSA credentials, so anything else is refused here rather than at sign-in.
fn load_certificates(
    client_id: &str,
    path: &Path,
    sources: &RefCell<Sources>,
) -> Result<Vec<Certificate>> {
    // Hashed before it is loaded: a file replaced in between is then seen as changed by the
    // next start, never the other way round.
    let bytes = read::input(path, read::CREDENTIAL)?;
    sources.borrow_mut().file(path, sha256(&bytes));
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

/// An app's `[[app.federated]]`, checked with Graph's rules (one `error:` naming the app and
/// the credential per mistake).
fn federated_credentials(
    client_id: &str,
    entries: &[FederatedEntry],
) -> Result<Vec<FederatedCredential>> {
    use super::federated::{pair_taken, DEFAULT_AUDIENCE, MAX_PER_APP, PAIR_TAKEN};
    if entries.len() > MAX_PER_APP {
        return Err(ServeError::Invalid(format!(
            "app {client_id}: {} federated credentials; Entra allows at most {MAX_PER_APP} per \
             application",
            entries.len()
        )));
    }
    let mut out: Vec<FederatedCredential> = Vec::new();
    for e in entries {
        let fic = FederatedCredential {
            // Derived from the name, so a credential keeps its id across starts.
            id: name_based_guid(&format!(
                "federated credential {client_id} {}",
                e.name.to_ascii_lowercase()
            )),
            name: e.name.clone(),
            issuer: e.issuer.clone(),
            subject: e.subject.clone(),
            audiences: e
                .audiences
                .clone()
                .unwrap_or_else(|| vec![DEFAULT_AUDIENCE.to_string()]),
            description: e.description.clone(),
        };
        let refuse = |why: &str| {
            ServeError::Invalid(format!(
                "app {client_id}: federated credential '{}': {why}",
                e.name
            ))
        };
        fic.check().map_err(|why| refuse(&why))?;
        if out.iter().any(|f| f.name.eq_ignore_ascii_case(&fic.name)) {
            return Err(refuse("the name is used twice"));
        }
        if pair_taken(&out, &fic) {
            return Err(refuse(PAIR_TAKEN));
        }
        out.push(fic);
    }
    Ok(out)
}

/// The config's `[[issuer]]`s, each JWKS file read (bounded, recorded among the inputs) and
/// parsed now, so a broken file is an `error:` at start rather than a refusal later.
fn configured_issuers(
    entries: &[IssuerEntry],
    base_dir: &Path,
    sources: &RefCell<Sources>,
) -> Result<Vec<ConfiguredIssuer>> {
    let mut out: Vec<ConfiguredIssuer> = Vec::new();
    for e in entries {
        let url = e.url.as_str();
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http"));
        if parsed.is_none() || url.trim() != url {
            return Err(ServeError::Invalid(format!(
                "[[issuer]] url '{url}' is not an http(s) URL (tokens' iss must equal it exactly)"
            )));
        }
        if out.iter().any(|i| i.url == url) {
            return Err(ServeError::Invalid(format!(
                "[[issuer]] '{url}' is listed twice in the config file"
            )));
        }
        let path = if e.jwks_file.is_absolute() {
            e.jwks_file.clone()
        } else {
            base_dir.join(&e.jwks_file)
        };
        let bytes = read::input(&path, read::JWKS)?;
        sources.borrow_mut().file(&path, sha256(&bytes));
        let shown = path.display().to_string();
        let keys = certgen::verify::KeySet::from_json(&bytes, &shown)
            .map_err(|e| ServeError::Invalid(format!("[[issuer]] '{url}': {e}")))?;
        if keys.is_empty() {
            return Err(ServeError::Invalid(format!(
                "[[issuer]] '{url}': {shown} holds no key with a kid"
            )));
        }
        let jwks = String::from_utf8(bytes).map_err(|_| {
            ServeError::Invalid(format!("[[issuer]] '{url}': {shown} is not UTF-8 JSON"))
        })?;
        out.push(ConfiguredIssuer {
            url: url.to_string(),
            jwks,
        });
    }
    Ok(out)
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
        let d = crate::directory::Directory::in_memory(&r).unwrap();
        assert_eq!(
            d.resource("https://graph.microsoft.com/")
                .unwrap()
                .unwrap()
                .app_id,
            GRAPH_APP_ID
        );
        assert!(d.resource(GRAPH_APP_ID).unwrap().is_some());
    }

    #[test]
    fn microsofts_resources_are_in_every_tenant() {
        let r = Registry::load(None, &Flags::default(), &no_env).unwrap();
        let arm = r.resource("https://management.azure.com").unwrap();
        assert_eq!(arm.app_id, "797f4846-ba00-4fd7-ba43-dac1f8f63013");
        assert_eq!(
            r.resource("https://management.core.windows.net/")
                .unwrap()
                .app_id,
            arm.app_id
        );
        // A scope's name loses its slash; the `aud` keeps the registered spelling.
        assert_eq!(
            arm.identifier_uri_as_registered("https://management.core.windows.net"),
            "https://management.core.windows.net/"
        );
        assert_eq!(arm.identifier_uri_as_registered(&arm.app_id), arm.app_id);
        for name in [
            "https://vault.azure.net",
            "https://storage.azure.com/",
            "74658136-14ec-4630-ad9b-26e160ff0fc6",
        ] {
            let found = r.resource(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(found.token_version, TokenVersion::V1, "{name}");
        }
        // One of them registered again in the file is refused, with the reason.
        let toml = "[[resource]]\napp_id = \"cfa8b339-82a2-471a-a3c9-0fc0be7a4093\"\n";
        let err = Registry::from_toml(toml, "t", Path::new(""), &Flags::default(), &no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("one of Microsoft's own"), "{err}");
    }

    #[test]
    fn subscriptions_belong_to_a_tenant_of_the_file() {
        let toml = r#"
[[tenant]]
id = "2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718"
[[tenant]]
id = "3f4d6c7b-8e9f-4a01-b2c3-d4e5f6071829"
domains = ["fabrikam.example"]
[[subscription]]
id = "9B1F4A3C-2D5E-4F60-8A7B-0C1D2E3F4A5B"
[[subscription]]
id = "8b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b"
display_name = "Fabrikam"
tenant = "fabrikam.example"
"#;
        let r = Registry::from_toml(toml, "t", Path::new(""), &Flags::default(), &no_env).unwrap();
        let first: Vec<_> = r
            .subscriptions_of("2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718")
            .collect();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].id, "9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b");
        assert_eq!(
            first[0].display_name,
            "Subscription 9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b"
        );
        let fabrikam: Vec<_> = r
            .subscriptions_of("3f4d6c7b-8e9f-4a01-b2c3-d4e5f6071829")
            .collect();
        assert_eq!(fabrikam[0].display_name, "Fabrikam");
        for (bad, says) in [
            (
                "[[subscription]]\nid = \"9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b\"\ntenant = \"x.example\"\n",
                "tenant 'x.example' is not a [[tenant]]",
            ),
            ("[[subscription]]\nid = \"prod\"\n", "is not a GUID"),
            (
                "[[subscription]]\nid = \"9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b\"\n\
                 [[subscription]]\nid = \"9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b\"\n",
                "listed twice",
            ),
        ] {
            let err = Registry::from_toml(bad, "t", Path::new(""), &Flags::default(), &no_env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
        }
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
        let d = crate::directory::Directory::in_memory(&a).unwrap();
        assert!(d.tenant("contoso.onmicrosoft.com").unwrap().is_some());
        assert!(d.tenant(&a.tenants[0].id.to_uppercase()).unwrap().is_some());
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
        assert_eq!(app.secrets[0].digest, SecretDigest::of("shh"));
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
        let d = crate::directory::Directory::in_memory(&r).unwrap();
        assert!(d.tenant("FABRIKAM.example").unwrap().is_some());
        let app = r.app("44444444-4444-4444-4444-444444444444").unwrap();
        assert_eq!(
            app.roles["33333333-3333-3333-3333-333333333333"],
            vec!["Orders.Read".to_string()]
        );
        assert_eq!(
            d.resource("api://orders").unwrap().unwrap().token_version,
            TokenVersion::V2
        );
        // The roles reach the app's view through app role assignments.
        let view = d
            .app("44444444-4444-4444-4444-444444444444")
            .unwrap()
            .unwrap();
        assert_eq!(
            view.app.roles["33333333-3333-3333-3333-333333333333"],
            vec!["Orders.Read".to_string()]
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
