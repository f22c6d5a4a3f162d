//! `certgen call` against a real `certgen serve` on loopback: a 200 with the body on stdout,
//! `--all` over three pages, the 403 of a missing Graph role with the portal hint, a 401 for a
//! token of another audience, 503 retried as `Retry-After` says, the token cache shared with
//! `certgen token`, and exit 4 when the API cannot be reached.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::graph::*;
use crate::support::serve::*;
use crate::support::{assert_clean_failure, certgen, certgen_on_terminal};
use serde_json::Value;

/// `certgen call URL` as READER (or `client_id`) with the fixture certificate, trusting the
/// service, with its own token cache.
pub(crate) fn call(s: &Server, cache: &Path, client_id: &str, args: &[&str]) -> Output {
    let f = fixture();
    let mut cmd = certgen();
    cmd.arg("call")
        .args(args)
        .args(["--tenant", TENANT, "--client-id", client_id])
        .arg("--cert")
        .arg(&f.main.cert_pem)
        .arg("--key")
        .arg(&f.main.key_pem)
        .args(["--authority-host", &s.base()])
        .env("CERTGEN_CACHE_DIR", cache);
    if let Some(ca) = s.ready["ca_file"].as_str() {
        cmd.args(["--ca-file", ca]);
    }
    cmd.output().unwrap()
}

fn json_stdout(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the body on stdout is JSON")
}

fn upns(doc: &Value) -> Vec<&str> {
    doc["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect()
}

/// Token requests the service logged (one line per request).
fn token_requests(s: &Server) -> usize {
    s.log_text()
        .lines()
        .filter(|l| l.contains("/oauth2/v2.0/token"))
        .count()
}

#[test]
fn a_200_prints_the_body_and_the_token_comes_from_the_shared_cache() {
    let g = graph();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let users = format!("{}/users", s.field("graph"));

    let out = call(&s, cache.path(), READER, &[&users]);
    let doc = json_stdout(&out);
    assert_eq!(upns(&doc), USERS);
    assert_eq!(
        doc["@odata.context"],
        format!("{}/v1.0/$metadata#users", s.base())
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Not a terminal: the body as the service sent it, ended by a newline.
    let direct = std::process::Command::new("curl")
        .args(["-sf", "--cacert", s.ready["ca_file"].as_str().unwrap()])
        .args([
            "-H",
            &format!("Authorization: Bearer {}", cached_token(&s, cache.path())),
        ])
        .arg(&users)
        .output()
        .unwrap();
    assert!(direct.status.success());
    assert!(!direct.stdout.ends_with(b"\n"), "serve sends no newline");
    assert_eq!(out.stdout, [direct.stdout, b"\n".to_vec()].concat());

    // The second call and `certgen token` for the derived scope answer from the same cache.
    let before = token_requests(&s);
    let again = call(&s, cache.path(), READER, &[&format!("{users}/{ADA_ID}")]);
    assert_eq!(json_stdout(&again)["displayName"], "Ada Lovelace");
    assert_eq!(token_requests(&s), before);
}

/// The token `certgen token` has cached for Graph (no network: a cache hit).
fn cached_token(s: &Server, cache: &Path) -> String {
    let f = fixture();
    let out = certgen()
        .args(["token", "--tenant", TENANT, "--client-id", READER])
        .arg("--cert")
        .arg(&f.main.cert_pem)
        .arg("--key")
        .arg(&f.main.key_pem)
        .args(["--authority-host", &s.base(), "--output", "json"])
        .args(["--ca-file", s.ready["ca_file"].as_str().unwrap()])
        .env("CERTGEN_CACHE_DIR", cache)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["source"], "cache", "{doc}");
    doc["access_token"].as_str().unwrap().to_string()
}

#[test]
fn all_follows_three_pages_into_one_document() {
    let g = graph();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let url = format!(
        "{}/users?$top=2&$select=id,userPrincipalName",
        s.field("graph")
    );

    let one_page = json_stdout(&call(&s, cache.path(), READER, &[&url]));
    assert_eq!(one_page["value"].as_array().unwrap().len(), 2);
    assert!(one_page["@odata.nextLink"].is_string());

    let all = json_stdout(&call(&s, cache.path(), READER, &[&url, "--all"]));
    assert_eq!(upns(&all), USERS);
    assert!(all.get("@odata.nextLink").is_none(), "{all}");
    assert_eq!(
        all["@odata.context"],
        format!("{}/v1.0/$metadata#users(id,userPrincipalName)", s.base())
    );
    let pages = s
        .log_text()
        .lines()
        .filter(|l| l.contains("GET /v1.0/users 200"))
        .count();
    assert_eq!(pages, 1 + 3, "{}", s.log_text());
}

#[test]
fn a_missing_graph_role_is_one_error_line_and_the_grant_to_ask_for() {
    let g = graph();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let out = call(
        &s,
        cache.path(),
        BARE,
        &[&format!("{}/users", s.field("graph"))],
    );
    let line = assert_clean_failure(&out, 3);
    assert_eq!(
        line,
        "error: 403 Forbidden: Authorization_RequestDenied: Insufficient privileges to complete the operation."
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("this call needs User.Read.All on Microsoft Graph"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "API permissions → Add a permission → Microsoft Graph → Application permissions → User.Read.All, then Grant admin consent"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--force-refresh"), "{stderr}");
    assert!(
        stderr.contains("\"https://graph.microsoft.com\" = [\"User.Read.All\"] under [app.roles]"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: request-id "), "{stderr}");

    // --include shows the answer itself too: status line, Graph's headers, the envelope.
    let out = call(
        &s,
        cache.path(),
        BARE,
        &[&format!("{}/users", s.field("graph")), "--include"],
    );
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 403 Forbidden\n"), "{text}");
    assert!(text.contains("\nrequest-id: "), "{text}");
    let body = text.split("\n\n").nth(1).unwrap();
    let doc: Value = serde_json::from_str(body).unwrap();
    assert_graph_error(
        403,
        &doc,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );
}

#[test]
fn a_token_for_another_audience_gets_401_and_the_scope_hint() {
    let g = graph();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let out = call(
        &s,
        cache.path(),
        READER,
        &[
            &format!("{}/users", s.field("graph")),
            "--scope",
            "api://legacy/.default",
        ],
    );
    let line = assert_clean_failure(&out, 3);
    assert_eq!(
        line,
        "error: 401 Unauthorized: InvalidAuthenticationToken: Access token validation failure. Invalid audience."
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the token is for 'api://legacy'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--scope https://graph.microsoft.com/.default"),
        "{stderr}"
    );
    // The 401 came again with a new token: not a stale cached one.
    assert!(
        stderr.contains("the token was new, not a stale cached one"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_api_is_exit_4_and_bad_input_is_refused_before_any_request() {
    let g = graph();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    // A port nothing listens on (bound, then released).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let out = call(
        &s,
        cache.path(),
        READER,
        &[
            &format!("https://127.0.0.1:{port}/v1.0/users"),
            "--scope",
            "https://graph.microsoft.com/.default",
        ],
    );
    let line = assert_clean_failure(&out, 4);
    assert!(
        line.contains("cannot reach the API") && line.contains("connection refused"),
        "{line}"
    );

    let graph_users = format!("{}/users", s.field("graph"));
    for (args, code) in [
        (vec![graph_users.as_str(), "--header", "no colon"], 2),
        (
            vec![graph_users.as_str(), "--header", "Authorization: Bearer x"],
            2,
        ),
        (vec![graph_users.as_str(), "--all", "--method", "POST"], 2),
        (vec!["http://example.com/v1.0/users"], 2),
        (
            vec![
                graph_users.as_str(),
                "--method",
                "POST",
                "--data",
                "@/nonexistent/body.json",
            ],
            1,
        ),
    ] {
        let out = call(&s, cache.path(), READER, &args);
        assert_clean_failure(&out, code);
    }
}

#[test]
fn a_body_from_a_file_is_sent_and_graphs_answer_explained() {
    let g = graph();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let body = cache.path().join("user.json");
    std::fs::write(&body, r#"{"displayName":"New"}"#).unwrap();
    let out = call(
        &s,
        cache.path(),
        READER,
        &[
            &format!("{}/users", s.field("graph")),
            "--method",
            "POST",
            "--data",
            &format!("@{}", body.display()),
        ],
    );
    // The reader may read users but not make one (User.ReadWrite.All): Graph's 403, said in
    // one line.
    let line = assert_clean_failure(&out, 3);
    assert_eq!(
        line,
        "error: 403 Forbidden: Authorization_RequestDenied: Insufficient privileges to complete the operation."
    );
}

#[test]
fn a_503_is_retried_after_retry_after() {
    let g = graph();
    let s = g.start(&["--http", "--max-in-flight", "1"]);
    let cache = tempfile::tempdir().unwrap();
    let users = format!("{}/users", s.field("graph"));
    // The token is cached first, so only the API call meets the full service.
    json_stdout(&call(&s, cache.path(), READER, &[&users]));

    let held = HeldRequest::open(&s.field("listen"), "https://graph.microsoft.com/.default");
    let log = s.log.clone();
    // The slot is freed once the call has met its 503, so the retry finds the service free.
    let release = std::thread::spawn(move || {
        crate::support::wait_until(Duration::from_secs(20), "a 503 for /v1.0/users", || {
            std::fs::read_to_string(&log).is_ok_and(|l| {
                l.lines()
                    .any(|l| l.contains("GET /v1.0/users ") && l.contains(" 503"))
            })
        });
        held.finish()
    });
    let out = call(&s, cache.path(), READER, &[&users]);
    // The held request is for an app this config does not know: any answer frees the slot.
    assert!(release.join().unwrap().starts_with("HTTP/1.1 "));
    assert_eq!(upns(&json_stdout(&out)), USERS);
    let log = s.log_text();
    let statuses: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("GET /v1.0/users "))
        .collect();
    assert!(
        statuses.len() >= 3 && statuses.iter().any(|l| l.contains(" 503")),
        "{log}"
    );
}

#[test]
fn on_a_terminal_the_json_is_pretty_printed() {
    let g = graph();
    let s = g.start(&[]);
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/users/{ADA_ID}?$select=displayName", s.field("graph"));
    let Some((code, screen)) = certgen_on_terminal(
        dir.path(),
        &[
            "call",
            &url,
            "--tenant",
            TENANT,
            "--client-id",
            READER,
            "--cert",
            f.main.cert_pem.to_str().unwrap(),
            "--key",
            f.main.key_pem.to_str().unwrap(),
            "--authority-host",
            &s.base(),
            "--ca-file",
            s.ready["ca_file"].as_str().unwrap(),
            "--no-cache",
        ],
        &[],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("{\n  \"@odata.context\": ")
            && screen.contains("\n  \"displayName\": \"Ada Lovelace\"\n}"),
        "{screen}"
    );
}

/// An `@odata.nextLink` that points back at a page already read stops `--all` at once, naming
/// the page (it once grew certgen to 3 GB in 8 s), after one token request and one page.
#[test]
fn a_next_link_that_loops_stops_at_the_page_that_repeats_it() {
    use crate::support::token_stub::{ok, reply, Stub, CLEAN_ENV};
    let stub = Stub::start(vec![ok(1)]);
    let users = format!("{}/v1.0/users", stub.host());
    stub.push(reply(
        200,
        serde_json::json!({"value": [{"id": "1"}], "@odata.nextLink": users}).to_string(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "s3cret\n").unwrap();
    crate::support::private(&secret);
    let mut cmd = certgen();
    for var in CLEAN_ENV {
        cmd.env_remove(var);
    }
    let out = cmd
        .args(["call", &users, "--all", "--client-id", "loop-app"])
        .args(["--token-endpoint", &format!("{}/token", stub.host())])
        .args([
            "--scope",
            "https://graph.microsoft.com/.default",
            "--no-cache",
        ])
        .arg("--secret-file")
        .arg(&secret)
        .env("CERTGEN_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let err = assert_clean_failure(&out, 1);
    assert!(err.contains("paging stopped at page 1"), "{err}");
    assert!(err.contains("followed before"), "{err}");
    assert_eq!(stub.count(), 2, "one token request and one page");
}

/// A cached token the API no longer takes (here its signature broken in the cache, as a token
/// signed by an earlier serve's key would be): the 401 is retried once with a new token, which
/// the API takes, and the new token replaces the stale one in the cache.
#[test]
fn a_stale_cached_token_is_replaced_once_on_a_401() {
    let g = graph();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let users = format!("{}/users", s.field("graph"));
    json_stdout(&call(&s, cache.path(), READER, &[&users]));
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let mut entry: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let token = entry["access_token"].as_str().unwrap().to_string();
    let (signed, _) = token.rsplit_once('.').unwrap();
    entry["access_token"] = Value::String(format!("{signed}.c2lnbmF0dXJl"));
    std::fs::write(&files[0], entry.to_string()).unwrap();
    let before = token_requests(&s);

    let out = call(&s, cache.path(), READER, &[&users]);
    assert_eq!(upns(&json_stdout(&out)), USERS);
    assert_eq!(token_requests(&s), before + 1, "one new token");
    let now: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_ne!(
        now["access_token"], entry["access_token"],
        "the cache holds the new token"
    );
}
