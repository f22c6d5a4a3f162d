//! `certgen new`: a self-signed certificate and key for an app registration.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use certgen::certificate::Certificate;
use certgen::files::{self, OutputFile};
use certgen::generate::{self, Generated, KeySize, NewCertificate, Profile, Subject};
use certgen::pkcs12::{self, Pkcs12Flavor};
use certgen::secret::{Secret, SecretSource};

use super::credential_args::{ask_new, env_secret};
use super::error::{CliError as Error, Result};
use clap::Args;
use serde_json::json;

use super::output;

/// Make a self-signed certificate and private key for an Entra app registration.
///
/// Writes BASE.crt (PEM), BASE.cer (DER, the file to upload in the portal) and BASE.key
/// (PKCS#8, mode 0600), and with --pfx a PKCS#12 file, with --csr a certificate request.
/// Keys are RSA only: Microsoft Entra ID accepts only RSA credentials, so EC is not offered.
/// Existing files are never replaced without --force.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  certgen new --cn my-daemon\n  \
certgen new --subject 'CN=my-daemon,O=Contoso' --days 730 \\\n      \
--pfx --password-file pw.txt\n  \
certgen new --cn my-daemon --out certs --json")]
pub struct NewArgs {
    /// Common name of the subject (default: certgen)
    #[arg(long, conflicts_with = "subject")]
    cn: Option<String>,
    /// Whole subject DN, e.g. 'CN=daemon,O=Contoso,C=US' or '/C=US/O=Contoso/CN=daemon'
    #[arg(long)]
    subject: Option<String>,
    /// Subject alternative name (DNS name or IP address); repeatable
    #[arg(long = "san", value_name = "DNS")]
    sans: Vec<String>,
    /// Validity in days, 1 to 3650
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    days: u32,
    /// RSA key size in bits
    #[arg(long, value_name = "BITS", default_value = "2048", value_parser = ["2048", "3072", "4096"])]
    key_size: String,
    /// Folder to write into (must exist)
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
    /// Base name of the files (default: the CN made file-safe)
    #[arg(long, value_name = "BASE")]
    name: Option<String>,
    /// Also write BASE.pfx: PKCS#12, AES-256/PBKDF2 with a SHA-256 MAC
    #[arg(long)]
    pfx: bool,
    /// Write BASE.pfx in the legacy form (PBE-SHA1-3DES, SHA-1 MAC) for old Windows and Java 8
    #[arg(long)]
    legacy_pfx: bool,
    /// Also write BASE.pem: the certificate then the private key (0600), the form
    /// AZURE_CLIENT_CERTIFICATE_PATH takes (encrypted like BASE.key with --encrypt-key)
    #[arg(long)]
    pem_bundle: bool,
    /// Also write BASE.csr, a PKCS#10 request for the same key (for a CA-issued certificate)
    #[arg(long)]
    csr: bool,
    /// Encrypt BASE.key with the password (PKCS#8, AES-256-CBC, PBKDF2-SHA256)
    #[arg(long)]
    encrypt_key: bool,
    /// Read the password from FILE ('-' = stdin); else AZURE_CLIENT_CERTIFICATE_PASSWORD, else a prompt
    #[arg(long, value_name = "F")]
    password_file: Option<PathBuf>,
    /// Make the PKCS#12 file without a password, on purpose
    #[arg(long)]
    no_password: bool,
    /// Replace existing files
    #[arg(long)]
    force: bool,
    /// Print one JSON document instead of text
    #[arg(long)]
    json: bool,
}

pub fn run(args: NewArgs) -> Result<()> {
    let subject = subject_of(&args)?;
    let base = base_name(&args, &subject)?;
    check_password_flags(&args)?;
    let key_size = KeySize::from_bits(args.key_size.parse().unwrap_or(0))?;

    files::check_output_dir(&args.out)?;
    let paths = Paths::new(&args, &base);
    // Refuse before the (slow) key generation and before asking for a password.
    files::check_targets(&paths.all(), args.force)?;
    let password = read_password(&args)?;

    let request = NewCertificate {
        subject,
        sans: args.sans.clone(),
        days: args.days,
        key_size,
        profile: Profile::ClientAuth,
    };
    let generated = with_progress(key_size, || {
        generate::generate(&request).map_err(Error::from)
    })?;
    let outputs = output_files(&args, &paths, &generated, password.as_ref(), &base)?;
    files::write_all(&outputs, args.force)?;

    if args.json {
        output::print_json(&json_report(&generated.cert, &paths))
    } else {
        output::write_stdout(&text_report(&args, &generated.cert, &paths))
    }
}

/// --cn, else --subject, else CN=certgen.
fn subject_of(args: &NewArgs) -> Result<Subject> {
    let subject = match (&args.cn, &args.subject) {
        (Some(cn), _) => Subject::common_name(cn),
        (None, Some(dn)) => Subject::parse(dn),
        (None, None) => Subject::common_name("certgen"),
    };
    Ok(subject?)
}

/// The base of the file names: --name as given (a plain file name), else the CN made file-safe.
fn base_name(args: &NewArgs, subject: &Subject) -> Result<String> {
    match &args.name {
        Some(n) => {
            if n.is_empty() || n.contains(['/', '\\']) || n == "." || n == ".." {
                return Err(Error::usage(format!(
                    "--name '{n}' must be a plain file name without a folder"
                ))
                .with_hint("use --out DIR for the folder"));
            }
            Ok(n.clone())
        }
        None => Ok(generate::file_safe(subject.cn().unwrap_or("certgen"))),
    }
}

fn wants_pfx(args: &NewArgs) -> bool {
    args.pfx || args.legacy_pfx
}

/// --no-password only makes sense for a PKCS#12 file, and never with an encrypted key.
fn check_password_flags(args: &NewArgs) -> Result<()> {
    if args.no_password && !wants_pfx(args) {
        return Err(Error::usage(
            "--no-password goes with --pfx or --legacy-pfx",
        ));
    }
    if args.no_password && args.encrypt_key {
        return Err(Error::usage(
            "--encrypt-key needs a password, and --no-password asks for none",
        ));
    }
    Ok(())
}

/// The files `certgen new` writes.
struct Paths {
    crt: PathBuf,
    cer: PathBuf,
    key: PathBuf,
    pfx: Option<PathBuf>,
    pem: Option<PathBuf>,
    csr: Option<PathBuf>,
}

impl Paths {
    fn new(args: &NewArgs, base: &str) -> Paths {
        // Names relative to the current folder print as typed, not as `./name`.
        let path = |ext: &str| {
            let file = format!("{base}.{ext}");
            if args.out == Path::new(".") {
                PathBuf::from(file)
            } else {
                args.out.join(file)
            }
        };
        Paths {
            crt: path("crt"),
            cer: path("cer"),
            key: path("key"),
            pfx: wants_pfx(args).then(|| path("pfx")),
            pem: args.pem_bundle.then(|| path("pem")),
            csr: args.csr.then(|| path("csr")),
        }
    }

    fn all(&self) -> Vec<&Path> {
        let mut all: Vec<&Path> = vec![&self.crt, &self.cer, &self.key];
        all.extend(self.pfx.as_deref());
        all.extend(self.pem.as_deref());
        all.extend(self.csr.as_deref());
        all
    }
}

/// The password for the PKCS#12 file or the encrypted key, when one of them needs it.
fn read_password(args: &NewArgs) -> Result<Option<Secret>> {
    if !((wants_pfx(args) && !args.no_password) || args.encrypt_key) {
        return Ok(None);
    }
    output::warn_if_others_can_read(args.password_file.as_deref());
    let source = SecretSource::file(args.password_file.clone())
        .value(env_secret("AZURE_CLIENT_CERTIFICATE_PASSWORD")?)
        .ask(ask_new("Password for the new key/PFX: "));
    match source.read()? {
        Some(pw) if pw.is_empty() => Err(Error::failure("the password is empty")
            .with_hint("use --no-password for a PKCS#12 file without a password")),
        Some(pw) => Ok(Some(pw)),
        None => Err(Error::failure("a password is needed and none was given").with_hint(
            "give --password-file FILE (- for stdin) or set AZURE_CLIENT_CERTIFICATE_PASSWORD; \
             --no-password makes an unprotected PKCS#12 on purpose",
        )),
    }
}

/// The contents of every file, made before any is written.
fn output_files(
    args: &NewArgs,
    paths: &Paths,
    generated: &Generated,
    password: Option<&Secret>,
    base: &str,
) -> Result<Vec<OutputFile>> {
    let cert = &generated.cert;
    let key_pem = match (password, args.encrypt_key) {
        (Some(pw), true) => generated.key.to_encrypted_pkcs8_pem(pw)?,
        _ => generated.key.to_pkcs8_pem(),
    };
    let mut outputs = vec![
        OutputFile::public(paths.crt.clone(), cert.to_pem()),
        OutputFile::public(paths.cer.clone(), cert.der().to_vec()),
        OutputFile::private(paths.key.clone(), key_pem.clone()),
    ];
    if let Some(p) = &paths.pem {
        // Certificate first, then the key: what Azure Identity's ClientCertificateCredential
        // reads from one PEM file (https://learn.microsoft.com/en-us/dotnet/api/azure.identity.environmentcredential).
        let mut bundle = cert.to_pem().into_bytes();
        bundle.extend_from_slice(key_pem.as_bytes());
        outputs.push(OutputFile::private(p.clone(), bundle));
    }
    if let Some(p) = &paths.pfx {
        let flavor = if args.legacy_pfx {
            Pkcs12Flavor::Legacy
        } else {
            Pkcs12Flavor::Modern
        };
        let bytes = pkcs12::write(
            cert,
            &[],
            &generated.key,
            password.filter(|_| !args.no_password),
            flavor,
            base,
        )?;
        outputs.push(OutputFile::private(p.clone(), bytes));
    }
    if let Some(p) = &paths.csr {
        outputs.push(OutputFile::public(p.clone(), generated.csr_pem.clone()));
    }
    Ok(outputs)
}

/// The `--json` document: the certificate's facts and the files written.
fn json_report(cert: &Certificate, paths: &Paths) -> serde_json::Value {
    let show = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let mut doc = json!({
        "subject": cert.subject,
        "serial": cert.serial,
        "not_before": certgen::certificate::rfc3339(cert.not_before),
        "not_after": certgen::certificate::rfc3339(cert.not_after),
        "key": cert.key.describe(),
        "thumbprint": cert.thumbprints.thumbprint(),
        "thumbprint_sha256": cert.thumbprints.thumbprint_sha256(),
        "x5t": cert.thumbprints.x5t(),
        "x5t_s256": cert.thumbprints.x5t_s256(),
    });
    doc["files"] = json!({
        "cert": paths.crt.display().to_string(),
        "der": paths.cer.display().to_string(),
        "key": paths.key.display().to_string(),
        "pfx": show(&paths.pfx),
        "pem": show(&paths.pem),
        "csr": show(&paths.csr),
    });
    doc
}

/// The text report: the certificate's facts, each file with what it is for, and the next step.
fn text_report(args: &NewArgs, cert: &Certificate, paths: &Paths) -> String {
    let mut text = String::new();
    text += &format!("subject     {}\n", cert.subject);
    text += &format!("serial      {}\n", cert.serial);
    text += &format!("valid       {}\n", output::validity_line(cert));
    text += &format!("key         {}\n\n", cert.key.describe());
    text += &output::thumbprint_lines(cert, "");
    text += "\nfiles\n";
    text += &format!("  {:<28} certificate, PEM\n", paths.crt.display());
    text += &format!(
        "  {:<28} certificate, DER: upload this one\n",
        paths.cer.display()
    );
    text += &format!(
        "  {:<28} private key, PKCS#8{} (0600): keep it secret\n",
        paths.key.display(),
        if args.encrypt_key { ", encrypted" } else { "" }
    );
    if let Some(p) = &paths.pfx {
        text += &format!(
            "  {:<28} PKCS#12 with key and certificate, {}{} (0600)\n",
            p.display(),
            if args.legacy_pfx {
                "legacy 3DES/SHA-1"
            } else {
                "AES-256/SHA-256"
            },
            if args.no_password {
                ", NO password"
            } else {
                ""
            }
        );
    }
    if let Some(p) = &paths.pem {
        text += &format!(
            "  {:<28} certificate and private key{}, PEM (0600): for AZURE_CLIENT_CERTIFICATE_PATH\n",
            p.display(),
            if args.encrypt_key { " (encrypted)" } else { "" }
        );
    }
    if let Some(p) = &paths.csr {
        text += &format!("  {:<28} certificate request (PKCS#10)\n", p.display());
    }
    text += &format!(
        "\nnext: upload {} in App registrations → Certificates & secrets → Certificates\n",
        paths.cer.display()
    );
    text
}

/// Runs `f`, showing a progress line on stderr meanwhile when a 4096-bit key is made on a
/// terminal (generation can take several seconds, and silence looks like a hang).
fn with_progress<T>(size: KeySize, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if size != KeySize::Rsa4096 || !std::io::stderr().is_terminal() {
        return f();
    }
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let ticker = std::thread::spawn(move || {
        eprint!("generating an RSA 4096 key ");
        while !flag.load(Ordering::Relaxed) {
            eprint!(".");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        eprintln!(" done");
    });
    let result = f();
    done.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    result
}
