//! The example API (`examples/protected_api.rs`) as its users run it: the built binary, started
//! with flags and environment variables against a stub identity provider, port 0, its JSON ready
//! line, a 200 and a 401 over real HTTP, SIGTERM → exit 0; and its start-up errors.
//!
//! `cargo test` builds examples (.ci/run also runs `cargo build --example protected_api` first);
//! `cargo test --test it` alone does not, and then uses whatever binary an earlier build left.
//! Without one the tests are skipped (they fail under CI=true).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::verify::*;
use serde_json::{json, Value};

const EXAMPLE: &str = "protected_api";

/// The example with only the given configuration (no API_* variables from the caller's shell).
fn example(args: &[&str], env: &[(&str, &str)]) -> Option<Command> {
    let mut cmd = Command::new(crate::support::require::example(EXAMPLE)?);
    for var in [
        "API_AUTHORITY",
        "API_AUDIENCE",
        "API_REQUIRED_ROLE",
        "API_ISSUER",
        "API_CA_FILE",
        "API_LISTEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args).envs(env.iter().copied());
    Some(cmd)
}

/// A running example; killed if a test fails before it has stopped it.
struct Running {
    child: Child,
    ready: Value,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        // Read the ready line on a thread so a hung start-up fails the test instead of blocking it.
        let (send, receive) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            let read = stdout.read_line(&mut line);
            let _ = send.send(read.map(|_| line));
            stdout
        });
        let line = match receive.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(line)) => line,
            other => {
                let _ = child.kill();
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                panic!("no ready line ({other:?}); stderr: {stderr}");
            }
        };
        let stdout = reader.join().expect("reader thread");
        let ready: Value = serde_json::from_str(line.trim_end())
            .unwrap_or_else(|e| panic!("ready line {line:?} is not JSON: {e}"));
        Running {
            child,
            ready,
            stdout,
        }
    }

    fn listen(&self) -> &str {
        self.ready["listen"].as_str().expect("listen")
    }

    /// SIGTERM, as `kill` and container runtimes send it; then the exit status and the output.
    fn terminate(mut self) -> (Option<i32>, String, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        self.stdout
            .read_to_string(&mut stdout)
            .expect("read stdout");
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut stderr).expect("read stderr");
        }
        (status.code(), stdout, stderr)
    }
}

/// One HTTP/1.1 GET over a plain socket: the status, the `WWW-Authenticate` value, the body.
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let challenge = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("www-authenticate")
            .then(|| value.trim().to_string())
    });
    (status, challenge, body.to_string())
}

fn lines_starting_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run the example")
}

#[test]
fn serves_on_port_0_answers_200_and_401_and_stops_on_sigterm() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    // Authority and listen address by flag; audiences (a comma list) and role by environment.
    let Some(example) = example(
        &[
            "--authority",
            &idp.authority(TENANT),
            "--listen",
            "127.0.0.1:0",
        ],
        &[
            ("API_AUDIENCE", &format!("api://other,{API}")),
            ("API_REQUIRED_ROLE", "Data.Read"),
        ],
    ) else {
        return;
    };
    let api = Running::start(example);
    let addr = api.listen().to_string();
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{}",
        api.ready
    );
    assert_eq!(
        api.ready,
        json!({"listen": addr, "url": format!("http://{addr}/")})
    );

    let token = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]));
    let (status, challenge, body) = get(&addr, "/", Some(&token));
    assert_eq!(status, 200, "{body}");
    assert_eq!(challenge, None);
    let body: Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["message"], json!(format!("Hello, {CLIENT}!")));
    assert_eq!(body["roles"], json!(["Data.Read"]));

    let (status, challenge, _) = get(&addr, "/", None);
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    let no_role = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]));
    let (status, challenge, _) = get(&addr, "/", Some(&no_role));
    assert_eq!(status, 403);
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.starts_with("Bearer error=\"insufficient_scope\"")),
        "{challenge:?}"
    );

    let (code, stdout, stderr) = api.terminate();
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stdout, "", "only the ready line on stdout");
    assert!(
        stderr.contains("GET / -> 401") && stderr.contains("GET / -> 403"),
        "{stderr}"
    );
}

#[test]
fn bad_flag_is_one_error_line_and_a_usage_exit() {
    let Some(mut bogus) = example(&["--bogus"], &[]) else {
        return;
    };
    let out = run(&mut bogus);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        lines_starting_with(&stderr, "error:"),
        ["error: unexpected argument '--bogus' found"],
        "{stderr}"
    );

    // A required setting given neither as flag nor as variable.
    let out = run(&mut example(&["--audience", API], &[]).unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(lines_starting_with(&stderr, "error:").len(), 1, "{stderr}");
    assert!(stderr.contains("--authority"), "{stderr}");
}

#[test]
fn unreachable_authority_stops_start_up_before_listening() {
    // Port 9 on loopback: nothing listens there.
    let Some(mut example) = example(
        &["--listen", "127.0.0.1:0"],
        &[
            ("API_AUTHORITY", "http://127.0.0.1:9/t"),
            ("API_AUDIENCE", API),
        ],
    ) else {
        return;
    };
    let out = run(&mut example);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no ready line");
    assert_eq!(lines_starting_with(&stderr, "error:").len(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "error: cannot reach http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration: "
        ),
        "{stderr}"
    );
}
