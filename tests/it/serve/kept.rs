//! What `certgen serve` keeps in its state folder's database (docs/serve.md, "What serve
//! keeps"): each kind of write answered 2xx, then SIGKILL, then a start on the same folder —
//! everything is there and the tokens it implies work. Failures of the database (damaged,
//! newer, deleted while serving, a full disk, a read-only folder) are one `error:` line at
//! start or a 503 while serving, and never lose or rewrite what was committed; `--reset`;
//! `/ready`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::rollkey::{action, add_key, proof, registered, token_with};
use super::signin::{
    authorize, authorize_url, browser, code, config as signin_config, field, location_fields,
    poll_device, redeem, sign_in, start_device_flow, web_params, ADELE,
};
use crate::support::graph::*;
use crate::support::serve::*;

const DB: &str = "directory.sqlite3";

/// The `certgen_session=…` cookie a redirect sets.
fn session_cookie(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("certgen_session=") && c.len() > "certgen_session=".len())
        .expect("a session cookie")
}

async fn refresh(s: &Server, rt: &str) -> (u16, Value) {
    s.post_token(&[
        ("grant_type", "refresh_token"),
        ("client_id", APP),
        ("client_secret", SECRET),
        ("refresh_token", rt),
        ("scope", "User.Read offline_access"),
    ])
    .await
}

/// A code, a refresh token, a browser session and a device code, each answered, then SIGKILL:
/// after a start on the same folder the code redeems once (then 54005), the code spent before
/// the kill stays spent, the refresh token redeems, the session signs the browser in without
/// the page, and the device code is still pending.
#[tokio::test]
async fn sign_in_state_survives_sigkill() {
    let config = signin_config();
    let args = ["--config", config.to_str().unwrap()];
    let state = fresh_state(&fixture().state);
    let mut s = Server::start_in(&state, &args);
    let b = browser(&s);
    let back = sign_in(&s, &b, &web_params(&[]), ADELE).await;
    assert_eq!(back.status(), 302);
    let session = session_cookie(&back);
    let (_, fields) = location_fields(&back);
    let unspent = field(&fields, "code").unwrap().to_string();
    // The session alone: a code without the page.
    let again = b
        .get(authorize_url(&s, &web_params(&[])))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 302);
    let (_, fields) = location_fields(&again);
    let spent = field(&fields, "code").unwrap().to_string();
    let (status, tokens) = redeem(&s, &spent, &[]).await;
    assert_eq!(status, 200, "{tokens}");
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let device = start_device_flow(&s, "User.Read").await;
    s.sigkill();

    let s = Server::start_in(&state, &args);
    let (status, body) = redeem(&s, &unspent, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_refusal(
        &redeem(&s, &unspent, &[]).await,
        400,
        "invalid_grant",
        54005,
    );
    assert_refusal(&redeem(&s, &spent, &[]).await, 400, "invalid_grant", 54005);
    let (status, body) = refresh(&s, &rt).await;
    assert_eq!(status, 200, "{body}");
    let b = browser(&s);
    let signed_in = b
        .get(authorize_url(&s, &web_params(&[])))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 302, "the session no longer signs in");
    let (_, fields) = location_fields(&signed_in);
    assert!(field(&fields, "code").is_some());
    assert_refusal(
        &poll_device(&s, &device).await,
        400,
        "authorization_pending",
        70016,
    );

    // The secrets are kept by digest only: none of them is in the database's files.
    let mut files = Vec::new();
    for name in [DB.to_string(), format!("{DB}-wal")] {
        if let Ok(bytes) = std::fs::read(state.join(name)) {
            files.extend(bytes);
        }
    }
    for secret in [
        &unspent,
        &spent,
        &rt,
        &session["certgen_session=".len()..].to_string(),
    ] {
        assert!(
            !files.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a bearer secret is stored in clear"
        );
    }
    let dc = device["device_code"].as_str().unwrap();
    assert!(!files.windows(dc.len()).any(|w| w == dc.as_bytes()));
}

/// A code issued with `--auto-sign-in` and SIGKILL at once after the redirect: the next
/// process redeems it (the redirect was sent only after the commit).
#[tokio::test]
async fn a_code_answered_just_before_sigkill_redeems_after() {
    let config = signin_config();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--auto-sign-in",
        ADELE,
    ];
    let state = fresh_state(&fixture().state);
    let mut s = Server::start_in(&state, &args);
    let c = code(&s, &[]).await;
    s.sigkill();
    let s = Server::start_in(&state, &args);
    let (status, body) = redeem(&s, &c, &[]).await;
    assert_eq!(status, 200, "{body}");
}

/// addKey answered 200, SIGKILL, start: the new certificate gets a token. removeKey answered
/// 204, SIGKILL, start: the removed one gets 700027 and the other still works.
#[tokio::test]
async fn added_and_removed_keys_survive_sigkill() {
    let g = graph();
    let f = fixture();
    let args = ["--config", g.config.to_str().unwrap()];
    let state = fresh_state(&f.state);
    let mut s = Server::start_in(&state, &args);
    let token = g.token(&s, BARE).await;
    let (status, added) = add_key(&s, &token, &f.second, &f.main).await;
    assert_eq!(status, 200, "{added}");
    s.sigkill();

    let mut s = Server::start_in(&state, &args);
    let (status, body) = token_with(&s, &f.second).await;
    assert_eq!(status, 200, "{body}");
    let token = g.token(&s, BARE).await;
    let keys = registered(g, &s, &token).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let old = keys
        .iter()
        .find(|(_, t)| *t == f.main.thumbprint_hex())
        .unwrap()
        .0
        .clone();
    let (status, answer) = action(
        &s,
        &token,
        &format!("applications/{BARE_OBJECT}/removeKey"),
        &json!({"keyId": old, "proof": proof(&f.second)}),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    s.sigkill();

    let s = Server::start_in(&state, &args);
    assert_refusal(
        &token_with(&s, &f.main).await,
        401,
        "invalid_client",
        700027,
    );
    assert_eq!(token_with(&s, &f.second).await.0, 200);
    let token = g.token(&s, BARE).await;
    assert_eq!(
        registered(g, &s, &token).await,
        [(
            added["keyId"].as_str().unwrap().to_string(),
            f.second.thumbprint_hex()
        )]
    );
}

/// `certgen serve` with `args` on `state`, expected to refuse to start: its stderr.
fn refused_start(state: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .args(args)
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "a ready line was printed: {out:?}");
    String::from_utf8(out.stderr).unwrap()
}

/// One `error:` line naming the file, then hints only.
fn assert_one_error_naming(stderr: &str, file: &Path, says: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(&file.display().to_string()), "{stderr}");
    assert!(lines[0].contains(says), "{stderr}");
    assert!(
        lines[1..].iter().all(|l| l.starts_with("hint: ")),
        "{stderr}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
}

/// A state folder with a database a serve made and wrote to (an added key), then stopped with
/// SIGTERM so the database is one file: what a user backs up, damages or upgrades.
async fn folder_with_a_database() -> (PathBuf, Vec<String>) {
    let g = graph();
    let f = fixture();
    let args = vec!["--config".to_string(), g.config.display().to_string()];
    let state = fresh_state(&f.state);
    let mut s = Server::start_in(&state, &["--config", g.config.to_str().unwrap()]);
    let token = g.token(&s, BARE).await;
    assert_eq!(add_key(&s, &token, &f.second, &f.main).await.0, 200);
    stop(&mut s);
    (state, args)
}

fn stop(s: &mut Server) {
    // SAFETY: kill(2) on the child this test started, by its pid.
    let rc = unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
    assert_eq!(rc, 0);
    assert!(s.child.wait().unwrap().success());
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Garbage bytes, a real database cut short, and a database of a newer schema: each is one
/// `error:` line naming the file with a hint, and the file is left byte for byte as it was.
#[tokio::test]
async fn damaged_truncated_or_newer_databases_are_refused_and_left_alone() {
    let (state, args) = folder_with_a_database().await;
    let db = state.join(DB);
    let good = std::fs::read(&db).unwrap();
    assert!(
        !state.join(format!("{DB}-wal")).exists(),
        "a clean stop leaves one file"
    );

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"this is not a database, just text\n".repeat(200),
            "is damaged",
        ),
        ("truncated", good[..good.len() / 3].to_vec(), "is damaged"),
        (
            "newer",
            {
                // The header's user_version (offset 60, big-endian: the SQLite file format,
                // https://www.sqlite.org/fileformat2.html#database_header).
                let mut b = good.clone();
                b[60..64].copy_from_slice(&99u32.to_be_bytes());
                b
            },
            "was written by a newer certgen (schema 99",
        ),
    ];
    for (what, bytes, says) in cases {
        std::fs::write(&db, &bytes).unwrap();
        let stderr = refused_start(&state, &strs(&args));
        eprintln!("{what}: {stderr}");
        assert_one_error_naming(&stderr, &db, says);
        assert!(stderr.contains("--reset"), "{stderr}");
        assert_eq!(
            std::fs::read(&db).unwrap(),
            bytes,
            "{what}: the file was changed"
        );
    }

    // Put back, it serves again with its key.
    std::fs::write(&db, &good).unwrap();
    let s = Server::start_in(&state, &strs(&args));
    assert_eq!(token_with(&s, &fixture().second).await.0, 200);
}

/// `--reset` says what it discards and starts from the config alone: the added key is gone,
/// the config's key works, and a damaged file is no obstacle to it.
#[tokio::test]
async fn reset_discards_the_database_and_says_so() {
    let (state, args) = folder_with_a_database().await;
    std::fs::write(state.join(DB), b"damaged").unwrap();
    let mut with_reset = strs(&args);
    with_reset.push("--reset");
    let s = Server::start_in(&state, &with_reset);
    let banner = s.log_text();
    assert!(
        banner.contains("--reset: discarded the directory kept in")
            && banner.contains("every object made through Graph, every key added, every sign-in"),
        "{banner}"
    );
    let f = fixture();
    assert_refusal(
        &token_with(&s, &f.second).await,
        401,
        "invalid_client",
        700027,
    );
    assert_eq!(token_with(&s, &f.main).await.0, 200);
    let g = graph();
    let token = g.token(&s, BARE).await;
    assert_eq!(registered(g, &s, &token).await.len(), 1);
}

/// `/ready`: 200 with the directory's counts while it can be read; once the database file is
/// deleted under the running process, `/ready`, the token endpoint and Graph answer 503
/// (nothing would be kept), and a start on the folder makes a new one from the config.
#[tokio::test]
async fn ready_counts_then_503_everywhere_when_the_database_is_deleted() {
    let g = graph();
    let f = fixture();
    let args = ["--config", g.config.to_str().unwrap()];
    let state = fresh_state(&f.state);
    let s = Server::start_in(&state, &args);
    let ready = format!("{}/ready", s.base());
    let resp = s.client().get(&ready).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["directory"]["users"], USERS.len());
    assert!(
        body["directory"]["applications"].as_u64().unwrap() >= 4,
        "{body}"
    );
    let token = g.token(&s, BARE).await;

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(state.join(format!("{DB}{suffix}")));
    }
    let resp = s.client().get(&ready).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("was deleted or replaced while serving"),
        "{body}"
    );
    let (status, answer) = token_with(&s, &f.main).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"], "temporarily_unavailable");
    let (status, _, answer) = g
        .get(
            &s,
            &format!("/v1.0/applications/{BARE_OBJECT}"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "serviceNotAvailable");
}

/// Processes started at the same moment on a new state folder make one database between
/// them, and each sees the others' writes: a key added through one gets a token from another,
/// a key removed through that one is refused by the third.
#[tokio::test]
async fn processes_on_one_folder_share_one_database_and_see_each_others_writes() {
    let g = graph();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("new");
    let args = ["--config", g.config.to_str().unwrap()];
    let servers: Vec<Server> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..3)
            .map(|_| sc.spawn(|| Server::start_in(&state, &args)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let dbs: Vec<String> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".sqlite3"))
        .collect();
    assert_eq!(dbs, [DB]);
    let (a, b, c) = (&servers[0], &servers[1], &servers[2]);
    // Each process's Graph takes tokens of its own issuer (its own port).
    let token = g.token(a, BARE).await;
    assert_refusal(
        &token_with(b, &f.second).await,
        401,
        "invalid_client",
        700027,
    );
    let (status, added) = add_key(a, &token, &f.second, &f.main).await;
    assert_eq!(status, 200, "{added}");
    let (status, body) = token_with(b, &f.second).await;
    assert_eq!(status, 200, "{body}");
    let keys = registered(g, c, &g.token(c, BARE).await).await;
    assert_eq!(keys.len(), 2);
    let old = keys
        .iter()
        .find(|(_, t)| *t == f.main.thumbprint_hex())
        .unwrap()
        .0
        .clone();
    let (status, answer) = action(
        b,
        &g.token(b, BARE).await,
        &format!("applications/{BARE_OBJECT}/removeKey"),
        &json!({"keyId": old, "proof": proof(&f.second)}),
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    assert_refusal(&token_with(c, &f.main).await, 401, "invalid_client", 700027);
    assert_refusal(&token_with(a, &f.main).await, 401, "invalid_client", 700027);
}

/// Whether this test may make mount namespaces (root, with `unshare`): the full-disk and
/// read-only tests mount a tiny tmpfs or a read-only bind mount seen by serve alone.
fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["-m", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "skipped: making a full or read-only file system needs a mount namespace (run as \
             root with util-linux's unshare)"
        );
    }
    ok
}

/// `certgen serve --http` on a copy of `state` in a 2 MiB tmpfs mounted at `mount` in a
/// mount namespace of its own; `prepare` runs in that namespace first (`$1` is the mount).
fn command_on_tmpfs(mount: &Path, state: &Path, prepare: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "set -e; mount -t tmpfs -o size=2m tmpfs \"$1\"; cp -a \"$2\"/. \"$1\"/; {prepare}
             m=$1; bin=$3; shift 3; exec \"$bin\" serve --http --listen 127.0.0.1:0 \
             --state-dir \"$m\" \"$@\""
        ))
        .arg("sh")
        .arg(mount)
        .arg(state)
        .arg(env!("CARGO_BIN_EXE_certgen"))
        .args(args);
    cmd
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    loop {
        match f.write_all(&chunk).and_then(|_| f.sync_all()) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                return;
            }
        }
    }
}

/// A full disk: while serving, a write is Graph's 503 and reads go on; once there is room
/// again the next write works and the one committed before is still there. At start, one
/// `error:` line naming the database.
#[tokio::test]
async fn a_full_disk_is_a_503_while_serving_and_one_error_line_at_start() {
    if !can_unshare() {
        return;
    }
    let (state, args) = folder_with_a_database().await;
    let g = graph();
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    let s = Server::spawn(command_on_tmpfs(&mount, &state, "", &strs(&args)), &mount);
    // The tmpfs as serve sees it, reached through its root in /proc.
    let seen = PathBuf::from(format!("/proc/{}/root", s.child.id()))
        .join(mount.strip_prefix("/").unwrap());
    assert!(seen.join(DB).exists());
    let token = g.token(&s, BARE).await;
    fill(&seen.join("filler"));

    let (status, answer) = add_key(&s, &token, &f.other, &f.main).await;
    assert_graph_error(
        status,
        &answer,
        503,
        "serviceNotAvailable",
        answer["error"]["message"].as_str().unwrap_or_default(),
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is full"),
        "{answer}"
    );
    // Reads go on: the key committed before still gets tokens.
    assert_eq!(token_with(&s, &f.second).await.0, 200);
    assert_refusal(
        &token_with(&s, &f.other).await,
        401,
        "invalid_client",
        700027,
    );

    std::fs::remove_file(seen.join("filler")).unwrap();
    let (status, answer) = add_key(&s, &token, &f.other, &f.main).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(token_with(&s, &f.other).await.0, 200);
    assert_eq!(token_with(&s, &f.second).await.0, 200);
    assert_eq!(registered(g, &s, &token).await.len(), 3);
    drop(s);

    // Full before the start: one line, naming the database.
    let out = command_on_tmpfs(
        &mount,
        &state,
        "dd if=/dev/zero of=\"$1/filler\" bs=16k 2>/dev/null || true;",
        &strs(&args),
    )
    .env(SECRET_VAR, SECRET)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_one_error_naming(&stderr, &mount.join(DB), "full");
}

/// A read-only state folder (a read-only bind mount, which binds root too): one `error:` line
/// naming what could not be written, and the database left as it was.
#[tokio::test]
async fn a_read_only_state_folder_is_one_error_line() {
    if !can_unshare() {
        return;
    }
    let (state, args) = folder_with_a_database().await;
    let before = std::fs::read(state.join(DB)).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "set -e; mount --bind \"$1\" \"$1\"; mount -o remount,ro,bind \"$1\"; \
             s=$1; bin=$2; shift 2; exec \"$bin\" serve --listen 127.0.0.1:0 --state-dir \"$s\" \"$@\"",
        )
        .arg("sh")
        .arg(&state)
        .arg(env!("CARGO_BIN_EXE_certgen"))
        .args(strs(&args))
        .env(SECRET_VAR, SECRET);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    let first = stderr.lines().next().unwrap();
    assert!(first.starts_with("error: "), "{stderr}");
    assert!(first.contains(&state.display().to_string()), "{stderr}");
    assert!(first.to_lowercase().contains("read-only"), "{stderr}");
    assert_eq!(std::fs::read(state.join(DB)).unwrap(), before);
}

/// Undoes `chattr +i` when dropped, so a failed assertion leaves nothing immutable behind.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Option<Immutable> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: chattr +i is not available here (root on ext4, xfs or btrfs)");
        }
        ok.then(|| Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// A database file that cannot be written (immutable: root ignores file modes) in a writable
/// folder: one `error:` line naming the database, which is left as it was.
#[tokio::test]
async fn a_read_only_database_file_is_one_error_line() {
    let (state, args) = folder_with_a_database().await;
    let db = state.join(DB);
    let before = std::fs::read(&db).unwrap();
    let Some(_guard) = Immutable::set(&db) else {
        return;
    };
    let stderr = refused_start(&state, &strs(&args));
    assert_one_error_naming(&stderr, &db, "is read-only");
    assert!(
        stderr.contains("hint: make the state folder and the file writable"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// The sign-in state is shared too: a code issued by one process is redeemed at another, and
/// only once (the second redemption, at the first process, is 54005); the refresh token that
/// redemption answered works at the first.
#[tokio::test]
async fn a_code_issued_by_one_process_is_redeemed_once_at_another() {
    let config = signin_config();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--auto-sign-in",
        ADELE,
    ];
    let state = fresh_state(&fixture().state);
    let a = Server::start_in(&state, &args);
    let b = Server::start_in(&state, &args);
    let c = code(&a, &[]).await;
    let (status, body) = redeem(&b, &c, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_refusal(&redeem(&a, &c, &[]).await, 400, "invalid_grant", 54005);
    let (status, body) = refresh(&a, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

/// Sign-ins on a full disk: `/authorize` answers Entra's 503 page instead of a redirect with a
/// code that was not kept, and a code redeemed while the disk is full is a 503 that leaves it
/// unspent — once there is room it redeems, once.
#[tokio::test]
async fn on_a_full_disk_no_code_is_answered_and_none_is_spent() {
    if !can_unshare() {
        return;
    }
    let config = signin_config();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--auto-sign-in",
        ADELE,
    ];
    let state = fresh_state(&fixture().state);
    // A first start makes the database, which the tmpfs then gets a copy of (with its WAL:
    // SIGKILL, not SIGTERM, which could come before serve listens for it).
    let mut first = Server::start_in(&state, &args);
    first.sigkill();
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    let s = Server::spawn(command_on_tmpfs(&mount, &state, "", &args), &mount);
    let seen = PathBuf::from(format!("/proc/{}/root", s.child.id()))
        .join(mount.strip_prefix("/").unwrap());
    // Plain HTTP (`--http`): a browser that does not follow redirects, without a CA.
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answered = authorize(&b, &s, &[]).await;
    assert_eq!(answered.status(), 302);
    let (_, fields) = location_fields(&answered);
    let c = field(&fields, "code").unwrap().to_string();
    fill(&seen.join("filler"));

    let refused = authorize(&b, &s, &[]).await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().get("location").is_none());
    let (status, body) = redeem(&s, &c, &[]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");

    std::fs::remove_file(seen.join("filler")).unwrap();
    let (status, body) = redeem(&s, &c, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_refusal(&redeem(&s, &c, &[]).await, 400, "invalid_grant", 54005);
}
