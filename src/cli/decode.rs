//! `certgen decode`: header and claims of any JWT, with readable times. Never verifies.

use super::error::{CliError as Error, Result};
use std::path::Path;

use certgen::certificate::rfc3339;
use certgen::graph::proof::{self, Broken, Expected};
use certgen::input::{self, Content, Format};
use certgen::jose::{self, numeric_date, DateRule, Policy, TIME_CLAIMS};
use certgen::read;
use clap::Args;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{output, token_input};

/// Show the header and claims of a JWT (an assertion, an access token), times as dates.
///
/// The signature is NOT checked: anyone can write a token that decodes. Use `certgen verify`
/// to check an access token the way an API must.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  certgen decode eyJhbGciOi...\n  \
certgen token ... --output json | certgen decode\n  \
certgen decode - --json < token.txt\n\n\
Whitespace around the token and a 'Bearer ' prefix are ignored; the output of\n\
certgen token --output header or --output json is taken as it is.")]
pub struct DecodeArgs {
    /// The token; '-' or nothing reads it from stdin
    #[arg(value_name = "TOKEN")]
    token: Option<String>,
    /// Print {"header", "claims", "signature_verified": false} as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: DecodeArgs) -> Result<()> {
    let text = token_input::read_token(
        args.token.as_deref(),
        "certgen decode TOKEN, or: ... | certgen decode",
    )?;
    let token = jose::strip_bearer(&text);
    let jws = match jose::parse(token, Policy::Strict) {
        Ok(jws) => jws,
        // A padded addKey proof is read anyway, to say that padding is what Graph refuses.
        Err(strict) => match jose::parse(token, Policy::Lenient) {
            Ok(jws) if proof::looks_like_proof(&jws.claims) => jws,
            _ => return Err(not_a_token(args.token.as_deref(), &text, strict.into())),
        },
    };
    // Whole seconds, like the claims, so a claim made this second reads "now".
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let broken = proof_rules(token, &jws.claims, now)?;
    let (header, claims) = (Value::Object(jws.header), Value::Object(jws.claims));
    if args.json {
        let mut doc = json!({
            "header": header,
            "claims": claims,
            "signature_verified": false,
        });
        if let Some(broken) = &broken {
            doc["graph_proof"] = json!({
                "broken_rules": broken.iter().map(ToString::to_string).collect::<Vec<_>>(),
            });
        }
        return output::print_json(&doc);
    }
    let mut out = String::new();
    out += "header\n";
    out += &indented(&header)?;
    out += "claims\n";
    out += &indented(&claims)?;
    let times = time_lines(&claims, now);
    if !times.is_empty() {
        out += "times\n";
        out += &times;
    }
    if let Some(broken) = broken {
        out += &proof_lines(&broken);
    }
    out += "signature: NOT checked (decode never verifies; use certgen verify for access tokens)\n";
    output::write_stdout(&out)
}

/// A file given where a token was expected (`certgen decode app.crt`): say what it holds and
/// which command reads it; otherwise the parse error as it is.
fn not_a_token(arg: Option<&str>, text: &str, error: Error) -> Error {
    let path = arg.filter(|a| *a != "-").map(Path::new);
    let (name, content) = match path {
        Some(p) if p.is_file() => match read::file(p, read::CREDENTIAL) {
            Ok(bytes) => (p.display().to_string(), input::recognise(&bytes)),
            Err(_) => return error,
        },
        Some(_) => return error,
        // A PEM piped in (`certgen decode < app.crt`); DER on stdin is refused as not UTF-8.
        None => ("stdin".to_string(), input::recognise(text.as_bytes())),
    };
    let what = match content {
        Some(Content::Certificate(Format::Der)) => "a certificate (DER)",
        Some(Content::Certificate(_)) => "a certificate (PEM)",
        Some(Content::PrivateKey(Format::Der)) => "a private key (DER)",
        Some(Content::PrivateKey(_)) => "a private key (PEM)",
        Some(Content::CertificateAndKey) => "a certificate and a private key (PEM)",
        Some(Content::CertificateRequest) => "a certificate request (PEM)",
        Some(Content::Pkcs12) => "a PKCS#12 file (certificate and key)",
        None if path.is_some() => {
            return error.with_hint(format!(
                "{name} is a file: to decode a token saved in it, certgen decode - < {name}"
            ))
        }
        None => return error,
    };
    let mut e = Error::failure(format!("{name} is {what}, not a JWT"));
    e = match content {
        Some(Content::PrivateKey(_)) => e.with_hint(
            "a key alone has no thumbprint: certgen thumbprint CERT shows those of its certificate",
        ),
        Some(Content::CertificateRequest) => {
            e.with_hint("openssl req -in FILE -noout -text shows it")
        }
        _ if path.is_some() => e.with_hint(format!(
            "certgen thumbprint {name} shows its subject, validity and thumbprints"
        )),
        _ => e.with_hint("certgen thumbprint - shows its subject, validity and thumbprints"),
    };
    e
}

/// For a token that looks like Graph's addKey/removeKey proof, the rules of Graph's it breaks.
fn proof_rules(
    token: &str,
    claims: &serde_json::Map<String, Value>,
    now: OffsetDateTime,
) -> Result<Option<Vec<Broken>>> {
    if !proof::looks_like_proof(claims) {
        return Ok(None);
    }
    let expected = Expected {
        now: Some(now.unix_timestamp()),
        ..Expected::default()
    };
    Ok(Some(proof::broken_rules(token, &expected)?))
}

/// Graph answers a bad proof with `Authentication_MissingOrMalformed` and no detail: say here
/// which rule is broken, and what decode cannot check.
fn proof_lines(broken: &[Broken]) -> String {
    let mut out = String::from("graph proof (addKey/removeKey)\n");
    if broken.is_empty() {
        out += "  follows Graph's rules for aud, alg, lifetime and padding\n";
    }
    for b in broken {
        out += &format!("  BROKEN: {b}\n");
    }
    out += "  not checked here: iss must be the application's object id (not its appId), and the \
            signing certificate must be registered and valid on it\n";
    out
}

fn indented(v: &Value) -> Result<String> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| Error::failure(format!("cannot encode JSON ({e})")))?;
    Ok(text.lines().map(|l| format!("  {l}\n")).collect())
}

/// One line per time claim present: name, RFC 3339 date, and how far from now.
fn time_lines(claims: &Value, now: OffsetDateTime) -> String {
    let mut out = String::new();
    for name in TIME_CLAIMS {
        let Some(value) = claims.get(name) else {
            continue;
        };
        let line = match numeric_date(value, DateRule::Lenient)
            .ok()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        {
            Some(t) => {
                let rel = output::relative(t, now);
                let rel = match rel.strip_suffix(" ago") {
                    _ if t == now => "now".to_string(),
                    Some(span) if name == "exp" => format!("expired {span} ago"),
                    _ => rel,
                };
                format!("{} ({rel})", rfc3339(t))
            }
            None => format!("{value} (not a NumericDate)"),
        };
        out += &format!("  {name:<9} {line}\n");
    }
    out
}
