//! `certgen thumbprint`: the thumbprints Entra shows, for every certificate in every file.

use std::path::PathBuf;

use super::credential_args::passwords;
use super::error::{CliError as Error, Result};
use certgen::input;
use clap::{Args, ValueEnum};
use serde_json::Value;

use super::output;

/// Print the thumbprints of certificates in the forms Entra and its clients use.
///
/// Reads PEM (bundles, and files that also hold a key), DER and PKCS#12 (modern and legacy),
/// recognised by content; '-' reads stdin. Every certificate in every file is reported.
#[derive(Debug, Args)]
#[command(after_help = "Forms:\n  \
thumbprint         SHA-1, 40 upper-case hex: what the Azure portal shows; MSAL's thumbprint\n  \
thumbprint_sha256  SHA-256, 64 upper-case hex\n  \
x5t                base64url(SHA-1): JWT header x5t (RS256)\n  \
x5t#S256           base64url(SHA-256): JWT header x5t#S256 (PS256)\n\n\
Examples:\n  certgen thumbprint my-daemon.cer\n  certgen thumbprint --format sha1 *.pem\n  \
certgen thumbprint app.pfx --password-file pw.txt --json")]
pub struct ThumbprintArgs {
    /// Certificate, bundle, key+cert PEM or PKCS#12 files ('-' = stdin)
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Print only this form, one line per certificate
    #[arg(long, value_enum, ignore_case = true)]
    format: Option<Form>,
    /// Print a JSON array, one object per certificate
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Password of a PKCS#12 file ('-' = stdin); else AZURE_CLIENT_CERTIFICATE_PASSWORD, else a prompt
    #[arg(long, value_name = "F")]
    password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Form {
    Sha1,
    Sha256,
    X5t,
    #[value(name = "x5t-s256")]
    X5tS256,
}

pub fn run(args: ThumbprintArgs) -> Result<()> {
    if args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(Error::usage("stdin ('-') can be read only once"));
    }
    if args.password_file.as_deref() == Some(std::path::Path::new("-"))
        && args.files.iter().any(|f| f.as_os_str() == "-")
    {
        return Err(Error::usage(
            "stdin ('-') cannot hold both a certificate file and the password",
        )
        .with_hint("put the password in a file or in AZURE_CLIENT_CERTIFICATE_PASSWORD"));
    }
    output::warn_if_others_can_read(args.password_file.as_deref());
    let passwords = passwords(
        args.password_file.clone(),
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "PKCS#12 password: ",
    )?;
    // Everything is read before anything is printed: one bad file fails the run cleanly.
    let materials = input::load_all_certificates(&args.files, &passwords)?;
    for m in &materials {
        if m.certs.is_empty() {
            return Err(Error::failure(format!(
                "{} holds no certificate (only a private key)",
                m.name
            ))
            .with_hint("thumbprints belong to certificates: give the .crt, .cer or .pfx file made with this key"));
        }
    }

    if args.json {
        let mut all = Vec::new();
        for m in &materials {
            for (i, c) in m.certs.iter().enumerate() {
                let mut obj = serde_json::Map::new();
                obj.insert("file".into(), Value::from(m.name.clone()));
                obj.insert("index".into(), Value::from(i));
                if let Value::Object(rest) = output::cert_json(c) {
                    obj.extend(rest);
                }
                all.push(Value::Object(obj));
            }
        }
        return output::print_json(&Value::Array(all));
    }

    let mut text = String::new();
    if let Some(form) = args.format {
        for c in materials.iter().flat_map(|m| &m.certs) {
            let t = &c.thumbprints;
            text += &match form {
                Form::Sha1 => t.thumbprint(),
                Form::Sha256 => t.thumbprint_sha256(),
                Form::X5t => t.x5t(),
                Form::X5tS256 => t.x5t_s256(),
            };
            text.push('\n');
        }
        return output::write_stdout(&text);
    }

    let mut first = true;
    for m in &materials {
        for (i, c) in m.certs.iter().enumerate() {
            if !first {
                text.push('\n');
            }
            first = false;
            let which = if m.certs.len() > 1 {
                format!(" [{}]", i + 1)
            } else {
                String::new()
            };
            text += &format!("{}{which}\n", m.name);
            text += &format!("  subject    {}\n", c.subject);
            text += &format!("  issuer     {}\n", c.issuer);
            text += &format!("  serial     {}\n", c.serial);
            text += &format!("  valid      {}\n", output::validity_line(c));
            text += &format!("  key        {}\n", c.key.describe());
            text += &output::thumbprint_lines(c, "  ");
        }
    }
    output::write_stdout(&text)
}
