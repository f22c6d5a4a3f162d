//! `certgen token` as a user runs it, against a scripted stub token endpoint in this process:
//! the request, the cache (proved by the stub's request count), retries, explanations,
//! transport failures, proxies, and local refusals that must not send anything.
//! The end-to-end run against `certgen serve` is in `token_e2e.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::token_stub::{busy, closed_port, fake_jwt, field, ok, reply, Stub};
use crate::support::Run;
use assert_cmd::Command;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
use serde_json::{json, Value};

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "contoso.onmicrosoft.com";
const SECRET: &str = "Zx8Q~not-a-real-secret-value-0123456789";

/// A client certificate and key in a temporary folder, plus a cache folder.
struct Files {
    dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    thumbprint: String,
    x5t: String,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let made = generate(&NewCertificate {
            subject: Subject::common_name("token-cli-test").unwrap(),
            sans: vec![],
            days: 30,
            key_size: KeySize::Rsa2048,
            profile: Profile::ClientAuth,
        })
        .unwrap();
        let cert = dir.path().join("app.crt");
        let key = dir.path().join("app.key");
        std::fs::write(&cert, made.cert.to_pem()).unwrap();
        std::fs::write(&key, made.key.to_pkcs8_pem()).unwrap();
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
        std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        Files {
            thumbprint: made.cert.thumbprints.thumbprint(),
            x5t: made.cert.thumbprints.x5t(),
            dir,
            cert,
            key,
        }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn secret_file(&self) -> PathBuf {
        self.dir.path().join("secret.txt")
    }

    fn cache_files(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.cache()) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// `certgen token` with a clean environment: only what the test sets.
fn certgen_token(files: &Files) -> Command {
    let mut cmd = crate::support::certgen();
    cmd.env("CERTGEN_CACHE_DIR", files.cache());
    cmd.arg("token");
    cmd
}

/// `certgen token` for CLIENT_ID in TENANT at `host`.
fn app_token(files: &Files, host: &str) -> Command {
    let mut cmd = certgen_token(files);
    cmd.args([
        "--tenant",
        TENANT,
        "--client-id",
        CLIENT_ID,
        "--authority-host",
        host,
    ]);
    cmd
}

/// The same with the test certificate.
fn cert_token(files: &Files, host: &str) -> Command {
    let mut cmd = app_token(files, host);
    cmd.arg("--cert")
        .arg(&files.cert)
        .arg("--key")
        .arg(&files.key);
    cmd
}

/// The same with the test secret file.
fn secret_token(files: &Files, host: &str) -> Command {
    let mut cmd = app_token(files, host);
    cmd.arg("--secret-file").arg(files.secret_file());
    cmd
}

fn run(cmd: &mut Command) -> Run {
    Run::from(cmd.timeout(Duration::from_secs(60)).output().unwrap())
}

fn decode_segment(jwt: &str, i: usize) -> Value {
    let part = jwt.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn a_certificate_token_is_requested_once_then_served_from_the_cache() {
    let stub = Stub::start(vec![]);
    let files = Files::new();

    let mut first = cert_token(&files, &stub.host());
    let r = run(first.args(["--output", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["source"], "network");
    assert_eq!(doc["token_type"], "Bearer");
    assert_eq!(doc["expires_in"], 3599);
    assert_eq!(doc["ext_expires_in"], 3599);
    assert_eq!(doc["access_token"], fake_jwt(1));
    assert_eq!(doc["claims"]["roles"][0], "Application.Read.All");
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "token_type",
            "expires_in",
            "ext_expires_in",
            "expires_on",
            "access_token",
            "source",
            "claims"
        ]
    );

    // The request: the v2 form, an assertion for the URL posted to, the default scope.
    let requests = stub.requests();
    let (uri, form) = &requests[0];
    assert_eq!(uri, &format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        field(form, "scope"),
        Some("https://graph.microsoft.com/.default")
    );
    assert_eq!(field(form, "grant_type"), Some("client_credentials"));
    assert_eq!(field(form, "client_id"), Some(CLIENT_ID));
    assert_eq!(
        field(form, "client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let assertion = field(form, "client_assertion").unwrap();
    let header = decode_segment(assertion, 0);
    assert_eq!(header["alg"], "PS256");
    let claims = decode_segment(assertion, 1);
    assert_eq!(
        claims["aud"],
        format!("{}/{TENANT}/oauth2/v2.0/token", stub.host())
    );

    // Second run: the cache answers and the stub sees nothing.
    let mut second = cert_token(&files, &stub.host());
    let r = run(second.args(["--output", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["source"], "cache");
    assert_eq!(doc["access_token"], fake_jwt(1));
    assert_eq!(doc["ext_expires_in"], Value::Null);
    assert!(doc["expires_in"].as_i64().unwrap() > 3500);
    assert_eq!(stub.count(), 1);

    // --force-refresh fetches and replaces the entry; --no-cache fetches and leaves it alone.
    let mut forced = cert_token(&files, &stub.host());
    let r = run(forced.arg("--force-refresh"));
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, fake_jwt(2).as_str()),
        "{}",
        r.stderr
    );
    let mut again = cert_token(&files, &stub.host());
    assert_eq!(run(&mut again).stdout.trim(), fake_jwt(2));
    let mut uncached = cert_token(&files, &stub.host());
    assert_eq!(run(uncached.arg("--no-cache")).stdout.trim(), fake_jwt(3));
    let mut after = cert_token(&files, &stub.host());
    assert_eq!(run(&mut after).stdout.trim(), fake_jwt(2));
    assert_eq!(stub.count(), 3);
}

#[test]
fn a_secret_token_never_leaves_the_secret_anywhere() {
    use std::os::unix::fs::PermissionsExt;
    let stub = Stub::start(vec![]);
    let files = Files::new();
    let mut cmd = secret_token(&files, &stub.host());
    let r = run(cmd.args(["--output", "header"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("Authorization: Bearer {}\n", fake_jwt(1)));
    assert_eq!(field(&stub.requests()[0].1, "client_secret"), Some(SECRET));
    assert!(!r.stderr.contains(SECRET));

    // From the environment, the same cache entry answers (same credential, same key).
    let mut env = app_token(&files, &stub.host());
    env.env("AZURE_CLIENT_SECRET", SECRET);
    let r = run(&mut env);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, fake_jwt(1).as_str()),
        "{}",
        r.stderr
    );
    assert_eq!(stub.count(), 1);

    let cache_mode = std::fs::metadata(files.cache())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(cache_mode & 0o777, 0o700);
    let entries = files.cache_files();
    assert_eq!(entries.len(), 1, "{entries:?}");
    for path in entries {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(SECRET));
        assert!(!path.to_string_lossy().contains(SECRET));
    }
}

#[test]
fn a_different_secret_does_not_get_the_cached_token() {
    let stub = Stub::start(vec![]);
    let files = Files::new();
    let mut a = secret_token(&files, &stub.host());
    assert_eq!(run(&mut a).code, 0);
    let mut b = app_token(&files, &stub.host());
    b.env("AZURE_CLIENT_SECRET", "another-secret");
    let r = run(&mut b);
    assert_eq!((r.code, r.stdout.trim()), (0, fake_jwt(2).as_str()));
    assert_eq!(stub.count(), 2);
}

#[test]
fn bad_scopes_are_refused_before_any_request() {
    let stub = Stub::start(vec![]);
    let files = Files::new();
    for scopes in [
        vec!["User.Read"],
        vec![
            "https://graph.microsoft.com/.default",
            "https://vault.azure.net/.default",
        ],
    ] {
        let mut cmd = cert_token(&files, &stub.host());
        for s in &scopes {
            cmd.args(["--scope", s]);
        }
        let r = run(&mut cmd);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    assert_eq!(stub.count(), 0);

    // Toward another OAuth server the same scopes go as given; without --scope, none.
    let mut other = certgen_token(&files);
    other
        .args(["--client-id", "my-client", "--token-endpoint"])
        .arg(format!("{}/oauth/token", stub.host()))
        .args(["--scope", "read", "--scope", "write", "--secret-file"])
        .arg(files.secret_file());
    assert_eq!(run(&mut other).code, 0);
    let mut none = certgen_token(&files);
    none.args(["--client-id", "my-client", "--no-cache", "--token-endpoint"])
        .arg(format!("{}/oauth/token", stub.host()))
        .arg("--secret-file")
        .arg(files.secret_file());
    assert_eq!(run(&mut none).code, 0);
    let requests = stub.requests();
    assert_eq!(field(&requests[0].1, "scope"), Some("read write"));
    assert_eq!(field(&requests[1].1, "scope"), None);
}

#[test]
fn local_refusals_name_the_problem() {
    let files = Files::new();
    let cases: [(&[&str], i32, &str); 4] = [
        (
            &["--tenant", "common", "--client-id", CLIENT_ID],
            2,
            "tenant 'common'",
        ),
        (&["--client-id", CLIENT_ID], 2, "no tenant"),
        (
            &[
                "--tenant",
                TENANT,
                "--client-id",
                CLIENT_ID,
                "--authority-host",
                "http://login.example.com",
            ],
            2,
            "plain http",
        ),
        (
            &["--tenant", TENANT, "--client-id", CLIENT_ID],
            2,
            "no credential",
        ),
    ];
    for (args, code, needle) in cases {
        let r = run(certgen_token(&files).args(args));
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn throttling_is_retried_until_a_token_comes() {
    let stub = Stub::start(vec![busy(429, "0"), busy(503, "1"), ok(7)]);
    let files = Files::new();
    let mut cmd = cert_token(&files, &stub.host());
    let r = run(&mut cmd);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, fake_jwt(7).as_str()),
        "{}",
        r.stderr
    );
    let requests = stub.requests();
    assert_eq!(requests.len(), 3);
    // Each attempt carried its own assertion (a fresh jti), never a replayed one.
    let jtis: Vec<Value> = requests
        .iter()
        .map(|(_, f)| decode_segment(field(f, "client_assertion").unwrap(), 1)["jti"].clone())
        .collect();
    assert_ne!(jtis[0], jtis[1]);
    assert_ne!(jtis[1], jtis[2]);
}

#[test]
fn exhausted_retries_exit_3_with_the_status() {
    let stub = Stub::start(vec![busy(503, "0"), busy(503, "0"), busy(503, "0")]);
    let files = Files::new();
    let mut cmd = secret_token(&files, &stub.host());
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("(HTTP 503) after 3 attempts"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    assert_eq!(stub.count(), 3);
    assert!(files.cache_files().is_empty());
}

#[test]
fn an_unregistered_certificate_gets_its_thumbprint_and_file_in_the_hint() {
    let body = json!({
        "error": "invalid_client",
        "error_description": "AADSTS700027: Client assertion failed signature validation.\r\nTrace ID: 9f1c\r\nCorrelation ID: 7e2d\r\nTimestamp: 2026-11-21 12:00:00Z",
        "error_codes": [700027],
        "timestamp": "2026-11-21 12:00:00Z",
        "trace_id": "9f1c",
        "correlation_id": "7e2d",
    });
    let stub = Stub::start(vec![reply(401, body.to_string())]);
    let files = Files::new();
    let mut cmd = cert_token(&files, &stub.host());
    let r = run(cmd.args(["--alg", "RS256"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    let mut lines = r.stderr.lines();
    let first = lines.next().unwrap();
    assert_eq!(
        first,
        "error: the token endpoint refused the request: invalid_client (HTTP 401): AADSTS700027: Client assertion failed signature validation."
    );
    assert!(lines.all(|l| l.starts_with("hint: ")), "{}", r.stderr);
    assert!(r.stderr.contains(&files.thumbprint), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "thumbprint {} (x5t {})",
            files.thumbprint, files.x5t
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("upload {}", files.cert.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("trace_id 9f1c, correlation_id 7e2d"),
        "{}",
        r.stderr
    );
    assert_eq!(stub.count(), 1);
}

#[test]
fn a_clock_error_compares_the_local_clock_with_the_servers_date() {
    // The server's clock is ten minutes behind ours.
    let server = time::OffsetDateTime::now_utc() - time::Duration::seconds(600);
    let date = server
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap()
        .replace("+0000", "GMT");
    let mut r = reply(
        401,
        r#"{"error":"invalid_client","error_description":"AADSTS700024: Client assertion is not within its valid time range.","error_codes":[700024]}"#,
    );
    r.headers.push(("date", date));
    let stub = Stub::start(vec![r]);
    let files = Files::new();
    let mut cmd = cert_token(&files, &stub.host());
    let r = run(&mut cmd);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let ahead = (598..=603).any(|s| r.stderr.contains(&format!("{s} s ahead")));
    assert!(ahead, "{}", r.stderr);
}

#[test]
fn an_unreachable_port_and_a_slow_server_exit_4() {
    let files = Files::new();
    let port = closed_port();
    let mut cmd = secret_token(&files, &format!("http://127.0.0.1:{port}"));
    let r = run(&mut cmd);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("connection refused"), "{}", r.stderr);

    let mut slow = ok(1);
    slow.delay = Duration::from_secs(10);
    let stub = Stub::start(vec![slow]);
    let mut cmd = secret_token(&files, &stub.host());
    let started = std::time::Instant::now();
    let r = run(cmd.args(["--timeout", "1"]));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("no answer within 1 s"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(8));
}

/// Loopback never goes through a proxy (a client secret for `certgen serve` must not reach a
/// proxy), and the error then blames the endpoint, not the proxy; another host goes through
/// `HTTPS_PROXY`, and when the proxy is what fails, the error names its variable.
#[test]
fn loopback_bypasses_the_proxy_and_other_hosts_go_through_it() {
    let proxy = Stub::start(vec![]);
    let files = Files::new();
    let port = closed_port();
    let target = format!("http://127.0.0.1:{port}");
    let mut cmd = secret_token(&files, &target);
    let r = run(cmd.env("HTTP_PROXY", proxy.host()).arg("--no-cache"));
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("connection refused by 127.0.0.1"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("HTTP_PROXY"), "{}", r.stderr);
    assert_eq!(proxy.count(), 0);

    // A proxy that takes the connection and closes it: the request for another host went to
    // it (CONNECT, as for any https URL), and the error says the proxy is on the way.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let via = format!("http://{}", trap.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        use std::io::BufRead;
        let (conn, _) = trap.accept().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(&conn)
            .read_line(&mut first)
            .unwrap();
        first
    });
    let mut cmd = secret_token(&files, "https://login.example.test");
    let r = run(cmd
        .env("HTTPS_PROXY", &via)
        .args(["--no-cache", "--timeout", "10"]));
    assert_eq!(
        seen.join().unwrap().trim_end(),
        "CONNECT login.example.test:443 HTTP/1.1"
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("HTTPS_PROXY"), "{}", r.stderr);
}

#[test]
fn a_corrupt_cache_entry_is_set_aside_with_a_warning() {
    let stub = Stub::start(vec![]);
    let files = Files::new();
    let mut cmd = secret_token(&files, &stub.host());
    assert_eq!(run(&mut cmd).code, 0);
    let entry = files.cache_files().pop().unwrap();
    std::fs::write(&entry, "{\"token_type\":\"Bea").unwrap();

    let mut again = secret_token(&files, &stub.host());
    let r = run(&mut again);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, fake_jwt(2).as_str()),
        "{}",
        r.stderr
    );
    assert!(r.stderr.starts_with("warning: "), "{}", r.stderr);
    assert!(r.stderr.contains("set aside"), "{}", r.stderr);
    let mut aside = entry.clone().into_os_string();
    aside.push(".corrupt");
    assert!(Path::new(&aside).exists());
    let fresh: Value = serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
    assert_eq!(fresh["access_token"], fake_jwt(2));
}

#[test]
fn concurrent_runs_leave_one_valid_cache_entry() {
    let stub = Stub::start(vec![]);
    let files = Files::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            let mut cmd = crate::support::certgen_process();
            cmd.env("CERTGEN_CACHE_DIR", files.cache())
                .env_remove("HTTP_PROXY")
                .env_remove("http_proxy")
                .args([
                    "token",
                    "--force-refresh",
                    "--tenant",
                    TENANT,
                    "--client-id",
                    CLIENT_ID,
                ])
                .args(["--authority-host", &stub.host()])
                .arg("--cert")
                .arg(&files.cert)
                .arg("--key")
                .arg(&files.key)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(stub.count(), 8);
    let entries = files.cache_files();
    assert_eq!(entries.len(), 1, "no temporary files left: {entries:?}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&entries[0]).unwrap()).unwrap();
    let token = doc["access_token"].as_str().unwrap();
    assert!((1..=8).any(|n| token == fake_jwt(n)));
    // And it answers the next run.
    let mut cmd = cert_token(&files, &stub.host());
    assert_eq!(run(&mut cmd).stdout.trim(), token);
    assert_eq!(stub.count(), 8);
}

#[test]
fn an_opaque_token_has_null_claims_and_an_unusable_cache_only_warns() {
    let opaque = reply(
        200,
        r#"{"token_type":"bearer","expires_in":"600","access_token":"2YotnFZFEjr1zCsicMWpAA"}"#,
    );
    let stub = Stub::start(vec![opaque]);
    let files = Files::new();
    // The cache folder cannot be made: a file stands where it should be.
    std::fs::write(files.cache(), "not a folder").unwrap();
    let mut cmd = certgen_token(&files);
    cmd.args(["--client-id", "plain-client", "--token-endpoint"])
        .arg(stub.url())
        .arg("--secret-file")
        .arg(files.secret_file());
    let r = run(cmd.args(["--output", "json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["claims"], Value::Null);
    assert_eq!(doc["expires_in"], 600);
    assert_eq!(doc["access_token"], "2YotnFZFEjr1zCsicMWpAA");
    assert!(r.stderr.starts_with("warning: "), "{}", r.stderr);
    assert!(r.stderr.contains("not cached"), "{}", r.stderr);

    // The header form writes the scheme as RFC 6750 does, whatever case the server used.
    let stub = Stub::start(vec![reply(
        200,
        r#"{"token_type":"bearer","expires_in":600,"access_token":"abc"}"#,
    )]);
    let mut cmd = certgen_token(&files);
    cmd.args([
        "--client-id",
        "plain-client",
        "--no-cache",
        "--token-endpoint",
    ])
    .arg(stub.url())
    .arg("--secret-file")
    .arg(files.secret_file());
    let r = run(cmd.args(["--output", "header"]));
    assert_eq!(r.stdout, "Authorization: Bearer abc\n", "{}", r.stderr);
}
