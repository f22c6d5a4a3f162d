//! The credential options shared by every command that signs (`assertion`, `token`):
//! flatten [`CredentialArgs`] into the command's arguments.

use std::path::PathBuf;

use certgen::credential::{Credential, CredentialSource};
use certgen::Result;
use clap::Args;

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
}

impl CredentialArgs {
    pub fn source(&self) -> CredentialSource {
        CredentialSource {
            cert: self.cert.clone(),
            key: self.key.clone(),
            pfx: self.pfx.clone(),
            password_file: self.password_file.clone(),
        }
    }

    /// Loads the credential and prints its warnings on stderr.
    pub fn load(&self) -> Result<Credential> {
        super::output::warn_if_others_can_read(self.password_file.as_deref());
        let cred = Credential::load(&self.source())?;
        for w in cred.warnings() {
            eprintln!("warning: {w}");
        }
        Ok(cred)
    }
}
