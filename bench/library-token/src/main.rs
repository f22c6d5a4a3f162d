//! `bench/library_token.sh` runs this with the path of a `certgen` binary: it starts
//! `certgen serve` (TLS, one app with a client secret), then measures, for certgen's
//! `ClientSecretCredential` and azure_identity's in turn, in this one process:
//! - a cached `get_token` (the token in memory): mean ns per call over many calls;
//! - 20 tasks calling `get_token` at once on a new credential: wall time until all have a
//!   token, and how many token requests serve logged for it.
//! A plain main with std::time: a benchmark, never a test.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TENANT: &str = "6c2b0b7e-3e4f-4d57-9a0b-0f1e2d3c4b5a";
const APP: &str = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";
const SECRET: &str = "bench-secret-value-0123456789";
const SCOPE: &str = "https://graph.microsoft.com/.default";
const CACHED_CALLS: u32 = 1_000_000;
const ROUNDS: usize = 15;

type Getter =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

fn main() {
    let certgen_bin = std::env::args()
        .nth(1)
        .expect("usage: bench-library-token CERTGEN_BINARY");
    let dir = std::env::temp_dir().join(format!("certgen-bench-lib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "[[tenant]]\nid = \"{TENANT}\"\n\n[[app]]\nclient_id = \"{APP}\"\nsecret_env = [\"BENCH_SECRET\"]\n"
        ),
    )
    .unwrap();
    let log = dir.join("serve.log");
    let mut child = Command::new(&certgen_bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .env("BENCH_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("serve's ready line");
    let authority = ready["authority"].as_str().unwrap();
    let base = authority[..authority.rfind('/').unwrap()].to_string();
    let ca_file = ready["ca_file"].as_str().unwrap().to_string();
    // azure_identity's HTTP client trusts the platform roots: point them at serve's CA.
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    let requests = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(" POST ") && l.contains("/oauth2/v2.0/token "))
            .count()
    };

    let certgen_new = {
        let (base, ca_file) = (base.clone(), ca_file.clone());
        move || -> Getter {
            use certgen::identity::{
                ClientOptions, ClientSecretCredential, CredentialOptions, TokenCredential,
            };
            let options = CredentialOptions::default()
                .authority_host(base.clone())
                .transport(ClientOptions::default().ca_file(ca_file.clone()));
            let c = Arc::new(
                ClientSecretCredential::new(TENANT, APP, certgen::Secret::new(SECRET), options)
                    .unwrap(),
            );
            Arc::new(move || {
                let c = c.clone();
                Box::pin(async move {
                    let t = c.get_token(&[SCOPE], None).await.unwrap();
                    std::hint::black_box(t);
                })
            })
        }
    };
    let azure_new = {
        let base = base.clone();
        move || -> Getter {
            use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
            use azure_core::credentials::TokenCredential;
            use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
            let mut custom = CustomConfiguration::default();
            custom.authority_host = base.clone();
            let mut options = ClientSecretCredentialOptions::default();
            options.client_options.cloud = Some(Arc::new(CloudConfiguration::from(custom)));
            let c = ClientSecretCredential::new(
                TENANT,
                APP.into(),
                azure_core::credentials::Secret::new(SECRET),
                Some(options),
            )
            .unwrap();
            Arc::new(move || {
                let c = c.clone();
                Box::pin(async move {
                    let t = c.get_token(&[SCOPE], None).await.unwrap();
                    std::hint::black_box(t);
                })
            })
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| | certgen | azure_identity |");
    println!("|---|---|---|");
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut results = Vec::new();
    for (name, make) in [
        ("certgen", &certgen_new as &dyn Fn() -> Getter),
        ("azure_identity", &azure_new as &dyn Fn() -> Getter),
    ] {
        // Cold and concurrent: ROUNDS new credentials, 20 tasks each.
        let mut times = Vec::new();
        let mut per_round = Vec::new();
        for _ in 0..ROUNDS {
            let get = make();
            let before = requests();
            let started = Instant::now();
            runtime.block_on(async {
                let tasks: Vec<_> = (0..20).map(|_| tokio::spawn(get())).collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
            times.push(started.elapsed());
            // serve writes its line before answering, so the count is complete here.
            per_round.push(requests() - before);
        }
        times.sort();
        let median = times[times.len() / 2];
        // Cached: one warm credential, many calls in a row.
        let get = make();
        runtime.block_on(get());
        let started = Instant::now();
        runtime.block_on(async {
            for _ in 0..CACHED_CALLS {
                get().await;
            }
        });
        let ns = started.elapsed().as_nanos() as f64 / f64::from(CACHED_CALLS);
        eprintln!("{name}: requests per cold round {per_round:?}");
        results.push((median, per_round, ns));
    }
    let (c, a) = (&results[0], &results[1]);
    let fmt_ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    rows.push((
        "cached `get_token`, mean of 1,000,000".into(),
        format!("{:.0} ns", c.2),
        format!("{:.0} ns", a.2),
    ));
    rows.push((
        "20 concurrent cold calls, median of 15 rounds".into(),
        fmt_ms(c.0),
        fmt_ms(a.0),
    ));
    rows.push((
        "token requests per cold round (min–max)".into(),
        format!(
            "{}–{}",
            c.1.iter().min().unwrap(),
            c.1.iter().max().unwrap()
        ),
        format!(
            "{}–{}",
            a.1.iter().min().unwrap(),
            a.1.iter().max().unwrap()
        ),
    ));
    for (what, c, a) in rows {
        println!("| {what} | {c} | {a} |");
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
