//! The Azure CLI, unmodified, provisioning `certgen serve`'s directory as it provisions Entra:
//! an application and its service principal, a certificate appended by `az ad app credential
//! reset` and then used by `certgen token`, an app role added and admin-consented and then in a
//! token, a user created and signing in at once, a group with that user in it and the `groups`
//! claim — all through the proxy's environment, and all still there after a restart.

use std::process::Command;

use serde_json::Value;

use super::azure_cli::{claims_of, Az};
use super::microsoft_resources::azure_fixture;
use super::signin;
use crate::support::require::azure_cli;
use crate::support::serve::*;

/// An automation app allowed to provision (the roles a deployment pipeline's identity holds).
const ADMIN: &str = "a2a2a2a2-0000-4000-8000-0000000000a2";
const USER_READ_ALL_ROLE: &str = "df021288-bdef-4463-88db-98f22de89214";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let f = azure_fixture();
    let cert = f.pem.with_extension("crt");
    let path = dir.join("azure-directory.toml");
    std::fs::write(
        &path,
        format!(
            r#"[[tenant]]
id = "{TENANT}"
domains = ["{TENANT_DOMAIN}"]

[[app]]
client_id = "{ADMIN}"
display_name = "provisioning pipeline"
certificates = ["{cert}"]
[app.roles]
"https://graph.microsoft.com" = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "User.ReadWrite.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"]
"#,
            cert = cert.display()
        ),
    )
    .unwrap();
    path
}

fn start(state: &std::path::Path, config: &std::path::Path) -> Server {
    Server::start_in(
        state,
        &[
            "--config",
            config.to_str().unwrap(),
            "--proxy",
            "127.0.0.1:0",
        ],
    )
}

/// `certgen token` for `client_id` with `cert`/`key`, straight to the service (its CA).
fn certgen_token(
    s: &Server,
    client_id: &str,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args([
            "token",
            "--no-cache",
            "--tenant",
            TENANT,
            "--authority-host",
        ])
        .arg(s.base())
        .args(["--client-id", client_id, "--cert"])
        .arg(cert)
        .arg("--key")
        .arg(key)
        .args([
            "--scope",
            "https://graph.microsoft.com/.default",
            "--ca-file",
        ])
        .arg(s.ready["ca_file"].as_str().unwrap())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn az_provisions_apps_credentials_roles_users_and_groups_that_are_kept() {
    let Some(az_bin) = azure_cli() else { return };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    crate::support::serve::copy_keys(&azure_fixture().state, &state);
    let config = config(dir.path());
    let mut s = start(&state, &config);
    let az = Az::new(&az_bin, &s);
    let pem = azure_fixture().pem.to_str().unwrap().to_string();
    let login = az.json(&[
        "login",
        "--service-principal",
        "-u",
        ADMIN,
        "--certificate",
        &pem,
        "--tenant",
        TENANT,
        "--allow-no-subscriptions",
    ]);
    assert_eq!(login[0]["user"]["name"], ADMIN, "{login}");

    // An application, as a pipeline registers one, and its service principal.
    let app = az.json(&[
        "ad",
        "app",
        "create",
        "--display-name",
        "rehearsal web",
        "--web-redirect-uris",
        signin::REDIRECT,
    ]);
    let app_id = app["appId"].as_str().unwrap().to_string();
    let listed = az.json(&["ad", "app", "list", "--display-name", "rehearsal web"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // A certificate certgen made, appended with az; before the service principal exists the
    // token request is refused as Entra refuses it (7000229), after it the certificate works.
    let made = Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args(["new", "--cn", "rehearsal", "--name", "rehearsal", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let cert = dir.path().join("rehearsal.crt");
    let key = dir.path().join("rehearsal.key");
    let cert_arg = format!("@{}", cert.display());
    az.json(&[
        "ad",
        "app",
        "credential",
        "reset",
        "--id",
        &app_id,
        "--cert",
        &cert_arg,
        "--append",
    ]);
    let (ok, text) = certgen_token(&s, &app_id, &cert, &key);
    assert!(!ok && text.contains("7000229"), "{text}");
    let sp = az.json(&["ad", "sp", "create", "--id", &app_id]);
    assert_eq!(sp["appId"], app_id.as_str());
    let (ok, text) = certgen_token(&s, &app_id, &cert, &key);
    assert!(ok, "{text}");

    // An app role of Graph asked for and admin-consented: in the next token's roles.
    let api = "00000003-0000-0000-c000-000000000000";
    let perm = format!("{USER_READ_ALL_ROLE}=Role");
    let out = az.run(&[
        "ad",
        "app",
        "permission",
        "add",
        "--id",
        &app_id,
        "--api",
        api,
        "--api-permissions",
        &perm,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = az.run(&["ad", "app", "permission", "admin-consent", "--id", &app_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, text) = certgen_token(&s, &app_id, &cert, &key);
    assert!(ok, "{text}");
    let token = text
        .lines()
        .find(|l| l.matches('.').count() == 2)
        .unwrap_or(&text)
        .trim();
    assert_eq!(
        claims_of(token)["roles"],
        serde_json::json!(["User.Read.All"]),
        "{text}"
    );

    // A user, created with az, and a group with the user in it.
    let upn = format!("bo@{TENANT_DOMAIN}");
    let user = az.json(&[
        "ad",
        "user",
        "create",
        "--display-name",
        "Bo Rehearsal",
        "--password",
        "Not-a-real-password-1",
        "--user-principal-name",
        &upn,
    ]);
    let user_id = user["id"].as_str().unwrap().to_string();
    let group = az.json(&[
        "ad",
        "group",
        "create",
        "--display-name",
        "Rehearsal Ops",
        "--mail-nickname",
        "rops",
    ]);
    let group_id = group["id"].as_str().unwrap().to_string();
    let out = az.run(&[
        "ad",
        "group",
        "member",
        "add",
        "--group",
        "Rehearsal Ops",
        "--member-id",
        &user_id,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let members = az.json(&["ad", "group", "member", "list", "--group", "Rehearsal Ops"]);
    assert_eq!(members[0]["id"], user_id.as_str(), "{members}");
    az.run(&[
        "ad",
        "app",
        "update",
        "--id",
        &app_id,
        "--set",
        "groupMembershipClaims=SecurityGroup",
    ]);

    // Everything survives a restart (SIGKILL: nothing is flushed at exit).
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let s = start(&state, &config);
    let (ok, text) = certgen_token(&s, &app_id, &cert, &key);
    assert!(ok, "after the restart: {text}");

    // The new user signs in to the new app at once, and the id token names the group.
    let b = signin::browser(&s);
    let params = [
        ("client_id", app_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", signin::REDIRECT),
        ("scope", "openid profile"),
        ("state", "st4te"),
        ("nonce", "n0nce"),
        ("code_challenge", signin::CHALLENGE),
        ("code_challenge_method", "S256"),
        ("login_hint", upn.as_str()),
    ];
    let back = signin::sign_in(&s, &b, &params, &upn).await;
    assert_eq!(back.status(), 302);
    let (loc, fields) = signin::location_fields(&back);
    let code = signin::field(&fields, "code").unwrap_or_else(|| panic!("{loc}"));
    let assertion = Command::new(env!("CARGO_BIN_EXE_certgen"))
        .args([
            "assertion",
            "--client-id",
            &app_id,
            "--tenant",
            TENANT,
            "--cert",
        ])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .arg("--authority-host")
        .arg(s.base())
        .output()
        .unwrap();
    assert!(assertion.status.success(), "{assertion:?}");
    let jwt = String::from_utf8_lossy(&assertion.stdout)
        .trim()
        .to_string();
    let (status, body) = s
        .post_token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &jwt),
            ("code", code),
            ("redirect_uri", signin::REDIRECT),
            ("code_verifier", signin::VERIFIER),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    let id = claims_of(body["id_token"].as_str().unwrap());
    assert_eq!(id["preferred_username"], upn.as_str());
    assert_eq!(id["groups"], serde_json::json!([group_id]), "{id}");
    let _: Value = id;
}
