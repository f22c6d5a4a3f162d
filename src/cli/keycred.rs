//! `certgen keycred`: Graph `keyCredential` objects for certificates.

use super::error::{CliError as Error, Result};
use std::path::PathBuf;

use certgen::credential::ENV_CERTIFICATE_PASSWORD;
use certgen::graph::keycred::key_credential;
use certgen::input;
use clap::Args;
use serde_json::{json, Value};

use super::credential_args::passwords;
use super::output;

/// Print the Graph keyCredential of each certificate, as a PATCH /applications/{id} body.
///
/// customKeyIdentifier is the SHA-1 thumbprint, displayName the subject (or --display-name),
/// startDateTime/endDateTime the certificate's validity, key its DER in base64, keyId a new
/// UUID. PATCH replaces the app's whole keyCredentials collection: merge in the existing ones
/// (`certgen credential list --json`), or let the app add its own with `certgen credential add`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  certgen keycred new.crt > body.json\n  \
certgen keycred new.crt --display-name 'daemon on host1' | jq '.keyCredentials[0]'")]
pub struct KeycredArgs {
    /// Certificate files (PEM, DER or PKCS#12); the first certificate of each
    #[arg(value_name = "CERT", required = true)]
    certs: Vec<PathBuf>,
    /// displayName of every keyCredential [default: the certificate's subject]
    #[arg(long, value_name = "S")]
    display_name: Option<String>,
    /// Print the same document compact, on one line
    #[arg(long)]
    json: bool,
}

pub fn run(args: KeycredArgs) -> Result<()> {
    let passwords = passwords(None, ENV_CERTIFICATE_PASSWORD, "PKCS#12 password: ")?;
    let materials = input::load_all_certificates(&args.certs, &passwords)?;
    let mut creds = Vec::new();
    for m in &materials {
        let Some(cert) = m.certs.first() else {
            return Err(Error::failure(format!(
                "{} holds no certificate (only a private key)",
                m.name
            ))
            .with_hint("give the .crt, .cer or .pfx file"));
        };
        if cert.key.rsa_bits().is_none() {
            eprintln!(
                "warning: {}: the certificate holds an {} key; Entra accepts only RSA",
                m.name,
                cert.key.describe()
            );
        }
        creds.push(key_credential(cert, args.display_name.as_deref()));
    }
    eprintln!(
        "warning: PATCH /applications/{{id}} replaces the whole keyCredentials collection; \
         add the existing ones (certgen credential list --json) or use certgen credential add"
    );
    let body = json!({ "keyCredentials": Value::Array(creds) });
    if args.json {
        output::write_stdout(&format!("{body}\n"))
    } else {
        output::print_json(&body)
    }
}
