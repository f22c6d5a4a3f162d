//! Users signing in, proven from outside: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven by Selenium) plays the user of a web app built like the Flask
//! sample on MSAL for Python (tests/clients/webapp_signin.py). serve's sign-in page, its
//! redirect (form_post and query), code redemption with a secret and with a certificate,
//! refresh, `/v1.0/me`, logout, serve's session, the device-code flow completed on its page,
//! and the sign-in again in a browser that runs no script.
//! What MSAL checked itself (state, nonce, aud) is checked again here, with serve's keys.
//!
//! Runs when CERTGEN_TEST_PYTHON names a Python with msal, requests and selenium, and chromium,
//! chromedriver and certutil (libnss3-tools) are installed (.ci/run installs them all);
//! otherwise it says it was skipped and passes (and fails under CI=true).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::now;
use crate::support::require;
use crate::support::serve::{fixture, verify_with_keys, Server, SECRET, SECRET_VAR};
use serde_json::{json, Value};

const TENANT: &str = "22222222-2222-2222-2222-222222222222";
const WEBAPP: &str = "c0ffee00-0000-4000-8000-000000000014";
const PUBLIC_CLIENT: &str = "c0ffee00-0000-4000-8000-000000000015";
/// Not the first user, so the page's default choice is not what gets signed in.
const USER: &str = "alex@contoso.example";
const USER_NAME: &str = "Alex Wilber";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// A ceiling for the whole browser run (the device flow alone polls every 5 s); never a
/// measured time.
const DRIVER_CEILING: Duration = Duration::from_secs(300);

/// The Python (with msal, requests and selenium), once Chromium, its driver and certutil are
/// known to be there; `None` (skipped) when one is missing, a failure under CI=true.
fn browser_python() -> Option<String> {
    let python = require::python(&["msal", "requests", "selenium"])?;
    let install = "apt-get install chromium chromium-driver";
    require::file(CHROMIUM, install)?;
    require::file(CHROMEDRIVER, install)?;
    require::program("certutil", &["-H"], "apt-get install libnss3-tools")?;
    Some(python)
}

fn config(dir: &Path, app_port: u16) -> PathBuf {
    let cert = fixture().main.cert_pem.to_str().unwrap().to_string();
    let path = dir.join("signin.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[[tenant]]
id = "{TENANT}"
domains = ["contoso.example"]

[[user]]
user_principal_name = "adele@contoso.example"
display_name = "Adele Vance"
mail = "adele@contoso.example"

[[user]]
user_principal_name = "{USER}"
display_name = "{USER_NAME}"

[[app]]
client_id = "{WEBAPP}"
display_name = "Flask web app"
secret_env = ["{SECRET_VAR}"]
certificates = ["{cert}"]
redirect_uris = ["http://localhost:{app_port}/getAToken", "http://localhost:{app_port}/"]
[app.delegated]
"https://graph.microsoft.com" = ["User.Read.All"]

[[app]]
client_id = "{PUBLIC_CLIENT}"
display_name = "device tool"
public_client = true
redirect_uris = ["http://localhost"]
"#
        ),
    )
    .unwrap();
    path
}

/// Runs the driver: it announces its port, gets the settings on stdin, prints its report.
fn run_driver(python: &str, dir: &Path) -> (Server, Value) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/webapp_signin.py"
    );
    let mut child = Command::new(python)
        .arg(script)
        .env("APP_PORT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("driver.stderr")).unwrap())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = || std::fs::read_to_string(dir.join("driver.stderr")).unwrap_or_default();
    let app_port = rx
        .recv_timeout(DRIVER_CEILING)
        .ok()
        .and_then(|line| serde_json::from_str::<Value>(&line).ok())
        .and_then(|first| first["app_port"].as_u64())
        .and_then(|port| u16::try_from(port).ok())
        .unwrap_or_else(|| panic!("the driver announced no port; stderr: {}", stderr()));

    let config = config(dir, app_port);
    let server = Server::start_in(&dir.join("state"), &["--config", config.to_str().unwrap()]);
    let f = fixture();
    let settings = json!({
        "authority": server.field("authority"),
        "ca_file": server.field("ca_file"),
        "client_id": WEBAPP,
        "client_secret": SECRET,
        "key_pem": f.main.key_pem,
        "thumbprint": f.main.thumbprint_hex(),
        "public_client_id": PUBLIC_CLIENT,
        "user": USER,
        "scopes": ["User.Read"],
        "out_dir": dir,
        "chromium": CHROMIUM,
        "chromedriver": CHROMEDRIVER,
    });
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{settings}").unwrap();
    drop(stdin);
    let report = rx.recv_timeout(DRIVER_CEILING);
    let _ = child.kill();
    let _ = child.wait();
    let line =
        report.unwrap_or_else(|_| panic!("the driver printed no report; stderr: {}", stderr()));
    let report = serde_json::from_str(&line)
        .unwrap_or_else(|_| panic!("the driver's report is not JSON: {line}\n{}", stderr()));
    (server, report)
}

fn assert_png(page: &Value) {
    let path = page["screenshot"].as_str().unwrap();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000,
        "{path} is not a PNG screenshot"
    );
}

/// A sign-in seen by the web app: the user on the page, the nonce MSAL sent echoed in a
/// signed id_token for the app, a delegated token for Graph.
fn assert_signed_in(seen: &Value, keys: &Value, issuer: &str, credential: &str, mode: &str) {
    assert_eq!(seen["page_text"], format!("Hello, {USER_NAME}"), "{seen}");
    assert_eq!(seen["credential"], credential);
    assert_eq!(seen["response_mode"], mode);
    assert_eq!(seen["code_challenge_method"], "S256");
    assert_eq!(seen["client_info_requested"], "1");
    assert_eq!(seen["nonce_is_msal_hash"], true);

    let id = verify_with_keys(seen["id_token"].as_str().unwrap(), keys, Some(WEBAPP), None);
    assert_eq!(id, seen["id_token_claims"], "MSAL read the same claims");
    assert_eq!(id["nonce"], seen["nonce_sent"], "nonce echoed verbatim");
    assert_eq!(id["name"], USER_NAME);
    assert_eq!(id["preferred_username"], USER);
    assert_eq!(id["tid"], TENANT);
    assert_eq!(id["ver"], "2.0");
    assert_eq!(id["iss"], issuer);
    assert!(id["oid"].is_string() && id["sub"].is_string(), "{id}");

    let access = verify_with_keys(seen["access_token"].as_str().unwrap(), keys, None, None);
    assert_eq!(access, seen["access_token_claims"]);
    let scp = access["scp"].as_str().unwrap_or_default();
    assert!(scp.split(' ').any(|s| s == "User.Read"), "scp: {access}");
    assert_eq!(access["name"], USER_NAME);
    assert_eq!(access["oid"], id["oid"]);
    assert_eq!(access["tid"], TENANT);
    assert_eq!(seen["has_refresh_token"], true, "offline_access was asked");
    assert_eq!(
        seen["client_info_returned"], true,
        "client_info=1 was asked"
    );
}

#[tokio::test]
async fn a_user_signs_in_to_an_msal_web_app_in_chromium() {
    let Some(python) = browser_python() else {
        return;
    };
    // Kept after the run (under target/), so the screenshots can be looked at.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "signin-browser-{}-{}",
        std::process::id(),
        now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (s, r) = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || run_driver(&python, &dir)
    })
    .await
    .unwrap();
    let failed: Vec<_> = r["steps"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, ok)| **ok != true)
        .map(|(name, _)| format!("{name}: {}", r["errors"][name].as_str().unwrap_or("")))
        .collect();
    assert!(
        failed.is_empty(),
        "steps failed:\n{}\nserve log:\n{}",
        failed.join("\n"),
        s.log_text()
    );
    let authority = s.field("authority");
    let keys = s.get_json(&s.field("jwks_uri")).await;
    let discovery = s
        .get_json(&format!(
            "{authority}/v2.0/.well-known/openid-configuration"
        ))
        .await;
    let issuer = discovery["issuer"]
        .as_str()
        .unwrap()
        .replace("{tenantid}", TENANT);

    // The sign-in page, in a phone-sized window: photographed, every control labelled, no
    // sideways scrolling; the user was picked there, and the form_post page brought the code.
    let page = &r["pages"]["signin"];
    assert_png(page);
    assert_eq!(page["unlabeled"], json!([]), "controls without a label");
    assert!(page["controls"].as_u64().unwrap() >= 4, "{page}");
    assert_eq!(page["horizontal_overflow"], false, "{page}");
    assert_eq!(r["form_post"]["page_shown"], true);
    assert_signed_in(&r["form_post"], &keys, &issuer, "secret", "form_post");
    let oid = r["form_post"]["id_token_claims"]["oid"].clone();

    // Refresh: a new refresh token; MSAL's account is keyed by client_info (uid.utid).
    assert_eq!(r["refresh"]["new_refresh_token"], true);
    assert_eq!(
        r["refresh"]["home_account_id"],
        format!("{}.{TENANT}", oid.as_str().unwrap())
    );
    let refreshed = verify_with_keys(
        r["refresh"]["access_token"].as_str().unwrap(),
        &keys,
        None,
        None,
    );
    assert_eq!(refreshed["oid"], oid);

    // Graph /me with the delegated token: the signed-in user.
    assert_eq!(r["me"]["status"], 200);
    assert_eq!(r["me"]["body"]["userPrincipalName"], USER);
    assert_eq!(r["me"]["body"]["displayName"], USER_NAME);
    assert_eq!(r["me"]["body"]["id"], oid);

    // Logout went back to the app; the next sign-in showed the page again, and the code was
    // redeemed with the certificate (a client assertion MSAL made).
    assert!(r["logout"]["landed"]
        .as_str()
        .unwrap()
        .starts_with("http://localhost:"));
    assert_eq!(r["certificate"]["page_shown"], true);
    assert_signed_in(&r["certificate"], &keys, &issuer, "certificate", "query");
    // serve's session answered the next /authorize without the page.
    assert_eq!(r["session"]["page_shown"], false);
    assert_signed_in(&r["session"], &keys, &issuer, "secret", "query");

    // Without scripts: the page still signs in, and the form_post answer's <noscript>
    // Continue button (shown only then) takes the code to the app.
    assert_eq!(r["no_script"]["continue_shown"], true);
    assert_eq!(r["no_script"]["page_text"], format!("Hello, {USER_NAME}"));

    // Device code: the code typed on serve's page in the browser, MSAL's poll got the tokens.
    let device = &r["device"];
    assert_eq!(
        device["verification_uri"],
        format!("{}/devicelogin", s.base())
    );
    assert!(device["final_page_text"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("signed in"));
    let page = &r["pages"]["devicelogin"];
    assert_png(page);
    assert_eq!(page["unlabeled"], json!([]), "controls without a label");
    assert_eq!(page["horizontal_overflow"], false, "{page}");
    let id = verify_with_keys(
        device["id_token"].as_str().unwrap(),
        &keys,
        Some(PUBLIC_CLIENT),
        None,
    );
    assert_eq!(id, device["id_token_claims"]);
    assert_eq!(id["preferred_username"], USER);
    assert_eq!(id["oid"], oid);
    let access = verify_with_keys(device["access_token"].as_str().unwrap(), &keys, None, None);
    assert_eq!(access["oid"], oid);
    assert!(access["scp"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .any(|s| s == "User.Read"));
}
