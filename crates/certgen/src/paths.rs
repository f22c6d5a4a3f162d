//! Where certgen keeps state: the token cache and the token service's state folder.

use std::path::{Path, PathBuf};

use crate::error::{Error, InputKind, Result};

/// The cache folder: `$CERTGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/certgen`, else
/// `~/.cache/certgen`. Not created here; callers create it with [`ensure_private_dir`] when they write, in
/// the place [`private_location`] gives.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = non_empty_env("CERTGEN_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty_env("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("certgen"));
    }
    if let Some(home) = non_empty_env("HOME") {
        return Ok(PathBuf::from(home).join(".cache").join("certgen"));
    }
    Err(Error::input(
        InputKind::NoCacheDir,
        "cannot find a cache folder: HOME is not set",
    ))
}

/// Where certgen keeps its files when asked to use `dir`: `dir` itself, or, when `dir` is a
/// folder other users may write to (a shared `/tmp`-like 1777 folder), a private subfolder
/// `certgen-{uid}` in it. certgen never changes the mode of a folder it did not create: taking
/// such a folder to 0700 would lock every other user out of it.
pub fn private_location(dir: &Path) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(dir) {
            if m.is_dir() && m.permissions().mode() & 0o022 != 0 {
                return dir.join(format!("certgen-{}", unix::euid()));
            }
        }
    }
    dir.to_path_buf()
}

/// Creates `dir` (and missing parents) with mode 0700 if it does not exist; an existing one is
/// used as it is when it is safe to keep secrets in (see [`check_private`]), never chmodded.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if std::fs::symlink_metadata(dir).is_ok() {
        return check_private(dir);
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::io("create folder", dir, e))?;
    check_private(dir)
}

/// Checks that an existing folder is one certgen may keep tokens and keys in: a folder owned by
/// this user that no other user can write to (else another user could plant or swap files).
pub fn check_private(dir: &Path) -> Result<()> {
    let m = std::fs::metadata(dir).map_err(|e| Error::io("use folder", dir, e))?;
    if !m.is_dir() {
        return Err(Error::failure(format!(
            "cannot use folder {}: it is not a folder",
            dir.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = m.permissions().mode() & 0o7777;
        if m.uid() != unix::euid() {
            return Err(Error::input(
                InputKind::ForeignFolder {
                    dir: dir.to_path_buf(),
                },
                format!(
                    "cannot use folder {}: it belongs to another user (uid {})",
                    dir.display(),
                    m.uid()
                ),
            ));
        }
        if mode & 0o022 != 0 {
            return Err(Error::input(
                InputKind::SharedFolder {
                    dir: dir.to_path_buf(),
                },
                format!(
                    "cannot use folder {}: other users may write to it (mode {mode:04o})",
                    dir.display()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(unix)]
mod unix {
    /// The effective user id: the owner of the files this process creates.
    pub fn euid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail (POSIX).
        unsafe { libc::geteuid() }
    }
}

fn non_empty_env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}
