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

/// `certgen serve --config`: a TOML file of registrations.
pub const CONFIG: Limit = Limit {
    what: "a configuration file",
    bytes: 1024 * 1024,
    pipe_ok: true,
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

    fn too_large(&self, name: &str) -> Error {
        Error::failure(format!(
            "{name} is larger than {}, the most certgen reads for {}",
            self.human(),
            self.what
        ))
    }
}

/// Reads the regular file `path` whole, refusing anything larger than `limit`.
pub fn file(path: &Path, limit: Limit) -> Result<Vec<u8>> {
    let file = open_regular(path, limit)?;
    bounded(file, limit, &path.display().to_string())
        .map_err(|e| e.unwrap_or_else(|io| Error::io("read", path, &io)))
}

/// Reads stdin to its end, refusing anything larger than `limit`.
pub fn stdin(limit: Limit) -> Result<Vec<u8>> {
    bounded(std::io::stdin().lock(), limit, "stdin")
        .map_err(|e| e.unwrap_or_else(|io| Error::failure(format!("cannot read stdin: {io}"))))
}

/// `path`, or stdin for `-`.
pub fn file_or_stdin(path: &Path, limit: Limit) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        stdin(limit)
    } else {
        file(path, limit)
    }
}

/// Opens `path` for reading if it is a regular file (after symlinks), or a pipe where `limit`
/// allows one. Where it does not, the file is opened without waiting (`O_NONBLOCK`: opening a
/// FIFO for reading otherwise waits for a writer) and checked on the open handle (a check by
/// name before opening could be raced).
pub fn open_regular(path: &Path, limit: Limit) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    if !limit.pipe_ok {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| Error::io("read", path, &e))?;
    let meta = file.metadata().map_err(|e| Error::io("read", path, &e))?;
    if !(meta.is_file() || limit.pipe_ok && is_pipe(&meta.file_type())) {
        return Err(Error::failure(format!(
            "cannot read {}: it is {}, not a regular file holding {}",
            path.display(),
            file_type_name(&meta.file_type()),
            limit.what
        )));
    }
    Ok(file)
}

/// Reads at most `limit` bytes; `Err(Ok(..))` when there was more, `Err(Err(io))` on I/O failure.
fn bounded(
    from: impl Read,
    limit: Limit,
    name: &str,
) -> std::result::Result<Vec<u8>, std::result::Result<Error, std::io::Error>> {
    let mut buf = Vec::new();
    from.take(limit.bytes + 1)
        .read_to_end(&mut buf)
        .map_err(Err)?;
    if buf.len() as u64 > limit.bytes {
        return Err(Ok(limit.too_large(name)));
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
        let e = file(&big, SECRET).unwrap_err();
        assert!(
            e.message().contains("larger than 64 KiB"),
            "{}",
            e.message()
        );
        let e = file(dir.path(), SECRET).unwrap_err();
        assert!(e.message().contains("a folder"), "{}", e.message());
        #[cfg(unix)]
        {
            let e = file(Path::new("/dev/zero"), JWKS).unwrap_err();
            assert!(e.message().contains("a device"), "{}", e.message());
            let link = dir.path().join("link");
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            assert!(file(&link, JWKS)
                .unwrap_err()
                .message()
                .contains("a device"));
            // A FIFO with no writer: refused at once for a cache entry (no hang).
            let fifo = dir.path().join("fifo");
            assert!(std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success());
            let e = file(&fifo, CACHE_ENTRY).unwrap_err();
            assert!(e.message().contains("a FIFO"), "{}", e.message());
        }
        assert_eq!(TOKEN.human(), "256 KiB");
        assert_eq!(CA_BUNDLE.human(), "4 MiB");
    }
}
