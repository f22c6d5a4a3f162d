//! Renewing a certificate in place, crash-safe: where a rotation stands is read from the files
//! alone, so a run killed at any point is completed by the next one.
//!
//! Beside `app.crt`/`app.key` (the credential's paths):
//! - `app.crt.next`, `app.key.next` — the new certificate and key (step 1); the key is written
//!   first, so a lone `app.key.next` is a step 1 cut short and is made again;
//! - `app.crt.previous`, `app.key.previous` — the old ones, kept after the swap (step 4);
//! - `app.crt.remove-pending` — the old certificate is still to be removed from the app (step
//!   5); written before the swap unless the old one is kept.
//!
//! The swap renames `app.key.next` over `app.key`, then `app.crt.next` over `app.crt`: each
//! file is whole at every moment; between the two renames the key is new and the certificate
//! old, which [`Stage::HalfSwapped`] recognises and the next run completes.
//!
//! Two runs on the same files must not interleave (one could swap while the other stages):
//! [`lock`] takes an advisory lock on `app.crt.rotate.lock` for the whole run.

use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::certificate::Certificate;
use crate::error::{Error, Result};
use crate::files::{self, OutputFile};

/// The files of one credential and its rotation.
#[derive(Debug, Clone)]
pub struct Layout {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Layout {
    pub fn next_cert(&self) -> PathBuf {
        with_suffix(&self.cert, ".next")
    }
    pub fn next_key(&self) -> PathBuf {
        with_suffix(&self.key, ".next")
    }
    pub fn previous_cert(&self) -> PathBuf {
        with_suffix(&self.cert, ".previous")
    }
    pub fn previous_key(&self) -> PathBuf {
        with_suffix(&self.key, ".previous")
    }
    pub fn removal_marker(&self) -> PathBuf {
        with_suffix(&self.cert, ".remove-pending")
    }
    pub fn lock_file(&self) -> PathBuf {
        with_suffix(&self.cert, ".rotate.lock")
    }
}

/// Held for a whole run; the lock goes with the file descriptor (on drop, or when the process
/// dies, even by SIGKILL, so a killed run never leaves a stale lock behind).
#[derive(Debug)]
pub struct RotateLock {
    _file: std::fs::File,
}

/// Takes the run's exclusive lock without waiting: `None` when another process holds it.
/// `flock` rather than `File::lock`, which needs Rust 1.89 (the MSRV is 1.85). The lock file
/// is left in place: removing it would let a third run lock a fresh inode while the second
/// still holds the old one.
pub fn lock(layout: &Layout) -> Result<Option<RotateLock>> {
    let path = layout.lock_file();
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .map_err(|e| Error::io("open", &path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(Error::io("lock", &path, e));
        }
    }
    Ok(Some(RotateLock { _file: file }))
}

/// Where a rotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing under way (a lone `*.key.next` included: step 1 is made again).
    Idle,
    /// The new certificate and key are staged (steps 2–4 to do).
    Staged,
    /// The key is swapped, the certificate not yet.
    HalfSwapped,
    /// Swapped; the old certificate is still to be removed from the app.
    RemovalPending,
}

/// Reads the stage from the files.
pub fn stage(layout: &Layout) -> Stage {
    match (layout.next_cert().exists(), layout.next_key().exists()) {
        (true, true) => Stage::Staged,
        (true, false) => Stage::HalfSwapped,
        _ if layout.removal_marker().exists() => Stage::RemovalPending,
        _ => Stage::Idle,
    }
}

/// The moment from which `cert` is due for renewal.
pub fn renew_from(cert: &Certificate, within_days: u32) -> OffsetDateTime {
    cert.not_after - Duration::days(i64::from(within_days))
}

/// Step 1: writes the new key, then the new certificate, each atomically.
pub fn stage_new(layout: &Layout, cert_pem: &str, key_pem: &str) -> Result<()> {
    files::replace(&OutputFile::private(layout.next_key(), key_pem.as_bytes()))?;
    files::replace(&OutputFile::public(layout.next_cert(), cert_pem.as_bytes()))
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| Error::io("rename", from, e))?;
    sync_dir(to);
    Ok(())
}

/// Makes a rename durable (the directory entry), where the platform allows.
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Step 4: keeps the current files as `*.previous`, marks the old certificate for removal
/// unless `keep_old`, and renames the staged files into place. `between` runs between the two
/// renames (a test's kill point).
pub fn swap(layout: &Layout, keep_old: bool, between: &dyn Fn()) -> Result<()> {
    if !keep_old {
        files::replace(&OutputFile::public(layout.removal_marker(), Vec::new()))?;
    }
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io("read", p, e));
    files::replace(&OutputFile::private(
        layout.previous_key(),
        read(&layout.key)?,
    ))?;
    files::replace(&OutputFile::public(
        layout.previous_cert(),
        read(&layout.cert)?,
    ))?;
    rename(&layout.next_key(), &layout.key)?;
    between();
    finish_swap(layout)
}

/// Completes a swap cut between its two renames.
pub fn finish_swap(layout: &Layout) -> Result<()> {
    rename(&layout.next_cert(), &layout.cert)
}

/// Step 5 done (or not wanted): the marker goes.
pub fn removal_done(layout: &Layout) -> Result<()> {
    match std::fs::remove_file(layout.removal_marker()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", &layout.removal_marker(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stage_is_read_from_the_files_and_the_swap_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            cert: dir.path().join("app.crt"),
            key: dir.path().join("app.key"),
        };
        std::fs::write(&layout.cert, "old cert").unwrap();
        std::fs::write(&layout.key, "old key").unwrap();
        assert_eq!(stage(&layout), Stage::Idle);
        std::fs::write(layout.next_key(), "half").unwrap();
        assert_eq!(stage(&layout), Stage::Idle);
        stage_new(&layout, "new cert", "new key").unwrap();
        assert_eq!(stage(&layout), Stage::Staged);
        let seen = std::cell::Cell::new(None);
        swap(&layout, false, &|| seen.set(Some(stage(&layout)))).unwrap();
        assert_eq!(seen.get(), Some(Stage::HalfSwapped));
        assert_eq!(stage(&layout), Stage::RemovalPending);
        assert_eq!(std::fs::read_to_string(&layout.cert).unwrap(), "new cert");
        assert_eq!(std::fs::read_to_string(&layout.key).unwrap(), "new key");
        assert_eq!(
            std::fs::read_to_string(layout.previous_key()).unwrap(),
            "old key"
        );
        removal_done(&layout).unwrap();
        assert_eq!(stage(&layout), Stage::Idle);
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_is_exclusive_until_dropped_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            cert: dir.path().join("app.crt"),
            key: dir.path().join("app.key"),
        };
        let held = lock(&layout).unwrap().expect("free at first");
        // flock locks belong to the open file description: a second open conflicts, even here.
        assert!(lock(&layout).unwrap().is_none());
        let mode = std::fs::metadata(layout.lock_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(held);
        assert!(lock(&layout).unwrap().is_some());
    }
}
