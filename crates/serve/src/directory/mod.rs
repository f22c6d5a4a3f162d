//! The directory: tenants, applications, service principals, app role assignments, delegated
//! grants, users, groups and members — kept in a [`Store`] (SQLite in the state folder),
//! seeded from the config at every start, changed by Graph writes, read by the token endpoints
//! from memory.
//!
//! | module | concept |
//! |---|---|
//! | `store` | the seam: what a store keeps (objects, index keys, sign-in entries) |
//! | `sqlite` | the store in one SQLite file |
//! | `objects` | objects as Graph shapes them, and their index keys |
//! | `seed` | the config file as objects |
//! | `view` | what the token endpoints read (an app, a resource, a user) |
//! | `managed` | a managed identity as the platform endpoints read it |
//! | `consent` | admin consent: an app's `requiredResourceAccess` granted |
//! | `membership` | groups a principal is in; `groups` and group-given `roles` of a user's token |
//!
//! Reads for the token path are answered from views built once per change and shared; a write
//! commits to the store first and only then drops the views, so a 2xx answer means kept and
//! the next request sees it. Another process writing to the same file is noticed before each
//! read ([`Store::changed_elsewhere`]) and drops the views too.

pub mod consent;
pub mod managed;
pub mod membership;
pub mod objects;
pub mod seed;
pub mod sqlite;
pub mod store;
pub mod view;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{json, Value};

pub use self::store::{Change, Kind, Object, Origin, Page, Store, StoreError, StoreResult};
use self::view::{AppView, Related};
use crate::config::{Registry, Resource, Tenant, User};
use crate::keys::{AddRefused, MAX_KEYS_PER_APP, MAX_KEY_BYTES_PER_APP};
use certgen::certificate::Certificate;

/// What a start's seeding changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    pub created: usize,
    pub updated: usize,
    pub removed: usize,
    /// The config was the one seeded last time: nothing was compared.
    pub unchanged: bool,
}

/// The store's meta key for the digest of the config objects last seeded.
const META_SEED: &str = "seed";
/// The store's meta key for the record of the inputs (config, files, flags) last seeded from,
/// which lets a start skip reading them.
pub const META_INPUTS: &str = "inputs";

/// Views built since the last change.
#[derive(Debug, Default)]
struct Views {
    apps: HashMap<String, Option<Arc<AppView>>>,
    resources: HashMap<String, Option<Arc<Resource>>>,
    tenants: Option<Arc<Vec<Tenant>>>,
    /// Managed identities by selector (see `managed`).
    managed: HashMap<String, Option<Arc<managed::ManagedView>>>,
}

/// The most views kept at once: past it they are dropped and rebuilt on demand, so a scan
/// over every client id of a large directory cannot grow the memory without bound.
const MAX_VIEWS: usize = 20_000;

#[derive(Debug)]
pub struct Directory {
    /// Shared with the sign-in state, which keeps its entries in the same database.
    store: Arc<dyn Store>,
    views: Mutex<Views>,
    /// Serialises this process's read-modify-write changes (addKey on one app by two requests).
    writing: Mutex<()>,
    replication_delay_secs: i64,
    /// When another process's writes were last looked for (microseconds since `born`; 0:
    /// never), so one request's lookups (tenant, app, resource) ask SQLite once, not three
    /// times: measured at 0.07 RSA signature of CPU per grant.
    checked_at: AtomicU64,
    born: Instant,
}

/// How long a look for other processes' writes holds: their writes are seen within it (this
/// process's own at once). A millisecond is far below any client's round trip.
const FRESH_FOR_MICROS: u64 = 1_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Views are whole values swapped in and out: a panic cannot leave one half-built.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Directory {
    /// Opens the directory kept in `dir` (made when missing).
    pub fn open(dir: &Path, replication_delay_secs: u64) -> StoreResult<Directory> {
        Ok(Directory::with_store(
            Box::new(sqlite::SqliteStore::open(dir)?),
            replication_delay_secs,
        ))
    }

    pub fn with_store(store: Box<dyn Store>, replication_delay_secs: u64) -> Directory {
        Directory {
            store: Arc::from(store),
            views: Mutex::default(),
            writing: Mutex::default(),
            replication_delay_secs: i64::try_from(replication_delay_secs).unwrap_or(i64::MAX),
            checked_at: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    /// A directory in memory only, seeded from `registry` (tests and fuzzing).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn in_memory(registry: &Registry) -> StoreResult<Directory> {
        let d = Directory::with_store(Box::new(sqlite::SqliteStore::in_memory()?), 0);
        d.seed(registry)?;
        Ok(d)
    }

    /// Brings the config's objects to what `registry` says (see [`seed`]).
    pub fn seed(&self, registry: &Registry) -> StoreResult<Seeded> {
        let _w = lock(&self.writing);
        let wanted = seed::objects(registry);
        let whole = seed::whole_digest(&wanted);
        if self.store.meta(META_SEED)?.as_deref() == Some(whole.as_str()) {
            return Ok(Seeded {
                unchanged: true,
                ..Seeded::default()
            });
        }
        let mut report = Seeded::default();
        let mut changes = Vec::new();
        let mut named: HashMap<Kind, HashMap<String, Option<String>>> = HashMap::new();
        for kind in Kind::ALL {
            named.insert(
                kind,
                self.store
                    .ids_by_origin(kind, Origin::Config)?
                    .into_iter()
                    .collect(),
            );
        }
        // The ids made through Graph, read once: one lookup per config object would be 100,000
        // queries for an organisation's users.
        let mut made_by_graph: HashMap<Kind, std::collections::HashSet<String>> = HashMap::new();
        for kind in Kind::ALL {
            made_by_graph.insert(
                kind,
                self.store
                    .ids_by_origin(kind, Origin::Graph)?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
            );
        }
        let mut wanted_ids: HashMap<Kind, std::collections::HashSet<String>> = HashMap::new();
        for o in wanted {
            wanted_ids.entry(o.kind).or_default().insert(o.id.clone());
            match named.get(&o.kind).and_then(|m| m.get(&o.id)) {
                Some(seed) if *seed == o.seed => continue,
                Some(_) => report.updated += 1,
                // Made through Graph with an id the config now names: the file wins.
                None if made_by_graph
                    .get(&o.kind)
                    .is_some_and(|g| g.contains(&o.id)) =>
                {
                    report.updated += 1
                }
                None => report.created += 1,
            }
            changes.push(Change::Put(o));
        }
        for (kind, ids) in named {
            for id in ids.into_keys() {
                if !wanted_ids.get(&kind).is_some_and(|w| w.contains(&id)) {
                    report.removed += 1;
                    changes.push(Change::Delete(kind, id));
                }
            }
        }
        self.store.write(changes)?;
        self.store.set_meta(META_SEED, &whole)?;
        self.changed();
        Ok(report)
    }

    /// Drops every view: the next read rebuilds from the store.
    fn changed(&self) {
        *lock(&self.views) = Views::default();
    }

    /// Drops the views when another process has written.
    fn fresh(&self) -> StoreResult<()> {
        let now = u64::try_from(self.born.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let last = self.checked_at.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < FRESH_FOR_MICROS {
            return Ok(());
        }
        self.checked_at.store(now, Ordering::Relaxed);
        if self.store.changed_elsewhere()? {
            self.changed();
        }
        Ok(())
    }

    /// Every tenant, in the order made.
    pub fn tenants(&self) -> StoreResult<Arc<Vec<Tenant>>> {
        self.fresh()?;
        if let Some(t) = &lock(&self.views).tenants {
            return Ok(t.clone());
        }
        let mut all = Vec::new();
        let mut from = None;
        loop {
            let page = self.store.page(Kind::Tenant, from, 1000)?;
            all.extend(page.objects.iter().map(view::tenant));
            match page.next {
                Some(n) => from = Some(n),
                None => break,
            }
        }
        let all = Arc::new(all);
        lock(&self.views).tenants = Some(all.clone());
        Ok(all)
    }

    /// The tenant named by a URL segment or an `aud` value: its GUID or one of its domains.
    pub fn tenant(&self, name: &str) -> StoreResult<Option<Tenant>> {
        Ok(self
            .tenants()?
            .iter()
            .find(|t| {
                t.id.eq_ignore_ascii_case(name)
                    || t.domains.iter().any(|d| d.eq_ignore_ascii_case(name))
            })
            .cloned())
    }

    /// The app with this client id, as the token endpoint reads it.
    pub fn app(&self, client_id: &str) -> StoreResult<Option<Arc<AppView>>> {
        self.fresh()?;
        let key = client_id.to_ascii_lowercase();
        if let Some(v) = lock(&self.views).apps.get(&key) {
            return Ok(v.clone());
        }
        let built = match self.store.find(Kind::Application, "appId", &key)?.first() {
            None => None,
            Some(application) => Some(Arc::new(self.build_app(application)?)),
        };
        let mut views = lock(&self.views);
        if views.apps.len() >= MAX_VIEWS {
            views.apps.clear();
        }
        views.apps.insert(key, built.clone());
        Ok(built)
    }

    fn build_app(&self, application: &Object) -> StoreResult<AppView> {
        let app_id = objects::str_of(&application.doc, "appId").to_ascii_lowercase();
        let sps = self.store.find(Kind::ServicePrincipal, "appId", &app_id)?;
        let sp = sps.first();
        let mut assignments = Vec::new();
        let mut grants = Vec::new();
        let held_assignments;
        let held_grants;
        if let Some(sp) = sp {
            held_assignments = self
                .store
                .find(Kind::AppRoleAssignment, "principalId", &sp.id)?;
            for a in &held_assignments {
                let resource = objects::str_of(&a.doc, "resourceId").to_ascii_lowercase();
                if let Some(r) = self.store.get(Kind::ServicePrincipal, &resource)? {
                    assignments.push((a, r));
                }
            }
            held_grants = self
                .store
                .find(Kind::OAuth2PermissionGrant, "clientId", &sp.id)?;
            for g in &held_grants {
                if objects::str_of(&g.doc, "consentType") != "AllPrincipals" {
                    continue;
                }
                let resource = objects::str_of(&g.doc, "resourceId").to_ascii_lowercase();
                if let Some(r) = self.store.get(Kind::ServicePrincipal, &resource)? {
                    grants.push((g, r));
                }
            }
        }
        let federated =
            self.store
                .find(Kind::FederatedCredential, "application", &application.id)?;
        Ok(view::app(
            application,
            &Related {
                service_principal: sp,
                assignments,
                grants,
                federated,
            },
        ))
    }

    /// The resource a scope or `resource=` value names: its app id or an identifier URI
    /// (a trailing `/` ignored, as Entra does), when it has a service principal here.
    pub fn resource(&self, name: &str) -> StoreResult<Option<Arc<Resource>>> {
        self.fresh()?;
        let key = name.trim_end_matches('/').to_lowercase();
        if let Some(r) = lock(&self.views).resources.get(&key) {
            return Ok(r.clone());
        }
        let mut found = self.store.find(Kind::Application, "appId", &key)?;
        if found.is_empty() {
            found = self.store.find(Kind::Application, "identifierUri", &key)?;
        }
        let mut built = None;
        if let Some(application) = found.first() {
            let app_id = objects::str_of(&application.doc, "appId").to_ascii_lowercase();
            if let Some(sp) = self
                .store
                .find(Kind::ServicePrincipal, "appId", &app_id)?
                .first()
            {
                built = Some(Arc::new(view::resource(application, sp)));
            }
        }
        let mut views = lock(&self.views);
        if views.resources.len() >= MAX_VIEWS {
            views.resources.clear();
        }
        views.resources.insert(key, built.clone());
        Ok(built)
    }

    /// Whether any app satisfies `f` (every application object read: for rare requests only,
    /// such as a logout that names no app).
    pub fn any_app(&self, f: &dyn Fn(&crate::config::App) -> bool) -> StoreResult<bool> {
        let mut from = None;
        loop {
            let page = self.store.page(Kind::Application, from, 500)?;
            for o in &page.objects {
                if f(&self.build_app(o)?.app) {
                    return Ok(true);
                }
            }
            match page.next {
                Some(n) => from = Some(n),
                None => return Ok(false),
            }
        }
    }

    /// A user by object id or user principal name.
    pub fn user(&self, key: &str) -> StoreResult<Option<User>> {
        if let Some(o) = self.store.get(Kind::User, &key.to_ascii_lowercase())? {
            return Ok(Some(view::user(&o)));
        }
        Ok(self
            .store
            .find(Kind::User, "upn", &key.to_lowercase())?
            .first()
            .map(view::user))
    }

    /// Any object by id.
    pub fn get(&self, kind: Kind, id: &str) -> StoreResult<Option<Object>> {
        self.store.get(kind, &id.to_ascii_lowercase())
    }

    /// Objects of `kind` whose index key `name` is `value` (lower-cased where the index is).
    pub fn find(&self, kind: Kind, name: &str, value: &str) -> StoreResult<Vec<Object>> {
        self.store.find(kind, name, &value.to_lowercase())
    }

    pub fn find_prefix(
        &self,
        kind: Kind,
        name: &str,
        prefix: &str,
        limit: usize,
    ) -> StoreResult<Vec<Object>> {
        self.store
            .find_prefix(kind, name, &prefix.to_lowercase(), limit)
    }

    pub fn page(&self, kind: Kind, from: Option<i64>, limit: usize) -> StoreResult<Page> {
        self.store.page(kind, from, limit)
    }

    pub fn count(&self, kind: Kind) -> StoreResult<u64> {
        self.store.count(kind)
    }

    /// Commits `changes` (all or none), then drops the views.
    pub fn write(&self, changes: Vec<Change>) -> StoreResult<()> {
        let _w = lock(&self.writing);
        self.commit(changes)
    }

    /// Commits `changes` with the writing lock held.
    fn commit(&self, changes: Vec<Change>) -> StoreResult<()> {
        // An object the config made, deleted through Graph, is made again at the next start
        // (the file still names it): the records that let a start skip seeding are dropped.
        let mut config_deleted = false;
        for c in &changes {
            if let Change::Delete(kind, id) = c {
                config_deleted |= self
                    .store
                    .get(*kind, id)?
                    .is_some_and(|o| o.origin == Origin::Config);
            }
        }
        let r = self.store.write(changes);
        self.changed();
        r?;
        if config_deleted {
            self.store.set_meta(META_SEED, "")?;
            self.store.set_meta(META_INPUTS, "")?;
        }
        Ok(())
    }

    /// Reads `kind`/`id`, lets `f` decide the changes from it, and commits them, with no other
    /// change of this process in between. `f` returns the answer and the changes (none: nothing
    /// is written).
    pub fn modify<T>(
        &self,
        kind: Kind,
        id: &str,
        f: impl FnOnce(Option<Object>) -> (T, Vec<Change>),
    ) -> StoreResult<T> {
        let _w = lock(&self.writing);
        let current = self.store.get(kind, &id.to_ascii_lowercase())?;
        let (answer, changes) = f(current);
        if !changes.is_empty() {
            self.commit(changes)?;
        }
        Ok(answer)
    }

    /// Registers `certificate` on the application object `application_id` (Graph's `addKey`),
    /// usable by the token endpoint after the replication delay.
    pub fn add_key(
        &self,
        application_id: &str,
        certificate: &Certificate,
        key_id: &str,
        display_name: &str,
        now: i64,
    ) -> StoreResult<Option<Result<Value, AddRefused>>> {
        let usable_from = now.saturating_add(self.replication_delay_secs);
        self.modify(Kind::Application, application_id, |current| {
            let Some(mut app) = current else {
                return (None, Vec::new());
            };
            let held = key_credentials(&app.doc);
            let thumbprint = certificate.thumbprints.thumbprint();
            if let Some(k) = held.iter().find(|k| {
                objects::str_of(k, "customKeyIdentifier").eq_ignore_ascii_case(&thumbprint)
            }) {
                let id = objects::str_of(k, "keyId").to_string();
                return (Some(Err(AddRefused::Duplicate(id))), Vec::new());
            }
            if held
                .iter()
                .any(|k| objects::str_of(k, "keyId").eq_ignore_ascii_case(key_id))
            {
                return (Some(Err(AddRefused::KeyIdTaken(key_id.into()))), Vec::new());
            }
            let bytes: usize = held
                .iter()
                .map(|k| der_len(objects::str_of(k, "key")))
                .sum();
            if held.len() >= MAX_KEYS_PER_APP
                || bytes.saturating_add(certificate.der().len()) > MAX_KEY_BYTES_PER_APP
            {
                let full = AddRefused::Full {
                    count: held.len(),
                    bytes,
                };
                return (Some(Err(full)), Vec::new());
            }
            let credential = certgen::graph::keycred::key_credential_with(
                certificate,
                display_name,
                key_id,
                true,
            );
            if let Some(list) = app.doc["keyCredentials"].as_array_mut() {
                list.push(credential.clone());
            } else {
                app.doc["keyCredentials"] = json!([credential.clone()]);
            }
            if !app.internal.is_object() {
                app.internal = json!({});
            }
            app.internal["usableFrom"][key_id] = json!(usable_from);
            (Some(Ok(credential)), vec![Change::Put(reindexed(app))])
        })
    }

    /// Removes the key `key_id` from the application object (Graph's `removeKey`): `None` when
    /// the object is unknown, `Some(false)` when it holds no such key.
    pub fn remove_key(&self, application_id: &str, key_id: &str) -> StoreResult<Option<bool>> {
        self.modify(Kind::Application, application_id, |current| {
            let Some(mut app) = current else {
                return (None, Vec::new());
            };
            let Some(list) = app.doc["keyCredentials"].as_array_mut() else {
                return (Some(false), Vec::new());
            };
            let before = list.len();
            list.retain(|k| !objects::str_of(k, "keyId").eq_ignore_ascii_case(key_id));
            if list.len() == before {
                return (Some(false), Vec::new());
            }
            if let Some(u) = app
                .internal
                .get_mut("usableFrom")
                .and_then(Value::as_object_mut)
            {
                u.retain(|k, _| !k.eq_ignore_ascii_case(key_id));
            }
            (Some(true), vec![Change::Put(reindexed(app))])
        })
    }

    /// Seconds before a key added through Graph is usable by the token endpoint.
    pub fn replication_delay_secs(&self) -> i64 {
        self.replication_delay_secs
    }

    /// The store, for what keeps its own entries in it (the sign-in state).
    pub fn shared_store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}

impl Directory {
    /// The store itself (the start record, the sign-in entries).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// An object read back, with its index keys computed again before it is written.
pub fn reindexed(mut o: Object) -> Object {
    o.index = objects::index_of(o.kind, &o.doc);
    o
}

/// The length of the bytes a base64 text holds (its padding not counted).
fn der_len(b64: &str) -> usize {
    let pad = b64.bytes().rev().take_while(|b| *b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(pad)
}

/// The key credentials of an application document.
pub fn key_credentials(doc: &Value) -> Vec<Value> {
    doc.get("keyCredentials")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Removes a state folder's directory (`--reset`): the database and SQLite's side files.
pub fn reset(dir: &Path) -> std::io::Result<bool> {
    let mut removed = false;
    for suffix in ["", "-wal", "-shm"] {
        let path = dir.join(format!("{}{suffix}", sqlite::FILE));
        match std::fs::remove_file(&path) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flags, Registry};

    #[test]
    fn a_config_object_deleted_through_graph_is_made_again_by_the_next_seeding() {
        let registry = Registry::from_toml(
            "[[app]]\nclient_id = \"44444444-4444-4444-4444-444444444444\"\nsecret_env = [\"S\"]\n",
            "t",
            Path::new(""),
            &Flags::default(),
            &|_| Some("x".into()),
        )
        .unwrap();
        let d = Directory::in_memory(&registry).unwrap();
        d.store().set_meta(META_INPUTS, "recorded").unwrap();
        let app_id = "44444444-4444-4444-4444-444444444444";
        let app = d
            .find(Kind::Application, "appId", app_id)
            .unwrap()
            .remove(0);
        // Unchanged config: a start skips seeding.
        assert!(d.seed(&registry).unwrap().unchanged);
        d.write(vec![Change::Delete(Kind::Application, app.id.clone())])
            .unwrap();
        assert!(d.app(app_id).unwrap().is_none());
        assert_eq!(d.store().meta(META_INPUTS).unwrap().as_deref(), Some(""));
        let again = d.seed(&registry).unwrap();
        assert!(!again.unchanged && again.created == 1, "{again:?}");
        assert!(d.app(app_id).unwrap().is_some());
    }
}
