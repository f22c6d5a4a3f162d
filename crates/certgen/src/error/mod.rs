//! The library's error: a `#[non_exhaustive]` enum a caller matches.
//!
//! - [`Error::Provider`]: the identity provider answered with an error ([`ProviderError`]: the
//!   HTTP status, OAuth `error`, AADSTS codes, trace and correlation ids, the server's clock).
//! - [`Error::Transport`]: it could not be reached ([`TransportError`]: DNS, connect, TLS,
//!   timeout), with the reqwest error as [`source`](std::error::Error::source).
//! - [`Error::Input`]: an input refused before anything was sent ([`InputError`] with an
//!   [`InputKind`] to match on).
//! - [`Error::Io`]: a file or folder could not be read or written.
//! - [`Error::Verify`]: a token failed validation, or the validator could not be set up.
//! - [`Error::Jose`]: a JWS/JWT could not be parsed, signed or verified.
//!
//! Messages are one sentence in the library's own terms: they name no command-line flag and
//! carry no advice. The `certgen` binary makes its `hint:` lines and exit codes from these
//! variants.

use std::fmt;
use std::path::{Path, PathBuf};

use std::time::SystemTime;

use time::OffsetDateTime;

mod verify;
pub use verify::VerifyError;

/// A result whose error is certgen's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, as a caller matches it: on the variant, then on the typed
/// details of each (an AADSTS code, a transport kind, an input kind) — never on the text.
///
/// ```
/// use certgen::{Error, InputKind, TlsProblem, TransportKind};
///
/// fn advice(e: &Error) -> String {
///     match e {
///         // Entra's answer, by its AADSTS code.
///         Error::Provider(p) if p.has_code(700016) => "the app is not in this tenant".into(),
///         Error::Provider(p) if p.has_code(7000222) => "the client secret has expired".into(),
///         Error::Provider(p) => format!("Entra refused ({}): {:?}", p.status, p.codes()),
///         // Not reached at all, by how.
///         Error::Transport(t) if t.kind == TransportKind::Tls(TlsProblem::UnknownIssuer) => {
///             "a proxy intercepts TLS: trust its CA".into()
///         }
///         Error::Transport(t) if t.kind == TransportKind::Dns => format!("no such host: {}", t.url),
///         // Refused before anything was sent.
///         Error::Input(i) if i.kind == InputKind::NotDefaultScope => "use RESOURCE/.default".into(),
///         other => other.to_string(),
///     }
/// }
/// # let _ = advice;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token endpoint (or another service) answered with an error.
    #[error(transparent)]
    Provider(Box<ProviderError>),
    /// The service could not be reached.
    #[error(transparent)]
    Transport(TransportError),
    /// A refused input: nothing was sent.
    #[error(transparent)]
    Input(InputError),
    /// A file or folder could not be used.
    #[error("cannot {action} {}: {}", path.display(), io_reason(source))]
    Io {
        /// What was being done: `read`, `write`, `create folder` …
        action: String,
        /// The file or folder.
        path: PathBuf,
        #[source]
        /// The OS error.
        source: std::io::Error,
    },
    /// A token failed validation, or the validator could not be set up.
    #[error(transparent)]
    Verify(VerifyError),
    /// A JWS/JWT could not be parsed, signed or verified.
    #[error(transparent)]
    Jose(#[from] crate::jose::Error),
    /// Microsoft Graph (or another API) answered a call with an error.
    #[error(transparent)]
    Graph(Box<GraphError>),
    /// A certificate rotation could not go on.
    #[error(transparent)]
    Rotate(RotateError),
    /// The callback of a client-assertion credential failed; nothing was sent.
    #[error("the client assertion callback failed: {0}")]
    Assertion(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An error answer of Microsoft Graph (or another API) to a call the library made, with what
/// Graph's error body carries (<https://learn.microsoft.com/en-us/graph/errors>).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct GraphError {
    /// The URL that was called.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// Graph's `error.code` (`Authorization_RequestDenied` …), when the body is an OData error.
    pub code: Option<String>,
    /// Graph's `error.message`.
    pub message: Option<String>,
    /// `error.innerError.request-id`, or the `request-id` header: what Microsoft support asks for.
    pub request_id: Option<String>,
    /// The first line of a body that is not an OData error, shortened.
    pub body_excerpt: Option<String>,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => {
                write!(
                    f,
                    "{} {}: {code}: {message}",
                    self.status,
                    reason(self.status)
                )
            }
            _ => write!(
                f,
                "{} answered {} {}",
                self.url,
                self.status,
                reason(self.status)
            ),
        }
    }
}

/// The reason phrase of an HTTP status (`403 Forbidden`), as reqwest prints a status.
fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// Why a certificate rotation stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// Another run holds the lock on the same files.
    #[error("another certgen rotate is running on {names} (it holds {}); nothing changed", lock_file.display())]
    Locked {
        /// The files of the credential.
        names: String,
        /// The lock file held.
        lock_file: PathBuf,
    },
    /// The certificate in use has expired: Graph takes no proof signed by it.
    #[error("the certificate expired on {}: Graph takes no proof signed by it", crate::dates::rfc3339(*not_after))]
    Expired {
        /// When it expired.
        not_after: OffsetDateTime,
    },
    /// The new certificate got no token within the wait; nothing was swapped.
    #[error("the new certificate {thumbprint} got no token within {} s (last answer: {last})", wait.as_secs())]
    NoToken {
        /// The new certificate's SHA-1 thumbprint.
        thumbprint: String,
        /// How long it waited.
        wait: std::time::Duration,
        /// The files that still hold the working certificate.
        current_names: String,
        /// The last refusal, as the caller's error told it.
        last: String,
    },
}

impl From<GraphError> for Error {
    fn from(e: GraphError) -> Self {
        Error::Graph(Box::new(e))
    }
}

impl From<RotateError> for Error {
    fn from(e: RotateError) -> Self {
        Error::Rotate(e)
    }
}

impl Error {
    /// An input refused for `kind`.
    pub fn input(kind: InputKind, message: impl Into<String>) -> Self {
        Error::Input(InputError::new(kind, message))
    }

    /// Bad content or a failed check ([`InputKind::Invalid`]).
    pub fn failure(message: impl Into<String>) -> Self {
        Error::input(InputKind::Invalid, message)
    }

    /// A value given to the call that cannot be used as it is ([`InputKind::Argument`]).
    pub fn argument(message: impl Into<String>) -> Self {
        Error::input(InputKind::Argument, message)
    }

    /// An I/O error about `path`.
    pub fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            action: action.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }

    /// The same error, an [`Error::Input`] naming `path` when it names no file yet.
    pub fn at(self, path: &Path) -> Self {
        match self {
            Error::Input(e) if e.path.is_none() => Error::Input(e.with_path(path)),
            other => other,
        }
    }

    /// The message as one line.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The input kind, when this is an [`Error::Input`].
    pub fn input_kind(&self) -> Option<&InputKind> {
        match self {
            Error::Input(e) => Some(&e.kind),
            _ => None,
        }
    }

    /// The provider's answer, when this is an [`Error::Provider`].
    pub fn provider(&self) -> Option<&ProviderError> {
        match self {
            Error::Provider(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the provider answered with AADSTS `code`.
    pub fn has_code(&self, code: u64) -> bool {
        self.provider().is_some_and(|p| p.has_code(code))
    }
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        Error::Provider(Box::new(e))
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(e)
    }
}

impl From<VerifyError> for Error {
    fn from(e: VerifyError) -> Self {
        Error::Verify(e)
    }
}

/// Adds what was being done to a failure, keeping its kind and its cause instead of flattening
/// both into text.
pub(crate) trait Context<T> {
    /// On error: an [`Error::Input`] of `kind`, its message `what` followed by the cause in
    /// parentheses, the cause kept as its [`source`](std::error::Error::source).
    fn context(self, kind: InputKind, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, kind: InputKind, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            let message = format!("{} ({e})", what());
            Error::Input(InputError::new(kind, message).with_source(e))
        })
    }
}

impl Error {
    /// The same error with `prefix` before its message (`app.pem: PEM block 2 …`): an input
    /// error keeps its kind, file and cause; any other error is returned unchanged.
    pub(crate) fn within(self, prefix: impl FnOnce() -> String) -> Error {
        match self {
            Error::Input(mut e) => {
                e.message = format!("{}: {}", prefix(), e.message);
                Error::Input(e)
            }
            other => other,
        }
    }
}

/// The OS reason in words a user knows, without the `(os error N)` tail.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::AlreadyExists => "it already exists".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        _ => {
            let s = err.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}

/// An error answer of a token endpoint, with what Entra puts in it (all optional: other
/// servers and proxies send less).
///
/// ```
/// use certgen::Error;
///
/// // AADSTS700027: the assertion's certificate is not registered for the app.
/// fn unregistered_certificate(e: &Error) -> Option<String> {
///     match e {
///         Error::Provider(p) if p.has_code(700027) => Some(format!(
///             "register the certificate (trace id {})",
///             p.trace_id.as_deref().unwrap_or("-")
///         )),
///         _ => None,
///     }
/// }
/// # let _ = unregistered_certificate;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderError {
    /// The HTTP status.
    pub status: u16,
    /// The OAuth `error` value (`invalid_client` …).
    pub error: Option<String>,
    /// The whole `error_description`.
    pub description: Option<String>,
    /// `error_codes`, or the AADSTS number found in the description.
    pub codes: Vec<u64>,
    /// Entra's `trace_id`: what Microsoft support asks for.
    pub trace_id: Option<String>,
    /// Entra's `correlation_id`.
    pub correlation_id: Option<String>,
    /// Entra's `timestamp`, as sent.
    pub timestamp: Option<String>,
    /// Entra's `error_uri`.
    pub error_uri: Option<String>,
    /// The first line of a body that is not JSON (an HTML page from a proxy …), shortened.
    pub body_excerpt: Option<String>,
    /// The server's `Date` header: the only view of its clock a client gets.
    pub server_date: Option<SystemTime>,
    /// The local clock when the answer arrived.
    pub received_at: SystemTime,
    /// How many requests were made, this one included.
    pub attempts: u32,
    /// Set when a success answer could not be used: why (`without an access_token` …).
    pub unusable: Option<String>,
}

impl ProviderError {
    /// An answer with `status` and nothing else known yet.
    pub fn new(status: u16, received_at: impl Into<SystemTime>) -> Self {
        let received_at = received_at.into();
        ProviderError {
            status,
            error: None,
            description: None,
            codes: Vec::new(),
            trace_id: None,
            correlation_id: None,
            timestamp: None,
            error_uri: None,
            body_excerpt: None,
            server_date: None,
            received_at,
            attempts: 1,
            unusable: None,
        }
    }

    /// Every AADSTS code of the answer, in Entra's order.
    pub fn codes(&self) -> &[u64] {
        &self.codes
    }

    /// Whether the answer carries AADSTS `code` (e.g. `700027`).
    pub fn has_code(&self, code: u64) -> bool {
        self.codes.contains(&code)
    }

    /// The code that decides the explanation: the first one Entra lists.
    pub fn code(&self) -> Option<u64> {
        self.codes.first().copied()
    }

    /// The first line of the description: Entra appends trace and correlation ids and a
    /// timestamp on further lines, which are reported from their own fields instead.
    pub fn first_line(&self) -> Option<&str> {
        self.description
            .as_deref()
            .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
    }

    /// The local clock minus the server's, in seconds, when the server sent a `Date`.
    pub fn clock_offset(&self) -> Option<i64> {
        self.server_date
            .map(|server| match self.received_at.duration_since(server) {
                Ok(ahead) => i64::try_from(ahead.as_secs()).unwrap_or(i64::MAX),
                Err(behind) => -i64::try_from(behind.duration().as_secs()).unwrap_or(i64::MAX),
            })
    }
}

/// `the token endpoint refused the request: invalid_client (HTTP 401): AADSTS700027: …`
impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = &self.unusable {
            return write!(f, "the token endpoint answered success but {why}");
        }
        let status = format!("HTTP {}", self.status);
        let mut head = match &self.error {
            Some(e) => format!("the token endpoint refused the request: {e} ({status})"),
            None => format!("the token endpoint answered {status}"),
        };
        if self.attempts > 1 {
            head.push_str(&format!(" after {} attempts", self.attempts));
        }
        let line = self.first_line().or(self.body_excerpt.as_deref());
        match (self.code(), line) {
            (Some(code), Some(line)) if line.contains(&format!("AADSTS{code}")) => {
                write!(f, "{head}: {line}")
            }
            (Some(code), Some(line)) => write!(f, "{head}: AADSTS{code}: {line}"),
            (Some(code), None) => write!(f, "{head}: AADSTS{code}"),
            (None, Some(line)) => write!(f, "{head}: {line}"),
            (None, None) => f.write_str(&head),
        }
    }
}

impl std::error::Error for ProviderError {}

/// Why a service could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The host name did not resolve.
    Dns,
    /// Nothing listens at the address (connection refused).
    Refused,
    /// The connection was reset or aborted.
    Reset,
    /// Connecting timed out.
    ConnectTimeout,
    /// No answer within the deadline.
    Timeout,
    /// TLS failed; the detail says how.
    Tls(TlsProblem),
    /// The server answered, but not in HTTP: typically a TLS server sent an `http://` request.
    NotHttp,
    /// The server closed the connection without an answer.
    Closed,
    /// Anything else (the message says what).
    Other,
}

/// How a TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate chains to no trusted root.
    UnknownIssuer,
    /// A trusted root has the issuer's name but not its key.
    BadSignature,
    /// The certificate is not valid for the host name.
    WrongName,
    /// The certificate has expired (or is not yet valid).
    Expired,
    /// Another certificate problem.
    OtherCertificate,
    /// Not about the certificate.
    Other,
}

/// Which service a request was for, named in a [`TransportError`]'s message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Service {
    /// An OAuth 2.0 token endpoint.
    #[default]
    TokenEndpoint,
    /// An API called with a token (Microsoft Graph or another).
    Api,
    /// An OpenID Connect metadata document or a key set (JWKS), fetched to validate a token.
    Metadata,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::TokenEndpoint => "the token endpoint",
            Service::Api => "the API",
            Service::Metadata => "the metadata endpoint",
        })
    }
}

/// A service that could not be reached: its [`kind`](Self::kind) to match on, the cause in
/// words, the HTTP client's error as [`source`](std::error::Error::source).
///
/// ```
/// use certgen::{Error, TlsProblem, TransportKind};
///
/// fn retry_later(e: &Error) -> bool {
///     matches!(e, Error::Transport(t) if matches!(
///         t.kind,
///         TransportKind::Timeout | TransportKind::ConnectTimeout | TransportKind::Reset
///     ))
/// }
/// fn trust_problem(e: &Error) -> bool {
///     matches!(e, Error::Transport(t) if t.kind == TransportKind::Tls(TlsProblem::UnknownIssuer))
/// }
/// # let _ = (retry_later, trust_problem);
/// ```
#[derive(Debug, thiserror::Error)]
#[error("cannot reach {service} {url}: {cause}")]
#[non_exhaustive]
pub struct TransportError {
    /// What failed, to match on.
    pub kind: TransportKind,
    /// The service that was asked.
    pub service: Service,
    /// The URL that was asked.
    pub url: String,
    /// The cause in words (`connection refused by 127.0.0.1:9`).
    pub cause: String,
    /// The deadline that ran out, for [`TransportKind::Timeout`].
    pub timeout: Option<std::time::Duration>,
    /// Whether extra trust roots (a CA file) were given besides the platform's, so a TLS
    /// failure can be told apart: a stale extra root, or none given at all.
    pub extra_roots: bool,
    /// The HTTP client's own error, the chain of causes below it.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A failure of `kind` to reach `url`, `cause` in words.
    pub fn new(
        kind: TransportKind,
        url: impl Into<String>,
        cause: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        TransportError {
            kind,
            service: Service::TokenEndpoint,
            url: url.into(),
            cause: cause.into(),
            timeout: None,
            extra_roots: false,
            source,
        }
    }
}

/// What sort of input was refused. A caller matches it to decide what to tell the user; those
/// marked *argument* are values given to a call rather than a file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputKind {
    /// A value given to the call that cannot be used as it is (argument).
    Argument,
    /// A bad value of a named parameter; the message begins with [`Param::name`] (argument).
    BadValue(Param),
    /// A generic bad content or failed check.
    Invalid,
    /// A file holds nothing certgen reads (not a certificate, key or PKCS#12).
    Unrecognised,
    /// A file that should hold a certificate holds none.
    NotACertificate,
    /// The key is not the private key of the certificate(s).
    KeyMismatch {
        /// The files that were given, for the message.
        names: String,
    },
    /// A key without its certificate (Entra cannot identify the key alone).
    KeyWithoutCertificate,
    /// No key among the inputs.
    NoKey,
    /// More than one key among the inputs.
    SeveralKeys,
    /// The key is not RSA.
    NotRsa,
    /// The RSA key is shorter than Entra accepts.
    WeakKey {
        /// Its size in bits.
        bits: usize,
    },
    /// A password is needed and none was given (`key`: for a private key, else a PKCS#12).
    PasswordNeeded {
        /// Whether it is for a private key (else a PKCS#12 file).
        key: bool,
    },
    /// The password given does not open the file.
    WrongPassword,
    /// A legacy encryption the file uses that certgen does not read.
    LegacyEncryption,
    /// An encryption scheme of an encrypted PKCS#8 key that certgen does not read.
    UnsupportedEncryption,
    /// An empty client secret.
    EmptySecret,
    /// Not a known cloud name or an https URL (argument).
    BadAuthorityHost,
    /// A tenant that is empty or not a GUID or domain (argument).
    BadTenant,
    /// A tenant that names no tenant (`common`, `organizations`, `consumers`) (argument).
    MultiTenant,
    /// A client id that is not a GUID (argument).
    BadClientId,
    /// An endpoint URL that is not https (or http to loopback) (argument).
    InsecureUrl,
    /// No scope was given for Entra (argument).
    NoScope,
    /// A scope that is not `RESOURCE/.default` (argument).
    NotDefaultScope,
    /// Scopes of more than one resource (argument).
    SeveralResources,
    /// An assertion lifetime outside what Entra accepts (argument).
    Lifetime,
    /// Certificate inputs that cannot be combined (argument).
    CredentialConflict,
    /// No credential given (argument).
    NoCredential,
    /// A key given without its certificate (argument).
    KeyNeedsCertificate,
    /// An output file that already exists.
    OutputExists,
    /// Two outputs with the same name.
    OutputClash,
    /// The output folder does not exist.
    NoOutputFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// No folder for the token cache.
    NoCacheDir,
    /// A certificate subject that is not `TYPE=value,…`; the message begins with `subject`
    /// (argument).
    BadSubjectSyntax,
    /// A required environment variable is unset.
    MissingVariable {
        /// The variable (or variables) missing.
        var: String,
    },
    /// A folder to keep tokens or keys in that other users may write to.
    SharedFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// A folder to keep tokens or keys in that belongs to another user.
    ForeignFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// Opening an encrypted key would take more key-derivation work than certgen allows.
    TooCostly,
    /// An authority host that ends with a tenant (a whole authority): `host` and `tenant` are
    /// the split that was meant.
    AuthorityHostWithTenant {
        /// The authority host meant.
        host: String,
        /// The tenant meant.
        tenant: String,
    },
    /// A secret or password file that cannot be read (its name is not repeated: it may be the
    /// secret itself).
    SecretFile,
    /// A call named a tenant the credential may not ask (argument).
    TenantNotAllowed,
    /// The environment names a managed-identity platform certgen does not support (Service
    /// Fabric, Azure Arc, Azure Machine Learning, Cloud Shell).
    UnsupportedManagedIdentity {
        /// The platform named.
        platform: String,
    },
}

/// A parameter of a certificate to make, named in messages by [`Param::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Param {
    /// The common name.
    CommonName,
    /// The subject name.
    Subject,
    /// The key size.
    KeySize,
    /// The validity in days.
    Days,
    /// A subject alternative name.
    San,
}

impl Param {
    /// How a message names it.
    pub fn name(self) -> &'static str {
        match self {
            Param::CommonName => "common name",
            Param::Subject => "subject",
            Param::KeySize => "key size",
            Param::Days => "days",
            Param::San => "SAN",
        }
    }
}

/// A refused input.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct InputError {
    /// What was refused, to match on.
    pub kind: InputKind,
    /// One sentence, no flag names.
    pub message: String,
    /// The file concerned, when there is one.
    pub path: Option<PathBuf>,
    #[source]
    /// The cause, when a lower layer gave one.
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InputError {
    /// A refusal of `kind`; the message is made one line.
    pub fn new(kind: InputKind, message: impl Into<String>) -> Self {
        let message: String = message.into();
        // One line, always: multi-line causes from lower layers would break a one-line report.
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        InputError {
            kind,
            message,
            path: None,
            source: None,
        }
    }

    /// The same, naming `path`.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The same, with its cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}
