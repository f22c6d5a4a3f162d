//! What a load read — every file (the config, its users file, certificate files) and every
//! environment variable — kept as digests, so a later start can tell, before parsing anything,
//! that its inputs are the ones the directory was seeded from and skip parsing and seeding.
//!
//! Only digests are kept: a secret's value never leaves the process, and the record in the
//! directory names files and variables, not what they hold.

use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::flags::Flags;
use certgen::read::{self, Limit};

/// Bumped when what the same inputs seed changes, so a directory seeded by an older build is
/// seeded again even though the files did not change.
const SEED_FORMAT: &str = "1";

/// What a load read, in the order read.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<(PathBuf, [u8; 32])>,
    env: Vec<(String, Option<[u8; 32]>)>,
}

/// The record kept in the directory: the inputs' digest and where to read them again.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    digest: String,
    files: Vec<PathBuf>,
    env: Vec<String>,
}

/// The most of one input hashed again on a later start: the largest any of them may be.
const REREAD: Limit = read::USERS_FILE;

impl Sources {
    pub(super) fn file(&mut self, path: &Path, bytes_digest: [u8; 32]) {
        self.files.push((path.to_path_buf(), bytes_digest));
    }

    /// The record to keep beside the directory seeded from these inputs.
    pub fn record(&self, flags: &Flags) -> String {
        let record = Record {
            digest: digest(
                flags,
                self.files.iter().map(|(p, d)| (p.as_path(), Some(*d))),
                self.env.iter().map(|(n, d)| (n.as_str(), *d)),
            ),
            files: self.files.iter().map(|(p, _)| p.clone()).collect(),
            env: self.env.iter().map(|(n, _)| n.clone()).collect(),
        };
        serde_json::to_string(&record).unwrap_or_default()
    }
}

/// Whether `record` (from [`Sources::record`] at an earlier start) still describes the inputs:
/// every file it names hashed again, every variable read again. Any doubt (a file gone,
/// unreadable or too large, a record this build cannot read) is "changed": the start then
/// parses and reports as usual.
pub fn unchanged(record: &str, flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> bool {
    let Ok(record) = serde_json::from_str::<Record>(record) else {
        return false;
    };
    let mut files = Vec::with_capacity(record.files.len());
    for p in &record.files {
        match hash_file(p) {
            Some(d) => files.push((p.as_path(), Some(d))),
            None => return false,
        }
    }
    let values: Vec<_> = record
        .env
        .iter()
        .map(|n| (n.as_str(), env(n).map(|v| sha256(v.as_bytes()))))
        .collect();
    digest(flags, files.into_iter(), values.into_iter()) == record.digest
}

/// Wraps `env` so that every variable it is asked for is noted (with a digest of its value).
pub(super) fn recording<'a>(
    env: &'a dyn Fn(&str) -> Option<String>,
    sources: &'a RefCell<Sources>,
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        let value = env(name);
        sources.borrow_mut().env.push((
            name.to_string(),
            value.as_deref().map(|v| sha256(v.as_bytes())),
        ));
        value
    }
}

pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A file's digest, read in blocks (never whole) up to [`REREAD`].
fn hash_file(path: &Path) -> Option<[u8; 32]> {
    let file = read::open_regular(path, REREAD).ok()?;
    let mut h = Sha256::new();
    let mut reader = file.take(REREAD.bytes.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = reader.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        total = total.saturating_add(n as u64);
        h.update(&buf[..n]);
    }
    (total <= REREAD.bytes).then(|| h.finalize().into())
}

fn digest<'a>(
    flags: &Flags,
    files: impl Iterator<Item = (&'a Path, Option<[u8; 32]>)>,
    env: impl Iterator<Item = (&'a str, Option<[u8; 32]>)>,
) -> String {
    let mut h = Sha256::new();
    // Every part length-prefixed, so no two different inputs run together into one.
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    part(env!("CARGO_PKG_VERSION").as_bytes());
    part(SEED_FORMAT.as_bytes());
    for t in &flags.tenants {
        part(b"tenant");
        part(t.as_bytes());
    }
    for (c, p) in &flags.app_certs {
        part(b"app");
        part(c.as_bytes());
        part(p.as_os_str().as_encoded_bytes());
    }
    for (c, v) in &flags.app_secrets {
        part(b"app-secret");
        part(c.as_bytes());
        part(v.as_bytes());
    }
    for (p, d) in files {
        part(b"file");
        part(p.as_os_str().as_encoded_bytes());
        part(d.as_ref().map_or(&[][..], |d| &d[..]));
    }
    for (n, d) in env {
        part(b"env");
        part(n.as_bytes());
        match d {
            Some(d) => part(&d),
            None => part(b"unset"),
        }
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_or_variable_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(&file, "a").unwrap();
        let mut s = Sources::default();
        s.file(&file, sha256(b"a"));
        let sources = RefCell::new(s);
        let env = |n: &str| (n == "S").then(|| "one".to_string());
        let rec = recording(&env, &sources);
        assert_eq!(rec("S").as_deref(), Some("one"));
        let record = sources.borrow().record(&Flags::default());
        assert!(!record.contains("one"), "no secret in the record: {record}");
        assert!(unchanged(&record, &Flags::default(), &env));
        assert!(!unchanged(&record, &Flags::default(), &|_| Some(
            "two".into()
        )));
        let flags = Flags {
            tenants: vec!["t".into()],
            ..Flags::default()
        };
        assert!(!unchanged(&record, &flags, &env));
        std::fs::write(&file, "b").unwrap();
        assert!(!unchanged(&record, &Flags::default(), &env));
        std::fs::remove_file(&file).unwrap();
        assert!(!unchanged(&record, &Flags::default(), &env));
        assert!(!unchanged("not json", &Flags::default(), &env));
    }
}
