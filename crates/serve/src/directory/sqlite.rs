//! The [`Store`] in one SQLite file in the state folder, through `rusqlite` (SQLite compiled
//! in, so the file format and behaviour do not depend on the machine's library). Chosen over a
//! key-value engine (sled, redb) because one file that several processes open at once, with
//! transactions across processes, secondary indexes and a documented on-disk format, is what
//! SQLite is; the schema is plain SQL, so a shared engine (Postgres) can take the same tables.
//!
//! Durability: WAL with `synchronous=NORMAL` — a committed write survives the process being
//! killed (SIGKILL, a crash); a power cut may lose the last commits but never corrupts the file
//! (<https://www.sqlite.org/pragma.html#pragma_synchronous>). Several processes on one file
//! wait for each other's writes (`busy_timeout`) and notice them through `PRAGMA
//! data_version` (<https://www.sqlite.org/pragma.html#pragma_data_version>).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};
use serde_json::Value;

use super::store::*;

/// The file's name in the state folder.
pub const FILE: &str = "directory.sqlite3";

/// The schema this build writes. Each step of [`MIGRATIONS`] takes a file one version up;
/// a file of a later version is refused, never rewritten.
pub const SCHEMA_VERSION: i64 = 1;

const MIGRATIONS: &[&str] = &[
    // 0 → 1
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
     CREATE TABLE objects(
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       kind TEXT NOT NULL, id TEXT NOT NULL, origin TEXT NOT NULL, seed TEXT,
       doc TEXT NOT NULL, internal TEXT NOT NULL,
       UNIQUE(kind, id));
     CREATE TABLE keys(
       kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
       seq INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
       PRIMARY KEY(kind, name, value, seq)) WITHOUT ROWID;
     CREATE INDEX keys_seq ON keys(seq);
     CREATE TABLE entries(
       tbl TEXT NOT NULL, key TEXT NOT NULL, keep_until INTEGER NOT NULL, value TEXT NOT NULL,
       PRIMARY KEY(tbl, key)) WITHOUT ROWID;
     CREATE INDEX entries_until ON entries(keep_until);",
];

/// How long a process waits for another's write before answering 503.
const BUSY_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    data_version: Mutex<i64>,
    /// The file opened (device and inode): an open connection keeps writing to a file that
    /// was deleted or replaced, where nothing would be kept — every use checks it is still
    /// the one at `path` (one `stat`, far below a query's cost).
    identity: Option<(u64, u64)>,
}

impl SqliteStore {
    /// Opens (making it, private, when missing) and migrates the database in `dir`.
    pub fn open(dir: &Path) -> StoreResult<SqliteStore> {
        let path = dir.join(FILE);
        let p = path.display().to_string();
        make_private_file(&path).map_err(|e| io_error(&p, &e))?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| error(&p, e))?;
        let identity = file_identity(&path).map_err(|e| io_error(&p, &e))?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            path,
            data_version: Mutex::new(0),
            identity: Some(identity),
        };
        store.prepare()?;
        Ok(store)
    }

    /// A database in memory only (tests and fuzzing: nothing is kept).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn in_memory() -> StoreResult<SqliteStore> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| error(":memory:", e))?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            path,
            data_version: Mutex::new(0),
            identity: None,
        };
        store.prepare()?;
        Ok(store)
    }

    /// The connection, once the file at `path` is checked to be the one open.
    fn lock(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        if let Some(opened) = self.identity {
            if file_identity(&self.path).ok() != Some(opened) {
                return Err(StoreError::Vanished {
                    path: self.path.display().to_string(),
                });
            }
        }
        // Every use is one statement or one transaction that rolls back when dropped
        // unfinished: a panic elsewhere cannot leave the connection half-changed.
        Ok(self.conn.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        error(&self.path.display().to_string(), e)
    }

    fn prepare(&self) -> StoreResult<()> {
        let mut conn = self.lock()?;
        conn.busy_timeout(BUSY_WAIT).map_err(|e| self.err(e))?;
        // The header is read here: a file that is not a database fails now, at start.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Newer {
                path: self.path.display().to_string(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.err(e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| self.err(e))?;
        // Several processes may start on one new folder at once: the version is read again
        // inside the write transaction, so one migrates and the others see it done.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let start = usize::try_from(version).unwrap_or(usize::MAX);
        for (i, step) in MIGRATIONS.iter().enumerate().skip(start) {
            tx.execute_batch(step).map_err(|e| self.err(e))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        let dv: i64 = conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        *self.data_version.lock().unwrap_or_else(|p| p.into_inner()) = dv;
        Ok(())
    }
}

/// Whether the file system holding `path` has no block left for this user.
fn no_room(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let dir = path.parent().unwrap_or(Path::new("."));
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `c` is a NUL-terminated path and `st` is written by statvfs(3) before it is
        // read, only when it returns 0.
        if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
            return false;
        }
        // SAFETY: initialised by the successful call above.
        let st = unsafe { st.assume_init() };
        st.f_bavail == 0
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// The device and inode of the file at `path`.
fn file_identity(path: &Path) -> std::io::Result<(u64, u64)> {
    let m = std::fs::metadata(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        // No inode: a deleted file is still noticed by its absence.
        Ok((0, u64::from(m.is_file())))
    }
}

/// Makes the file empty and 0600 if it does not exist, so the database (and the `-wal` and
/// `-shm` files SQLite gives the same mode) is never readable by others, whatever the umask.
fn make_private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn io_error(path: &str, e: &std::io::Error) -> StoreError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StoreError::ReadOnly {
                path: path.to_string(),
                reason: e.to_string(),
            }
        }
        std::io::ErrorKind::StorageFull => StoreError::Full {
            path: path.to_string(),
        },
        _ => StoreError::Other {
            path: path.to_string(),
            reason: e.to_string(),
        },
    }
}

/// SQLite's result codes, as the store's errors (<https://www.sqlite.org/rescode.html>).
fn error(path: &str, e: rusqlite::Error) -> StoreError {
    let path = path.to_string();
    let reason = e.to_string();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
            StoreError::Damaged { path, reason }
        }
        Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::PermissionDenied) => StoreError::ReadOnly { path, reason },
        Some(ErrorCode::DiskFull) => StoreError::Full { path },
        // SQLite reports a failed write of its side files (`-shm`, `-wal`) as an I/O error,
        // without the errno: a file system with no room left is the usual cause, told as such.
        Some(ErrorCode::SystemIoFailure) if no_room(Path::new(&path)) => StoreError::Full { path },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            StoreError::Busy { path }
        }
        _ => match e {
            // A stored document that no longer parses: the file was changed outside certgen.
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..) => StoreError::Damaged { path, reason },
            _ => StoreError::Other { path, reason },
        },
    }
}

const SELECT: &str = "SELECT o.seq, o.id, o.origin, o.seed, o.doc, o.internal FROM objects o";

/// A row as an object; its index keys are not read back (only writes need them).
fn row(kind: Kind, r: &rusqlite::Row) -> rusqlite::Result<(i64, Object)> {
    let seq: i64 = r.get(0)?;
    let origin: String = r.get(2)?;
    let doc: String = r.get(4)?;
    let internal: String = r.get(5)?;
    let bad = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            4,
            rusqlite::types::Type::Text,
            format!("object {seq}: {what}").into(),
        )
    };
    Ok((
        seq,
        Object {
            kind,
            id: r.get(1)?,
            origin: Origin::from_name(&origin).ok_or_else(|| bad("unknown origin"))?,
            seed: r.get(3)?,
            doc: serde_json::from_str(&doc).map_err(|_| bad("document is not JSON"))?,
            internal: serde_json::from_str(&internal).map_err(|_| bad("document is not JSON"))?,
            index: Vec::new(),
        },
    ))
}

impl Store for SqliteStore {
    fn get(&self, kind: Kind, id: &str) -> StoreResult<Option<Object>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(&format!("{SELECT} WHERE o.kind = ?1 AND o.id = ?2"))
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![kind.name(), id], |r| row(kind, r))
            .optional()
            .map(|o| o.map(|(_, o)| o))
            .map_err(|e| self.err(e))
    }

    fn find(&self, kind: Kind, name: &str, value: &str) -> StoreResult<Vec<Object>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "{SELECT} JOIN keys k ON k.seq = o.seq
                 WHERE k.kind = ?1 AND k.name = ?2 AND k.value = ?3 ORDER BY o.seq"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![kind.name(), name, value], |r| row(kind, r))
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map(|(_, o)| o).map_err(|e| self.err(e)))
            .collect()
    }

    fn find_prefix(
        &self,
        kind: Kind,
        name: &str,
        prefix: &str,
        limit: usize,
    ) -> StoreResult<Vec<Object>> {
        // A range on the primary key rather than LIKE, so the index is used and `%`/`_` in
        // what a client typed mean themselves.
        let upper = format!("{prefix}\u{10FFFF}");
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "{SELECT} JOIN keys k ON k.seq = o.seq
                 WHERE k.kind = ?1 AND k.name = ?2 AND k.value >= ?3 AND k.value < ?4
                 ORDER BY o.seq LIMIT ?5"
            ))
            .map_err(|e| self.err(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![kind.name(), name, prefix, upper, limit], |r| {
                row(kind, r)
            })
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map(|(_, o)| o).map_err(|e| self.err(e)))
            .collect()
    }

    fn page(&self, kind: Kind, from: Option<i64>, limit: usize) -> StoreResult<Page> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(&format!(
                "{SELECT} WHERE o.kind = ?1 AND o.seq >= ?2 ORDER BY o.seq LIMIT ?3"
            ))
            .map_err(|e| self.err(e))?;
        // One more than asked tells whether a next page exists, and where it starts.
        let want = i64::try_from(limit)
            .unwrap_or(i64::MAX - 1)
            .saturating_add(1);
        let rows = stmt
            .query_map(params![kind.name(), from.unwrap_or(0), want], |r| {
                row(kind, r)
            })
            .map_err(|e| self.err(e))?;
        let mut objects = Vec::new();
        let mut next = None;
        for r in rows {
            let (seq, o) = r.map_err(|e| self.err(e))?;
            if objects.len() == limit {
                next = Some(seq);
                break;
            }
            objects.push(o);
        }
        Ok(Page { objects, next })
    }

    fn count(&self, kind: Kind) -> StoreResult<u64> {
        let conn = self.lock()?;
        let n: i64 = conn
            .prepare_cached("SELECT count(*) FROM objects WHERE kind = ?1")
            .and_then(|mut s| s.query_row([kind.name()], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn ids_by_origin(
        &self,
        kind: Kind,
        origin: Origin,
    ) -> StoreResult<Vec<(String, Option<String>)>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached("SELECT id, seed FROM objects WHERE kind = ?1 AND origin = ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![kind.name(), origin.name()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map_err(|e| self.err(e))).collect()
    }

    fn write(&self, changes: Vec<Change>) -> StoreResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        for change in changes {
            match change {
                Change::Put(o) => {
                    let seq: i64 = tx
                        .prepare_cached(
                            "INSERT INTO objects(kind, id, origin, seed, doc, internal)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                             ON CONFLICT(kind, id) DO UPDATE SET origin = excluded.origin,
                               seed = excluded.seed, doc = excluded.doc,
                               internal = excluded.internal
                             RETURNING seq",
                        )
                        .and_then(|mut s| {
                            s.query_row(
                                params![
                                    o.kind.name(),
                                    o.id,
                                    o.origin.name(),
                                    o.seed,
                                    o.doc.to_string(),
                                    o.internal.to_string()
                                ],
                                |r| r.get(0),
                            )
                        })
                        .map_err(|e| self.err(e))?;
                    tx.prepare_cached("DELETE FROM keys WHERE seq = ?1")
                        .and_then(|mut s| s.execute([seq]))
                        .map_err(|e| self.err(e))?;
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT OR IGNORE INTO keys(kind, name, value, seq) VALUES (?1, ?2, ?3, ?4)",
                        )
                        .map_err(|e| self.err(e))?;
                    for (name, value) in &o.index {
                        insert
                            .execute(params![o.kind.name(), name, value, seq])
                            .map_err(|e| self.err(e))?;
                    }
                }
                Change::Delete(kind, id) => {
                    tx.prepare_cached("DELETE FROM objects WHERE kind = ?1 AND id = ?2")
                        .and_then(|mut s| s.execute(params![kind.name(), id]))
                        .map_err(|e| self.err(e))?;
                }
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn changed_elsewhere(&self) -> StoreResult<bool> {
        let conn = self.lock()?;
        let dv: i64 = conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let mut last = self.data_version.lock().unwrap_or_else(|p| p.into_inner());
        let changed = dv != *last;
        *last = dv;
        Ok(changed)
    }

    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let conn = self.lock()?;
        conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        let conn = self.lock()?;
        conn.prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute([key, value]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    fn entry_put(&self, table: &str, entry: &Entry) -> StoreResult<()> {
        let conn = self.lock()?;
        conn.prepare_cached(
            "INSERT OR REPLACE INTO entries(tbl, key, keep_until, value) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                table,
                entry.key,
                entry.keep_until,
                entry.value.to_string()
            ])
        })
        .map(drop)
        .map_err(|e| self.err(e))
    }

    fn entry_get(&self, table: &str, key: &str) -> StoreResult<Option<Entry>> {
        let conn = self.lock()?;
        conn.prepare_cached("SELECT keep_until, value FROM entries WHERE tbl = ?1 AND key = ?2")
            .and_then(|mut s| {
                s.query_row([table, key], |r| entry_row(key.to_string(), r))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    fn entry_update(
        &self,
        table: &str,
        key: &str,
        now: i64,
        f: &mut dyn FnMut(&mut Entry),
    ) -> StoreResult<bool> {
        let mut conn = self.lock()?;
        // Immediate: the write lock is taken before the read, so another process's update of
        // the same entry waits for this one and then sees its result.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let found = tx
            .prepare_cached(
                "SELECT keep_until, value FROM entries WHERE tbl = ?1 AND key = ?2 AND keep_until > ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![table, key, now], |r| entry_row(key.to_string(), r))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        let Some(mut entry) = found else {
            return Ok(false);
        };
        f(&mut entry);
        tx.prepare_cached(
            "UPDATE entries SET keep_until = ?3, value = ?4 WHERE tbl = ?1 AND key = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                table,
                key,
                entry.keep_until,
                entry.value.to_string()
            ])
        })
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(true)
    }

    fn entry_delete(&self, table: &str, key: &str) -> StoreResult<()> {
        let conn = self.lock()?;
        conn.prepare_cached("DELETE FROM entries WHERE tbl = ?1 AND key = ?2")
            .and_then(|mut s| s.execute([table, key]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    fn entries(&self, table: &str, now: i64) -> StoreResult<Vec<Entry>> {
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT keep_until, value, key FROM entries WHERE tbl = ?1 AND keep_until > ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![table, now], |r| entry_row(r.get(2)?, r))
            .map_err(|e| self.err(e))?;
        rows.map(|r| r.map_err(|e| self.err(e))).collect()
    }

    fn entries_expire(&self, now: i64) -> StoreResult<()> {
        let conn = self.lock()?;
        conn.prepare_cached("DELETE FROM entries WHERE keep_until <= ?1")
            .and_then(|mut s| s.execute([now]))
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

fn entry_row(key: String, r: &rusqlite::Row) -> rusqlite::Result<Entry> {
    let value: String = r.get(1)?;
    Ok(Entry {
        key,
        keep_until: r.get(0)?,
        value: serde_json::from_str::<Value>(&value).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into())
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(kind: Kind, id: &str, index: Vec<(&'static str, String)>) -> Object {
        Object {
            kind,
            id: id.into(),
            origin: Origin::Graph,
            seed: None,
            doc: json!({"id": id}),
            internal: json!({}),
            index,
        }
    }

    #[test]
    fn objects_are_kept_found_paged_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut changes = Vec::new();
        for i in 0..5 {
            changes.push(Change::Put(object(
                Kind::User,
                &format!("u{i}"),
                vec![("upn", format!("user{i}@x"))],
            )));
        }
        store.write(changes).unwrap();
        assert_eq!(store.count(Kind::User).unwrap(), 5);
        assert_eq!(
            store.find(Kind::User, "upn", "user3@x").unwrap()[0].id,
            "u3"
        );
        let first = store.page(Kind::User, None, 2).unwrap();
        assert_eq!(first.objects.len(), 2);
        let second = store.page(Kind::User, first.next, 2).unwrap();
        assert_eq!(second.objects[0].id, "u2");
        assert_eq!(
            store
                .find_prefix(Kind::User, "upn", "user", 10)
                .unwrap()
                .len(),
            5
        );
        // Replacing keeps the making order and swaps the index keys.
        store
            .write(vec![Change::Put(object(
                Kind::User,
                "u0",
                vec![("upn", "renamed@x".into())],
            ))])
            .unwrap();
        assert!(store.find(Kind::User, "upn", "user0@x").unwrap().is_empty());
        assert_eq!(store.page(Kind::User, None, 1).unwrap().objects[0].id, "u0");
        store
            .write(vec![Change::Delete(Kind::User, "u0".into())])
            .unwrap();
        assert!(store
            .find(Kind::User, "upn", "renamed@x")
            .unwrap()
            .is_empty());
        drop(store);
        // Reopened: all there.
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.count(Kind::User).unwrap(), 4);
    }

    #[test]
    fn a_newer_or_damaged_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(dir.path()),
            Err(StoreError::Newer { found: 99, .. })
        ));
        let junk = tempfile::tempdir().unwrap();
        std::fs::write(
            junk.path().join(FILE),
            b"not a database, just text\n".repeat(100),
        )
        .unwrap();
        assert!(matches!(
            SqliteStore::open(junk.path()),
            Err(StoreError::Damaged { .. })
        ));
        assert_eq!(
            std::fs::read(junk.path().join(FILE)).unwrap(),
            b"not a database, just text\n".repeat(100)
        );
    }

    #[test]
    fn another_connection_s_write_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let a = SqliteStore::open(dir.path()).unwrap();
        let b = SqliteStore::open(dir.path()).unwrap();
        assert!(!a.changed_elsewhere().unwrap());
        b.write(vec![Change::Put(object(Kind::Group, "g", vec![]))])
            .unwrap();
        assert!(a.changed_elsewhere().unwrap());
        assert!(!a.changed_elsewhere().unwrap());
        assert!(a.get(Kind::Group, "g").unwrap().is_some());
    }
}
