//! The `certgen` commands as a user runs them: the built binary, its output, exit codes and
//! files, checked against openssl and other independent tools.

mod assertion;
pub mod call;
mod credential;
mod decode;
mod inputs;
mod managed_identity;
mod messages;
mod new;
#[cfg(unix)] // SIGKILL and its exit status
mod rotate;
mod thumbprint;
mod token;
mod token_e2e;
mod verify;
