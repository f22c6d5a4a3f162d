//! Reading an input — a file or stdin — with a bound suited to what it is.
//!
//! Every input certgen reads goes through here, so that a mistaken `/dev/zero`, a disk image
//! or an endless pipe cannot eat all memory: the read stops one byte past the [`Limit`]. A
//! device, socket or folder (symlinks followed) is refused before a byte is read. A pipe is
//! accepted where the user names the input — `--secret-file <(pass show app)` and
//! `--jwks-file <(curl …)` are pipes — but not for certgen's own files (a cache entry), which
//! must be regular files: there, a FIFO is refused at once instead of waiting for a writer.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// What an input is and the most of it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What the input should be, for messages: "a token", "a JWKS" …
    pub what: &'static str,
    pub bytes: u64,
    /// Whether a pipe (FIFO, process substitution) is an acceptable source.
    pub pipe_ok: bool,
}

/// A JWT on the command line or stdin: Entra's largest tokens (many groups, `x5c`) are a few
/// KiB; a client assertion with a long chain stays far below this.
pub const TOKEN: Limit = Limit {
    what: "a token",
    bytes: 256 * 1024,
    pipe_ok: true,
};

/// A JWKS file: Entra's key sets are a few KiB; this allows hundreds of keys with chains.
pub const JWKS: Limit = Limit {
    what: "a JWKS",
    bytes: 1024 * 1024,
    pipe_ok: true,
};

/// A PEM bundle of CA certificates: the whole Mozilla root store is about 250 KiB.
pub const CA_BUNDLE: Limit = Limit {
    what: "a CA bundle",
    bytes: 4 * 1024 * 1024,
    pipe_ok: true,
};

/// A certificate, key or PKCS#12 file, or a chain: kilobytes each.
pub const CREDENTIAL: Limit = Limit {
    what: "a certificate, key or PKCS#12 file",
    bytes: 1024 * 1024,
    pipe_ok: true,
};

/// `certgen serve --config`: a TOML file of registrations. An organisation's 10,000 apps with
/// 100,000 users written inline as `[[user]]` tables come to about 20 MiB.
pub const CONFIG: Limit = Limit {
    what: "a configuration file",
    bytes: 64 * 1024 * 1024,
    pipe_ok: true,
};

/// `certgen serve`'s `users_file`: JSON Lines of Graph user objects, read a line at a time.
/// 100,000 users as Graph answers them are about 40 MiB.
pub const USERS_FILE: Limit = Limit {
    what: "a users file",
    bytes: 256 * 1024 * 1024,
    pipe_ok: false,
};

/// One token-cache entry: a token and a few fields.
pub const CACHE_ENTRY: Limit = Limit {
    what: "a token-cache entry",
    bytes: 256 * 1024,
    pipe_ok: false,
};

/// A password or secret file: only its first line is used.
pub const SECRET: Limit = Limit {
    what: "a password or secret file",
    bytes: 64 * 1024,
    pipe_ok: true,
};

/// A request body given as `--data @FILE`.
pub const REQUEST_BODY: Limit = Limit {
    what: "a request body",
    bytes: 16 * 1024 * 1024,
    pipe_ok: true,
};

impl Limit {
    /// "256 KiB", "4 MiB".
    pub fn human(&self) -> String {
        const MIB: u64 = 1024 * 1024;
        match self.bytes {
            b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
            b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
            b => format!("{b} bytes"),
        }
    }
}

/// Why an input could not be read. `Display` gives the reason without the input's name, for
/// messages that name it themselves; [`ReadError::message`] puts the name in front.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("it is larger than {}, the most certgen reads for {}", .limit.human(), .limit.what)]
    TooLarge { limit: Limit },
    #[error("it is {kind}, not a regular file holding {}", .limit.what)]
    NotAFile { kind: &'static str, limit: Limit },
    #[error("{}", crate::error::io_reason(.0))]
    Io(#[from] std::io::Error),
}

impl ReadError {
    /// "cannot read NAME: REASON".
    pub fn message(&self, name: &str) -> String {
        format!("cannot read {name}: {self}")
    }

    /// The library error for the input `name`.
    pub fn into_error(self, name: &str) -> Error {
        Error::failure(self.message(name))
    }

    /// The library error for the file `path` (`-`: stdin): an [`Error::Io`] for an I/O failure,
    /// else a refused input naming the path.
    pub fn into_path_error(self, path: &Path) -> Error {
        match self {
            ReadError::Io(e) if path != Path::new("-") => Error::io("read", path, e),
            other if path == Path::new("-") => other.into_error("stdin"),
            other => Error::failure(other.message(&path.display().to_string())).at(path),
        }
    }
}

/// Reads the regular file `path` (or a pipe, where `limit` allows one) whole, refusing
/// anything larger than `limit`.
pub fn file(path: &Path, limit: Limit) -> std::result::Result<Vec<u8>, ReadError> {
    bounded(open_regular(path, limit)?, limit)
}

/// Reads stdin to its end, refusing anything larger than `limit`.
pub fn stdin(limit: Limit) -> std::result::Result<Vec<u8>, ReadError> {
    bounded(std::io::stdin().lock(), limit)
}

/// `path`, or stdin for `-`.
pub fn file_or_stdin(path: &Path, limit: Limit) -> std::result::Result<Vec<u8>, ReadError> {
    if path == Path::new("-") {
        stdin(limit)
    } else {
        file(path, limit)
    }
}

/// [`file_or_stdin`] with the library's error, naming the input by its path.
pub fn input(path: &Path, limit: Limit) -> Result<Vec<u8>> {
    file_or_stdin(path, limit).map_err(|e| e.into_path_error(path))
}

/// Opens `path` for reading if it is a regular file (after symlinks), or a pipe where `limit`
/// allows one. Where it does not, the file is opened without waiting (`O_NONBLOCK`: opening a
/// FIFO for reading otherwise waits for a writer) and checked on the open handle (a check by
/// name before opening could be raced).
pub fn open_regular(path: &Path, limit: Limit) -> std::result::Result<std::fs::File, ReadError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    if !limit.pipe_ok {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !(meta.is_file() || limit.pipe_ok && is_pipe(&meta.file_type())) {
        return Err(ReadError::NotAFile {
            kind: file_type_name(&meta.file_type()),
            limit,
        });
    }
    Ok(file)
}

/// Reads at most `limit` bytes.
fn bounded(from: impl Read, limit: Limit) -> std::result::Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    from.take(limit.bytes + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit.bytes {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(buf)
}

fn is_pipe(t: &std::fs::FileType) -> bool {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileTypeExt::is_fifo(t)
    }
    #[cfg(not(unix))]
    {
        let _ = t;
        false
    }
}

fn file_type_name(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_file_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, vec![b'a'; 1024]).unwrap();
        assert_eq!(file(&small, SECRET).unwrap().len(), 1024);
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
        let e = input(&big, SECRET).unwrap_err();
        assert!(
            e.message().contains("larger than 64 KiB"),
            "{}",
            e.message()
        );
        let e = input(dir.path(), SECRET).unwrap_err();
        assert!(e.message().contains("a folder"), "{}", e.message());
        #[cfg(unix)]
        {
            let e = file(Path::new("/dev/zero"), JWKS).unwrap_err();
            assert_eq!(
                e.to_string(),
                "it is a device, not a regular file holding a JWKS"
            );
            let link = dir.path().join("link");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            assert!(matches!(
                file(&link, JWKS),
                Err(ReadError::NotAFile {
                    kind: "a device",
                    ..
                })
            ));
            // A FIFO with no writer: refused at once for a cache entry (no hang).
            let fifo = dir.path().join("fifo");
            assert!(std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success());
            assert!(matches!(
                file(&fifo, CACHE_ENTRY),
                Err(ReadError::NotAFile { kind: "a FIFO", .. })
            ));
        }
        assert_eq!(TOKEN.human(), "256 KiB");
        assert_eq!(CA_BUNDLE.human(), "4 MiB");
    }
}
