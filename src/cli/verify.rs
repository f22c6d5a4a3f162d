//! `certgen verify`: validate an access token the way a protected API does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::hints::{CliError as Error, Result};
use certgen::input::read_input;
use certgen::verify::{ValidToken, Validator, ValidatorOptions, DEFAULT_LEEWAY};
use clap::{ArgGroup, Args};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::output;

/// Validate an access token as a protected API must: signature (RS256, key chosen by kid),
/// issuer, audience, lifetime and required roles.
///
/// The keys come from the authority's OpenID metadata (--authority; the v2 document, or the v1
/// document for a token with ver 1.0), from a JWKS URL, or from a JWKS file. With a JWKS URL or
/// file, --issuer is required: a key set alone does not say whose tokens to accept.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("keys").required(true).args(["authority", "jwks_uri", "jwks_file"])))]
#[command(
    after_help = "Exit status: 0 valid (claims on stdout), 1 rejected (the reason on stderr), \
2 usage, 3 the authority answered with an error, 4 it could not be reached.\n\n\
Examples:\n  \
certgen verify \"$TOKEN\" --audience api://my-api --authority https://login.microsoftonline.com/contoso.onmicrosoft.com\n  \
echo \"$TOKEN\" | certgen verify - --audience 11111111-2222-3333-4444-555555555555 \\\n      \
--authority https://127.0.0.1:8443/contoso --ca-file ca.pem --require-role Data.Read --json\n  \
certgen verify \"$TOKEN\" --audience api://my-api --jwks-file keys.json --issuer https://sts.windows.net/<tid>/"
)]
pub struct VerifyArgs {
    /// The access token; '-' or nothing reads stdin (a `Bearer ` prefix or a token response JSON is fine)
    #[arg(value_name = "TOKEN")]
    token: Option<String>,
    /// An accepted audience: the API's client id or App ID URI (repeatable)
    #[arg(long, value_name = "A", required = true)]
    audience: Vec<String>,
    /// Authority whose metadata gives issuer and keys, e.g. https://login.microsoftonline.com/<tenant>
    #[arg(long, value_name = "URL")]
    authority: Option<String>,
    /// Read keys from this JWKS URL (needs --issuer)
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Read keys from this JWKS file (needs --issuer)
    #[arg(long, value_name = "F")]
    jwks_file: Option<PathBuf>,
    /// The exact issuer expected (overrides the metadata's)
    #[arg(long, value_name = "I")]
    issuer: Option<String>,
    /// A role the token must carry in `roles` (repeatable)
    #[arg(long = "require-role", value_name = "R")]
    require_role: Vec<String>,
    /// Clock tolerance for exp/nbf, in seconds
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_LEEWAY.as_secs())]
    leeway: u64,
    /// Extra trusted CA certificates (PEM) for HTTPS to the authority, e.g. certgen serve's
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Print {"valid": true, "header": {…}, "claims": {…}}
    #[arg(long)]
    json: bool,
}

pub fn run(args: VerifyArgs) -> Result<()> {
    if args.issuer.is_none() {
        let flag = match (&args.jwks_uri, &args.jwks_file) {
            (Some(_), _) => Some("--jwks-uri"),
            (_, Some(_)) => Some("--jwks-file"),
            _ => None,
        };
        if let Some(flag) = flag {
            return Err(Error::usage(format!(
                "{flag} needs --issuer: a key set alone does not say whose tokens to accept"
            ))
            .with_hint("e.g. --issuer https://login.microsoftonline.com/<tenant id>/v2.0 (v2 tokens) or https://sts.windows.net/<tenant id>/ (v1)"));
        }
    }
    let token = read_token(args.token.as_deref())?;
    let mut options =
        ValidatorOptions::new(args.audience.clone()).leeway(Duration::from_secs(args.leeway));
    options.required_roles = args.require_role.clone();
    options.issuer = args.issuer.clone();
    options.ca_file = args.ca_file.clone();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    let valid = runtime.block_on(async {
        let validator = if let Some(authority) = &args.authority {
            // One token per run: read only the document and keys of its version (two requests).
            Validator::from_authority_lazy(authority, options)?
        } else if let Some(uri) = &args.jwks_uri {
            Validator::from_jwks_uri(uri, options).await?
        } else if let Some(file) = &args.jwks_file {
            Validator::from_jwks_file(file, options)?
        } else {
            return Err(Error::usage(
                "one of --authority, --jwks-uri or --jwks-file is required",
            ));
        };
        Ok::<_, Error>(validator.validate(&token).await?)
    })?;

    if args.json {
        output::print_json(&json!({
            "valid": true,
            "header": Value::Object(valid.header),
            "claims": Value::Object(valid.claims),
        }))
    } else {
        output::write_stdout(&human(&valid, &args))
    }
}

/// The token from the argument, or stdin for `-`/nothing. A token response (`{"access_token":…}`)
/// on stdin is accepted too, so `certgen token --json | certgen verify …` works.
fn read_token(arg: Option<&str>) -> Result<String> {
    let text = match arg {
        Some(t) if t != "-" => t.to_string(),
        _ => {
            if arg.is_none() && std::io::stdin().is_terminal() {
                return Err(Error::usage("no token given").with_hint(
                    "pass it as an argument, or pipe it in: … | certgen verify - --audience …",
                ));
            }
            let bytes = read_input(Path::new("-"))?;
            String::from_utf8(bytes)
                .map_err(|_| Error::failure("the token on stdin is not text"))?
        }
    };
    let text = text.trim();
    if text.starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
            if let Some(t) = map.get("access_token").and_then(Value::as_str) {
                return Ok(t.to_string());
            }
        }
    }
    if text.is_empty() {
        return Err(Error::usage("the token is empty"));
    }
    Ok(text.to_string())
}

fn human(valid: &ValidToken, args: &VerifyArgs) -> String {
    let now = OffsetDateTime::now_utc();
    let mut out = String::new();
    out.push_str(&format!(
        "valid      RS256 signature (kid {}), issuer {}\n",
        valid.kid, valid.issuer
    ));
    if let Some(aud) = valid.claims.get("aud") {
        out.push_str(&format!("audience   {}\n", plain(aud)));
    }
    if let Some(client) = valid.client_id() {
        out.push_str(&format!("client     {client}\n"));
    }
    let roles = valid.roles();
    if !roles.is_empty() || !args.require_role.is_empty() {
        out.push_str(&format!(
            "roles      {}\n",
            if roles.is_empty() {
                "(none)".to_string()
            } else {
                roles.join(", ")
            }
        ));
    }
    if let Some(exp) = valid
        .claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
    {
        out.push_str(&format!(
            "expires    {} ({})\n",
            certgen::certificate::rfc3339(exp),
            output::relative(exp, now)
        ));
    }
    out.push_str("claims\n");
    for (name, value) in &valid.claims {
        out.push_str(&format!("  {name:<10} {}\n", plain(value)));
    }
    out
}

/// Strings without quotes, everything else as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
