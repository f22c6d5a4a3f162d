//! What the CLI reports: one `error:` line, its `hint:` lines and an exit code. Every command
//! returns this; `hints` makes it from the library's errors.
//!
//! Exit codes: 1 bad input or a failed check, 2 usage (a wrong value on the command line),
//! 3 the identity provider refused, 4 it could not be reached.

/// What the CLI reports: the message, its hints and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    message: String,
    hints: Vec<String>,
    code: i32,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_PROVIDER: i32 = 3;
pub const EXIT_TRANSPORT: i32 = 4;

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        let message: String = message.into();
        // One line, always: multi-line causes from lower layers would break the `error:` contract.
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        CliError {
            message,
            hints: Vec::new(),
            code,
        }
    }

    /// Bad input, I/O or a failed check (exit 1).
    pub fn failure(message: impl Into<String>) -> Self {
        CliError::new(EXIT_FAILURE, message)
    }

    /// A wrong command line (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::new(EXIT_USAGE, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }

    #[cfg(test)]
    pub fn hints(&self) -> &[String] {
        &self.hints
    }

    #[cfg(test)]
    pub fn code(&self) -> i32 {
        self.code
    }

    /// Prints the error as the contract wants it and returns its exit code.
    pub fn report(&self) -> i32 {
        eprintln!("error: {}", self.message);
        for h in &self.hints {
            eprintln!("hint: {h}");
        }
        self.code
    }
}

/// The message alone (a rotation quotes a token request's refusal as its last answer).
impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
