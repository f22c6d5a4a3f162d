//! The seam between the directory and where it is kept: a [`Store`] holds directory objects as
//! documents with a few indexed keys, in one atomic write per change. The directory above it
//! knows Entra's objects; a store knows only kinds, ids, index keys and bytes — so another
//! engine (Postgres, for several replicas behind one name) is one more implementation of this
//! trait, and no Graph handler ever sees SQL.

use serde_json::Value;

/// The kinds of directory objects, each a collection of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Tenant,
    Application,
    ServicePrincipal,
    AppRoleAssignment,
    OAuth2PermissionGrant,
    User,
    Group,
    /// A group's member: id `{group id}/{member id}`.
    Member,
    /// An application's federated identity credential: id `{application object id}/{id}`.
    FederatedCredential,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Tenant,
        Kind::Application,
        Kind::ServicePrincipal,
        Kind::AppRoleAssignment,
        Kind::OAuth2PermissionGrant,
        Kind::User,
        Kind::Group,
        Kind::Member,
        Kind::FederatedCredential,
    ];

    /// The name stored (never renamed: stored data depends on it).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Application => "application",
            Kind::ServicePrincipal => "servicePrincipal",
            Kind::AppRoleAssignment => "appRoleAssignment",
            Kind::OAuth2PermissionGrant => "oauth2PermissionGrant",
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Member => "member",
            Kind::FederatedCredential => "federatedIdentityCredential",
        }
    }
}

/// Who made an object: the config file (brought back to what the file says when its entry
/// changes, removed when the file stops naming it) or a Graph write (kept until deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Config,
    Graph,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Graph => "graph",
        }
    }

    pub fn from_name(s: &str) -> Option<Origin> {
        match s {
            "config" => Some(Origin::Config),
            "graph" => Some(Origin::Graph),
            _ => None,
        }
    }
}

/// One directory object as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub kind: Kind,
    /// Lower-case GUID (or `{group}/{member}` for a membership).
    pub id: String,
    pub origin: Origin,
    /// For config-made objects: a digest of the config entry that made it, so a start can tell
    /// whether the file changed that entry (then the file wins) or not (then Graph's changes
    /// since stay).
    pub seed: Option<String>,
    /// What Graph answers for it (camelCase properties).
    pub doc: Value,
    /// What is kept but never answered: secret hashes, when an added key becomes usable.
    pub internal: Value,
    /// Keys it can be found by (`appId`, `upn`, `principalId`, …), values lower-cased by the
    /// directory where lookups ignore case.
    pub index: Vec<(&'static str, String)>,
}

/// One change of a write.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert or replace (index keys replaced too).
    Put(Object),
    Delete(Kind, String),
}

/// One page of a collection, in the order objects were first made.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub objects: Vec<Object>,
    /// Where the next page starts, when there is one.
    pub next: Option<i64>,
}

/// An entry of the sign-in state (codes, refresh tokens, device codes, sessions): a key, when
/// it may be forgotten, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub keep_until: i64,
    pub value: Value,
}

/// Why the store failed. Kept apart from the directory's own refusals (those are Graph
/// answers); every variant is a 503 while serving and one `error:` line at start.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the directory database {path} is damaged ({reason}); it was not changed — move it away to start afresh, or restore a copy")]
    Damaged { path: String, reason: String },
    #[error("the directory database {path} was written by a newer certgen (schema {found}, this one knows up to {known}); it was not changed")]
    Newer {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("the directory database {path} is read-only: {reason}")]
    ReadOnly { path: String, reason: String },
    #[error("the disk holding the directory database {path} is full; nothing was written")]
    Full { path: String },
    #[error("the directory database {path} is busy (another process holds it too long)")]
    Busy { path: String },
    #[error("the directory database {path} was deleted or replaced while serving; nothing more is kept until certgen serve is restarted")]
    Vanished { path: String },
    #[error("the directory database {path}: {reason}")]
    Other { path: String, reason: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Where directory objects are kept. Every method is one transaction; a `write` that returns
/// `Ok` is durable (the service answers 2xx only after it).
pub trait Store: Send + Sync + std::fmt::Debug {
    fn get(&self, kind: Kind, id: &str) -> StoreResult<Option<Object>>;
    /// Objects of `kind` whose index key `name` is exactly `value`, in making order.
    fn find(&self, kind: Kind, name: &str, value: &str) -> StoreResult<Vec<Object>>;
    /// Objects of `kind` whose index key `name` starts with `prefix` (at most `limit`).
    fn find_prefix(
        &self,
        kind: Kind,
        name: &str,
        prefix: &str,
        limit: usize,
    ) -> StoreResult<Vec<Object>>;
    /// A page of `kind` starting at `from` (a [`Page::next`]; `None` for the first page).
    fn page(&self, kind: Kind, from: Option<i64>, limit: usize) -> StoreResult<Page>;
    fn count(&self, kind: Kind) -> StoreResult<u64>;
    /// Every object of `kind` made by `origin` (ids and seeds only matter: the seeding pass).
    fn ids_by_origin(
        &self,
        kind: Kind,
        origin: Origin,
    ) -> StoreResult<Vec<(String, Option<String>)>>;
    /// Applies every change, all or none.
    fn write(&self, changes: Vec<Change>) -> StoreResult<()>;
    /// Whether another process has written since this one last asked (cheap: called before
    /// serving from memory).
    fn changed_elsewhere(&self) -> StoreResult<bool>;
    fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;

    /// Sign-in state: `table` is the map's name (codes, refresh tokens…).
    fn entry_put(&self, table: &str, entry: &Entry) -> StoreResult<()>;
    fn entry_get(&self, table: &str, key: &str) -> StoreResult<Option<Entry>>;
    /// Changes the entry kept at `now` in one transaction (so two processes redeeming one code
    /// cannot both succeed); `false` when there is none.
    fn entry_update(
        &self,
        table: &str,
        key: &str,
        now: i64,
        f: &mut dyn FnMut(&mut Entry),
    ) -> StoreResult<bool>;
    fn entry_delete(&self, table: &str, key: &str) -> StoreResult<()>;
    /// Every entry of `table` still to be kept at `now`.
    fn entries(&self, table: &str, now: i64) -> StoreResult<Vec<Entry>>;
    /// Forgets entries past their `keep_until`.
    fn entries_expire(&self, now: i64) -> StoreResult<()>;
}
