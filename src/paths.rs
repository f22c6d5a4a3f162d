//! Where certgen keeps state: the token cache and the token service's state folder.

use std::path::PathBuf;

use crate::error::{Error, InputKind, Result};

/// The cache folder: `$CERTGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/certgen`, else
/// `~/.cache/certgen`. Not created here; callers create it with mode 0700 when they write.
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

/// Creates `dir` (and parents) if needed and makes it private (0700).
pub fn ensure_private_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create folder", dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set permissions on", dir, e))?;
    }
    Ok(())
}

fn non_empty_env(name: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}
