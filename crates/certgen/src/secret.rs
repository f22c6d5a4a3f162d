//! Secrets (passwords, client secrets) and where they come from.
//!
//! Order of sources, as the spec demands: an explicit file (`-` = stdin), then a value the
//! caller found (the CLI: an environment variable), then whoever the caller asks (the CLI: a
//! no-echo prompt when stdin is a terminal). A secret is never accepted on the
//! command line, and [`Secret`] cannot be printed by accident: its `Debug` is `(redacted)` and it
//! has no `Display`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, InputKind, Result};
use crate::read;

/// A secret string whose `Debug` never shows the value. It (de)serialises as the plain string,
/// for the one file that must hold it (the token cache, 0600).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that has to use it (a KDF, a form field).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is the empty string.
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
    /// Where `value` came from, for messages ("the environment variable …").
    pub value_origin: Option<String>,
    /// Asked only when a secret is needed and neither of the above gives one.
    pub ask: Option<Ask>,
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSource")
            .field("file", &self.file)
            .field("value", &self.value)
            .field("value_origin", &self.value_origin)
            .field("ask", &self.ask.is_some())
            .finish()
    }
}

impl SecretSource {
    /// Read from `path` when given (`-` = standard input), else from the later sources.
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

    /// Says where the value came from, for a message about a wrong password.
    pub fn value_origin(mut self, origin: impl Into<String>) -> Self {
        self.value_origin = Some(origin.into());
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

    /// Where [`read`](Self::read) takes the secret from, in words for a message: a wrong
    /// password is often a stale variable set for another file, and the user should see which.
    pub fn origin(&self) -> String {
        match (&self.file, &self.value) {
            (Some(path), _) if path == Path::new("-") => "stdin".to_string(),
            (Some(path), _) => format!("the file {}", path.display()),
            (None, Some(_)) => self
                .value_origin
                .clone()
                .unwrap_or_else(|| "the value given".to_string()),
            (None, None) => "the prompt".to_string(),
        }
    }
}

/// Reads a secret file: its first line, without the line ending (as `openssl -passin file:`
/// and `step --password-file` do), so a trailing newline from `echo` does not change the value.
/// At most [`read::SECRET`] is read (`/dev/zero` is refused; a pipe, `<(pass show app)`, is fine).
///
/// Errors never quote the path: the commonest mistake is the secret itself given where its
/// file was expected, and it must not end up on the screen or in a CI log.
pub fn read_secret_file(path: &Path) -> Result<Secret> {
    let raw = read::file_or_stdin(path, read::SECRET).map_err(|e| {
        Error::input(
            InputKind::SecretFile,
            format!(
                "cannot read the secret file: {e} (the name given is not repeated: it may be the \
                 secret itself)"
            ),
        )
    })?;
    let text =
        String::from_utf8(raw).map_err(|_| Error::failure("the secret file is not UTF-8 text"))?;
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
