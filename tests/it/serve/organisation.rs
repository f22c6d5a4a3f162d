//! An organisation-sized directory: thousands of apps in the config and tens of thousands of
//! users in a `users_file` start, the banner summarises them, a later start with the same
//! inputs reuses the directory without parsing, and a bad users file is one `error:` line
//! naming the file and line. (The 10,000-app, 100,000-user timings are bench/directory.sh.)

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::serve::{copy_keys, fixture, post_form, Server, SECRET, SECRET_VAR, TENANT};
use crate::support::{assert_clean_failure, certgen};

// Large enough that every list in the banner is cut short, small enough for a debug build's
// first start to stay within the test helper's wait on a loaded machine.
const APPS: usize = 1_000;
const USERS: usize = 10_000;

fn app_id(i: usize) -> String {
    format!("5e1c0000-0000-4000-8000-{i:012}")
}

fn upn(i: usize) -> String {
    format!("person{i:05}@contoso.example")
}

/// The config (every app with the test secret; the first may read users through Graph) and a
/// users file of Graph user objects.
fn write_directory(dir: &Path, users: usize) -> PathBuf {
    let mut toml = String::from("users_file = \"users.jsonl\"\n\n");
    writeln!(toml, "[[tenant]]\nid = \"{TENANT}\"\n").unwrap();
    for i in 0..APPS {
        writeln!(
            toml,
            "[[app]]\nclient_id = \"{}\"\ndisplay_name = \"app {i:04}\"\nsecret_env = [\"{SECRET_VAR}\"]",
            app_id(i)
        )
        .unwrap();
        if i == 0 {
            toml.push_str("[app.roles]\n\"https://graph.microsoft.com\" = [\"User.Read.All\"]\n");
        }
        toml.push('\n');
    }
    let config = dir.join("serve.toml");
    std::fs::write(&config, toml).unwrap();
    write_users(dir, users);
    config
}

fn write_users(dir: &Path, users: usize) {
    let mut lines = String::new();
    for i in 0..users {
        let u = json!({
            "@odata.type": "#microsoft.graph.user",
            "userPrincipalName": upn(i),
            "displayName": format!("Person {i:05}"),
            "accountEnabled": true,
            "businessPhones": [],
            "mail": null,
        });
        lines.push_str(&u.to_string());
        lines.push('\n');
    }
    std::fs::write(dir.join("users.jsonl"), lines).unwrap();
}

fn banner(server: &Server) -> String {
    server.log_text()
}

async fn token(server: &Server, client_id: &str, scope: &str) -> String {
    let (status, body) = post_form(
        &server.client(),
        &server.token_url(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", SECRET),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{client_id}: {body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn user(server: &Server, upn: &str) -> (u16, Value) {
    let bearer = token(server, &app_id(0), "https://graph.microsoft.com/.default").await;
    let resp = server
        .client()
        .get(format!("{}/users/{upn}", server.field("graph")))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_large_directory_starts_summarised_and_a_later_start_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_directory(dir.path(), USERS);
    let state = dir.path().join("state");
    copy_keys(&fixture().state, &state);
    let args = ["--config", config.to_str().unwrap()];

    let first = Server::start_in(&state, &args);
    let text = banner(&first);
    assert!(
        text.lines().count() < 60,
        "{} lines:\n{text}",
        text.lines().count()
    );
    assert!(
        text.contains(&format!("users    {USERS}: {}, ", upn(0))),
        "{text}"
    );
    assert!(
        text.contains(&format!("… and {} more", USERS - 5)),
        "{text}"
    );
    assert!(text.contains("\"app 0000\""), "{text}");
    assert!(
        text.contains("applications in the directory in all"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "readable by {} \"app 0000\" (User.Read.All)",
            app_id(0)
        )),
        "{text}"
    );
    assert!(!text.contains("unchanged since"), "{text}");
    // The last app gets tokens; the last user of the file answers by user principal name.
    token(
        &first,
        &app_id(APPS - 1),
        "https://graph.microsoft.com/.default",
    )
    .await;
    let (status, body) = user(&first, &upn(USERS - 1)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["displayName"], format!("Person {:05}", USERS - 1));
    drop(first);

    // The same inputs: the directory is used as kept, and the banner is the same.
    let later = Server::start_in(&state, &args);
    let again = banner(&later);
    assert!(
        again.contains("are unchanged since the directory"),
        "{again}"
    );
    assert!(again.contains(&format!("users    {USERS}: ")), "{again}");
    assert!(again.lines().count() < 60, "{again}");
    token(
        &later,
        &app_id(APPS - 1),
        "https://graph.microsoft.com/.default",
    )
    .await;
    drop(later);

    // One more user in the file: read and seeded again.
    write_users(dir.path(), USERS + 1);
    let changed = Server::start_in(&state, &args);
    let text = banner(&changed);
    assert!(!text.contains("unchanged since"), "{text}");
    assert!(
        text.contains(&format!("users    {}: ", USERS + 1)),
        "{text}"
    );
    let (status, _) = user(&changed, &upn(USERS)).await;
    assert_eq!(status, 200);
    drop(changed);

    // A secret's variable is an input too, though no file changed: emptied here, the config is
    // read again and the app refused for want of its secret.
    let out = certgen()
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&state)
        .args(args)
        .env(SECRET_VAR, "")
        .output()
        .unwrap();
    let stderr = assert_clean_failure(&out, 1);
    assert!(stderr.contains(SECRET_VAR), "{stderr}");
}

#[test]
fn a_bad_users_file_is_one_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "users_file = \"users.jsonl\"\n[[tenant]]\nid = \"contoso.example\"\n",
    )
    .unwrap();
    let users = dir.path().join("users.jsonl");
    let run = || {
        certgen()
            .args(["serve", "--http", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir.path().join("state"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap()
    };
    let good = "{\"userPrincipalName\":\"ada@contoso.example\"}\n";
    let cases: Vec<(String, String)> = vec![
        (
            format!("{good}\n{{\"displayName\":\"no name\"}}\n"),
            format!("{}:3: not a Graph user object", users.display()),
        ),
        (
            format!("{good}not json\n"),
            format!("{}:2: not a Graph user object", users.display()),
        ),
        (
            format!("{good}{{\"userPrincipalName\":\"nobody\"}}\n"),
            format!(
                "{}:2: user 'nobody': the user principal name",
                users.display()
            ),
        ),
        (
            format!("{good}{good}"),
            format!("{}:2: user 'ada@contoso.example'", users.display()),
        ),
        (
            format!("{good}{}\n", "x".repeat(70 * 1024)),
            format!(
                "{}:2: the line is longer than 64 KiB, the most one user may take",
                users.display()
            ),
        ),
    ];
    for (text, needle) in cases {
        std::fs::write(&users, &text).unwrap();
        let stderr = assert_clean_failure(&run(), 1);
        assert!(stderr.contains(&needle), "{needle}\n{stderr}");
        assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
    }
    std::fs::remove_file(&users).unwrap();
    let stderr = assert_clean_failure(&run(), 1);
    assert!(
        stderr.contains(&format!("users_file cannot read {}", users.display())),
        "{stderr}"
    );
}
