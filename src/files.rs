//! Writing output files safely: all or nothing, never over an existing file unless forced,
//! and secret files private (0600) from the moment they exist.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One file to write.
#[derive(Debug, Clone)]
pub struct OutputFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
    /// Unix permission bits; 0o600 for keys and PKCS#12.
    pub mode: u32,
}

impl OutputFile {
    pub fn public(path: PathBuf, contents: impl Into<Vec<u8>>) -> Self {
        OutputFile {
            path,
            contents: contents.into(),
            mode: 0o644,
        }
    }

    pub fn private(path: PathBuf, contents: impl Into<Vec<u8>>) -> Self {
        OutputFile {
            path,
            contents: contents.into(),
            mode: 0o600,
        }
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::failure(format!(
            "output folder {} does not exist",
            dir.display()
        ))
        .with_hint(format!("create it first: mkdir -p {}", dir.display()))),
        Err(e) => Err(Error::io("use output folder", dir, &e)),
    }
}

/// Writes every file or none.
///
/// Each file is written beside its target under a temporary name (created 0600 by `tempfile`,
/// then given its final mode), flushed to disk, and renamed into place. Without `force`, the
/// rename refuses to replace an existing file, so a file that appears meanwhile is not lost
/// either. If any step fails, the files already placed by this call are removed again.
pub fn write_all(files: &[OutputFile], force: bool) -> Result<()> {
    if !force {
        let paths: Vec<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        let clash = existing(&paths);
        if !clash.is_empty() {
            return Err(refuse_overwrite(&clash));
        }
    }
    let mut staged = Vec::with_capacity(files.len());
    for f in files {
        staged.push(stage(f)?);
    }
    let mut placed: Vec<PathBuf> = Vec::new();
    for (tmp, f) in staged.into_iter().zip(files) {
        let result = if force {
            tmp.persist(&f.path).map(|_| ()).map_err(|e| e.error)
        } else {
            tmp.persist_noclobber(&f.path)
                .map(|_| ())
                .map_err(|e| e.error)
        };
        if let Err(e) = result {
            for p in &placed {
                let _ = std::fs::remove_file(p);
            }
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                return Err(refuse_overwrite(std::slice::from_ref(&f.path)));
            }
            return Err(Error::io("write", &f.path, &e));
        }
        placed.push(f.path.clone());
    }
    Ok(())
}

fn stage(f: &OutputFile) -> Result<tempfile::NamedTempFile> {
    let dir = match f.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".certgen-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("write in", &dir, &e))?;
    tmp.write_all(&f.contents)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io("write", &f.path, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(f.mode))
            .map_err(|e| Error::io("set permissions on", &f.path, &e))?;
    }
    Ok(tmp)
}

/// The error for files that exist and may not be replaced.
pub fn refuse_overwrite(paths: &[PathBuf]) -> Error {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Error::failure(format!(
        "refusing to overwrite existing file{} {}",
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    ))
    .with_hint("use --force to replace them, or choose another --name or --out")
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
