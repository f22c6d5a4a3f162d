//! `certgen verify`: validate an access token the way a protected API does.

use std::path::PathBuf;
use std::time::Duration;

use super::error::{CliError as Error, Result};
use certgen::error::VerifyError;
use certgen::jose::{self, Policy};
use certgen::verify::{ValidToken, Validator, ValidatorOptions, DEFAULT_LEEWAY};
use clap::{ArgGroup, Args};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{output, token_input};

/// The largest `--leeway`: an hour covers any honest clock drift; a larger value would quietly
/// turn expiry checking off (a token expired a year ago would still pass).
const MAX_LEEWAY_SECS: u64 = 3600;

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
certgen verify \"$TOKEN\" --audience api://my-api \\\n      \
--authority https://login.microsoftonline.com/contoso.onmicrosoft.com\n  \
echo \"$TOKEN\" | certgen verify - --json \\\n      \
--audience 11111111-2222-3333-4444-555555555555 --require-role Data.Read \\\n      \
--authority https://127.0.0.1:8443/contoso --ca-file ca.pem\n  \
certgen verify \"$TOKEN\" --audience api://my-api --jwks-file keys.json \\\n      \
--issuer https://sts.windows.net/<tid>/"
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
    /// Clock tolerance for exp/nbf, in seconds (at most 3600)
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = DEFAULT_LEEWAY.as_secs(),
        value_parser = clap::value_parser!(u64).range(..=MAX_LEEWAY_SECS)
    )]
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
    let token = token_input::read_token(
        args.token.as_deref(),
        "pass it as an argument, or pipe it in: … | certgen verify - --audience …",
    )?;
    if token.is_empty() {
        return Err(Error::usage("the token is empty"));
    }
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
        validator
            .validate(&token)
            .await
            .map_err(|e| audience_hint(Error::from(e.clone()), &e, &token, &args.audience))
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

/// A v2 token refused for an `api://` audience: Entra puts the API's application (client) id
/// in a v2 token's `aud`, its Application ID URI only in a v1 token's
/// (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference#payload-claims).
fn audience_hint(error: Error, e: &VerifyError, token: &str, accepted: &[String]) -> Error {
    let VerifyError::Audience { found, .. } = e else {
        return error;
    };
    let Ok(jws) = jose::parse(jose::strip_bearer(token), Policy::Lenient) else {
        return error;
    };
    let v2 = jws.claims.get("ver").and_then(Value::as_str) == Some("2.0");
    let uri = accepted.iter().find(|a| a.contains("://"));
    match uri {
        Some(uri) if v2 => error.with_hint(format!(
            "a v2 token's aud is the API's Application (client) ID, a GUID, not its Application ID URI ({uri}): this token's aud is {found}; give --audience with the API's client ID"
        )),
        _ => error,
    }
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
