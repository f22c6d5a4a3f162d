//! Secrets (passwords, client secrets) and where they come from.
//!
//! Order of sources, as the spec demands: an explicit file (`-` = stdin), then an environment
//! variable, then a no-echo prompt when stdin is a terminal. A secret is never accepted on the
//! command line, and [`Secret`] cannot be printed by accident: its `Debug` is `(redacted)` and it
//! has no `Display`.

use std::fmt;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
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

/// Where to look for one secret, in the spec's order.
#[derive(Debug, Clone, Default)]
pub struct SecretSource {
    /// `--password-file` / `--secret-file`; `-` reads stdin.
    pub file: Option<PathBuf>,
    /// The environment variable consulted when no file is given.
    pub env_var: Option<String>,
    /// The prompt shown on a terminal when neither gives a value; `None` = never prompt.
    pub prompt: Option<String>,
}

impl SecretSource {
    pub fn file(path: Option<PathBuf>) -> Self {
        SecretSource {
            file: path,
            ..Default::default()
        }
    }

    pub fn env(mut self, var: &str) -> Self {
        self.env_var = Some(var.to_string());
        self
    }

    pub fn prompt(mut self, prompt: &str) -> Self {
        self.prompt = Some(prompt.to_string());
        self
    }

    /// The secret from the first source that has one, or `None` when no source applies
    /// (no file, no variable, stdin not a terminal).
    pub fn read(&self) -> Result<Option<Secret>> {
        if let Some(path) = &self.file {
            return read_secret_file(path).map(Some);
        }
        if let Some(var) = &self.env_var {
            if let Some(value) = std::env::var_os(var) {
                let value = value.into_string().map_err(|_| {
                    Error::failure(format!("environment variable {var} is not valid UTF-8"))
                })?;
                return Ok(Some(Secret(value)));
            }
        }
        if let Some(prompt) = &self.prompt {
            if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
                let value = prompt_password(prompt)
                    .map_err(|e| Error::failure(format!("cannot read the password: {e}")))?;
                return Ok(Some(Secret(value)));
            }
        }
        Ok(None)
    }

    /// Like [`read`](Self::read), twice on a terminal so a typo does not lock a new file.
    pub fn read_new(&self) -> Result<Option<Secret>> {
        if self.file.is_none()
            && self
                .env_var
                .as_ref()
                .is_none_or(|v| std::env::var_os(v).is_none())
        {
            if let Some(prompt) = &self.prompt {
                if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
                    let first = prompt_password(prompt)
                        .map_err(|e| Error::failure(format!("cannot read the password: {e}")))?;
                    let again = prompt_password("Repeat it: ")
                        .map_err(|e| Error::failure(format!("cannot read the password: {e}")))?;
                    if first != again {
                        return Err(Error::failure("the two passwords differ"));
                    }
                    return Ok(Some(Secret(first)));
                }
            }
        }
        self.read()
    }
}

/// The terminal prompt comes with the CLI (`cli` feature); a library build never prompts.
#[cfg(feature = "cli")]
use rpassword::prompt_password;

#[cfg(not(feature = "cli"))]
fn prompt_password(_prompt: &str) -> std::io::Result<String> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "this build has no terminal prompt",
    ))
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
            .map_err(|e| Error::io("read", path, &e))?;
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
