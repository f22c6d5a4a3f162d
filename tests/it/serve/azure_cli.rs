//! The Azure CLI, unmodified, against `certgen serve --proxy`, driven by its environment only:
//! `az login --service-principal` with the certificate `certgen new` made, then tokens and Graph
//! calls as a deployment script makes them. Runs the `az` of `CERTGEN_TEST_AZ` (.ci/run installs
//! `azure-cli` from PyPI in target/az-venv); skipped when it is missing, failing under CI=true.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::microsoft_resources::{azure_fixture, azure_server, AZ_APP, SUBSCRIPTION, SUB_TENANT};
use crate::support::require::azure_cli;
use crate::support::serve::*;
use serde_json::Value;

/// One `az` with its own configuration folder, pointed at `s` by the environment alone.
pub(super) struct Az {
    bin: PathBuf,
    env: Vec<(String, String)>,
    /// AZURE_CONFIG_DIR, removed with the test.
    config_dir: tempfile::TempDir,
}

impl Az {
    pub(super) fn new(bin: &Path, s: &Server) -> Az {
        let env = &s.ready["env"];
        let var = |name: &str| env[name].as_str().unwrap().to_string();
        let config_dir = tempfile::tempdir().unwrap();
        Az {
            bin: bin.to_path_buf(),
            env: vec![
                // The proxy and its CA: az sends every request with Python `requests` (and MSAL,
                // which uses it), which honour these two.
                ("HTTPS_PROXY".into(), var("HTTPS_PROXY")),
                ("REQUESTS_CA_BUNDLE".into(), var("REQUESTS_CA_BUNDLE")),
                // az reads `AZURE_{SECTION}_{OPTION}` as its configuration (azure-cli's
                // "CLI configuration" docs): no telemetry upload, no survey prompt, no colours
                // in what the test reads.
                ("AZURE_CORE_COLLECT_TELEMETRY".into(), "false".into()),
                ("AZURE_CORE_SURVEY_MESSAGE".into(), "false".into()),
                ("AZURE_CORE_NO_COLOR".into(), "true".into()),
                // No extension is installed on the fly when a command is unknown (that would
                // fetch the extension index).
                ("AZURE_EXTENSION_USE_DYNAMIC_INSTALL".into(), "no".into()),
            ],
            config_dir,
        }
    }

    /// One more variable of the environment az runs in.
    pub(super) fn with_env(mut self, name: &str, value: &str) -> Az {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args).stdin(Stdio::null());
        // Nothing of the developer's own Azure setup or proxy exceptions may leak in.
        for name in [
            "NO_PROXY",
            "no_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
        ] {
            c.env_remove(name);
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        // Everything az keeps (profile, token cache, versionCheck.json) in a folder of the
        // test's own, never ~/.azure.
        c.env("AZURE_CONFIG_DIR", self.config_dir.path());
        c
    }

    pub(super) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `az ARGS -o json` and reads its JSON; panics with az's own words when it fails.
    pub(super) fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "az {}: {stderr}", args.join(" "));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "az {}: not JSON ({e}): {}\n{stderr}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    fn login(&self, tenant: &str, extra: &[&str]) -> Value {
        let pem = azure_fixture().pem.to_str().unwrap().to_string();
        let mut args = vec![
            "login",
            "--service-principal",
            "-u",
            AZ_APP,
            "--certificate",
            &pem,
            "--tenant",
            tenant,
        ];
        args.extend_from_slice(extra);
        self.json(&args)
    }
}

pub(super) fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn az_login_with_a_certificate_then_tokens_and_graph() {
    let Some(az_bin) = azure_cli() else { return };
    let s = azure_server();
    let az = Az::new(&az_bin, &s);

    // A tenant with no subscription: with --allow-no-subscriptions, a tenant-level account.
    let accounts = az.login(TENANT, &["--allow-no-subscriptions"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
    let account = &accounts[0];
    assert_eq!(account["tenantId"], TENANT);
    assert_eq!(account["id"], TENANT);
    assert_eq!(account["name"], "N/A(tenant level account)");
    assert_eq!(account["user"]["name"], AZ_APP);
    assert_eq!(account["user"]["type"], "servicePrincipal");
    assert_eq!(account["cloudName"], "AzureCloud");

    // A Graph token, as a deployment script gets one, checked with the service's keys.
    let got = az.json(&[
        "account",
        "get-access-token",
        "--resource",
        "https://graph.microsoft.com",
    ]);
    assert_eq!(got["tenant"], TENANT);
    assert_eq!(got["tokenType"], "Bearer");
    let token = got["accessToken"].as_str().unwrap();
    let jwks = s.get_json(&s.field("jwks_uri")).await;
    let iss = format!("https://sts.windows.net/{TENANT}/");
    let claims = verify_with_keys(
        token,
        &jwks,
        Some("https://graph.microsoft.com"),
        Some(&iss),
    );
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["appid"], AZ_APP);
    // Signed in with the certificate: appidacr 2.
    assert_eq!(claims["appidacr"], "2");
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["roles"], serde_json::json!(["User.Read.All"]));
    // az counts expires_on from expires_in (3599) when it got the token: a second either way.
    let expires_on = got["expires_on"].as_i64().unwrap();
    assert!(
        (expires_on - claims["exp"].as_i64().unwrap()).abs() <= 2,
        "{got} {claims}"
    );

    // Without --resource: Resource Manager's token, as az asked for it at login.
    let arm = az.json(&["account", "get-access-token"]);
    let arm_claims = claims_of(arm["accessToken"].as_str().unwrap());
    assert_eq!(arm_claims["aud"], "https://management.core.windows.net/");
    assert_eq!(arm_claims["iss"], iss.as_str());

    // Graph through az rest (az picks the Graph resource from the URL).
    let users = az.json(&[
        "rest",
        "--method",
        "get",
        "--url",
        "https://graph.microsoft.com/v1.0/users",
    ]);
    let upns: Vec<&str> = users["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(upns, [format!("ada@{TENANT_DOMAIN}")]);

    // What crossed the proxy: Entra, Resource Manager and Graph, answered here. The only
    // other host az tried is its first-run version check (azure-cli's handle_version_update
    // asks azcliprod.blob.core.windows.net for the latest version), refused with nothing
    // opened; az carries on without it.
    let log = s.log_text();
    let tunnels: Vec<&str> = log
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("CONNECT"))
        .collect();
    assert!(
        tunnels
            .iter()
            .any(|l| l.contains("graph.microsoft.com:443 200")),
        "{log}"
    );
    for line in tunnels {
        let allowed = [
            "login.microsoftonline.com:443 200",
            "management.azure.com:443 200",
            "graph.microsoft.com:443 200",
            "azcliprod.blob.core.windows.net:443 403",
        ];
        assert!(allowed.iter().any(|a| line.contains(a)), "{line}");
    }
    assert!(
        log.contains(&format!(
            "GET https://management.azure.com/subscriptions 200 client={AZ_APP}"
        )),
        "{log}"
    );
}

#[tokio::test]
async fn az_login_finds_the_subscription_of_its_tenant() {
    let Some(az_bin) = azure_cli() else { return };
    let s = azure_server();
    let az = Az::new(&az_bin, &s);
    // No --allow-no-subscriptions: az must find one, or it fails.
    let accounts = az.login(SUB_TENANT, &[]);
    assert_eq!(accounts.as_array().unwrap().len(), 1, "{accounts}");
    let sub = &accounts[0];
    assert_eq!(sub["id"], SUBSCRIPTION);
    assert_eq!(sub["name"], "Fabrikam Production");
    assert_eq!(sub["tenantId"], SUB_TENANT);
    assert_eq!(sub["state"], "Enabled");
    assert_eq!(sub["isDefault"], true);
    let shown = az.json(&["account", "show"]);
    assert_eq!(shown["id"], SUBSCRIPTION);

    // And a tenant with none refuses the login the way az says it.
    let other = Az::new(&az_bin, &s);
    let pem = azure_fixture().pem.to_str().unwrap().to_string();
    let out = other.run(&[
        "login",
        "--service-principal",
        "-u",
        AZ_APP,
        "--certificate",
        &pem,
        "--tenant",
        TENANT,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("No subscriptions found for {AZ_APP}")),
        "{stderr}"
    );
}
