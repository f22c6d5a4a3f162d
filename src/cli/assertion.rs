//! `certgen assertion`: the signed client-assertion JWT for a token request.

use super::error::{CliError as Error, Result};
use certgen::assertion::{self, AssertionParams, SigningAlg, DEFAULT_LIFETIME_SECS};
use certgen::authority;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::credential_args::CredentialArgs;
use super::output;

/// Build and sign the client-assertion JWT that Entra ID accepts instead of a client secret.
///
/// The audience is the tenant's v2 token endpoint, {authority host}/{tenant}/oauth2/v2.0/token,
/// unless --audience gives it. iss = sub = the client id, jti is a fresh UUID, iat = nbf = now,
/// exp = now + --lifetime. Prints the compact JWT; send it as client_assertion with
/// client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer.
#[derive(Debug, Args)]
#[command(after_help = "Environment (a flag always wins):\n  \
AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST, AZURE_CLIENT_CERTIFICATE_PATH,\n  \
AZURE_CLIENT_CERTIFICATE_PASSWORD, AZURE_CLIENT_SEND_CERTIFICATE_CHAIN (1/true = --x5c)\n\n\
Examples:\n  certgen assertion --client-id $APP --tenant contoso.onmicrosoft.com \\\n      \
--cert app.crt --key app.key\n  \
certgen assertion --client-id $APP --tenant $TENANT --pfx app.pfx --alg RS256\n  \
certgen assertion --client-id $APP --tenant $TENANT --cert app.pem \\\n      \
| certgen decode")]
pub struct AssertionArgs {
    /// Application (client) ID, a GUID
    #[arg(long, env = "AZURE_CLIENT_ID", value_name = "ID")]
    client_id: String,
    /// Directory (tenant) ID or domain [else AZURE_TENANT_ID]
    #[arg(long, value_name = "T")]
    tenant: Option<String>,
    /// public, usgov, china, or an https URL (http only to loopback) [else AZURE_AUTHORITY_HOST, else public]
    #[arg(long, value_name = "H")]
    authority_host: Option<String>,
    /// The exact aud claim, instead of the tenant's token endpoint
    #[arg(long, value_name = "URL", conflicts_with_all = ["tenant", "authority_host"])]
    audience: Option<String>,
    /// PS256 (x5t#S256, what current MSAL sends) or RS256 (x5t, ADFS and older stacks)
    #[arg(long, value_enum, default_value = "PS256", ignore_case = true)]
    alg: Alg,
    /// Add the certificate chain as x5c (subject name + issuer auth) [or AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=1]
    #[arg(long)]
    x5c: bool,
    /// Seconds until exp, 60–3600
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_LIFETIME_SECS)]
    lifetime: u64,
    /// Print {"assertion", "header", "claims"} as JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    credential: CredentialArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Alg {
    #[value(name = "PS256")]
    Ps256,
    #[value(name = "RS256")]
    Rs256,
}

impl From<Alg> for SigningAlg {
    fn from(alg: Alg) -> Self {
        match alg {
            Alg::Ps256 => SigningAlg::Ps256,
            Alg::Rs256 => SigningAlg::Rs256,
        }
    }
}

pub fn run(args: AssertionArgs) -> Result<()> {
    // Everything about the request is checked before a password is asked for.
    let params = AssertionParams {
        audience: audience(&args)?,
        client_id: args.client_id.trim().to_string(),
        alg: args.alg.into(),
        x5c: args.x5c || env_flag("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"),
        lifetime_secs: args.lifetime,
    };
    if args.audience.is_none() {
        // Toward Entra (its tenant's token endpoint): its client ids are GUIDs.
        assertion::check_client_id(&params.client_id)?;
    }
    assertion::check_params(&params)?;
    let cred = args.credential.load()?;
    let signed = assertion::sign(&cred, &params)?;
    if args.json {
        return output::print_json(&json!({
            "assertion": signed.jwt,
            "header": signed.header,
            "claims": signed.claims,
        }));
    }
    output::write_stdout(&format!("{}\n", signed.jwt))
}

/// `--audience`, or the token endpoint of the tenant on the authority host. The environment
/// is read here rather than by clap so that `--audience` can override AZURE_TENANT_ID.
fn audience(args: &AssertionArgs) -> Result<String> {
    if let Some(aud) = &args.audience {
        authority::check_endpoint_url(aud)?;
        return Ok(aud.clone());
    }
    let Some(tenant) = tenant(args.tenant.as_deref()) else {
        return Err(Error::usage("no tenant: give --tenant T or --audience URL")
            .with_hint("or set AZURE_TENANT_ID to the directory (tenant) ID"));
    };
    Ok(authority::tenant_token_endpoint(
        &authority_host(args.authority_host.as_deref()),
        &tenant,
    )?)
}

/// `--tenant`, else AZURE_TENANT_ID.
pub(super) fn tenant(flag: Option<&str>) -> Option<String> {
    flag.map(|t| t.trim().to_string())
        .or_else(|| env_value("AZURE_TENANT_ID"))
}

/// `--authority-host`, else AZURE_AUTHORITY_HOST, else `public`.
pub(super) fn authority_host(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| env_value("AZURE_AUTHORITY_HOST"))
        .unwrap_or_else(|| "public".into())
}

/// A non-empty environment variable, trimmed.
pub(super) fn env_value(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `1` or `true` (any case), as the Azure SDKs read their boolean variables. Anything else is
/// off, as there; but a value that is neither on nor plainly off (`yes`, `on`, a typo) gets a
/// warning, because silently not sending `x5c` shows up much later as AADSTS700027.
pub(super) fn env_flag(var: &str) -> bool {
    let Some(v) = env_value(var) else {
        return false;
    };
    if v == "1" || v.eq_ignore_ascii_case("true") {
        return true;
    }
    if !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")) {
        eprintln!("warning: {var}={v} is not 1 or true, so it is off");
    }
    false
}
