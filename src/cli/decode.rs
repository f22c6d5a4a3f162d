//! `certgen decode`: header and claims of any JWT, with readable times. Never verifies.

use std::io::{IsTerminal, Read};

use super::hints::{CliError as Error, Result};
use certgen::certificate::rfc3339;
use certgen::jose::{self, numeric_date, DateRule, Policy, TIME_CLAIMS};
use clap::Args;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::output;

/// Show the header and claims of a JWT (an assertion, an access token), times as dates.
///
/// The signature is NOT checked: anyone can write a token that decodes. Use `certgen verify`
/// to check an access token the way an API must.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  certgen decode eyJhbGciOi...\n  \
certgen token ... --json | jq -r .access_token | certgen decode\n  \
certgen decode - --json < token.txt\n\n\
Whitespace around the token and a 'Bearer ' prefix are ignored.")]
pub struct DecodeArgs {
    /// The token; '-' or nothing reads it from stdin
    #[arg(value_name = "TOKEN")]
    token: Option<String>,
    /// Print {"header", "claims", "signature_verified": false} as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(args: DecodeArgs) -> Result<()> {
    let text = match args.token.as_deref() {
        Some(t) if t != "-" => t.to_string(),
        given => {
            if given.is_none() && std::io::stdin().is_terminal() {
                return Err(Error::usage("no token: give it as an argument or on stdin")
                    .with_hint("certgen decode TOKEN, or: ... | certgen decode"));
            }
            let mut buf = String::new();
            std::io::stdin()
                .read_to_string(&mut buf)
                .map_err(|e| Error::failure(format!("cannot read the token from stdin: {e}")))?;
            buf
        }
    };
    let jws = jose::parse(jose::strip_bearer(&text), Policy::Strict)?;
    let (header, claims) = (Value::Object(jws.header), Value::Object(jws.claims));
    if args.json {
        return output::print_json(&json!({
            "header": header,
            "claims": claims,
            "signature_verified": false,
        }));
    }
    // Whole seconds, like the claims, so a claim made this second reads "now".
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
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
    out += "signature: NOT checked (decode never verifies; use certgen verify for access tokens)\n";
    output::write_stdout(&out)
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
