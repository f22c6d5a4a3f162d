//! The one error type of the library.
//!
//! Every failure a user can cause carries a one-line message (no trailing period, no newline)
//! and, where there is something concrete to try, hints. The CLI turns it into
//! `error: …` / `hint: …` lines and an exit code from [`ErrorKind`], in one place.

use std::fmt;
use std::path::Path;

/// What sort of failure this is; decides the exit code of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input, I/O, validation failure, key/certificate mismatch (exit 1).
    Failure,
    /// The command line itself is wrong (exit 2).
    Usage,
    /// The identity provider answered with an error (exit 3).
    Provider,
    /// The identity provider could not be reached (exit 4).
    Transport,
}

impl ErrorKind {
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Failure => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Provider => 3,
            ErrorKind::Transport => 4,
        }
    }
}

/// A user-facing error: a kind, one message line and optional hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hints: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        // One line, always: multi-line causes from lower layers would break the `error:` contract.
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        Error {
            kind,
            message,
            hints: Vec::new(),
        }
    }

    /// Bad input, I/O or validation failure (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Failure, message)
    }

    /// A wrong command line (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// An I/O error about `path`, with the OS reason in words a user knows.
    pub fn io(action: &str, path: &Path, err: &std::io::Error) -> Self {
        Error::failure(format!(
            "cannot {action} {}: {}",
            path.display(),
            io_reason(err)
        ))
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hints(&self) -> &[String] {
        &self.hints
    }
}

/// The OS reason of an I/O error in words a user knows.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::AlreadyExists => "it already exists".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => strip_os_code(&err.to_string()),
    }
}

fn strip_os_code(s: &str) -> String {
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
