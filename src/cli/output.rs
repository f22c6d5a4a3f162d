//! Printing helpers shared by the commands.

use std::io::Write;

use super::error::{CliError as Error, Result};
use certgen::certificate::{rfc3339, Certificate, Validity};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// Prints exactly one JSON document (pretty) and a newline on stdout.
pub fn print_json(value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::failure(format!("cannot encode JSON ({e})")))?;
    write_stdout(&format!("{text}\n"))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::failure(format!("cannot write to stdout: {e}"))),
    }
}

/// Warns when a secret or password file can be read by other users: it works, but anyone on
/// the machine can read the secret too. Only a file named on the command line is checked
/// (not stdin or a pipe).
pub fn warn_if_others_can_read(path: Option<&std::path::Path>) {
    #[cfg(unix)]
    if let Some(path) = path.filter(|p| *p != std::path::Path::new("-")) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if m.is_file() && mode & 0o044 != 0 {
                eprintln!(
                    "warning: other users can read the secret file {} (mode {mode:04o}); \
                     run chmod 600 {} to keep the secret to yourself",
                    path.display(),
                    path.display()
                );
            }
        }
    }
}

/// The JSON object of one certificate, shared by `new` and `thumbprint`.
pub fn cert_json(cert: &Certificate) -> Value {
    json!({
        "subject": cert.subject,
        "issuer": cert.issuer,
        "serial": cert.serial,
        "not_before": rfc3339(cert.not_before),
        "not_after": rfc3339(cert.not_after),
        "key": cert.key.describe(),
        "thumbprint": cert.thumbprints.thumbprint(),
        "thumbprint_sha256": cert.thumbprints.thumbprint_sha256(),
        "x5t": cert.thumbprints.x5t(),
        "x5t_s256": cert.thumbprints.x5t_s256(),
    })
}

/// "in 3 days", "2 h ago" …, for validity lines.
pub fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (t - now).whole_seconds();
    let span = human_span(secs.unsigned_abs());
    if secs >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

pub fn human_span(secs: u64) -> String {
    match secs {
        s if s < 90 => format!("{s} s"),
        s if s < 90 * 60 => format!("{} min", s / 60),
        s if s < 48 * 3600 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

/// The validity line: dates, and a loud mark when the certificate cannot be used now.
pub fn validity_line(cert: &Certificate) -> String {
    let now = OffsetDateTime::now_utc();
    let mark = match cert.validity_at(now) {
        Validity::Valid => format!("valid, expires {}", relative(cert.not_after, now)),
        Validity::Expired => format!("EXPIRED {}", relative(cert.not_after, now)),
        Validity::NotYetValid => {
            format!("NOT YET VALID, starts {}", relative(cert.not_before, now))
        }
    };
    format!(
        "{} to {} ({mark})",
        rfc3339(cert.not_before),
        rfc3339(cert.not_after)
    )
}

/// The four thumbprints, each labelled with where it is pasted.
pub fn thumbprint_lines(cert: &Certificate, indent: &str) -> String {
    let t = &cert.thumbprints;
    format!(
        "{indent}thumbprint    (portal, MSAL)       {}\n\
         {indent}thumbprint_sha256                  {}\n\
         {indent}x5t           (JWT header, RS256)  {}\n\
         {indent}x5t#S256      (JWT header, PS256)  {}\n",
        t.thumbprint(),
        t.thumbprint_sha256(),
        t.x5t(),
        t.x5t_s256()
    )
}
