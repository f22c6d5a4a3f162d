//! Writing output files safely: all or nothing, never over an existing file unless forced,
//! and secret files private (0600) from the moment they exist.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, InputKind, Result};

/// One file to write.
#[derive(Debug, Clone)]
pub struct OutputFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// Unix permission bits; 0o600 for keys and PKCS#12.
    pub mode: u32,
    /// Owner and group (uid, gid) to give the file before it appears; `None`: the writer's.
    pub owner: Option<(u32, u32)>,
}

impl OutputFile {
    pub fn public(path: PathBuf, contents: impl Into<Vec<u8>>) -> Self {
        OutputFile {
            path,
            contents: contents.into(),
            mode: 0o644,
            owner: None,
        }
    }

    pub fn private(path: PathBuf, contents: impl Into<Vec<u8>>) -> Self {
        OutputFile {
            path,
            contents: contents.into(),
            mode: 0o600,
            owner: None,
        }
    }

    /// The same file with the mode, owner and group of `existing` (the file it replaces), so
    /// whatever read the old one (a daemon of another user, through its group) reads the new
    /// one, as certbot keeps the group and mode of a renewed private key. Without the rights
    /// to give that owner, the write fails before the file appears.
    pub fn like(mut self, existing: &Path) -> Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(existing).map_err(|e| Error::io("read", existing, e))?;
            self.mode = meta.mode() & 0o7777;
            self.owner = Some((meta.uid(), meta.gid()));
        }
        #[cfg(not(unix))]
        let _ = existing;
        Ok(self)
    }
}

/// The files among `paths` that exist already.
pub fn existing(paths: &[&Path]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.to_path_buf())
        .collect()
}

/// Checks that `dir` is a folder certgen can write into.
pub fn check_output_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::failure(format!(
            "output folder {} is not a folder",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::input(
            InputKind::NoOutputFolder {
                dir: dir.to_path_buf(),
            },
            format!("output folder {} does not exist", dir.display()),
        )),
        Err(e) => Err(Error::io("use output folder", dir, e)),
    }
}

/// Checks the targets before any work is done: a folder in the way is always refused, an
/// existing file unless `force`.
pub fn check_targets(paths: &[&Path], force: bool) -> Result<()> {
    if let Some(dir) = paths.iter().find(|p| p.is_dir()) {
        return Err(Error::input(
            InputKind::OutputClash,
            format!(
                "cannot write {}: a folder of that name is in the way",
                dir.display()
            ),
        ));
    }
    if !force {
        let clash = existing(paths);
        if !clash.is_empty() {
            return Err(refuse_overwrite(&clash));
        }
    }
    Ok(())
}

/// Writes every file or none.
///
/// Each file is written beside its target under a temporary name (created 0600 by `tempfile`,
/// then given its final mode), flushed to disk, and renamed into place. Without `force`, the
/// rename refuses to replace an existing file, so a file that appears meanwhile is not lost
/// either. With `force`, a file being replaced is first moved aside, so that if a later step
/// fails the old files come back: a failed `--force` run loses nothing.
pub fn write_all(files: &[OutputFile], force: bool) -> Result<()> {
    let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
    check_targets(&paths, force)?;
    let mut staged = Vec::with_capacity(files.len());
    for f in files {
        staged.push(stage(f)?);
    }
    place(staged, files, force)
}

/// Replaces one file atomically, for a file other processes read and write at the same moment
/// (the token cache): written beside it, then renamed over it in one step, so a reader sees
/// the old contents or the new, never no file. [`write_all`] with `force` cannot serve here:
/// it moves the old file aside first (to restore it if a later file fails), which leaves a
/// moment with no file, and fails when another writer moved it first.
pub fn replace(file: &OutputFile) -> Result<()> {
    let tmp = stage(file)?;
    tmp.persist(&file.path)
        .map(|_| ())
        .map_err(|e| Error::io("write", &file.path, e.error))
}

/// Renames the staged files into place, all or none.
fn place(staged: Vec<tempfile::NamedTempFile>, files: &[OutputFile], force: bool) -> Result<()> {
    let mut placed: Vec<Placed> = Vec::new();
    for (tmp, f) in staged.into_iter().zip(files) {
        let backup = if force {
            match move_aside(&f.path) {
                Ok(b) => b,
                Err(e) => {
                    rollback(placed);
                    return Err(e);
                }
            }
        } else {
            None
        };
        let result = if force {
            tmp.persist(&f.path).map(|_| ()).map_err(|e| e.error)
        } else {
            tmp.persist_noclobber(&f.path)
                .map(|_| ())
                .map_err(|e| e.error)
        };
        if let Err(e) = result {
            if let Some(b) = &backup {
                let _ = std::fs::rename(b, &f.path);
            }
            rollback(placed);
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                return Err(refuse_overwrite(std::slice::from_ref(&f.path)));
            }
            return Err(Error::io("write", &f.path, e));
        }
        placed.push(Placed {
            target: f.path.clone(),
            backup,
        });
    }
    // Success: dropping the placed entries deletes the moved-aside old files.
    Ok(())
}

/// A file this call put in place, and the old file it replaced (deleted when dropped).
struct Placed {
    target: PathBuf,
    backup: Option<tempfile::TempPath>,
}

/// Moves an existing `path` to a fresh hidden name beside it; `None` when there is nothing.
fn move_aside(path: &Path) -> Result<Option<tempfile::TempPath>> {
    if path.symlink_metadata().is_err() {
        return Ok(None);
    }
    let backup = tempfile::Builder::new()
        .prefix(".certgen-old-")
        .tempfile_in(parent_dir(path))
        .map_err(|e| Error::io("write in", &parent_dir(path), e))?
        .into_temp_path();
    std::fs::rename(path, &backup).map_err(|e| Error::io("replace", path, e))?;
    Ok(Some(backup))
}

/// Undoes the placed files, newest first: old files return, new ones go.
fn rollback(placed: Vec<Placed>) {
    for p in placed.into_iter().rev() {
        match &p.backup {
            Some(b) => {
                let _ = std::fs::rename(b, &p.target);
            }
            None => {
                let _ = std::fs::remove_file(&p.target);
            }
        }
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn stage(f: &OutputFile) -> Result<tempfile::NamedTempFile> {
    let dir = parent_dir(&f.path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".certgen-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("write in", &dir, e))?;
    tmp.write_all(&f.contents)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io("write", &f.path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Owner first: a chown by a non-root user clears the set-id bits the mode may hold.
        if let Some((uid, gid)) = f.owner {
            std::os::unix::fs::fchown(tmp.as_file(), Some(uid), Some(gid))
                .map_err(|e| Error::io(&format!("give owner {uid}:{gid} to"), &f.path, e))?;
        }
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(f.mode))
            .map_err(|e| Error::io("set permissions on", &f.path, e))?;
    }
    Ok(tmp)
}

/// The error for files that exist and may not be replaced.
pub fn refuse_overwrite(paths: &[PathBuf]) -> Error {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Error::input(
        InputKind::OutputExists,
        format!(
            "refusing to overwrite existing file{} {}",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ),
    )
}

/// An exclusive advisory lock on a file (`flock`), released when dropped or when the process
/// dies — even by SIGKILL, since the lock belongs to the open file, so no stale lock is ever
/// left behind. The lock file stays in place: removing it would let a third process lock a
/// fresh inode while a second still holds the old one. `flock` rather than `File::lock`, which
/// needs Rust 1.89 (the MSRV is 1.85).
#[derive(Debug)]
pub struct FileLock {
    _file: std::fs::File,
}

impl FileLock {
    /// Takes the lock on `path` (made 0600 if missing): waiting for it when `wait`, else `None`
    /// when another process holds it.
    pub fn acquire(path: &Path, wait: bool) -> Result<Option<FileLock>> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(|e| Error::io("open", path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            let how = if wait {
                libc::LOCK_EX
            } else {
                libc::LOCK_EX | libc::LOCK_NB
            };
            loop {
                // SAFETY: flock on a descriptor this function owns; no memory is passed.
                if unsafe { libc::flock(file.as_raw_fd(), how) } == 0 {
                    break;
                }
                let e = std::io::Error::last_os_error();
                match e.kind() {
                    std::io::ErrorKind::Interrupted => continue,
                    std::io::ErrorKind::WouldBlock if !wait => return Ok(None),
                    _ => return Err(Error::io("lock", path, e)),
                }
            }
        }
        Ok(Some(FileLock { _file: file }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_written_when_one_target_exists() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&b, "keep").unwrap();
        let err = write_all(
            &[
                OutputFile::public(a.clone(), "new a"),
                OutputFile::public(b.clone(), "new b"),
            ],
            false,
        )
        .unwrap_err();
        assert!(err.message().contains("refusing to overwrite"));
        assert!(!a.exists());
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "keep");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn a_failed_forced_write_restores_the_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "old a").unwrap();
        let files = [
            OutputFile::public(a.clone(), "new a"),
            OutputFile::public(b.clone(), "new b"),
        ];
        let staged = files.iter().map(|f| stage(f).unwrap()).collect();
        // A folder appears at `b` after the up-front check: placing `b` fails after `a`
        // was already replaced, and `a` must come back.
        std::fs::create_dir(&b).unwrap();
        std::fs::write(b.join("inside"), "x").unwrap();
        let err = place(staged, &files, true).unwrap_err();
        assert!(
            err.message().starts_with("cannot replace"),
            "{}",
            err.message()
        );
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old a");
        assert!(b.join("inside").exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no leftovers"
        );
    }

    #[test]
    fn a_folder_in_the_way_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        let err = write_all(&[OutputFile::public(a, "x")], true).unwrap_err();
        assert!(err.message().contains("in the way"), "{}", err.message());
    }

    #[test]
    fn forced_write_replaces_and_leaves_no_backup() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "old").unwrap();
        write_all(&[OutputFile::private(a.clone(), "new")], true).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn modes_are_applied() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let k = dir.path().join("k");
        let c = dir.path().join("c");
        write_all(
            &[
                OutputFile::private(k.clone(), "secret"),
                OutputFile::public(c.clone(), "cert"),
            ],
            false,
        )
        .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&k), 0o600);
        assert_eq!(mode(&c), 0o644);
    }
}
