//! `certgen token`: the flags and AZURE_* variables turned into a
//! [`certgen::token::AcquireRequest`], and the token printed. The flow itself (cache first,
//! the network only on a miss) is [`certgen::token::acquire`].

use std::path::PathBuf;
use std::time::Duration;

use certgen::assertion::{self, AssertionParams, DEFAULT_LIFETIME_SECS};
use certgen::authority;
use certgen::credential::ENV_CERTIFICATE_PATH;
use certgen::jose::{self, Policy};
use certgen::secret::SecretSource;
use certgen::token::{
    acquire, AcquireRequest, AcquiredToken, CachePolicy, ClientOptions, TokenCredential,
    TokenTarget,
};
use certgen::{Error, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::assertion::{env_flag, env_value, Alg};
use super::credential_args::CredentialArgs;
use super::output;

/// The environment variable the Azure Identity libraries read a client secret from.
const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";

/// Get an access token from Entra ID (or any OAuth server) with the client-credentials grant.
///
/// Signs a client assertion with the certificate (or sends a client secret), posts it to the
/// tenant's v2 token endpoint, and prints the access token. Tokens are cached (0600 files in
/// $CERTGEN_CACHE_DIR, else $XDG_CACHE_HOME/certgen, else ~/.cache/certgen) and reused while at
/// least 5 minutes of them remain.
///
/// Exit codes: 0 token printed, 1 bad input (refused locally, nothing sent), 2 usage,
/// 3 the identity provider refused (with the AADSTS code and what to check),
/// 4 it could not be reached (DNS, TCP, TLS, timeout).
#[derive(Debug, Clone, Args)]
#[command(after_help = "Environment (a flag always wins):\n  \
AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, AZURE_CLIENT_SECRET,\n  \
AZURE_CLIENT_CERTIFICATE_PATH, AZURE_CLIENT_CERTIFICATE_PASSWORD,\n  \
AZURE_CLIENT_SEND_CERTIFICATE_CHAIN (1/true = --x5c), HTTPS_PROXY, NO_PROXY, CERTGEN_CACHE_DIR\n\n\
Examples:\n  TOKEN=$(certgen token --tenant $TENANT --client-id $APP --cert app.crt --key app.key)\n  \
curl -H \"$(certgen token --output header)\" https://graph.microsoft.com/v1.0/users   # AZURE_* set\n  \
certgen token --tenant $TENANT --client-id $APP --secret-file s.txt --scope api://my-api/.default")]
pub struct TokenArgs {
    /// Directory (tenant) ID or domain [else AZURE_TENANT_ID]
    #[arg(long, value_name = "T")]
    pub(super) tenant: Option<String>,
    /// Application (client) ID
    #[arg(long, env = "AZURE_CLIENT_ID", value_name = "ID")]
    pub(super) client_id: String,
    /// RESOURCE/.default (repeatable; one resource) [default: https://graph.microsoft.com/.default]
    #[arg(long = "scope", value_name = "S")]
    pub(super) scopes: Vec<String>,
    /// public, usgov, china, or an https URL (http only to loopback) [else AZURE_AUTHORITY_HOST, else public]
    #[arg(long, value_name = "H")]
    pub(super) authority_host: Option<String>,
    /// Post to this URL instead (another OAuth server, certgen serve); scopes are sent as given
    #[arg(long, value_name = "URL", conflicts_with = "authority_host")]
    pub(super) token_endpoint: Option<String>,
    /// The assertion's aud claim, instead of the URL posted to
    #[arg(long, value_name = "URL", conflicts_with = "secret_file")]
    audience: Option<String>,
    /// PS256 (x5t#S256, what current MSAL sends) or RS256 (x5t, ADFS and older stacks)
    #[arg(long, value_enum, default_value = "PS256", ignore_case = true)]
    alg: Alg,
    /// Send the certificate chain as x5c (subject name + issuer auth) [or AZURE_CLIENT_SEND_CERTIFICATE_CHAIN=1]
    #[arg(long, conflicts_with = "secret_file")]
    x5c: bool,
    /// Extra trusted root certificate(s), PEM or DER (e.g. the ca_file of certgen serve)
    #[arg(long, value_name = "PEM")]
    pub(super) ca_file: Option<PathBuf>,
    /// Seconds allowed for the whole exchange, retries included
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(super) timeout: u64,
    /// Neither read nor write the token cache
    #[arg(long)]
    pub(super) no_cache: bool,
    /// Get a new token even if a cached one is fresh (and cache it)
    #[arg(long, conflicts_with = "no_cache")]
    force_refresh: bool,
    /// token: the token alone; header: "Authorization: Bearer …"; json: token, times, source, claims
    #[arg(long, value_enum, default_value = "token", value_name = "FORM")]
    pub(super) output: OutputForm,
    #[command(flatten)]
    pub(super) credential: CredentialArgs,
    /// Client secret file, first line ('-' = stdin), instead of a certificate [else AZURE_CLIENT_SECRET]
    #[arg(long, value_name = "F", help_heading = "Credential", conflicts_with_all = ["cert", "key", "pfx", "password_file"])]
    secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OutputForm {
    Token,
    Header,
    Json,
}

pub fn run(args: TokenArgs) -> Result<()> {
    let token = get(&args)?;
    print(&args, &token)
}

/// The token the flags describe, cache first (also what `certgen call` sends).
pub(super) fn get(args: &TokenArgs) -> Result<AcquiredToken> {
    let client_id = args.client_id.trim().to_string();
    let target = target(args)?;
    if args.token_endpoint.is_none() {
        // Entra's client ids are GUIDs; another server's may be anything.
        assertion::check_client_id(&client_id)?;
    }
    let credential = credential(args, &client_id, &target.endpoint)?;
    let request = AcquireRequest {
        target,
        client_id,
        credential,
        client: ClientOptions {
            timeout: Duration::from_secs(args.timeout),
            ca_file: args.ca_file.clone(),
            ..Default::default()
        },
        cache_dir: None,
    };
    let policy = if args.no_cache {
        CachePolicy::NoCache
    } else if args.force_refresh {
        CachePolicy::ForceRefresh
    } else {
        CachePolicy::Use
    };
    acquire(&request, policy, |w| eprintln!("warning: {w}"))
}

/// The URL, tenant and scopes from flags and AZURE_* variables, checked before anything is
/// read or sent.
fn target(args: &TokenArgs) -> Result<TokenTarget> {
    let tenant = args
        .tenant
        .as_deref()
        .map(|t| t.trim().to_string())
        .or_else(|| env_value("AZURE_TENANT_ID"));
    if let Some(url) = &args.token_endpoint {
        return TokenTarget::endpoint(url, tenant.as_deref(), args.scopes.clone());
    }
    let Some(tenant) = tenant else {
        return Err(Error::usage("no tenant: give --tenant T")
            .with_hint("or set AZURE_TENANT_ID to the directory (tenant) ID; --token-endpoint URL posts elsewhere"));
    };
    let host = args
        .authority_host
        .clone()
        .or_else(|| env_value("AZURE_AUTHORITY_HOST"))
        .unwrap_or_else(|| "public".into());
    TokenTarget::entra(&host, &tenant, args.scopes.clone())
}

/// The certificate or the secret, in the order of the spec and of Azure Identity: flags
/// first, then AZURE_CLIENT_SECRET, then AZURE_CLIENT_CERTIFICATE_PATH, then a prompt.
fn credential(args: &TokenArgs, client_id: &str, endpoint: &str) -> Result<TokenCredential> {
    let c = &args.credential;
    let cert_flags = c.cert.is_some() || c.pfx.is_some();
    if !cert_flags {
        let secrets = SecretSource::file(args.secret_file.clone()).env(ENV_CLIENT_SECRET);
        if let Some(secret) = secrets.read()? {
            let source = match &args.secret_file {
                Some(f) => format!("--secret-file {}", f.display()),
                None => ENV_CLIENT_SECRET.to_string(),
            };
            return TokenCredential::secret(secret, source);
        }
    }
    if !cert_flags && env_value(ENV_CERTIFICATE_PATH).is_none() {
        let prompt = SecretSource::default().prompt("Client secret: ");
        if let Some(secret) = prompt.read()? {
            return TokenCredential::secret(secret, "the prompt");
        }
        return Err(
            Error::usage("no credential: give a certificate or a client secret")
                .with_hint(
                    "--cert FILE [--key FILE], --pfx FILE, or --secret-file FILE ('-' = stdin)",
                )
                .with_hint("or set AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_SECRET"),
        );
    }
    let params = AssertionParams {
        client_id: client_id.to_string(),
        audience: match &args.audience {
            Some(aud) => {
                authority::check_endpoint_url(aud)?;
                aud.clone()
            }
            None => endpoint.to_string(),
        },
        alg: args.alg.into(),
        x5c: args.x5c || env_flag("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"),
        lifetime_secs: DEFAULT_LIFETIME_SECS,
    };
    assertion::check_params(&params)?;
    let credential = c.load()?;
    let (file, file_has_key) = match (&c.pfx, &c.cert) {
        (Some(pfx), _) => (Some(pfx.clone()), true),
        (None, Some(cert)) => (Some(cert.clone()), c.key.is_none()),
        (None, None) => (env_value(ENV_CERTIFICATE_PATH).map(PathBuf::from), true),
    };
    Ok(TokenCredential::Certificate {
        credential: Box::new(credential),
        params,
        file,
        file_has_key,
    })
}

fn print(args: &TokenArgs, t: &AcquiredToken) -> Result<()> {
    match args.output {
        OutputForm::Token => output::write_stdout(&format!("{}\n", t.access_token)),
        OutputForm::Header => output::write_stdout(&format!(
            "Authorization: {} {}\n",
            bearer(&t.token_type),
            t.access_token
        )),
        OutputForm::Json => {
            // An opaque token (another IdP) has no claims to show: null, not an error.
            let claims = jose::parse(&t.access_token, Policy::Strict)
                .map(|jws| Value::Object(jws.claims))
                .unwrap_or(Value::Null);
            output::print_json(&json!({
                "token_type": t.token_type,
                "expires_in": t.expires_in,
                "ext_expires_in": t.ext_expires_in,
                "expires_on": t.expires_on,
                "access_token": t.access_token,
                "source": t.source.as_str(),
                "claims": claims,
            }))
        }
    }
}

/// `Bearer` as RFC 6750 writes it, whatever case the server used (Entra sends `Bearer`, some
/// servers `bearer`, and some APIs compare the scheme case-sensitively).
fn bearer(token_type: &str) -> &str {
    if token_type.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else {
        token_type
    }
}
