//! `certgen serve` as a process: ready line, state folder made once and reused, clean exit on
//! SIGTERM/SIGINT, limits, concurrency, logs, and start-up errors.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::read_once;
use crate::support::serve::*;
use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::Value;

fn signal(server: &mut Server, name: &str) -> i32 {
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args([name, &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status.code().expect("exited, not killed by the signal");
        }
        assert!(Instant::now() < deadline, "still running after {name}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A stop sent the moment the ready line is read is a clean stop too: the handlers are in
/// place before the line is printed (once, a SIGTERM that came first killed it by default).
#[test]
fn a_stop_right_after_the_ready_line_is_clean() {
    for sig in ["-TERM", "-INT", "-TERM", "-INT"] {
        let mut s = Server::start();
        assert_eq!(signal(&mut s, sig), 0, "{sig}");
    }
}

#[tokio::test]
async fn sigterm_and_sigint_stop_it_with_exit_0() {
    for sig in ["-TERM", "-INT"] {
        let mut s = Server::start();
        // A request first, so the stop also covers a used, kept-alive connection.
        let (status, _) = s.secret_grant(SECRET, "api://orders/.default").await;
        assert_eq!(status, 200);
        assert_eq!(signal(&mut s, sig), 0, "{sig}");
        assert!(s.log_text().contains("certgen serve: stopped"));
    }
}

#[tokio::test]
async fn state_folder_is_made_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let first = Server::start_in(&state, &[]);
    let ca = first.field("ca_file");
    assert_eq!(std::path::Path::new(&ca), state.join("tls-cert.pem"));
    let pem = std::fs::read(&ca).unwrap();
    // The localhost certificate has the spec's SANs, as openssl reads them.
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in", &ca])
        .output()
        .unwrap();
    let sans = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        sans.contains("DNS:localhost")
            && sans.contains("IP Address:127.0.0.1")
            && sans.contains("IP Address:0:0:0:0:0:0:0:1"),
        "{sans}"
    );
    #[cfg(unix)]
    for key in ["tls-key.pem", "signing-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join(key))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{key}");
    }
    // No apps: the banner says so, and the default tenant is announced.
    let authority = first.field("authority");
    assert!(
        authority.ends_with("/11111111-1111-1111-1111-111111111111"),
        "{authority}"
    );
    let jwks1 = first.get_json(&first.field("jwks_uri")).await;
    drop(first);

    let second = Server::start_in(&state, &[]);
    assert_eq!(
        std::fs::read(&ca).unwrap(),
        pem,
        "the TLS certificate is kept"
    );
    let jwks2 = second.get_json(&second.field("jwks_uri")).await;
    assert_eq!(
        jwks1["keys"][0]["kid"], jwks2["keys"][0]["kid"],
        "the signing key is kept"
    );
    let log = second.log_text();
    assert!(!log.contains("made a new"), "{log}");
}

/// Sends raw HTTP/1.1 and returns the status line. Raw, because a client still writing a body
/// the server has refused may see its connection reset before it reads the 413.
fn raw_status(listen: &str, head: &str, body: &[u8]) -> String {
    use std::io::Write;
    let mut tcp = std::net::TcpStream::connect(listen).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(body).unwrap();
    let mut buf = [0u8; 512];
    let n = read_once(&mut tcp, &mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn oversized_body_gets_413_and_the_service_lives_on() {
    let s = Server::with_args(&["--http"]);
    let listen = s.field("listen");
    let path = format!("/{TENANT}/oauth2/v2.0/token");
    // Announced too large: refused from the headers, before any body byte is read.
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {listen}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 204800\r\n\r\n"
    );
    assert_eq!(
        raw_status(&listen, &head, b""),
        "HTTP/1.1 413 Payload Too Large"
    );
    // Chunked, no length: refused once the stream passes the limit.
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {listen}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let chunk = format!("10001\r\n{}\r\n", "a".repeat(0x10001));
    assert_eq!(
        raw_status(&listen, &head, chunk.as_bytes()),
        "HTTP/1.1 413 Payload Too Large"
    );
    let (status, _) = s.secret_grant(SECRET, "api://orders/.default").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn concurrent_clients() {
    let s = Server::start();
    let f = fixture();
    let client = s.client();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = client.clone();
        let url = s.token_url(TENANT);
        let jwt = if i % 2 == 0 {
            ps256(&s, &f.main)
        } else {
            rs256(&s, &f.second)
        };
        tasks.push(tokio::spawn(async move {
            post_form(
                &client,
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", APP),
                    ("scope", "api://orders/.default"),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &jwt),
                ],
            )
            .await
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn past_max_in_flight_it_answers_503_at_once_and_recovers() {
    let s = Server::with_args(&["--http", "--max-in-flight", "1"]);
    let scope = "api://orders/.default";
    // A client that sends its headers and then stalls holds the only slot.
    let held = HeldRequest::open(&s.field("listen"), scope);

    let started = Instant::now();
    let resp = s
        .client()
        .post(s.token_url(TENANT))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    let status = resp.status().as_u16();
    let retry_after = resp.headers().get("retry-after").cloned();
    let body: Value = resp.json().await.unwrap();
    assert_refusal(&(status, body), 503, "temporarily_unavailable", 90055);
    assert_eq!(retry_after.unwrap(), "1");
    // Answered at once, not queued behind the stalled request (whose limit is 30 s).
    assert!(waited < Duration::from_secs(5), "took {waited:?}");

    // The stalled request completes normally, and its slot is free again.
    assert_eq!(held.finish(), "HTTP/1.1 200 OK");
    let (status, body) = s.secret_grant(SECRET, scope).await;
    assert_eq!(status, 200, "{body}");
    let log = s.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains(" 503 ") && l.contains("AADSTS90055")),
        "{log}"
    );
}

#[test]
fn a_connection_that_never_sends_a_request_is_closed() {
    // Takes the 10 s header deadline to run: the slowest test here, and the only guard
    // against a client holding sockets open forever by sending nothing.
    let s = Server::with_args(&["--http"]);
    let mut tcp = std::net::TcpStream::connect(s.field("listen")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(25))).unwrap();
    let started = Instant::now();
    match read_once(&mut tcp, &mut [0u8; 64]) {
        Ok(0) => {}
        Ok(n) => panic!("{n} bytes from a server that was sent nothing"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("still open after {:?}: {e}", started.elapsed()),
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn max_in_flight_must_be_at_least_one() {
    Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["serve", "--max-in-flight", "0"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("--max-in-flight"));
}

#[tokio::test]
async fn plain_http_on_loopback_only() {
    let s = Server::with_args(&["--http"]);
    assert!(s.ready["ca_file"].is_null());
    assert!(s.field("token_endpoint").starts_with("http://127.0.0.1:"));
    let (status, body) = s.secret_grant(SECRET, "api://orders/.default").await;
    assert_eq!(status, 200, "{body}");

    let f = fixture();
    Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["serve", "--http", "--listen", "0.0.0.0:0", "--state-dir"])
        .arg(&f.state)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::starts_with("error: --http").and(predicate::str::contains("loopback")),
        );
}

#[tokio::test]
async fn one_json_log_line_per_request_without_secrets() {
    let s = Server::with_args(&["--json"]);
    let f = fixture();
    let jwt = ps256(&s, &f.main);
    let (status, body) = s.assertion_grant(&jwt, "api://orders/.default").await;
    assert_eq!(status, 200);
    let token = body["access_token"].as_str().unwrap().to_string();
    let (status, _) = s
        .secret_grant("wrong-secret-value", "api://orders/.default")
        .await;
    assert_eq!(status, 401);
    // The log is written after the response; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines: Vec<Value> = loop {
        let lines: Vec<Value> = s
            .log_text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.len() >= 2 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(lines.len(), 2, "{}", s.log_text());
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["client_id"], APP);
    assert!(lines[0]["aadsts"].is_null());
    assert!(lines[0]["duration_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(lines[1]["status"], 401);
    assert_eq!(lines[1]["aadsts"], 7000215);
    let log = s.log_text();
    for secret in [SECRET, "wrong-secret-value", jwt.as_str(), token.as_str()] {
        assert!(!log.contains(secret), "the log holds a secret or token");
    }
}

#[test]
fn start_up_errors_are_one_line_and_exit_1() {
    let f = fixture();
    Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&f.state)
        .args(["--app", &format!("{APP}=/nonexistent/app.cer")])
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::starts_with(
            "error: cannot read /nonexistent/app.cer",
        ));
    Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&f.state)
        .args([
            "--app-secret",
            &format!("{APP}=CERTGEN_TEST_UNSET_VARIABLE"),
        ])
        .env_remove("CERTGEN_TEST_UNSET_VARIABLE")
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("CERTGEN_TEST_UNSET_VARIABLE")
                .and(predicate::str::contains("hint: export")),
        );
    Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["serve", "--app", "not-a-pair"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("error: --app 'not-a-pair'"));
}

#[tokio::test]
async fn odd_requests_never_bring_it_down() {
    let s = Server::start();
    let client = s.client();
    let base = s.base();
    let token_url = s.token_url(TENANT);
    // Binary bodies, invalid UTF-8 and percent-escapes, thousands of fields, odd paths.
    let binary: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let many_fields = (0..3000)
        .map(|i| format!("f{i}=v"))
        .collect::<Vec<_>>()
        .join("&");
    let bodies: Vec<Vec<u8>> = vec![
        binary,
        b"grant_type=client_credentials&client_id=%FF%FE&client_secret=%&scope=%zz".to_vec(),
        many_fields.into_bytes(),
        b"client_assertion=\xff\xfe.\x00.\x01&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&grant_type=client_credentials&client_id=6f1c5e8a-0000-4000-8000-000000000001&scope=api://orders/.default".to_vec(),
    ];
    for body in bodies {
        let resp = client.post(&token_url).body(body).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{}", resp.status());
    }
    for path in [
        "/%FF/oauth2/v2.0/token",
        "/a/b/c/d/e",
        "/..%2F..%2Fetc/passwd",
        "/x/discovery/keys",
    ] {
        let resp = client.post(format!("{base}{path}")).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
    }
    // Basic credentials that are not base64, not UTF-8 once decoded ("\xff\xfe:x"), or empty.
    for auth in [
        "Basic %%%not-base64",
        "Basic //46eA==",
        "Basic ",
        "Basic Og==",
    ] {
        let resp = client
            .post(&token_url)
            .header("authorization", auth)
            .body("grant_type=client_credentials&scope=api://orders/.default")
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{auth}: {}", resp.status());
    }
    assert_eq!(s.get_json(&format!("{base}/health")).await["status"], "ok");
    let (status, _) = s.secret_grant(SECRET, "api://orders/.default").await;
    assert_eq!(status, 200, "still serving");
}

#[tokio::test]
async fn serves_a_tls_certificate_of_your_own() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("tls.cnf");
    std::fs::write(
        &conf,
        "[req]\ndistinguished_name=dn\nx509_extensions=v3\nprompt=no\n[dn]\nCN=localhost\n\
         [v3]\nbasicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n\
         extendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-config",
        ])
        .arg(&conf)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap()
        .status
        .success();
    assert!(ok, "openssl req");
    let s = Server::start_in(
        &dir.path().join("state"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(s.field("ca_file"), cert.to_str().unwrap());
    assert!(
        !dir.path().join("state/tls-cert.pem").exists(),
        "no localhost certificate is made when one is given"
    );
    assert_eq!(
        s.get_json(&format!("{}/health", s.base())).await["status"],
        "ok"
    );
}

/// A directory of hundreds of users is summarised in the banner (counts and the first few
/// names), not printed as one line of kilobytes.
#[test]
fn banner_summarises_many_users() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("[[tenant]]\nid = \"2e3c5b6a-7d8e-4f90-a1b2-c3d4e5f60718\"\n");
    for i in 0..300 {
        config.push_str(&format!(
            "[[user]]\nuser_principal_name = \"user{i:03}@contoso.example\"\n"
        ));
    }
    let path = dir.path().join("many-users.toml");
    std::fs::write(&path, config).unwrap();
    let s = Server::start_in(
        &dir.path().join("state"),
        &["--config", path.to_str().unwrap()],
    );
    // The banner is written before the ready line, so it is complete once the server is ready.
    let log = s.log_text();
    let users = log
        .lines()
        .find(|l| l.trim_start().starts_with("users"))
        .unwrap_or_else(|| panic!("no users line in the banner:\n{log}"));
    assert!(users.contains("300: "), "{users}");
    assert!(users.contains("user000@contoso.example"), "{users}");
    assert!(users.contains("and 295 more"), "{users}");
    assert!(!users.contains("user299@contoso.example"), "{users}");
    assert!(users.len() < 300, "a short line: {users}");
    let banner_end = log
        .find("stop with Ctrl-C")
        .expect("the banner's last line");
    assert!(banner_end < 2_000, "the whole banner stays short:\n{log}");
}

/// Whether openssl, trusting only `ca_file`, accepts the certificate served on `port` for
/// `servername` (`-verify_return_error`: a failed verification ends the handshake).
fn s_client_verifies(port: &str, ca_file: &str, servername: &str) -> (bool, String) {
    let out = crate::support::openssl_output(&[
        "s_client",
        "-connect",
        &format!("127.0.0.1:{port}"),
        "-servername",
        servername,
        "-CAfile",
        ca_file,
        "-verify_return_error",
        "-brief",
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Issue 19 item 5 and issue 20: four serves started at the same moment on a new state folder
/// agree on one TLS certificate, one signing key, one proxy CA and one database (the folder's
/// lock), so the `ca_file` (and `proxy_ca_file`) of each ready line verifies that process's own
/// listener. That they see each other's writes: `kept.rs`.
#[tokio::test]
async fn parallel_first_starts_share_one_state() {
    if crate::support::require::openssl().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("fresh");
    let servers: Vec<Server> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Server::start_in(&state, &["--proxy"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut jwks = Vec::new();
    for s in &servers {
        let listen = s.field("listen");
        let port = listen.rsplit(':').next().unwrap();
        let (ok, text) = s_client_verifies(port, &s.field("ca_file"), "localhost");
        assert!(ok, "ca_file does not verify {listen}: {text}");
        let (ok, text) =
            s_client_verifies(port, &s.field("proxy_ca_file"), "login.microsoftonline.com");
        assert!(ok, "proxy_ca_file does not verify {listen}'s leaf: {text}");
        // The key itself (the `issuer` of each entry names the process's own port).
        let keys = s.get_json(&s.field("jwks_uri")).await;
        let kids: Vec<(String, String)> = keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["kid"].to_string(), k["n"].to_string()))
            .collect();
        jwks.push(kids);
    }
    assert!(jwks.windows(2).all(|w| w[0] == w[1]), "{jwks:?}");
    // One database between them (SQLite's side files aside), which each reads as ready.
    let mut files: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("sqlite"))
        .filter(|n| !n.ends_with("-wal") && !n.ends_with("-shm"))
        .collect();
    files.sort();
    assert_eq!(files, ["directory.sqlite3"]);
    let mut counts = Vec::new();
    for s in &servers {
        let ready = s.get_json(&format!("{}/ready", s.base())).await;
        assert_eq!(ready["status"], "ready", "{ready}");
        counts.push(ready["directory"].clone());
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
}

/// The wait the documentation gives scripts (docs/serve.md, "The ready line").
const DOCUMENTED_WAIT: &str =
    "until [ -s ready.json ] || ! kill -0 $! 2>/dev/null; do sleep 0.1; done; [ -s ready.json ]";

/// Runs `script` with `bash -eu` in `dir` (the certgen under test first on PATH); its exit
/// code, or a failure when it runs past `limit` (then it is killed).
fn bash_within(dir: &std::path::Path, script: &str, limit: Duration) -> i32 {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_certgen"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .args(["-euc", script])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove(SECRET_VAR)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the script still waits after {limit:?}: {script}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 19 item 14: `--ready-file` is written once serve listens (the ready line, whole) and
/// removed when it exits; with the documented wait, a script whose serve fails at start (a
/// missing secret variable) ends at once with a non-zero status instead of waiting forever.
#[test]
fn ready_file_and_the_documented_wait_end_when_serve_fails() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!("[[app]]\nclient_id = \"{APP}\"\nsecret_env = [\"CERTGEN_TEST_NOT_SET\"]\n"),
    )
    .unwrap();
    // A file of an earlier run (the documented start line removes it first).
    std::fs::write(dir.path().join("ready.json"), "{\"stale\":true}\n").unwrap();
    let script = format!(
        "rm -f ready.json; certgen serve --config {} --state-dir {} --listen 127.0.0.1:0 \
         --ready-file ready.json >/dev/null &\n\
         {DOCUMENTED_WAIT}\n",
        config.display(),
        state.display()
    );
    let started = Instant::now();
    let code = bash_within(dir.path(), &script, Duration::from_secs(30));
    assert_ne!(code, 0);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(!dir.path().join("ready.json").exists());

    // A serve that starts: the file holds the ready line, and goes when serve stops.
    let ready_file = dir.path().join("ok-ready.json");
    let mut s = Server::start_in(&state, &["--ready-file", ready_file.to_str().unwrap()]);
    crate::support::require::wait_until(Duration::from_secs(10), "the ready file", || {
        ready_file.exists()
    });
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    assert_eq!(written, s.ready);
    assert_eq!(signal(&mut s, "-TERM"), 0);
    assert!(!ready_file.exists());
}

/// Issue 19 item 17: a TOML error in the config names the file, line and column of the fault
/// (`serve.toml:3:23: …`), as compilers and editors print a position.
#[test]
fn a_toml_error_names_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    // Line 3: an unterminated basic string; toml points past its last character, column 23
    // (counted in characters: the `é` is two bytes).
    std::fs::write(
        &config,
        format!("[[app]]\nclient_id = \"{APP}\"\ndisplay_name = \"é oops\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("error: {}:3:23: ", config.display())),
        "{stderr}"
    );
    assert!(first.contains("invalid basic string"), "{stderr}");
}
