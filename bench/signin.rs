//! Full sign-ins per second against a running `certgen serve` (no browser): each is
//! `GET /authorize` (serve started with `--auto-sign-in`, so it answers 302 with a code at
//! once), the code taken from the `Location`, then `POST /token` with the PKCE verifier and a
//! client secret — what a web app's server does per user sign-in. Prints sign-ins/s and the
//! median and p99 of one sign-in's time (both requests). Run by `bench/signin.sh`.
//!
//! ```sh
//! CERTGEN_BENCH_SECRET=… cargo bench --bench signin -- --authority https://127.0.0.1:PORT/TENANT \
//!     --ca-file CA --client-id ID --redirect-uri http://localhost:5000/getAToken \
//!     [--requests 2000] [--concurrency 8] [--grant signin|client_credentials]
//! ```
//!
//! `--grant client_credentials` runs the same loop with client-credential grants instead (the
//! same client, secret and connections): the anchor of the same run, since a sign-in signs two
//! tokens (access + id) where a client-credential grant signs one.
//!
//! A Rust client rather than a script: the numbers should be serve's, and a Python loop (MSAL +
//! requests) spends more time per sign-in than serve does; wrk cannot chain the code of one
//! answer into the next request. Workers keep their connection alive, as a web app's server
//! would; TLS is set up once per worker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Args {
    authority: String,
    ca_file: Option<String>,
    client_id: String,
    redirect_uri: String,
    secret: String,
    requests: usize,
    concurrency: usize,
    client_credentials: bool,
    scope: String,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn parse_args() -> Result<Args, Failure> {
    let mut args = std::env::args().skip(1);
    let mut a = Args {
        authority: String::new(),
        ca_file: None,
        client_id: String::new(),
        redirect_uri: String::new(),
        // From the environment, never argv (visible to every process on the machine).
        secret: std::env::var("CERTGEN_BENCH_SECRET")
            .map_err(|_| "CERTGEN_BENCH_SECRET is not set (the app's client secret)")?,
        requests: 2000,
        concurrency: 8,
        client_credentials: false,
        scope: "openid profile offline_access User.Read".into(),
    };
    while let Some(flag) = args.next() {
        if flag == "--bench" {
            continue; // added by `cargo bench`
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--authority" => a.authority = value.trim_end_matches('/').into(),
            "--ca-file" => a.ca_file = Some(value),
            "--client-id" => a.client_id = value,
            "--redirect-uri" => a.redirect_uri = value,
            "--requests" => a.requests = value.parse()?,
            "--concurrency" => a.concurrency = value.parse()?,
            "--scope" => a.scope = value,
            "--grant" => {
                a.client_credentials = match value.as_str() {
                    "signin" => false,
                    "client_credentials" => true,
                    other => {
                        return Err(format!("--grant {other}: signin or client_credentials").into())
                    }
                }
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.authority.is_empty() || a.client_id.is_empty() {
        return Err("--authority and --client-id are required".into());
    }
    if !a.client_credentials && a.redirect_uri.is_empty() {
        return Err("--redirect-uri is required for sign-ins".into());
    }
    if a.concurrency == 0 || a.requests == 0 {
        return Err("--requests and --concurrency must be at least 1".into());
    }
    Ok(a)
}

fn client(a: &Args) -> Result<reqwest::Client, Failure> {
    let mut b = reqwest::Client::builder()
        // The code is in the 302's Location: read it, never follow it.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30));
    if let Some(ca) = &a.ca_file {
        b = b.tls_certs_only([reqwest::Certificate::from_pem(&std::fs::read(ca)?)?]);
    }
    Ok(b.build()?)
}

/// A PKCE verifier (64 characters from two v4 UUIDs: 244 random bits) and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// One authorize → code → token exchange.
async fn sign_in(http: &reqwest::Client, a: &Args) -> Result<(), Failure> {
    let (verifier, challenge) = pkce();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let url = reqwest::Url::parse_with_params(
        &format!("{}/oauth2/v2.0/authorize", a.authority),
        [
            ("client_id", a.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", &a.redirect_uri),
            ("response_mode", "query"),
            ("scope", &a.scope),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("client_info", "1"),
        ],
    )?;
    let resp = http.get(url).send().await?;
    let status = resp.status();
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| format!("authorize answered {status} without a Location"))?;
    let location = reqwest::Url::parse(location)?;
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if get("state").as_deref() != Some(state.as_str()) {
        return Err(format!("authorize answered {location} (state not echoed)").into());
    }
    let code = get("code").ok_or_else(|| format!("authorize answered {location}"))?;
    let body = token(
        http,
        a,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &a.redirect_uri),
            ("code_verifier", &verifier),
            ("scope", &a.scope),
        ],
    )
    .await?;
    if body["id_token"].is_string() {
        Ok(())
    } else {
        Err(format!("the token answer has no id_token: {body}").into())
    }
}

async fn token(http: &reqwest::Client, a: &Args, form: &[(&str, &str)]) -> Result<Value, Failure> {
    let mut form = form.to_vec();
    form.extend([
        ("client_id", a.client_id.as_str()),
        ("client_secret", a.secret.as_str()),
    ]);
    let resp = http
        .post(format!("{}/oauth2/v2.0/token", a.authority))
        .form(&form)
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if status != 200 || !body["access_token"].is_string() {
        return Err(format!("token answered {status}: {body}").into());
    }
    Ok(body)
}

async fn once(http: &reqwest::Client, a: &Args) -> Result<(), Failure> {
    if a.client_credentials {
        let scope = "https://graph.microsoft.com/.default";
        token(
            http,
            a,
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .await
        .map(drop)
    } else {
        sign_in(http, a).await
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let a = Arc::new(parse_args()?);
    // One exchange before timing: the numbers mean nothing if sign-ins fail.
    once(&client(&a)?, &a).await?;

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..a.concurrency {
        let (a, next, http) = (a.clone(), next.clone(), client(&a)?);
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut errors = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < a.requests {
                let t = Instant::now();
                match once(&http, &a).await {
                    Ok(()) => times.push(t.elapsed()),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (times, errors)
        }));
    }
    let mut times = Vec::new();
    let mut errors = Vec::new();
    for w in workers {
        let (t, e) = w.await?;
        times.extend(t);
        errors.extend(e);
    }
    let wall = started.elapsed();
    times.sort();
    if times.is_empty() {
        return Err(format!("every exchange failed; first: {}", errors[0]).into());
    }
    let what = if a.client_credentials {
        "client_credentials grants"
    } else {
        "sign-ins"
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "RESULT kind={} ok={} errors={} concurrency={} per_s={:.1} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        if a.client_credentials { "client_credentials" } else { "signin" },
        times.len(),
        errors.len(),
        a.concurrency,
        times.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0)),
        ms(*times.last().unwrap()),
    );
    eprintln!(
        "{} {what} in {:.2} s with {} workers",
        times.len(),
        wall.as_secs_f64(),
        a.concurrency
    );
    if let Some(first) = errors.first() {
        eprintln!("{} failed; first: {first}", errors.len());
    }
    Ok(())
}
