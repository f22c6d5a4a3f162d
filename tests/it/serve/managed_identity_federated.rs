//! A user-assigned managed identity's token as an app's federated credential, end to end
//! (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity>):
//! the identity's token for `api://AzureADTokenExchange` from serve's App Service endpoint, the
//! app's federated credential naming Entra's v2 issuer and the identity's principal id, the
//! app's token, then Graph `/users` with the app's role — through certgen's CLI and through Azure
//! Identity for Python. A system-assigned identity's token is refused (700222), as Entra
//! refuses it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::serve::managed_identity::*;
use crate::support::graph::{claims_of, graph};
use crate::support::serve::*;
use crate::support::stdout;
use crate::support::token_stub::CLEAN_ENV;

/// No certificate, no secret: a federated credential trusting READER_MI only; User.Read.All.
const MI_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000e1";
/// The AAD Token Exchange app: the `aud` of a managed identity's token for the exchange.
const TOKEN_EXCHANGE_APP: &str = "fb60f99c-7a34-4190-8149-302f77469936";

/// The managed identities' config plus MI_APP, beside it (its relative paths still hold).
fn config() -> PathBuf {
    let base = mi_config();
    let text = std::fs::read_to_string(base).unwrap();
    let path = base.with_file_name(format!(
        "mi-federated-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    let app = format!(
        r#"
[[app]]
client_id = "{MI_APP}"
display_name = "reports-exporter"
[app.roles]
"https://graph.microsoft.com" = ["User.Read.All"]
[[app.federated]]
name = "reports-identity"
issuer = "https://login.microsoftonline.com/{TENANT}/v2.0"
subject = "{READER_MI_PRINCIPAL}"
audiences = ["api://AzureADTokenExchange"]
"#
    );
    std::fs::write(&path, format!("{text}\n{app}")).unwrap();
    path
}

/// `certgen ARGS` with the ready line's App Service variables and nothing of the caller's.
fn certgen(s: &Server, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certgen"));
    for var in CLEAN_ENV {
        cmd.env_remove(var);
    }
    cmd.env_remove("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        .env("IDENTITY_ENDPOINT", env_of(s, "IDENTITY_ENDPOINT"))
        .env("IDENTITY_HEADER", env_of(s, "IDENTITY_HEADER"))
        .args(args);
    cmd.output().unwrap()
}

fn token_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out).trim().to_string()
}

/// The app's token through `--federated-token-file F`.
fn app_token(s: &Server, file: &Path) -> Output {
    certgen(
        s,
        &[
            "token",
            "--tenant",
            TENANT,
            "--client-id",
            MI_APP,
            "--federated-token-file",
            file.to_str().unwrap(),
            "--authority-host",
            &s.base(),
            "--ca-file",
            &s.field("ca_file"),
            "--no-cache",
        ],
    )
}

async fn users_with(s: &Server, token: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = graph().get(s, "/v1.0/users", Some(token)).await;
    (status, body)
}

#[tokio::test]
async fn a_user_assigned_identitys_token_signs_an_app_in_and_the_app_calls_graph() {
    let config = config();
    let s = Server::start_keys_of(&fixture().state, &["--config", config.to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();

    // The identity's token for the exchange, from the platform endpoint.
    let mi_token = token_of(&certgen(
        &s,
        &[
            "token",
            "--managed-identity",
            "--client-id",
            READER_MI,
            "--scope",
            "api://AzureADTokenExchange/.default",
        ],
    ));
    let c = claims_of(&mi_token);
    assert_eq!(c["aud"], TOKEN_EXCHANGE_APP, "{c}");
    assert_eq!(c["sub"], READER_MI_PRINCIPAL, "{c}");
    assert_eq!(c["xms_mirid"], READER_MI_RESOURCE, "{c}");
    assert!(
        c["iss"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{TENANT}/v2.0")),
        "{c}"
    );

    // Presented by the app as its client assertion.
    let file = dir.path().join("mi-token");
    std::fs::write(&file, &mi_token).unwrap();
    let app = token_of(&app_token(&s, &file));
    let c = claims_of(&app);
    assert_eq!(c["appid"], MI_APP, "{c}");
    assert_eq!(c["appidacr"], "2", "{c}");
    assert_eq!(c["roles"], serde_json::json!(["User.Read.All"]), "{c}");
    let (status, body) = users_with(&s, &app).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["value"].as_array().is_some_and(|v| !v.is_empty()),
        "{body}"
    );

    // A system-assigned identity's token is Entra's own token, and refused as one.
    let system = token_of(&certgen(
        &s,
        &[
            "token",
            "--managed-identity",
            "--scope",
            "api://AzureADTokenExchange/.default",
        ],
    ));
    std::fs::write(&file, &system).unwrap();
    let out = app_token(&s, &file);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AADSTS700222"), "{err}");
    assert!(err.lines().next().unwrap().starts_with("error:"), "{err}");

    // Another user-assigned identity's token matches no credential of the app.
    let other = token_of(&certgen(
        &s,
        &[
            "token",
            "--managed-identity",
            "--client-id",
            USER_MI,
            "--scope",
            "api://AzureADTokenExchange/.default",
        ],
    ));
    std::fs::write(&file, &other).unwrap();
    let out = app_token(&s, &file);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AADSTS700213"), "{err}");
    assert!(err.contains(USER_MI_PRINCIPAL), "{err}");
}

/// Azure Identity for Python, unmodified: ManagedIdentityCredential feeding
/// ClientAssertionCredential, as Microsoft's page shows it.
#[tokio::test]
async fn azure_identity_for_python_chains_the_identity_into_the_app() {
    let Some(python) = crate::support::require::python(&["azure.identity"]) else {
        return;
    };
    let config = config();
    let s = Server::start_keys_of(&fixture().state, &["--config", config.to_str().unwrap()]);
    let mut cmd = Command::new(python);
    for var in CLEAN_ENV {
        cmd.env_remove(var);
    }
    let out = cmd
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/managed_identity_federated.py"
        ))
        .env_remove("AZURE_POD_IDENTITY_AUTHORITY_HOST")
        .env("IDENTITY_ENDPOINT", env_of(&s, "IDENTITY_ENDPOINT"))
        .env("IDENTITY_HEADER", env_of(&s, "IDENTITY_HEADER"))
        .env("MI_CLIENT_ID", READER_MI)
        .env("AUTHORITY_HOST", s.base())
        .env("TENANT", TENANT)
        .env("APP_CLIENT_ID", MI_APP)
        .env("REQUESTS_CA_BUNDLE", s.field("ca_file"))
        .output()
        .unwrap();
    let token = token_of(&out);
    let c = claims_of(&token);
    assert_eq!(c["appid"], MI_APP, "{c}");
    assert_eq!(c["appidacr"], "2", "{c}");
    let (status, body) = users_with(&s, &token).await;
    assert_eq!(status, 200, "{body}");
}
