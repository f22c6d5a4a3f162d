//! `certgen token` end to end against `certgen serve` (TLS on port 0, trusted with --ca-file):
//! certificate and secret tokens, the cache (proved by stopping the service), concurrency,
//! and every refusal a user meets. Credentials are made by the `openssl` CLI (support::serve).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::serve::{
    fixture, HeldRequest, Server, APP, EXPIRED_SECRET, ORDERS_API, SECRET, TENANT,
};
use crate::support::token_stub::closed_port;
use crate::support::Run;
use serde_json::Value;

/// A folder per test for the cache and the secret file.
fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn cache_of(dir: &Path) -> PathBuf {
    dir.join("cache")
}

/// `certgen token` for APP in TENANT at `server`, with a clean environment.
fn token(server: &Server, dir: &Path) -> Command {
    token_at(&server.base(), &server.field("ca_file"), dir)
}

/// The same, at an authority host given by URL, trusting `ca`.
fn token_at(host: &str, ca: &str, dir: &Path) -> Command {
    let mut cmd = bare(dir);
    cmd.args(["--tenant", TENANT, "--client-id", APP]).args([
        "--authority-host",
        host,
        "--ca-file",
        ca,
    ]);
    cmd
}

/// `certgen token` with a clean environment and nothing else.
fn bare(dir: &Path) -> Command {
    let mut cmd = crate::support::certgen_process();
    cmd.env("CERTGEN_CACHE_DIR", cache_of(dir)).arg("token");
    cmd
}

fn with_cert(cmd: &mut Command) -> &mut Command {
    let f = fixture();
    cmd.arg("--cert")
        .arg(&f.main.cert_pem)
        .arg("--key")
        .arg(&f.main.key_pem)
}

fn secret_file(dir: &Path) -> PathBuf {
    let p = dir.join("secret.txt");
    std::fs::write(&p, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    p
}

fn run(cmd: &mut Command) -> Run {
    Run::from(cmd.output().unwrap())
}

fn json_of(r: &Run) -> Value {
    assert_eq!(r.code, 0, "stderr: {}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// Token requests the service has logged so far.
fn token_requests(server: &Server) -> usize {
    server
        .log_text()
        .lines()
        .filter(|l| l.contains(" POST ") && l.contains("/oauth2/v2.0/token"))
        .count()
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(cache_of(dir)) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn certificate_tokens_with_ps256_and_rs256() {
    let server = Server::start();
    let dir = workdir();
    for alg in ["PS256", "RS256"] {
        let r = run(with_cert(&mut token(&server, dir.path())).args([
            "--alg",
            alg,
            "--no-cache",
            "--output",
            "json",
        ]));
        let doc = json_of(&r);
        assert_eq!(doc["source"], "network", "{alg}");
        assert_eq!(doc["token_type"], "Bearer");
        // Graph's tokens are v1-shaped (as Entra's are): appid/appidacr, aud as requested.
        let claims = &doc["claims"];
        assert_eq!(claims["appid"], APP, "{alg}: {claims}");
        assert_eq!(claims["appidacr"], "2", "{alg}: certificate authentication");
        assert_eq!(claims["aud"], "https://graph.microsoft.com");
        assert_eq!(claims["tid"], TENANT);
        assert_eq!(claims["idtyp"], "app");
        let expires_on = doc["expires_on"].as_i64().unwrap();
        // expires_on is counted from when the answer arrived: within a second or two of exp.
        let exp = claims["exp"].as_i64().unwrap();
        assert!(
            (exp - expires_on).abs() <= 2,
            "{alg}: exp {exp}, expires_on {expires_on}"
        );
    }
    assert_eq!(token_requests(&server), 2);
    assert!(
        cache_files(dir.path()).is_empty(),
        "--no-cache writes nothing"
    );
}

#[test]
fn a_scope_of_another_resource_gets_its_roles() {
    let server = Server::start();
    let dir = workdir();
    let r = run(with_cert(&mut token(&server, dir.path())).args([
        "--scope",
        "api://orders/.default",
        "--output",
        "json",
    ]));
    let claims = json_of(&r)["claims"].clone();
    assert_eq!(claims["aud"], ORDERS_API);
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["azp"], APP);
    assert_eq!(claims["azpacr"], "2");
    assert_eq!(claims["roles"], serde_json::json!(["Orders.Read"]));
}

#[test]
fn secret_tokens_from_a_file_and_the_environment_never_show_the_secret() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let dir = workdir();
    let file = secret_file(dir.path());
    let r = run(token(&server, dir.path())
        .arg("--secret-file")
        .arg(&file)
        .args(["--output", "json"]));
    let doc = json_of(&r);
    assert_eq!(doc["claims"]["appidacr"], "1", "secret authentication");
    assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));

    let r = run(token(&server, dir.path())
        .env("AZURE_CLIENT_SECRET", SECRET)
        .args(["--no-cache", "--output", "header"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("Authorization: Bearer ey"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(SECRET) && !r.stderr.contains(SECRET));

    let dir_mode = std::fs::metadata(cache_of(dir.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let files = cache_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    for f in files {
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains(SECRET), "the cache holds the secret");
        let entry: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["token_type", "access_token", "expires_on"]);
    }
    assert!(!server.log_text().contains(SECRET));
}

#[test]
fn the_second_call_is_answered_from_the_cache_without_the_service() {
    let dir = workdir();
    let server = Server::start();
    let (host, ca) = (server.base(), server.field("ca_file"));
    let first = json_of(&run(
        with_cert(&mut token_at(&host, &ca, dir.path())).args(["--output", "json"])
    ));
    assert_eq!(first["source"], "network");
    drop(server); // the service is stopped: nothing answers at `host` any more

    let second = json_of(&run(
        with_cert(&mut token_at(&host, &ca, dir.path())).args(["--output", "json"])
    ));
    assert_eq!(second["source"], "cache");
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(second["expires_on"], first["expires_on"]);
    assert_eq!(second["claims"], first["claims"]);

    // --force-refresh does not read the cache: with the service gone, it cannot be reached.
    let forced = run(with_cert(&mut token_at(&host, &ca, dir.path())).arg("--force-refresh"));
    assert_eq!(forced.code, 4, "{}", forced.stderr);
    assert!(
        forced.stderr.contains("connection refused"),
        "{}",
        forced.stderr
    );
    assert!(forced.stdout.is_empty());
}

#[test]
fn force_refresh_replaces_the_cached_token() {
    let server = Server::start();
    let dir = workdir();
    let first = json_of(&run(
        with_cert(&mut token(&server, dir.path())).args(["--output", "json"])
    ));
    let forced = json_of(&run(with_cert(&mut token(&server, dir.path())).args([
        "--force-refresh",
        "--output",
        "json",
    ])));
    assert_eq!(forced["source"], "network");
    assert_ne!(forced["access_token"], first["access_token"]);
    let after = json_of(&run(
        with_cert(&mut token(&server, dir.path())).args(["--output", "json"])
    ));
    assert_eq!(after["source"], "cache");
    assert_eq!(after["access_token"], forced["access_token"]);
    assert_eq!(token_requests(&server), 2);
}

#[test]
fn the_azure_identity_environment_is_enough() {
    let server = Server::start();
    let dir = workdir();
    let f = fixture();
    // A PEM holding the certificate and the key, as AZURE_CLIENT_CERTIFICATE_PATH expects.
    let both = dir.path().join("app.pem");
    let pem = std::fs::read_to_string(&f.main.cert_pem).unwrap()
        + &std::fs::read_to_string(&f.main.key_pem).unwrap();
    std::fs::write(&both, pem).unwrap();
    let mut cmd = bare(dir.path());
    cmd.env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", APP)
        .env("AZURE_AUTHORITY_HOST", server.base())
        .env("AZURE_CLIENT_CERTIFICATE_PATH", &both)
        .args(["--output", "json", "--ca-file"])
        .arg(server.field("ca_file"));
    let doc = json_of(&run(&mut cmd));
    assert_eq!(doc["claims"]["appid"], APP);
    assert_eq!(doc["claims"]["appidacr"], "2", "certificate authentication");
}

#[test]
fn concurrent_processes_leave_a_valid_cache() {
    let server = Server::start();
    let dir = workdir();
    let children: Vec<_> = (0..6)
        .map(|_| {
            with_cert(&mut token(&server, dir.path()))
                .arg("--force-refresh")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut tokens = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    let files = cache_files(dir.path());
    assert_eq!(files.len(), 1, "one entry, no temporary files: {files:?}");
    let entry: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let cached = entry["access_token"].as_str().unwrap();
    assert!(
        tokens.iter().any(|t| t == cached),
        "the entry is one of the tokens issued"
    );
    let r = json_of(&run(
        with_cert(&mut token(&server, dir.path())).args(["--output", "json"])
    ));
    assert_eq!(r["source"], "cache");
    assert_eq!(r["access_token"], cached);
}

#[test]
fn an_unregistered_certificate_exits_3_with_its_thumbprint() {
    let server = Server::start();
    let dir = workdir();
    let f = fixture();
    let r = run(token(&server, dir.path())
        .arg("--cert")
        .arg(&f.other.cert_pem)
        .arg("--key")
        .arg(&f.other.key_pem));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: ") && first.contains("AADSTS700027"),
        "{first}"
    );
    assert!(r.stderr.contains(&f.other.thumbprint_hex()), "{}", r.stderr);
    // PS256 names the certificate by SHA-256, which is what the service quotes back.
    let sha256 = hex::encode_upper(f.other.sha256());
    let hints: Vec<&str> = r.stderr.lines().skip(1).collect();
    assert!(hints.join("\n").contains(&sha256), "{}", r.stderr);
    assert!(r.stderr.contains(&f.other.x5t()), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("upload {}", f.other.cert_pem.display())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("trace_id "), "{}", r.stderr);
    assert!(cache_files(dir.path()).is_empty());
}

#[test]
fn a_wrong_secret_exits_3_with_7000215() {
    let server = Server::start();
    let dir = workdir();
    let r = run(token(&server, dir.path()).env("AZURE_CLIENT_SECRET", "not-the-secret"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("AADSTS7000215"), "{}", r.stderr);
    assert!(r.stderr.contains("not its Secret ID"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-secret"));
}

#[test]
fn an_expired_secret_exits_3_with_7000222_and_says_so() {
    let server = Server::start();
    let dir = workdir();
    let r = run(token(&server, dir.path()).env("AZURE_CLIENT_SECRET", EXPIRED_SECRET));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: ") && first.contains("AADSTS7000222"),
        "{first}"
    );
    assert!(
        r.stderr
            .contains(&format!("hint: the client secret of app {APP} has expired")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(EXPIRED_SECRET));
    assert!(cache_files(dir.path()).is_empty());
}

#[test]
fn a_full_service_is_waited_out_as_retry_after_asks() {
    let server = Server::with_args(&["--http", "--max-in-flight", "1"]);
    let dir = workdir();
    let held = HeldRequest::open(
        &server.field("listen"),
        "https://graph.microsoft.com/.default",
    );
    let mut cmd = bare(dir.path());
    cmd.args(["--tenant", TENANT, "--client-id", APP, "--no-cache"])
        .args(["--authority-host", &server.base()])
        .env("AZURE_CLIENT_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Release the slot only once the service has turned the first attempt away.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !server.log_text().contains(" 503 ") {
        assert!(
            std::time::Instant::now() < deadline,
            "no 503: {}",
            server.log_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(held.finish(), "HTTP/1.1 200 OK");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ey"));
    let log = server.log_text();
    let statuses: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("/oauth2/v2.0/token"))
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    // The token command's two attempts, and the held request's 200 in between.
    assert_eq!(statuses, ["503", "200", "200"], "{log}");
}

#[test]
fn an_unknown_client_and_an_unknown_tenant_exit_3() {
    let server = Server::start();
    let dir = workdir();
    let stranger = "0badc0de-0000-4000-8000-000000000000";
    let (host, ca) = (server.base(), server.field("ca_file"));
    let mut cmd = bare(dir.path());
    cmd.args(["--tenant", TENANT, "--client-id", stranger])
        .args(["--authority-host", &host, "--ca-file", &ca]);
    let r = run(with_cert(&mut cmd));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("AADSTS700016"), "{}", r.stderr);
    assert!(r.stderr.contains(stranger), "{}", r.stderr);

    let nowhere = "0badc0de-0000-4000-8000-0000000000ff";
    let mut cmd = bare(dir.path());
    cmd.args(["--tenant", nowhere, "--client-id", APP]).args([
        "--authority-host",
        &host,
        "--ca-file",
        &ca,
    ]);
    let r = run(with_cert(&mut cmd));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("AADSTS90002"), "{}", r.stderr);
    assert!(
        r.stderr.contains("does not exist in this cloud"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_bad_scope_exits_1_without_a_request() {
    let server = Server::start();
    let dir = workdir();
    let r = run(with_cert(&mut token(&server, dir.path())).args(["--scope", "User.Read"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("RESOURCE/.default"), "{}", r.stderr);
    // A request the service would have logged by now has not come.
    let ok = run(with_cert(&mut token(&server, dir.path())).arg("--no-cache"));
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(token_requests(&server), 1);
}

#[test]
fn an_unreachable_port_and_an_untrusted_certificate_exit_4() {
    let server = Server::start();
    let dir = workdir();
    let port = closed_port();
    let closed = format!("https://127.0.0.1:{port}");
    let r = run(with_cert(&mut token_at(
        &closed,
        &server.field("ca_file"),
        dir.path(),
    )));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("connection refused"), "{}", r.stderr);

    // Without --ca-file the service's certificate is not trusted.
    let mut cmd = bare(dir.path());
    cmd.args([
        "--tenant",
        TENANT,
        "--client-id",
        APP,
        "--authority-host",
        &server.base(),
    ]);
    let r = run(with_cert(&mut cmd));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("not trusted"), "{}", r.stderr);
    assert!(r.stderr.contains("--ca-file"), "{}", r.stderr);
    assert_eq!(token_requests(&server), 0);
}

/// `HTTPS_PROXY`/`HTTP_PROXY` set (as on a corporate machine) never catch a loopback endpoint:
/// the request with the credential goes straight to the service on 127.0.0.1, and the proxy,
/// a listener that would take the client secret, is never contacted.
#[test]
fn a_loopback_endpoint_is_never_sent_through_the_proxy() {
    let server = Server::start();
    let dir = workdir();
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let proxy = format!("http://{}", trap.local_addr().unwrap());
    let r = run(with_cert(&mut token(&server, dir.path()))
        .env("HTTPS_PROXY", &proxy)
        .env("HTTP_PROXY", &proxy)
        .env("ALL_PROXY", &proxy)
        .arg("--no-cache"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the proxy was contacted"
    );
}
