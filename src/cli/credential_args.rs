//! The credential options shared by every command that signs (`assertion`, `token`):
//! flatten [`CredentialArgs`] into the command's arguments. Also where the CLI finds secrets
//! the library does not look for itself: environment variables and a terminal prompt.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use certgen::credential::{
    Credential, CredentialSource, ENV_CERTIFICATE_PASSWORD, ENV_CERTIFICATE_PATH,
};
use certgen::secret::{Ask, Secret, SecretSource};
use clap::Args;

use super::error::Result;

/// `--cert/--key`, `--pfx`, `--password-file`; without them, AZURE_CLIENT_CERTIFICATE_PATH.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Credential")]
pub struct CredentialArgs {
    /// Certificate, PEM or DER; a PEM may also hold the key [else AZURE_CLIENT_CERTIFICATE_PATH]
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PKCS#8, encrypted PKCS#8 or PKCS#1 PEM, or DER), when not in --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// PKCS#12 file (.pfx/.p12) holding the certificate, its chain and the key
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cert", "key"])]
    pub pfx: Option<PathBuf>,
    /// Password of the key or PKCS#12 file ('-' = stdin) [else AZURE_CLIENT_CERTIFICATE_PASSWORD, else a prompt]
    #[arg(long, value_name = "F")]
    pub password_file: Option<PathBuf>,
    /// A password read already, used instead of the sources above: a command that loads the
    /// credential several times (rotate) reads it once, since stdin and a prompt give it once.
    #[arg(skip)]
    pub password: Option<Secret>,
}

impl CredentialArgs {
    /// The files: the flags, else AZURE_CLIENT_CERTIFICATE_PATH.
    pub fn source(&self) -> CredentialSource {
        let from_env = self.cert.is_none() && self.pfx.is_none();
        CredentialSource {
            cert: if from_env {
                env_path(ENV_CERTIFICATE_PATH)
            } else {
                self.cert.clone()
            },
            key: self.key.clone(),
            pfx: self.pfx.clone(),
        }
    }

    /// The file the certificate is read from, and whether that file also holds the key.
    pub fn certificate_file(&self) -> (Option<PathBuf>, bool) {
        match (&self.pfx, &self.cert) {
            (Some(pfx), _) => (Some(pfx.clone()), true),
            (None, Some(cert)) => (Some(cert.clone()), self.key.is_none()),
            (None, None) => (env_path(ENV_CERTIFICATE_PATH), true),
        }
    }

    /// Where the password comes from: `--password-file`, the environment, a prompt.
    pub fn password_sources(&self) -> Result<SecretSource> {
        super::output::warn_if_others_can_read(self.password_file.as_deref());
        self.unread_password_sources()
    }

    fn unread_password_sources(&self) -> Result<SecretSource> {
        passwords(
            self.password_file.clone(),
            ENV_CERTIFICATE_PASSWORD,
            "Certificate password: ",
        )
    }

    /// Loads the credential and prints its warnings on stderr.
    pub fn load(&self) -> Result<Credential> {
        let passwords = match &self.password {
            // A wrong one is still reported as coming from where it was read.
            Some(read) => SecretSource::default()
                .value(Some(read.clone()))
                .value_origin(self.unread_password_sources()?.origin()),
            None => self.password_sources()?,
        };
        let cred = Credential::load(&self.source(), &passwords)?;
        for w in cred.warnings() {
            eprintln!("warning: {w}");
        }
        Ok(cred)
    }
}

/// A password from `file`, else the variable `var`, else a prompt on a terminal.
pub fn passwords(file: Option<PathBuf>, var: &str, prompt: &'static str) -> Result<SecretSource> {
    Ok(SecretSource::file(file)
        .value(env_secret(var)?)
        .value_origin(format!(
            "the environment variable {var}, which may be set for another file"
        ))
        .ask(ask(prompt)))
}

/// The secret in the environment variable `var`, if set.
pub fn env_secret(var: &str) -> Result<Option<Secret>> {
    match std::env::var_os(var) {
        None => Ok(None),
        Some(value) => value
            .into_string()
            .map(|v| Some(Secret::new(v)))
            .map_err(|_| {
                super::error::CliError::failure(format!(
                    "environment variable {var} is not valid UTF-8"
                ))
            }),
    }
}

/// Asks on the terminal without echo; nobody to ask when stdin or stderr is not a terminal.
pub fn ask(prompt: &'static str) -> Ask {
    Arc::new(move || {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Ok(None);
        }
        read_password(prompt).map(Some)
    })
}

/// Asks twice on a terminal, so a typo does not lock a new file.
pub fn ask_new(prompt: &'static str) -> Ask {
    Arc::new(move || {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Ok(None);
        }
        let first = read_password(prompt)?;
        let again = read_password("Repeat it: ")?;
        if first.expose() != again.expose() {
            return Err(certgen::Error::failure("the two passwords differ"));
        }
        Ok(Some(first))
    })
}

fn read_password(prompt: &str) -> certgen::Result<Secret> {
    rpassword::prompt_password(prompt)
        .map(Secret::new)
        .map_err(|e| certgen::Error::failure(format!("cannot read the password: {e}")))
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
