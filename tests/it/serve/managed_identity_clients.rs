//! Code written for a managed identity, run unchanged against `certgen serve` with the ready
//! line's environment only: Azure Identity for Python and JavaScript (`ManagedIdentityCredential`,
//! system- and user-assigned, and `DefaultAzureCredential`), MSAL Python's
//! `ManagedIdentityClient`, Rust `azure_identity`'s `ManagedIdentityCredential`, and
//! `az login --identity`. Each gets a Graph token for the identity and calls Graph's `/users`
//! (through `--proxy` as `graph.microsoft.com`): answered for an identity granted User.Read.All,
//! Graph's 403 for one without it.

use std::process::{Command, Output};

use serde_json::{json, Value};

use super::azure_cli::Az;
use super::managed_identity::*;
use super::proxy::proxied;
use crate::support::graph::claims_of;
use crate::support::require::{azure_cli, example, node_clients, python};
use crate::support::serve::*;

/// serve with the managed identities and the proxy for Graph's host.
fn server() -> Server {
    let s = mi_server(&["--proxy", "127.0.0.1:0"]);
    assert_eq!(
        s.ready["env"]["NO_PROXY"], "localhost,127.0.0.1,::1",
        "{}",
        s.ready
    );
    s
}

/// Which of the platform's shapes the client is sent to.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (and the IMDS host beside, as the ready line
    /// says): what every SDK honours.
    AppService,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` only: code that insists on IMDS.
    Imds,
}

/// The ready line's environment (minus App Service's pair for [`Shape::Imds`]), with nothing
/// of the developer's own Azure or proxy setup.
fn client_env(cmd: &mut Command, s: &Server, shape: Shape) {
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
        "AZURE_AUTHORITY_HOST",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_TOKEN_CREDENTIALS",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "IDENTITY_SERVER_THUMBPRINT",
        "IMDS_ENDPOINT",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "MSAL_MANAGED_IDENTITY_ENDPOINT",
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in s.ready["env"].as_object().unwrap() {
        let app_service = matches!(k.as_str(), "IDENTITY_ENDPOINT" | "IDENTITY_HEADER");
        if app_service && matches!(shape, Shape::Imds) {
            continue;
        }
        cmd.env(k, v.as_str().unwrap());
    }
}

fn json_output(what: &str, out: Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "{what} printed no JSON: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The cases every SDK runs: system-assigned, user-assigned by client id with User.Read.All,
/// user-assigned without it, and `DefaultAzureCredential`.
fn cases() -> Value {
    json!([
        {"name": "system", "client": "mi"},
        {"name": "user", "client": "mi", "client_id": READER_MI},
        {"name": "no_role", "client": "mi", "client_id": USER_MI},
        {"name": "default", "client": "default"},
    ])
}

/// The token is the identity's, as Entra's managed-identity tokens are.
fn assert_identity(what: &str, token: &str, client_id: &str, principal_id: &str) {
    let claims = claims_of(token);
    assert_eq!(claims["appid"], client_id, "{what}: {claims}");
    assert_eq!(claims["oid"], principal_id, "{what}: {claims}");
    assert_eq!(claims["idtyp"], "app", "{what}");
    assert_eq!(claims["aud"], "https://graph.microsoft.com", "{what}");
    assert!(claims["xms_mirid"]
        .as_str()
        .unwrap()
        .starts_with("/subscriptions/"));
}

/// Graph's `/users` through the proxy as `graph.microsoft.com`, with `token`: the status.
async fn graph_users(s: &Server, token: &str) -> u16 {
    let resp = proxied(s)
        .get("https://graph.microsoft.com/v1.0/users")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    resp.status().as_u16()
}

/// What one case of a script came to: the token, Graph answering or refusing.
async fn assert_case(s: &Server, what: &str, result: &Value, graph_status: Option<u16>) {
    let (client_id, principal_id, want) = match result_name(what) {
        "user" => (READER_MI, READER_MI_PRINCIPAL, 200),
        "no_role" => (USER_MI, USER_MI_PRINCIPAL, 403),
        _ => (SYSTEM_MI, SYSTEM_MI_PRINCIPAL, 200),
    };
    let token = result["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: {result}"));
    assert_identity(what, token, client_id, principal_id);
    let status = match graph_status {
        Some(st) => st,
        None => graph_users(s, token).await,
    };
    assert_eq!(status, want, "{what}: Graph /users");
}

fn result_name(what: &str) -> &str {
    what.rsplit(' ').next().unwrap()
}

#[tokio::test]
async fn azure_identity_and_msal_for_python() {
    let Some(python) = python(&["azure.identity", "msal", "requests"]) else {
        return;
    };
    let s = server();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/managed_identity.py"
    );
    let mut all = cases();
    all.as_array_mut().unwrap().extend([
        json!({"name": "msal system", "client": "msal"}),
        json!({"name": "msal user", "client": "msal", "client_id": READER_MI}),
        json!({"name": "msal no_role", "client": "msal", "client_id": USER_MI}),
    ]);
    for shape in [Shape::AppService, Shape::Imds] {
        let mut cmd = Command::new(&python);
        cmd.arg(script).arg(all.to_string());
        client_env(&mut cmd, &s, shape);
        let results = json_output("Azure Identity for Python", cmd.output().unwrap());
        for (name, r) in results.as_object().unwrap() {
            // MSAL's VM path takes only MSAL_MANAGED_IDENTITY_ENDPOINT, not the pod host.
            if matches!(shape, Shape::Imds) && name.starts_with("msal") {
                continue;
            }
            // The script called Graph itself, through HTTPS_PROXY with REQUESTS_CA_BUNDLE.
            let status = r["graph_status"].as_u64().map(|v| v as u16);
            let what = format!("{shape:?} {name}");
            assert_case(&s, &what, r, status).await;
            if status == Some(403) {
                assert_eq!(r["graph_error"], "Authorization_RequestDenied", "{what}");
            } else {
                assert_eq!(r["users"], 5, "{what}: {r}");
            }
        }
    }
    // With AZURE_CLIENT_ID, DefaultAzureCredential asks for that user-assigned identity.
    let mut cmd = Command::new(&python);
    cmd.arg(script)
        .arg(json!([{"name": "default", "client": "default"}]).to_string());
    client_env(&mut cmd, &s, Shape::AppService);
    cmd.env("AZURE_CLIENT_ID", USER_MI);
    let results = json_output("DefaultAzureCredential", cmd.output().unwrap());
    assert_case(&s, "AZURE_CLIENT_ID no_role", &results["default"], None).await;
}

#[tokio::test]
async fn azure_identity_for_javascript() {
    let Some(dir) = node_clients() else { return };
    let s = server();
    for shape in [Shape::AppService, Shape::Imds] {
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("managed_identity.mjs"))
            .arg(cases().to_string());
        client_env(&mut cmd, &s, shape);
        let results = json_output("@azure/identity", cmd.output().unwrap());
        assert_eq!(results.as_object().unwrap().len(), 4, "{results}");
        for (name, r) in results.as_object().unwrap() {
            assert_case(&s, &format!("{shape:?} {name}"), r, None).await;
        }
    }
}

#[tokio::test]
async fn azure_identity_for_rust() {
    let Some(bin) = example("azure_identity_managed") else {
        return;
    };
    let s = server();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.arg("https://graph.microsoft.com/.default").args(args);
        client_env(&mut cmd, &s, Shape::AppService);
        cmd.output().unwrap()
    };
    for (name, args) in [
        ("system", vec![]),
        ("user", vec!["client_id", READER_MI]),
        ("user", vec!["object_id", READER_MI_PRINCIPAL]),
        ("no_role", vec!["client_id", USER_MI]),
    ] {
        let out = run(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap();
        let result = json!({"access_token": token.trim()});
        assert_case(&s, &format!("rust {name}"), &result, None).await;
    }
    // The SDK itself refuses a resource id on App Service (its bug #2407 workaround), before
    // any request; serve would take it (`msi_res_id`, tested in `managed_identity`).
    let out = run(&["resource_id", READER_MI_RESOURCE]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resource IDs aren't supported"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn az_login_identity() {
    let Some(az_bin) = azure_cli() else { return };
    let s = server();
    for (name, login, client_id) in [
        ("system", vec![], SYSTEM_MI),
        ("user", vec!["--client-id", READER_MI], READER_MI),
        ("no_role", vec!["--client-id", USER_MI], USER_MI),
    ] {
        let mut az = Az::new(&az_bin, &s);
        for var in [
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "NO_PROXY",
        ] {
            az = az.with_env(var, &env_of(&s, var));
        }
        let mut args = vec!["login", "--identity", "--allow-no-subscriptions"];
        args.extend(login);
        let accounts = az.json(&args);
        let account = &accounts[0];
        assert_eq!(account["tenantId"], TENANT, "{accounts}");
        assert_eq!(account["user"]["type"], "servicePrincipal", "{accounts}");
        assert_eq!(
            account["user"]["assignedIdentityInfo"].as_str().unwrap(),
            if client_id == SYSTEM_MI {
                "MSI".to_string()
            } else {
                format!("MSIClient-{client_id}")
            }
        );
        let got = az.json(&[
            "account",
            "get-access-token",
            "--resource",
            "https://graph.microsoft.com",
        ]);
        let token = got["accessToken"].as_str().unwrap();
        assert_eq!(claims_of(token)["appid"], client_id, "{name}");
        let out = az.run(&[
            "rest",
            "--url",
            "https://graph.microsoft.com/v1.0/users",
            "-o",
            "json",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if name == "no_role" {
            assert!(!out.status.success(), "{name}");
            assert!(
                stderr.contains("Forbidden") && stderr.contains("Authorization_RequestDenied"),
                "{stderr}"
            );
        } else {
            assert!(out.status.success(), "{name}: {stderr}");
            let users: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(users["value"].as_array().unwrap().len(), 5, "{users}");
        }
    }
}
