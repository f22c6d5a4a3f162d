//! `certgen token`: the flags and AZURE_* variables turned into a
//! [`certgen::identity::ClientCertificateCredential`] or
//! [`certgen::identity::ClientSecretCredential`], one `get_token`, and the token printed; a
//! refusal explained from what was sent.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use certgen::credential::{Credential, ENV_CERTIFICATE_PATH};
use certgen::error::InputKind;
use certgen::identity::{
    AccessToken, ClientAssertionCredential, ClientCertificateCredential, ClientOptions,
    ClientSecretCredential, CredentialOptions, DiskCache, TokenCredential, TokenRequestOptions,
    WarningSink, WorkloadIdentityCredential,
};
use certgen::jose::{self, Policy};
use certgen::secret::{Secret, SecretSource};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::assertion::{authority_host, env_flag, env_value, tenant, Alg};
use super::credential_args::{ask, env_secret, CredentialArgs};
use super::error::{CliError as Error, Result};
use super::federation::{self, Federated, FederationArgs};
use super::hints::{self, Sent, SentCredential};
use super::managed_identity::{self, ManagedIdentityArgs};
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
AZURE_CLIENT_SEND_CERTIFICATE_CHAIN (1/true = --x5c), AZURE_FEDERATED_TOKEN_FILE,\n  \
ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN, HTTPS_PROXY, NO_PROXY, CERTGEN_CACHE_DIR;\n  \
with --managed-identity: IDENTITY_ENDPOINT and IDENTITY_HEADER (App Service), else IMDS\n  \
(AZURE_POD_IDENTITY_AUTHORITY_HOST, else 169.254.169.254)\n\n\
Examples:\n  TOKEN=$(certgen token --tenant $TENANT --client-id $APP \\\n      \
--cert app.crt --key app.key)\n  \
curl -H \"$(certgen token --output header)\" \\\n      \
https://graph.microsoft.com/v1.0/users   # AZURE_* set\n  \
certgen token --tenant $TENANT --client-id $APP --secret-file s.txt \\\n      \
--scope api://my-api/.default\n  \
certgen token --managed-identity --client-id $UAMI \\\n      \
--scope https://vault.azure.net/.default")]
pub struct TokenArgs {
    /// Directory (tenant) ID or domain [else AZURE_TENANT_ID]
    #[arg(long, value_name = "T")]
    pub(super) tenant: Option<String>,
    /// Application (client) ID [else AZURE_CLIENT_ID]
    #[arg(long, env = "AZURE_CLIENT_ID", value_name = "ID")]
    client_id: Option<String>,
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
    pub(super) force_refresh: bool,
    /// token: the token alone; header: "Authorization: Bearer …"; json: token, times, source, claims
    #[arg(
        long,
        value_enum,
        default_value = "token",
        value_name = "FORM",
        ignore_case = true
    )]
    pub(super) output: OutputForm,
    #[command(flatten)]
    pub(super) credential: CredentialArgs,
    #[command(flatten)]
    pub(super) federation: FederationArgs,
    /// Client secret file, first line ('-' = stdin), instead of a certificate [else AZURE_CLIENT_SECRET]
    #[arg(long, value_name = "F", help_heading = "Credential", conflicts_with_all = ["cert", "key", "pfx", "password_file"])]
    secret_file: Option<PathBuf>,
    #[command(flatten)]
    pub(super) managed: ManagedIdentityArgs,
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

/// The client id of `--client-id` or `AZURE_CLIENT_ID`. Without either, the error names the
/// environment Azure Identity's EnvironmentCredential reads as the other way to say who signs in
/// (https://learn.microsoft.com/en-us/dotnet/api/azure.identity.environmentcredential).
pub(super) fn client_id(args: &TokenArgs) -> Result<&str> {
    match args.client_id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Ok(id),
        _ => Err(
            Error::usage("no client id: give --client-id ID, or set AZURE_CLIENT_ID")
                .with_hint(format!(
                    "instead of flags, the Azure Identity variables work: AZURE_TENANT_ID, AZURE_CLIENT_ID, and {ENV_CERTIFICATE_PATH} (a PEM holding the certificate and its key, or a PKCS#12) or {ENV_CLIENT_SECRET}"
                ))
                .with_hint("usage: certgen token --tenant T --client-id ID (--cert FILE --key FILE | --pfx FILE | --secret-file F) (see --help)"),
        ),
    }
}

/// The token the flags describe (cache first), as `certgen call` sends it too.
pub(super) fn get(args: &TokenArgs) -> Result<AccessToken> {
    if args.managed.managed_identity {
        let mut transport = ClientOptions::default().timeout(Duration::from_secs(args.timeout));
        transport.ca_file = args.ca_file.clone();
        return managed_identity::get(
            &args.managed,
            args.client_id.as_deref(),
            &args.scopes,
            transport,
            args.force_refresh,
        );
    }
    let client_id = client_id(args)?;
    let tenant = tenant(args.tenant.as_deref());
    if tenant.is_none() && args.token_endpoint.is_none() {
        return Err(Error::usage("no tenant: give --tenant T")
            .with_hint("or set AZURE_TENANT_ID to the directory (tenant) ID; --token-endpoint URL posts elsewhere"));
    }
    let tenant = tenant.unwrap_or_default();
    let mut options = CredentialOptions::default()
        .authority_host(authority_host(args.authority_host.as_deref()))
        .alg(args.alg.into())
        .send_x5c(args.x5c || env_flag("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"))
        // Unlike the library's default, the command keeps tokens on disk: each run is a new
        // process, and the next one should not ask again.
        .disk_cache(if args.no_cache {
            DiskCache::Off
        } else {
            DiskCache::DefaultLocation
        })
        .transport(ClientOptions::default().timeout(Duration::from_secs(args.timeout)))
        .on_warning(WarningSink::new(|w| eprintln!("warning: {w}")));
    options.token_endpoint = args.token_endpoint.clone();
    options.audience = args.audience.clone();
    options.transport.ca_file = args.ca_file.clone();
    // --no-cache neither reads nor writes; --force-refresh skips reading but stores.
    let call = TokenRequestOptions::default().force_refresh(args.force_refresh || args.no_cache);
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    // Everything about the request is refused before a credential is read or asked for.
    options.endpoint(&tenant, client_id)?;
    let sent_scopes = options.scopes(&scopes)?;
    // A current-thread runtime: one request, no worker threads to start.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the network runtime: {e}")))?;
    let mut sent = Sent {
        tenant: Some(tenant.as_str()).filter(|t| !t.is_empty()),
        client_id,
        scopes: &sent_scopes,
        ..Default::default()
    };
    let token = match credential(args)? {
        Proof::Secret { secret, source } => {
            let credential = ClientSecretCredential::new(&tenant, client_id, secret, options)
                .map_err(|e| locally(e, args))?;
            sent.endpoint = credential.endpoint();
            sent.credential = SentCredential::Secret { source: &source };
            let result = runtime.block_on(credential.get_token(&scopes, Some(&call)));
            result.map_err(|e| explained(e, &sent, args))?
        }
        Proof::Federated(Federated::File { path, named }) => {
            // Checked now (expired, empty, not a JWT: one error before any request); the
            // credential reads the file again when it sends.
            let token = federation::check_file(&path)?;
            let claims = federation::claims_of(&token);
            let credential = WorkloadIdentityCredential::new(&tenant, client_id, &path, options)
                .map_err(|e| locally(e, args))?;
            sent.endpoint = credential.endpoint();
            sent.credential = SentCredential::Federated {
                source: &named,
                claims: claims.as_ref(),
            };
            let result = runtime.block_on(credential.get_token(&scopes, Some(&call)));
            result.map_err(|e| explained(e, &sent, args))?
        }
        Proof::Federated(Federated::GitHub {
            url,
            request_token,
            audience,
        }) => {
            let presented = Arc::new(Mutex::new(None));
            let mut transport = options.transport.clone();
            transport.ca_file = args.ca_file.clone();
            let callback = federation::github_callback(
                url,
                request_token,
                audience,
                transport,
                presented.clone(),
            );
            let credential = ClientAssertionCredential::new(&tenant, client_id, callback, options)
                .map_err(|e| locally(e, args))?;
            sent.endpoint = credential.endpoint();
            let result = runtime.block_on(credential.get_token(&scopes, Some(&call)));
            let token = presented.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let claims = token.as_deref().and_then(federation::claims_of);
            sent.credential = SentCredential::Federated {
                source: "the GitHub Actions runner",
                claims: claims.as_ref(),
            };
            result.map_err(|e| explained(e, &sent, args))?
        }
        Proof::Certificate(certificate) => {
            let credential =
                ClientCertificateCredential::new(&tenant, client_id, certificate, options)
                    .map_err(|e| locally(e, args))?;
            let (file, file_has_key) = args.credential.certificate_file();
            sent.endpoint = credential.endpoint();
            sent.credential = SentCredential::Certificate {
                cert: credential.certificate().leaf(),
                file: file.as_deref(),
                file_has_key,
                alg: certgen::assertion::SigningAlg::from(args.alg).name(),
            };
            let result = runtime.block_on(credential.get_token(&scopes, Some(&call)));
            result.map_err(|e| explained(e, &sent, args))?
        }
    };
    Ok(token)
}

/// An error found before anything was sent; the CA file is named by its flag.
fn locally(e: certgen::Error, args: &TokenArgs) -> Error {
    match (&e, &args.ca_file) {
        (certgen::Error::Input(i), Some(ca))
            if i.kind == InputKind::NotACertificate
                && i.message.starts_with(&ca.display().to_string()) =>
        {
            Error::failure(format!("--ca-file {}", i.message))
        }
        _ => e.into(),
    }
}

/// A refusal explained from what was sent; anything else as any error.
fn explained(e: certgen::Error, sent: &Sent<'_>, args: &TokenArgs) -> Error {
    match &e {
        certgen::Error::Provider(p) => hints::explain(p, sent),
        _ => locally(e, args),
    }
}

enum Proof {
    Secret { secret: Secret, source: String },
    Certificate(Credential),
    Federated(Federated),
}

/// The certificate, the secret or the federated token, in the order of the spec and of Azure
/// Identity: flags first, then AZURE_CLIENT_SECRET, then AZURE_CLIENT_CERTIFICATE_PATH, then
/// workload identity (AZURE_FEDERATED_TOKEN_FILE, a GitHub Actions runner), then a prompt.
fn credential(args: &TokenArgs) -> Result<Proof> {
    if let Some(f) = args.federation.explicit()? {
        return Ok(Proof::Federated(f));
    }
    let c = &args.credential;
    let cert_flags = c.cert.is_some() || c.pfx.is_some();
    if !cert_flags {
        output::warn_if_others_can_read(args.secret_file.as_deref());
        let secrets =
            SecretSource::file(args.secret_file.clone()).value(env_secret(ENV_CLIENT_SECRET)?);
        if let Some(secret) = secrets.read()? {
            let source = match &args.secret_file {
                Some(f) => format!("--secret-file {}", f.display()),
                None => ENV_CLIENT_SECRET.to_string(),
            };
            return secret_proof(secret, source);
        }
    }
    if !cert_flags && env_value(ENV_CERTIFICATE_PATH).is_none() {
        if let Some(f) = args.federation.in_environment()? {
            return Ok(Proof::Federated(f));
        }
        let prompt = SecretSource::default().ask(ask("Client secret: "));
        if let Some(secret) = prompt.read()? {
            return secret_proof(secret, "the prompt".into());
        }
        return Err(
            Error::usage("no credential: give a certificate or a client secret")
                .with_hint(
                    "--cert FILE [--key FILE], --pfx FILE, or --secret-file FILE ('-' = stdin)",
                )
                .with_hint("or set AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_SECRET"),
        );
    }
    Ok(Proof::Certificate(c.load()?))
}

/// An empty secret is refused naming where it came from (an empty file or variable is a
/// mistake, and the server's answer to it would not say so).
fn secret_proof(secret: Secret, source: String) -> Result<Proof> {
    if secret.is_empty() {
        return Err(Error::failure(format!(
            "the client secret from {source} is empty"
        )));
    }
    Ok(Proof::Secret { secret, source })
}

fn print(args: &TokenArgs, t: &AccessToken) -> Result<()> {
    let access_token = t.token.expose();
    match args.output {
        OutputForm::Token => output::write_stdout(&format!("{access_token}\n")),
        OutputForm::Header => output::write_stdout(&format!(
            "Authorization: {} {access_token}\n",
            bearer(&t.token_type),
        )),
        OutputForm::Json => {
            // An opaque token (another IdP) has no claims to show: null, not an error.
            let claims = jose::parse(access_token, Policy::Strict)
                .map(|jws| Value::Object(jws.claims))
                .unwrap_or(Value::Null);
            output::print_json(&json!({
                "token_type": t.token_type,
                // Whole seconds between the two unix times, as a cache entry counts them.
                "expires_in": unix_secs(t.expires_on).saturating_sub(unix_secs(std::time::SystemTime::now())),
                "ext_expires_in": t.ext_expires_in.map(|d| d.as_secs()),
                "expires_on": unix_secs(t.expires_on),
                "access_token": access_token,
                "source": t.source.as_str(),
                "claims": claims,
            }))
        }
    }
}

/// `Bearer` as RFC 6750 writes it, whatever case the server used (Entra sends `Bearer`, some
/// servers `bearer`, and some APIs compare the scheme case-sensitively).
fn unix_secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn bearer(token_type: &str) -> &str {
    if token_type.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else {
        token_type
    }
}
