//! `certgen call`: what `az rest` does, for a daemon — a token exactly as `certgen token` gets
//! it (same flags, variables and cache), the request sent with it, the answer's body on stdout,
//! and an error answer turned into one `error:` line with what to do about it.

use std::io::IsTerminal;
use std::path::Path;

use certgen::authority;
use certgen::graph::cloud::{graph_host, scope_for_url, GRAPH_RESOURCE};
use certgen::graph::permissions::least_privileged_read;
use certgen::graph::{AllPages, ApiClient, ApiRequest, ApiResponse};
use certgen::identity::ClientOptions;
use certgen::jose::{self, Policy};
use certgen::read;
use certgen::GraphError;
use clap::{Args, ValueEnum};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::assertion::{authority_host, env_value};
use super::error::{CliError as Error, Result, EXIT_PROVIDER};
use super::output;
use super::token::{self, OutputForm, TokenArgs};

/// The variable `--graph-host` falls back to.
const ENV_GRAPH_HOST: &str = "CERTGEN_GRAPH_HOST";

/// Call Microsoft Graph (or any API) with an app-only token, as `az rest` does.
///
/// Gets a token exactly as `certgen token` does (same options, AZURE_* variables and cache),
/// sends the request with `Authorization: Bearer …` and prints the answer's body on stdout:
/// JSON pretty-printed on a terminal, as received otherwise. The scope is --scope, else derived
/// from the URL: a cloud's Graph host → that Graph's /.default; the authority host itself
/// (certgen serve answers Graph on its own listener) → https://graph.microsoft.com/.default;
/// any other origin → {origin}/.default. 429 and 503 are retried as Retry-After says.
///
/// Exit codes: 0 a 2xx answer, 1 bad input, 2 usage, 3 an error answer (from the API or the
/// identity provider), 4 unreachable.
#[derive(Debug, Args)]
#[command(
    mut_arg("output", |a| a.hide(true)),
    mut_arg("scopes", |a| a.help("RESOURCE/.default to ask for [default: derived from the URL]")),
    after_help = "Examples:\n  \
certgen call https://graph.microsoft.com/v1.0/users --all     # AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH set\n  \
certgen call \"https://graph.microsoft.com/v1.0/applications(appId='$APP')\" --tenant $T --client-id $APP --cert app.crt --key app.key\n  \
certgen call $GRAPH/users --authority-host https://127.0.0.1:8443 --ca-file ca.pem …   # against certgen serve"
)]
pub struct CallArgs {
    /// The URL (https; http only to a loopback address), or a path such as /v1.0/users on the
    /// cloud's Graph
    #[arg(value_name = "URL")]
    url: String,
    /// HTTP method
    #[arg(long, value_enum, default_value = "GET", ignore_case = true)]
    method: HttpMethod,
    /// Request body, or @FILE to read it from a file ('@-' = stdin); sent as application/json
    /// unless a Content-Type header is given
    #[arg(long, value_name = "BODY|@FILE")]
    data: Option<String>,
    /// An extra request header 'Name: value'; repeatable
    #[arg(long = "header", value_name = "'K: V'")]
    headers: Vec<String>,
    /// Follow @odata.nextLink and print one JSON document whose value holds every page (GET)
    #[arg(long)]
    all: bool,
    /// Print the status line and the answer's headers before the body
    #[arg(long)]
    include: bool,
    /// A Graph stand-in's URL whose calls need a Graph token [else CERTGEN_GRAPH_HOST]
    #[arg(long, value_name = "URL")]
    graph_host: Option<String>,
    #[command(flatten)]
    token: TokenArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
enum HttpMethod {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl HttpMethod {
    fn method(self) -> Method {
        match self {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
            HttpMethod::Patch => Method::PATCH,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Delete => Method::DELETE,
        }
    }
}

pub fn run(mut args: CallArgs) -> Result<()> {
    if args.token.output != OutputForm::Token {
        return Err(Error::usage(
            "--output belongs to certgen token; certgen call prints the API's answer",
        ));
    }
    if args.all && args.method != HttpMethod::Get {
        return Err(Error::usage(
            "--all follows pages of a GET; drop --method or --all",
        ));
    }
    let authority = authority_origin(&args.token)?;
    let extra_graph = args
        .graph_host
        .clone()
        .or_else(|| env_value(ENV_GRAPH_HOST));
    let url = request_url(&args.url, &authority, extra_graph.as_deref())?;
    let request = ApiRequest {
        method: args.method.method(),
        headers: headers(&args.headers)?,
        body: args.data.as_deref().map(body).transpose()?,
        url,
    };
    if args.token.scopes.is_empty() {
        args.token.scopes = vec![scope_for_url(
            &request.url,
            &authority,
            extra_graph.as_deref(),
        )];
    }
    let (client, runtime) = api_client(&args.token)?;
    let call = |token: &str| -> Result<Answer> {
        Ok(if args.all {
            match runtime.block_on(client.get_all(&request, token))? {
                AllPages::Merged { document, .. } => Answer::Merged(document),
                AllPages::Failed(answer) => Answer::Single(answer),
            }
        } else {
            Answer::Single(runtime.block_on(client.send(&request, token))?)
        })
    };
    let mut token = token::get(&args.token)?;
    let mut answer = call(token.token.expose())?;
    let refused =
        |a: &Answer| matches!(a, Answer::Single(r) if r.status == StatusCode::UNAUTHORIZED);
    let mut retried = false;
    if refused(&answer) && !args.token.force_refresh && !args.token.no_cache {
        // A cached token the API no longer takes (the service's keys or roles changed since):
        // once more with a new one, as Azure SDK clients do on a 401 challenge.
        let mut fresh = args.token.clone();
        fresh.force_refresh = true;
        token = token::get(&fresh)?;
        answer = call(token.token.expose())?;
        retried = true;
    }
    // Still refused with a token just fetched (retried, --force-refresh or --no-cache): not a
    // stale cached token, so a refresh would not help.
    let fresh_refused =
        refused(&answer) && (retried || args.token.force_refresh || args.token.no_cache);
    let token_text = token.token.expose();
    match answer {
        Answer::Merged(document) => print_json(&document),
        Answer::Single(a) => answered(&args, &request.url, &a, token_text).map_err(|e| {
            if fresh_refused {
                e.with_hint(
                    "the token was new, not a stale cached one: --force-refresh would not help",
                )
            } else {
                e
            }
        }),
    }
}

/// What a call answered: one response, or every page merged.
enum Answer {
    Single(ApiResponse),
    Merged(Value),
}

/// Prints an answer; an error answer is also the command's error (exit 3).
fn answered(args: &CallArgs, url: &Url, answer: &ApiResponse, token: &str) -> Result<()> {
    if args.include {
        let mut head = format!("{:?} {}\n", answer.version, answer.status);
        for (name, value) in &answer.headers {
            head.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        head.push('\n');
        output::write_stdout(&head)?;
    }
    if answer.is_success() || args.include {
        print_body(&answer.body)?;
    }
    if answer.is_success() {
        Ok(())
    } else {
        Err(explain(&answer.to_error(url), token))
    }
}

/// JSON pretty-printed on a terminal; anything else as received.
fn print_body(body: &[u8]) -> Result<()> {
    if std::io::stdout().is_terminal() {
        if let Ok(doc) = serde_json::from_slice::<Value>(body) {
            return output::print_json(&doc);
        }
    }
    // As received, ended by a newline when the API sent none, so that a shell prompt or the
    // next line of a log does not run on after the JSON.
    let mut text = String::from_utf8_lossy(body).into_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    output::write_stdout(&text)
}

fn print_json(doc: &Value) -> Result<()> {
    if std::io::stdout().is_terminal() {
        output::print_json(doc)
    } else {
        output::write_stdout(&format!("{doc}\n"))
    }
}

/// One `error:` line from Graph's error answer (its code and message when it sent an OData
/// error), with hints for the common codes; `token` is the one the call carried.
pub(super) fn explain(g: &GraphError, token: &str) -> Error {
    let (Some(code), Some(message)) = (&g.code, &g.message) else {
        let mut e = Error::new(EXIT_PROVIDER, g.to_string());
        if let Some(shown) = &g.body_excerpt {
            e = e.with_hint(format!("the answer began: {shown}"));
        }
        return e;
    };
    // Read, not verified: only to name the token's audience and roles in the hints.
    let claims = jose::parse(token, Policy::Lenient)
        .ok()
        .map(|jws| jws.claims)
        .unwrap_or_default();
    let hints = match code.as_str() {
        "Authorization_RequestDenied" => denied(g, &claims),
        // Graph says no more than this about an addKey/removeKey proof
        // (https://learn.microsoft.com/en-us/graph/api/application-addkey#response).
        "Authentication_MissingOrMalformed" => vec![
            "Graph refused the proof-of-possession JWT: it must be signed (RS256) by a \
             certificate registered and still valid on the app (certgen credential list), \
             with iss = the application's object id (not its appId)"
                .to_string(),
            "certgen decode PROOF names any other rule it breaks (aud, lifetime over 10 \
             minutes, base64 padding); certgen proof makes one that keeps them"
                .to_string(),
        ],
        "InvalidAuthenticationToken" => invalid_token(message, &claims),
        _ => Vec::new(),
    };
    let mut e = Error::new(EXIT_PROVIDER, g.to_string());
    for h in hints {
        e = e.with_hint(h);
    }
    if let Some(id) = &g.request_id {
        e = e.with_hint(format!("request-id {id} (what Microsoft support asks for)"));
    }
    e
}

/// A claim of the token as text.
fn claim(claims: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    claims.get(name).and_then(Value::as_str).map(str::to_string)
}

/// Graph's 403: the app role the call needs, the roles the token has, and how to grant it.
fn denied(g: &GraphError, claims: &serde_json::Map<String, Value>) -> Vec<String> {
    let url = Url::parse(&g.url).ok();
    let path = url.as_ref().map(Url::path).unwrap_or_default();
    let role_text =
        least_privileged_read(path).unwrap_or("the application permission this call needs");
    let app = claim(claims, "appid")
        .or_else(|| claim(claims, "azp"))
        .unwrap_or_else(|| "the app".into());
    let roles: Vec<&str> = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let has = if roles.is_empty() {
        "no roles".to_string()
    } else {
        format!("the roles {}", roles.join(", "))
    };
    // A managed identity has no app registration: its roles are app role assignments only.
    let grant = match (claim(claims, "xms_mirid"), claim(claims, "oid")) {
        (Some(_), Some(oid)) => format!(
            "an administrator grants it to the managed identity by an app role assignment (no \
             portal page does): Graph POST /servicePrincipals/{oid}/appRoleAssignments with \
             {role_text}'s appRoleId on Microsoft Graph's service principal"
        ),
        _ => format!(
            "an administrator grants it: Azure portal → App registrations → the app → API permissions → \
             Add a permission → Microsoft Graph → Application permissions → {role_text}, then Grant admin consent"
        ),
    };
    let mut hints = vec![
        format!("the token of app {app} carries {has}; this call needs {role_text} on Microsoft Graph"),
        grant,
        "roles are copied into the token when it is issued: after the grant, run again with --force-refresh".to_string(),
    ];
    if !url.as_ref().is_some_and(is_cloud_graph) {
        hints.push(format!(
            "certgen serve: add \"{GRAPH_RESOURCE}\" = [\"{role_text}\"] under [app.roles] of the app in its --config and restart it"
        ));
    }
    hints
}

/// Graph's 401: the token's audience, and a new token when it expired.
fn invalid_token(message: &str, claims: &serde_json::Map<String, Value>) -> Vec<String> {
    let aud = claim(claims, "aud").unwrap_or_else(|| "unknown".into());
    let mut hints = vec![format!(
        "the token is for '{aud}'; Graph takes tokens for {GRAPH_RESOURCE} (--scope {GRAPH_RESOURCE}/.default) \
         issued by the tenant's authority"
    )];
    if message.contains("expired") {
        hints.push("get a new token with --force-refresh (and check this machine's clock)".into());
    }
    hints
}

fn is_cloud_graph(url: &Url) -> bool {
    certgen::graph::cloud::GRAPH_HOSTS
        .iter()
        .any(|(_, g)| Url::parse(g).is_ok_and(|g| g.origin() == url.origin()))
}

/// The authority's origin, for deriving the scope: `--token-endpoint`'s origin, else the
/// authority host (flag, AZURE_AUTHORITY_HOST, else public).
pub(super) fn authority_origin(args: &TokenArgs) -> Result<String> {
    if let Some(endpoint) = &args.token_endpoint {
        let url = authority::check_endpoint_url(endpoint)?;
        return Ok(url.origin().ascii_serialization());
    }
    Ok(authority::authority_host(&authority_host(
        args.authority_host.as_deref(),
    ))?)
}

/// The URL to call: as given, or a path (`/v1.0/users`) on the cloud's Graph.
pub(super) fn request_url(given: &str, authority: &str, extra_graph: Option<&str>) -> Result<Url> {
    let text = if given.starts_with('/') {
        let host = extra_graph
            .map(|h| h.trim_end_matches('/').to_string())
            .unwrap_or_else(|| graph_host(authority));
        format!("{host}{given}")
    } else {
        given.to_string()
    };
    Ok(authority::check_endpoint_url(&text)?)
}

/// `--header 'Name: value'` pairs.
fn headers(given: &[String]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for h in given {
        let Some((name, value)) = h.split_once(':') else {
            return Err(Error::usage(format!(
                "--header '{h}' is not of the form 'Name: value'"
            )));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            Error::usage(format!(
                "--header '{h}': '{}' is not a header name",
                name.trim()
            ))
        })?;
        if name == reqwest::header::AUTHORIZATION {
            return Err(Error::usage(
                "--header Authorization: certgen call sends the token it gets; use curl to send another",
            ));
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            Error::usage(format!(
                "--header '{h}': the value holds characters a header cannot"
            ))
        })?;
        map.append(name, value);
    }
    Ok(map)
}

/// `--data`: the text itself, or `@FILE` (`@-` = stdin) read with the request-body limit.
fn body(data: &str) -> Result<Vec<u8>> {
    match data.strip_prefix('@') {
        Some(path) => Ok(read::input(Path::new(path), read::REQUEST_BODY)?),
        None => Ok(data.as_bytes().to_vec()),
    }
}

/// The API client (the token options' CA file and timeout) and the one runtime it runs on,
/// for every command that calls Graph or an API with the app's token.
pub(super) fn api_client(token: &TokenArgs) -> Result<(ApiClient, tokio::runtime::Runtime)> {
    let mut options =
        ClientOptions::default().timeout(std::time::Duration::from_secs(token.timeout));
    options.ca_file = token.ca_file.clone();
    let client = ApiClient::new(options)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failure(format!("cannot start the network runtime: {e}")))?;
    Ok((client, runtime))
}
