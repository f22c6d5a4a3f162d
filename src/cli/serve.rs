//! `certgen serve`: run the local token service.

use std::net::SocketAddr;
use std::path::PathBuf;

use certgen::secret::SecretSource;
use certgen_serve::{
    self as serve, Credential, Flags, LogFormat, Options, Registrations, ServeError, Summary,
};

use super::credential_args::ask;
use super::error::{CliError as Error, Result, EXIT_FAILURE, EXIT_USAGE};
use clap::Args;

use super::output;

/// Run a local, offline token service that behaves like Entra ID.
///
/// It answers the v2 and v1 token endpoints, both discovery documents and both key sets for
/// the tenants it knows, validates client assertions and secrets as Entra does, and issues
/// RS256 access tokens signed by its own key. When ready it prints one JSON line on stdout
/// (listen, authority, token_endpoint, jwks_uri, ca_file; with --proxy also proxy,
/// proxy_ca_file and env, the variables to export); a banner and one line per request go to
/// stderr. Secrets are read from environment variables, never from the command line.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
certgen serve --app 6f1c…=daemon.cer\n  \
DAEMON_SECRET=… certgen serve --tenant contoso.onmicrosoft.com \\\n      \
--app-secret 6f1c…=DAEMON_SECRET\n  \
certgen serve --config serve.toml --listen 127.0.0.1:0 --json")]
pub struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free port; localhost = 127.0.0.1)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8443", value_parser = listen_addr)]
    listen: SocketAddr,
    /// Serve plain HTTP instead of TLS (loopback addresses only)
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    http: bool,
    /// TLS certificate (chain) to serve instead of the generated localhost certificate
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Folder for the TLS certificate and signing key (default: serve/ under the cache folder)
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Registrations file (TOML: tenants, apps, resources); see the README
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A tenant the service knows, by GUID or DNS name; repeatable
    #[arg(long = "tenant", value_name = "T")]
    tenants: Vec<String>,
    /// Register a certificate for an app: CLIENT_ID=CERT_FILE; repeatable (several per app)
    #[arg(long = "app", value_name = "CLIENT_ID=CERT_FILE")]
    apps: Vec<String>,
    /// Register a client secret for an app, read from an environment variable; repeatable
    #[arg(long = "app-secret", value_name = "CLIENT_ID=ENV_VAR")]
    app_secrets: Vec<String>,
    /// Accept only the RFC form of assertions (base64url x5t, integer times, x5c array) and
    /// refuse a reused jti; IMDS requests need the Metadata header from any host
    #[arg(long)]
    strict: bool,
    /// Write the request log lines as JSON
    #[arg(long)]
    json: bool,
    /// Requests handled at once; past this, clients get HTTP 503 (temporarily_unavailable)
    /// with Retry-After at once instead of waiting in a queue
    #[arg(long, value_name = "N", default_value_t = serve::DEFAULT_MAX_IN_FLIGHT as u32,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_in_flight: u32,
    /// Also write the ready line to FILE once listening (atomically: a script never reads half
    /// of it), and remove FILE on exit, so a script can wait for either. A FILE left by an
    /// earlier run is removed at start
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Seconds before a certificate added through Graph (addKey, or keyCredentials set by
    /// POST/PATCH /applications) gets tokens (a real tenant takes from seconds to a minute), to
    /// rehearse that lag
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    replication_delay: u64,
    /// Discard the directory kept in the state folder (every object made through Graph,
    /// every key added, every sign-in) and start from --config and the flags alone
    #[arg(long)]
    reset: bool,
    /// Also act as an HTTPS_PROXY for unmodified clients: CONNECT to the Microsoft identity,
    /// Graph and Azure Resource Manager hosts is answered here (TLS by a local CA in the state
    /// folder), every other host is refused. Default address: --listen's, next port (any free port with port 0)
    #[arg(long, value_name = "ADDR:PORT", num_args = 0..=1, default_missing_value = "auto")]
    proxy: Option<String>,
    /// With --proxy: tunnels open at once; past this, a CONNECT gets HTTP 503 at once (each
    /// tunnel holds a socket; the main listener keeps answering)
    #[arg(long, value_name = "N", default_value_t = serve::DEFAULT_MAX_TUNNELS as u32,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_tunnels: u32,
    /// Users signing in: sign this user (a [[user]] of --config, by user principal name) in
    /// at once, without the sign-in page, for headless tests
    #[arg(long, value_name = "UPN")]
    auto_sign_in: Option<String>,
    /// Seconds an authorization code may wait to be redeemed (Entra: about 10 minutes)
    #[arg(long, value_name = "SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u32).range(1..))]
    code_lifetime: u32,
    /// Seconds a refresh token may lie unused before it expires (Entra: 90 days)
    #[arg(long, value_name = "SECS", default_value_t = 90 * 24 * 3600,
          value_parser = clap::value_parser!(u32).range(1..))]
    refresh_token_lifetime: u32,
}

pub fn run(args: ServeArgs) -> Result<()> {
    // Before anything can fail: a ready file from an earlier run must not pass for this one's.
    let ready_file = args.ready_file.clone().map(ReadyFile::clear).transpose()?;
    let result = run_service(args, ready_file.as_ref());
    drop(ready_file);
    result
}

/// `--ready-file`: written once listening, removed when the command ends (whatever the outcome).
struct ReadyFile(PathBuf);

impl ReadyFile {
    fn clear(path: PathBuf) -> Result<ReadyFile> {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::failure(format!(
                    "--ready-file {}: cannot remove the file of an earlier run ({e})",
                    path.display()
                )))
            }
        }
        Ok(ReadyFile(path))
    }

    /// Written beside its place under a temporary name, then renamed into place.
    fn write(&self, line: &str) -> Result<()> {
        certgen::files::replace(&certgen::files::OutputFile::public(
            self.0.clone(),
            line.as_bytes().to_vec(),
        ))
        .map_err(Error::from)
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run_service(args: ServeArgs, ready_file: Option<&ReadyFile>) -> Result<()> {
    let flags = Flags {
        tenants: args.tenants,
        app_certs: args
            .apps
            .iter()
            .map(|a| split_pair(a, "--app", "CLIENT_ID=CERT_FILE").map(|(c, f)| (c, f.into())))
            .collect::<Result<_>>()?,
        app_secrets: args
            .app_secrets
            .iter()
            .map(|a| split_pair(a, "--app-secret", "CLIENT_ID=ENV_VAR"))
            .collect::<Result<_>>()?,
    };
    // Read (or found unchanged) by prepare, against what the state folder's directory holds.
    let registrations = Registrations::Inputs {
        config: args.config,
        flags,
        env: Box::new(|v| std::env::var(v).ok()),
    };
    let options = Options {
        listen: args.listen,
        http: args.http,
        tls_files: args.tls_cert.zip(args.tls_key),
        tls_passwords: SecretSource::default().ask(ask("password for the TLS key: ")),
        state_dir: args.state_dir,
        strict: args.strict,
        log: if args.json {
            LogFormat::Json
        } else {
            LogFormat::Text
        },
        max_in_flight: args.max_in_flight as usize,
        replication_delay_secs: args.replication_delay,
        proxy: args
            .proxy
            .as_deref()
            .map(|p| proxy_address(p, args.listen))
            .transpose()?,
        max_tunnels: args.max_tunnels as usize,
        reset: args.reset,
        user_flows: serve::UserFlowOptions {
            auto_sign_in: args.auto_sign_in,
            code_lifetime_secs: i64::from(args.code_lifetime),
            refresh_token_lifetime_secs: i64::from(args.refresh_token_lifetime),
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the async runtime: {e}")))?;
    // Binding needs the runtime's reactor only when serving starts; prepare is synchronous.
    let prepared = serve::prepare(&options, registrations).map_err(serve_error)?;
    // Listening for SIGTERM/SIGINT before the ready line tells anyone the service is there.
    let shutdown = {
        let _in_runtime = runtime.enter();
        serve::shutdown_signal()
    };
    let ready = serde_json::to_string(&prepared.ready)
        .map_err(|e| Error::failure(format!("cannot encode the ready line ({e})")))?;
    banner(&prepared, &options).map_err(serve_error)?;
    output::write_stdout(&format!("{ready}\n"))?;
    if let Some(file) = ready_file {
        file.write(&format!("{ready}\n"))?;
    }
    runtime
        .block_on(serve::serve(prepared, shutdown))
        .map_err(serve_error)?;
    eprintln!("certgen serve: stopped");
    Ok(())
}

/// serve's errors as the command reports them: the message in the command's words (its flags
/// named), what to do as hints, and the exit code (2 for a value on the command line).
fn serve_error(e: ServeError) -> Error {
    let e = match e {
        ServeError::Library(e) => return Error::from(e),
        other => other,
    };
    let (code, message, hint) = match &e {
        ServeError::PlainHttpNotLoopback { ip } => (
            EXIT_USAGE,
            format!("--http serves plain HTTP, which is allowed on loopback only, not on {ip}"),
            Some(
                "use --listen 127.0.0.1:PORT with --http, or drop --http to serve TLS".to_string(),
            ),
        ),
        ServeError::AddressInUse { .. } => (
            EXIT_FAILURE,
            e.to_string(),
            Some("choose another --listen address, or port 0 for any free port".to_string()),
        ),
        ServeError::ProxyAddressInUse { .. } => (
            EXIT_FAILURE,
            e.to_string(),
            Some("choose another --proxy address, or port 0 for any free port".to_string()),
        ),
        ServeError::SecretInConfig { .. } => (
            EXIT_FAILURE,
            e.to_string(),
            Some(
                "secrets never go in the config file: name an environment variable with \
                 secret_env = [\"MY_APP_SECRET\"]"
                    .to_string(),
            ),
        ),
        ServeError::UnknownResource { .. } => (
            EXIT_FAILURE,
            e.to_string(),
            Some("add a [[resource]] with that app_id or identifier URI".to_string()),
        ),
        ServeError::MissingSecret { var, .. } => (
            EXIT_FAILURE,
            e.to_string(),
            Some(format!("export {var}=… before starting certgen serve")),
        ),
        ServeError::SecretNotVariableName { .. } => (
            EXIT_FAILURE,
            e.to_string(),
            Some(
                "--app-secret CLIENT_ID=ENV_VAR and secret_env take the NAME of a variable that \
                 holds the secret: export MY_APP_SECRET=… and give CLIENT_ID=MY_APP_SECRET"
                    .to_string(),
            ),
        ),
        ServeError::BadClientId { value, credential } => {
            let flag = match credential {
                Credential::Certificate => "--app",
                _ => "--app-secret",
            };
            (
                EXIT_USAGE,
                format!("{flag} CLIENT_ID '{value}' is not a GUID"),
                None,
            )
        }
        ServeError::UnknownSignInUser { upn } => (
            EXIT_FAILURE,
            format!(
                "--auto-sign-in {upn}: no such user; list it as a [[user]] in the --config file"
            ),
            None,
        ),
        ServeError::Argument(m) => (EXIT_USAGE, m.clone(), None),
        ServeError::Directory(store) => (EXIT_FAILURE, e.to_string(), Some(store_hint(store))),
        _ => (EXIT_FAILURE, e.to_string(), None),
    };
    let error = Error::new(code, message);
    match hint {
        Some(h) => error.with_hint(h),
        None => error,
    }
}

/// What to do about the state folder's database at start.
fn store_hint(e: &serve::StoreError) -> String {
    use serve::StoreError as S;
    let hint = match e {
        S::Damaged { .. } => {
            "move the file away (or run with --reset, which discards it) to start afresh from \
             the config; the objects made through Graph, keys added and sign-ins in it are then \
             gone"
        }
        S::Newer { .. } => {
            "run the newer certgen that wrote it, or start this one afresh with --reset (which \
             discards it) or another --state-dir"
        }
        S::ReadOnly { .. } => {
            "make the state folder and the file writable by this user, or choose another \
             --state-dir"
        }
        S::Full { .. } => "free space on that disk, or choose a --state-dir on another one",
        S::Busy { .. } => {
            "another certgen serve on this state folder holds the database: wait for it, stop \
             it, or choose another --state-dir"
        }
        S::Vanished { .. } | S::Other { .. } => {
            "check the file and its folder; --reset starts afresh from the config"
        }
    };
    hint.to_string()
}

/// `--proxy`'s address: as given, or (bare `--proxy`) the next port on `--listen`'s address.
fn proxy_address(value: &str, listen: SocketAddr) -> Result<SocketAddr> {
    if value == "auto" {
        let port = match listen.port() {
            0 | u16::MAX => 0,
            p => p + 1,
        };
        return Ok(SocketAddr::new(listen.ip(), port));
    }
    value.parse().map_err(|_| {
        Error::usage(format!("--proxy '{value}' is not an ADDR:PORT"))
            .with_hint("for example --proxy 127.0.0.1:8444, or --proxy alone for the next port")
    })
}

/// A value as one word for a POSIX shell.
fn shell_word(value: &str) -> String {
    if !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:+=@%,".contains(&b))
    {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

fn split_pair(value: &str, flag: &str, form: &str) -> Result<(String, String)> {
    match value.split_once('=') {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
            Ok((a.trim().to_string(), b.trim().to_string()))
        }
        // An --app-secret value is not repeated: it may be the secret itself.
        _ if flag == "--app-secret" => Err(Error::usage(format!(
            "{flag} takes {form}; the value given is not of that form (not repeated here: it \
             may be the secret itself)"
        ))
        .with_hint("the secret goes in an environment variable, and its NAME after the =")),
        _ => Err(Error::usage(format!(
            "{flag} '{value}' is not of the form {form}"
        ))),
    }
}

/// `ADDR:PORT`, or `localhost:PORT` for 127.0.0.1 — the name every client and the service's own
/// certificate use, so it is taken without a DNS lookup.
fn listen_addr(value: &str) -> std::result::Result<SocketAddr, String> {
    if let Some(port) = value
        .rsplit_once(':')
        .filter(|(host, _)| host.eq_ignore_ascii_case("localhost"))
        .map(|(_, port)| port)
    {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("'{port}' is not a port number (0-65535)"))?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    value.parse().map_err(|_| {
        "expected ADDR:PORT such as 127.0.0.1:8443, [::1]:8443 or localhost:8443".to_string()
    })
}

/// The banner on stderr: where the service is, what it answers for, and what to do next —
/// counts and the first few of each kind, so an organisation's directory is a few dozen lines.
fn banner(p: &serve::Prepared, options: &Options) -> std::result::Result<(), ServeError> {
    let summary = p.summary()?;
    let mut lines = endpoint_lines(p, &summary);
    lines.extend(tenant_lines(&summary));
    lines.extend(app_lines(&summary));
    lines.extend(resource_lines(&summary));
    lines.extend(users_lines(&summary));
    // Managed identities get tokens without an app: no nudge to register one then.
    if summary.apps.is_empty() && p.ready.managed_identity.is_none() {
        lines.push(
            "  no apps registered: add --app CLIENT_ID=CERT_FILE, --app-secret or --config"
                .to_string(),
        );
    }
    lines.extend(sign_in_lines(&p.ready, &summary, options));
    if options.strict {
        lines.push("  --strict: RFC-form assertions only, each jti once".to_string());
    }
    lines.extend(proxy_lines(&p.ready, &summary, options));
    lines.extend(managed_identity_lines(&p.ready));
    lines.extend(note_lines(p, &summary, options));
    lines.push("  stop with Ctrl-C (SIGINT) or SIGTERM".to_string());
    eprintln!("{}", lines.join("\n"));
    Ok(())
}

/// Where the service listens, what to trust, its endpoints and its state folder.
fn endpoint_lines(p: &serve::Prepared, summary: &Summary) -> Vec<String> {
    let r = &p.ready;
    vec![
        format!(
            "certgen serve: listening on {} ({})",
            summary.base,
            match &r.ca_file {
                Some(ca) => format!("TLS; trust {}", ca.display()),
                None => "plain HTTP".to_string(),
            }
        ),
        format!("  authority      {}", r.authority),
        format!("  token endpoint {}", r.token_endpoint),
        format!("  graph          {}", r.graph),
        format!("  state folder   {}", p.state_dir.display()),
    ]
}

fn tenant_lines(summary: &Summary) -> Vec<String> {
    let mut lines: Vec<String> = summary
        .tenants
        .iter()
        .map(|t| {
            let names = if t.domains.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.domains.join(", "))
            };
            format!("  tenant   {}{names}", t.id)
        })
        .collect();
    lines.extend(more_line(
        "tenant",
        summary.tenants.len(),
        summary.tenant_count,
        "tenants",
    ));
    lines
}

/// "… and N more (TOTAL WHAT in all)" when the banner listed fewer than there are.
fn more_line(label: &str, listed: usize, total: u64, what: &str) -> Option<String> {
    let more = total.saturating_sub(listed as u64);
    (more > 0).then(|| format!("  {label:<8} … and {more} more ({total} {what} in all)"))
}

/// The first few apps with their credentials, what of them expired, and how each signs users
/// in; then how many applications the directory holds.
fn app_lines(summary: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    for a in &summary.apps {
        lines.push(format!(
            "  app      {} \"{}\": {} certificate(s){}, {} secret(s){}",
            a.client_id,
            a.display_name,
            a.thumbprints.len(),
            if a.thumbprints.is_empty() {
                String::new()
            } else {
                format!(" [{}]", first_few(&a.thumbprints))
            },
            a.secrets,
            if a.expired_secrets > 0 {
                format!(
                    " ({} expired: refused with AADSTS7000222)",
                    a.expired_secrets
                )
            } else {
                String::new()
            }
        ));
        if a.expired_certificates > 0 {
            lines.push(format!(
                "           {} certificate(s) past notAfter: refused with AADSTS700027",
                a.expired_certificates
            ));
        }
        if a.public_client {
            lines.push("           public client: no credential".to_string());
        }
        if !a.redirect_uris.is_empty() {
            lines.push(format!(
                "           signs users in, back to {}",
                first_few(&a.redirect_uris)
            ));
        }
    }
    // Resources' own application objects (Microsoft Graph's) are counted too: the total is
    // what GET /v1.0/applications pages through.
    if !summary.apps.is_empty() && summary.application_count > summary.apps.len() as u64 {
        lines.push(format!(
            "  app      … {} applications in the directory in all (resources' included)",
            summary.application_count
        ));
    }
    lines
}

/// How many names the banner lists in one line before it only counts the rest: a directory
/// of hundreds of users would otherwise be one line of kilobytes.
const BANNER_LIST_MAX: usize = 5;

/// The first [`BANNER_LIST_MAX`] names, then how many more there are.
fn first_few(names: &[String]) -> String {
    if names.len() <= BANNER_LIST_MAX * 2 {
        return names.join(", ");
    }
    format!(
        "{}, … and {} more",
        names[..BANNER_LIST_MAX].join(", "),
        names.len() - BANNER_LIST_MAX
    )
}

fn resource_lines(summary: &Summary) -> Vec<String> {
    // Microsoft's own resources are the same in every run: one line, by name.
    let microsoft: Vec<String> = summary
        .resources
        .iter()
        .filter(|r| r.microsoft)
        .map(|r| match r.token_version {
            1 => r.display_name.clone(),
            v => format!("{} (v{v})", r.display_name),
        })
        .collect();
    let mut lines = vec![format!(
        "  resources of every tenant (v1 tokens): {}",
        microsoft.join(", ")
    )];
    lines.extend(
        summary
            .resources
            .iter()
            .filter(|r| !r.microsoft)
            .map(|res| {
                format!(
                    "  resource {} {} ({}) v{} tokens",
                    res.app_id,
                    res.display_name,
                    first_few(&res.identifier_uris),
                    res.token_version
                )
            }),
    );
    if summary.more_resources {
        lines.push("  resource … and more (GET /v1.0/applications lists them)".to_string());
    }
    lines
}

/// The directory's users (a count and the first few) and which apps may read them through
/// the Graph slice.
fn users_lines(summary: &Summary) -> Vec<String> {
    if summary.user_count == 0 {
        return Vec::new();
    }
    let more = summary
        .user_count
        .saturating_sub(summary.users.len() as u64);
    let mut lines = vec![format!(
        "  users    {}: {}{}",
        summary.user_count,
        summary.users.join(", "),
        if more > 0 {
            format!(", … and {more} more")
        } else {
            String::new()
        }
    )];
    if summary.user_reader_count == 0 {
        lines.push(format!(
            "           no app may list them app-only (GET /v1.0/users): grant User.Read.All \
             on {} in an app's [app.roles]; a signed-in user reads /v1.0/me with User.Read",
            certgen::graph::cloud::GRAPH_RESOURCE
        ));
    }
    for r in &summary.user_readers {
        lines.push(format!(
            "           readable by {} \"{}\" ({})",
            r.client_id, r.display_name, r.role
        ));
    }
    if let Some(more) = summary
        .user_reader_count
        .checked_sub(summary.user_readers.len())
        .filter(|n| *n > 0)
    {
        lines.push(format!("           … and by {more} more apps"));
    }
    lines
}

/// Where users sign in, when any app or user is set up for it.
fn sign_in_lines(r: &serve::Ready, summary: &Summary, options: &Options) -> Vec<String> {
    if summary.apps.iter().all(|a| a.redirect_uris.is_empty()) && summary.user_count == 0 {
        return Vec::new();
    }
    vec![format!(
        "  sign-in        {}/oauth2/v2.0/authorize ({}); device code page {}/devicelogin",
        r.authority,
        match &options.user_flows.auto_sign_in {
            Some(upn) => format!("--auto-sign-in: {upn} signs in with no page"),
            None => format!("a page lists the {} user(s)", summary.user_count),
        },
        summary.base
    )]
}

/// `--proxy`: what it answers, and the environment that sends an unmodified client to it.
fn proxy_lines(r: &serve::Ready, summary: &Summary, options: &Options) -> Vec<String> {
    let Some(serve::ProxyReady { proxy, env, .. }) = &r.proxy else {
        return Vec::new();
    };
    let mut lines = vec![
        format!(
            "  proxy          {proxy}: CONNECT to the Microsoft identity, Graph and Azure hosts only, \
             answered here; every other host refused (403); at most {} tunnels at once \
             (--max-tunnels), 503 past that",
            options.max_tunnels
        ),
        "  run an unmodified client against this service (its authority stays \
         https://login.microsoftonline.com/...):"
            .to_string(),
    ];
    for (name, value) in env.pairs() {
        lines.push(format!("    export {name}={}", shell_word(&value)));
    }
    if r.ca_file.is_some() {
        lines.push(format!(
            "  clients that ignore HTTPS_PROXY: point login.microsoftonline.com at {} \
             (hosts entry, port 443); this listener answers that name by SNI",
            summary.base
        ));
    }
    lines
}

/// The managed-identity endpoints, and what sends an Azure SDK's `ManagedIdentityCredential`
/// (or `DefaultAzureCredential`) to them.
fn managed_identity_lines(r: &serve::Ready) -> Vec<String> {
    let Some(m) = &r.managed_identity else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "  managed identities  App Service {} and IMDS {}/metadata/identity/oauth2/token \
         (plain HTTP, loopback); code that uses a managed identity gets its tokens with:",
        m.identity_endpoint, m.imds_host
    )];
    for (name, value) in m.env() {
        // The header guards the endpoint like a password: in the ready line (stdout, or
        // --ready-file), never in a log.
        if name == "IDENTITY_HEADER" {
            lines.push(format!(
                "    export {name}=…   # the ready line's env.{name} (random per start; not logged)"
            ));
            continue;
        }
        lines.push(format!("    export {name}={}", shell_word(&value)));
    }
    if let Some(no_proxy) = r.env.as_ref().and_then(|e| e.get("NO_PROXY")) {
        lines.push(format!("    export NO_PROXY={}", shell_word(no_proxy)));
    }
    lines
}

/// `--strict`, the facts `prepare` noted, the default tenant and a non-loopback warning.
fn note_lines(p: &serve::Prepared, summary: &Summary, options: &Options) -> Vec<String> {
    let mut lines = Vec::new();
    for n in &p.notes {
        lines.push(format!("  note: {n}"));
    }
    if summary.default_tenant {
        lines.push(format!(
            "  note: no --tenant given: using the default tenant {}",
            serve::DEFAULT_TENANT
        ));
    }
    if !options.listen.ip().is_loopback() {
        lines.push(format!(
            "  warning: listening on {}, reachable from other machines: anyone who can reach it \
             and holds a registered credential gets tokens; use 127.0.0.1 unless that is meant",
            options.listen.ip()
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_address_defaults_to_the_next_port() {
        let listen: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        assert_eq!(
            proxy_address("auto", listen).unwrap().to_string(),
            "127.0.0.1:8444"
        );
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(proxy_address("auto", any).unwrap().port(), 0);
        assert_eq!(
            proxy_address("[::1]:9000", listen).unwrap().to_string(),
            "[::1]:9000"
        );
        assert!(proxy_address("nonsense", listen).is_err());
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("/home/me/.cache/x.pem"), "/home/me/.cache/x.pem");
        assert_eq!(shell_word("/My Files/it's.pem"), "'/My Files/it'\\''s.pem'");
    }
}
