//! serve's own errors: conditions only the emulator has (its sockets, its config file, the
//! secrets it reads from the environment), each keeping its cause, and the library's errors
//! wrapped where a library call failed. Messages name no command-line flag: the CLI adds those.

use std::net::{IpAddr, SocketAddr};

/// What went wrong loading the registrations or starting the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Plain HTTP was asked for on an address other machines can reach.
    #[error("plain HTTP is allowed on loopback only, not on {ip}")]
    PlainHttpNotLoopback { ip: IpAddr },
    /// The listen address is taken (or not this machine's, or not allowed).
    #[error("cannot listen on {addr}: {}", io_reason(source))]
    AddressInUse {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The proxy's listen address is taken.
    #[error("cannot listen on {addr}: {}", io_reason(source))]
    ProxyAddressInUse {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A secret written in the config file (secrets are named by environment variable).
    #[error("{message}")]
    SecretInConfig { message: String },
    /// An app's roles or delegated scopes name a resource that is not registered.
    #[error("{message}")]
    UnknownResource { message: String },
    /// The environment variable named for a client secret is not set.
    #[error("the environment variable {var} (a client secret of app {client_id}) is not set")]
    MissingSecret { var: String, client_id: String },
    /// What names a client secret's variable is not set and does not look like a variable
    /// name; it is not repeated, since it may be the secret itself.
    #[error(
        "a client secret of app {client_id} names no set environment variable, and what is \
         given does not look like a variable name (not repeated here: it may be the secret \
         itself)"
    )]
    SecretNotVariableName { client_id: String },
    /// The client id of a credential given outside the config file is not a GUID.
    #[error("the client id '{value}' of an app {credential} is not a GUID")]
    BadClientId {
        value: String,
        credential: Credential,
    },
    /// The user to sign in at once is not in the directory.
    #[error("{upn}: no such user; list it as a [[user]] in the config file")]
    UnknownSignInUser { upn: String },
    /// A value that is not of the form asked for (a tenant name, an id in the config file).
    #[error("{0}")]
    Argument(String),
    /// A config file that cannot be read or fails a check.
    #[error("{0}")]
    Invalid(String),
    /// The service stopped on an I/O error.
    #[error("the token service stopped: {0}")]
    Stopped(#[source] std::io::Error),
    /// The directory kept in the state folder cannot be opened, read or written.
    #[error(transparent)]
    Directory(crate::directory::StoreError),
    /// A library call failed.
    #[error(transparent)]
    Library(#[from] certgen::Error),
}

/// Which credential a client id was given with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Certificate,
    Secret,
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Certificate => "certificate",
            Credential::Secret => "secret",
        })
    }
}

/// serve's results.
pub type Result<T, E = ServeError> = std::result::Result<T, E>;

/// The reason a socket could not be bound, in words.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "the address is already in use".into(),
        std::io::ErrorKind::AddrNotAvailable => "no such local address".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
