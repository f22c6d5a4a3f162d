//! Secrets (passwords, client secrets) and where they come from.
//!
//! Order of sources, as the spec demands: an explicit file (`-` = stdin), then a value the
//! caller found (the CLI: an environment variable), then whoever the caller asks (the CLI: a
//! no-echo prompt when stdin is a terminal). A secret is never accepted on the
//! command line, and [`Secret`] cannot be printed by accident: its `Debug` is `(redacted)` and it
//! has no `Display`.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A secret string whose `Debug` never shows the value. It (de)serialises as the plain string,
/// for the one file that must hold it (the token cache, 0600).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that has to use it (a KDF, a form field).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Asks someone for a secret when no file or value gives one (the CLI prompts on a
/// terminal); `Ok(None)`: nobody to ask.
pub type Ask = Arc<dyn Fn() -> Result<Option<Secret>> + Send + Sync>;

/// Where to look for one secret, in the spec's order: a file, a value, then whoever `ask` is.
/// The library never prompts and reads no environment variable: the caller puts what it
/// found in `value`, and a terminal prompt in `ask`.
#[derive(Clone, Default)]
pub struct SecretSource {
    /// A password or secret file; `-` reads stdin.
    pub file: Option<PathBuf>,
    /// The secret itself, when the caller already has it.
    pub value: Option<Secret>,
    /// Asked only when a secret is needed and neither of the above gives one.
    pub ask: Option<Ask>,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSource")
            .field("file", &self.file)
            .field("value", &self.value)
            .field("ask", &self.ask.is_some())
            .finish()
    }
}

impl SecretSource {
    pub fn file(path: Option<PathBuf>) -> Self {
        SecretSource {
            file: path,
            ..Default::default()
        }
    }

    /// Uses `value` when no file is given.
    pub fn value(mut self, value: Option<Secret>) -> Self {
        self.value = value;
        self
    }

    /// Asks `ask` when neither a file nor a value gives the secret.
    pub fn ask(mut self, ask: Ask) -> Self {
        self.ask = Some(ask);
        self
    }

    /// The secret from the first source that has one, or `None` when no source applies.
    pub fn read(&self) -> Result<Option<Secret>> {
        if let Some(path) = &self.file {
            return read_secret_file(path).map(Some);
        }
        if let Some(value) = &self.value {
            return Ok(Some(value.clone()));
        }
        match &self.ask {
            Some(ask) => ask(),
            None => Ok(None),
        }
    }
}

/// The largest secret file read.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Reads a secret file: its first line, without the line ending (as `openssl -passin file:`
/// and `step --password-file` do), so a trailing newline from `echo` does not change the value.
pub fn read_secret_file(path: &Path) -> Result<Secret> {
    let mut raw = Vec::new();
    // Only the first line counts; the cap keeps `--password-file /dev/zero` from hanging.
    let limit = MAX_SECRET_FILE_BYTES + 1;
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut raw)
            .map_err(|e| Error::failure(format!("cannot read the secret from stdin: {e}")))?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut raw))
            .map_err(|e| Error::io("read", path, e))?;
    }
    if raw.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(Error::failure(format!(
            "{} is larger than {} KiB: not a password file",
            path.display(),
            MAX_SECRET_FILE_BYTES / 1024
        )));
    }
    let text = String::from_utf8(raw)
        .map_err(|_| Error::failure(format!("{} is not UTF-8 text", path.display())))?;
    let first = text.split('\n').next().unwrap_or("");
    let first = first.strip_suffix('\r').unwrap_or(first);
    Ok(Secret(first.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(redacted)");
    }

    #[test]
    fn secret_file_takes_the_first_line_without_its_ending() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\r\nignored\n").unwrap();
        assert_eq!(read_secret_file(&p).unwrap().expose(), "s3cret");
    }

    #[test]
    fn missing_secret_file_is_one_clear_error() {
        let e = read_secret_file(Path::new("/nonexistent/pw")).unwrap_err();
        assert!(e.message().contains("no such file"), "{}", e.message());
    }
}
