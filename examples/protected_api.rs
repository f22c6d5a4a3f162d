//! A small API protected by Entra access tokens — the Rust counterpart of `server.py` in
//! Microsoft's client-credentials example. Every request under `/` must carry
//! `Authorization: Bearer <access token>`; the token is validated with `certgen::verify`.
//!
//! ```sh
//! cargo run --example protected_api -- \
//!     --authority https://login.microsoftonline.com/<tenant> \
//!     --audience api://my-api --require-role Data.Read
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:5000/
//! ```
//!
//! Answers: 200 with the caller's claims; 401 and `WWW-Authenticate: Bearer` without a token;
//! 401 `error="invalid_token"` for a bad one; 403 `error="insufficient_scope"` when a required
//! role is missing. `GET /health` is open. `--listen 127.0.0.1:0` picks a free port; the address
//! is printed as one JSON line on stdout when the API is ready.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use certgen::verify::{bearer, ValidToken, Validator, ValidatorOptions};
use clap::Parser;
use serde_json::{json, Value};

/// Configuration, by flag or environment variable (as `server.py` reads API_ISSUER/API_AUDIENCE).
#[derive(Debug, Parser)]
#[command(name = "protected_api")]
pub struct Config {
    /// Authority whose metadata gives the issuer and keys
    #[arg(long, env = "API_AUTHORITY")]
    pub authority: String,
    /// Accepted audience(s): the API's client id and/or App ID URI
    #[arg(long, env = "API_AUDIENCE", value_delimiter = ',', required = true)]
    pub audience: Vec<String>,
    /// Role(s) every caller must have
    #[arg(
        long = "require-role",
        env = "API_REQUIRED_ROLE",
        value_delimiter = ','
    )]
    pub require_role: Vec<String>,
    /// Exact issuer, when it differs from the authority's metadata
    #[arg(long, env = "API_ISSUER")]
    pub issuer: Option<String>,
    /// Extra trusted CA (PEM), e.g. the ca_file `certgen serve` prints
    #[arg(long, env = "API_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Address to listen on (port 0 = any free port)
    #[arg(long, env = "API_LISTEN", default_value = "127.0.0.1:5000")]
    pub listen: SocketAddr,
}

/// The routes: `/` behind the bearer check, `/health` open.
pub fn app(validator: Validator) -> Router {
    let protected = Router::new()
        .route("/", get(hello))
        .route_layer(middleware::from_fn_with_state(validator, require_token));
    Router::new()
        .merge(protected)
        .route("/health", get(|| async { "ok" }))
}

/// Runs on every protected request: a valid token goes into the request's extensions for the
/// handler; anything else is answered here with 401/403 and `WWW-Authenticate`.
async fn require_token(
    State(validator): State<Validator>,
    mut request: Request,
    next: Next,
) -> Response {
    match bearer::authorize(&validator, request.headers()).await {
        Ok(token) => {
            request.extensions_mut().insert(token);
            next.run(request).await
        }
        Err(rejection) => {
            eprintln!(
                "{} {} -> {} {}",
                request.method(),
                request.uri().path(),
                rejection.status.as_u16(),
                rejection.description
            );
            rejection.into_response()
        }
    }
}

async fn hello(Extension(token): Extension<ValidToken>) -> Json<Value> {
    Json(json!({
        "message": format!("Hello, {}!", token.client_id().unwrap_or("caller")),
        "roles": token.roles(),
        "claims": token.claims,
    }))
}

#[tokio::main]
async fn main() {
    let config = Config::parse();
    if let Err(message) = serve(config).await {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let mut options = ValidatorOptions::new(config.audience.clone());
    options.required_roles = config.require_role.clone();
    options.issuer = config.issuer.clone();
    options.ca_file = config.ca_file.clone();
    let validator = Validator::from_authority(&config.authority, options)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // One JSON line on stdout when ready, so scripts and tests can find a port-0 address.
    println!(
        "{}",
        json!({"listen": addr.to_string(), "url": format!("http://{addr}/")})
    );
    eprintln!(
        "protected_api: http://{addr}/ accepts tokens for {} from {}",
        config.audience.join(", "),
        config.authority
    );
    axum::serve(listener, app(validator))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM (what `kill` and container runtimes send).
async fn shutdown_signal() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
