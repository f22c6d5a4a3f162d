//! Microsoft's own resources, known in every tenant as in Entra: tokens for Azure Service
//! Management, Key Vault, Storage and the portal's API (v1 shape, `aud` as the real ones carry
//! it), and, through `--proxy`, the little of Azure Resource Manager a login needs (`GET
//! /subscriptions`, `GET /tenants`) behind Resource Manager's bearer check, and the portal
//! API's consent route.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::serve::*;
use serde_json::Value;

/// The app the Azure CLI signs in as (tests/fixtures/azure.toml).
pub const AZ_APP: &str = "6f1c5e8a-0000-4000-8000-0000000000a2";
/// A tenant with an Azure subscription.
pub const SUB_TENANT: &str = "3f4d6c7b-8e9f-4a01-b2c3-d4e5f6071829";
pub const SUBSCRIPTION: &str = "9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b";
const PORTAL_API: &str = "74658136-14ec-4630-ad9b-26e160ff0fc6";
const ARM: &str = "https://management.azure.com";

/// The Azure tests' registrations and state, made once per test binary.
pub struct AzureFixture {
    pub config: PathBuf,
    /// `certgen new --pem-bundle`'s certificate and key in one PEM, as `az login --certificate`
    /// takes them.
    pub pem: PathBuf,
    pub state: PathBuf,
}

pub fn azure_fixture() -> &'static AzureFixture {
    static F: OnceLock<AzureFixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = fixture().dir.join("azure");
        std::fs::create_dir_all(&dir).unwrap();
        let made = Command::new(env!("CARGO_BIN_EXE_certgen"))
            .args([
                "new",
                "--cn",
                "az-automation",
                "--name",
                "az",
                "--pem-bundle",
            ])
            .arg("--out")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(made.status.success(), "certgen new: {made:?}");
        // az.pem, the certificate and the key in one file, as `az login --certificate` takes it.
        let pem_path = dir.join("az.pem");
        let config = dir.join("azure.toml");
        std::fs::write(
            &config,
            crate::support::toml_fixture(
                "azure.toml",
                &[
                    ("AZ_APP", AZ_APP),
                    ("CERT", dir.join("az.crt").to_str().unwrap()),
                    ("SECRET_VAR", SECRET_VAR),
                    ("SUBSCRIPTION", SUBSCRIPTION),
                    ("SUB_TENANT", SUB_TENANT),
                    ("TENANT", TENANT),
                    ("TENANT_DOMAIN", TENANT_DOMAIN),
                ],
            ),
        )
        .unwrap();
        let state = dir.join("state");
        // The first start makes the keys and the proxy's CA; later ones (in parallel) read them.
        drop(azure_server_in(&state, &config));
        AzureFixture {
            config,
            pem: pem_path,
            state,
        }
    })
}

fn azure_server_in(state: &Path, config: &Path) -> Server {
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

/// `certgen serve --proxy` with the Azure registrations.
pub fn azure_server() -> Server {
    let f = azure_fixture();
    azure_server_in(&f.state, &f.config)
}

/// A token for `scope` by the app's secret, through the proxy as `login.microsoftonline.com`.
async fn token(s: &Server, tenant: &str, scope: &str) -> String {
    let (status, body) = post_form(
        &super::proxy::proxied(s),
        &format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", AZ_APP),
            ("client_secret", SECRET),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{scope}: {body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn get(s: &Server, url: &str, bearer: Option<&str>) -> (u16, Option<String>, Value) {
    let mut req = super::proxy::proxied(s).get(url);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, challenge, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_tenant_has_microsofts_resources_with_v1_tokens() {
    let s = azure_server();
    let jwks = s.get_json(&s.field("jwks_uri")).await;
    let iss = format!("https://sts.windows.net/{TENANT}/");
    // (scope asked, `aud` of the token): the registered identifier URI, trailing slash
    // included, whatever slashes the scope carried; the app id when asked by app id.
    for (scope, aud) in [
        (
            "https://management.core.windows.net//.default",
            "https://management.core.windows.net/",
        ),
        (
            "https://management.azure.com/.default",
            "https://management.azure.com/",
        ),
        (
            "https://vault.azure.net/.default",
            "https://vault.azure.net",
        ),
        (
            "https://storage.azure.com//.default",
            "https://storage.azure.com",
        ),
        (
            "https://graph.microsoft.com//.default",
            "https://graph.microsoft.com",
        ),
        (
            "797f4846-ba00-4fd7-ba43-dac1f8f63013/.default",
            "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        ),
        (&format!("{PORTAL_API}/.default"), PORTAL_API),
    ] {
        let t = token(&s, TENANT, scope).await;
        let claims = verify_with_keys(&t, &jwks, Some(aud), Some(&iss));
        assert_eq!(claims["ver"], "1.0", "{scope}");
        assert_eq!(claims["appid"], AZ_APP, "{scope}");
        assert_eq!(claims["tid"], TENANT, "{scope}");
        // App roles are granted on Graph only: Azure's own access is RBAC, not app roles.
        let graph = aud.starts_with("https://graph");
        assert_eq!(claims.get("roles").is_some(), graph, "{scope}: {claims}");
    }
    // The v1 endpoint echoes `resource` as sent.
    let (status, body) = post_form(
        &s.client(),
        &s.v1_token_url(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", AZ_APP),
            ("client_secret", SECRET),
            ("resource", "https://vault.azure.net"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "https://vault.azure.net");
    // The banner names them on one line.
    assert!(
        s.log_text().contains(
            "resources of every tenant (v1 tokens): Microsoft Graph, Windows Azure Service \
             Management API, Azure Key Vault, Azure Storage, ADIbizaUX"
        ),
        "{}",
        s.log_text()
    );
}

#[tokio::test]
async fn resource_manager_lists_subscriptions_and_tenants_to_its_own_tokens() {
    let s = azure_server();
    let subs = format!("{ARM}/subscriptions?api-version=2022-12-01");

    // No token: Resource Manager's 401, its envelope and challenge.
    let (status, challenge, body) = get(&s, &subs, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "AuthenticationFailed", "{body}");
    assert_eq!(
        body["error"]["message"],
        "Authentication failed. The 'Authorization' header is missing."
    );
    let challenge = challenge.expect("a WWW-Authenticate header");
    assert!(
        challenge.starts_with("Bearer authorization_uri=\"https://login.microsoftonline.com/\""),
        "{challenge}"
    );
    // A token for Graph is for the wrong audience.
    let graph = token(&s, TENANT, "https://graph.microsoft.com/.default").await;
    let (status, _, body) = get(&s, &subs, Some(&graph)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationTokenAudience");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'https://graph.microsoft.com'"),
        "{message}"
    );
    let (status, _, body) = get(&s, &subs, Some("not.a.token")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    // A tenant without subscriptions: an empty list.
    let arm = token(&s, TENANT, "https://management.core.windows.net//.default").await;
    let (status, _, body) = get(&s, &subs, Some(&arm)).await;
    assert_eq!((status, body), (200, serde_json::json!({"value": []})));
    // The tenant of the subscription: it, in Resource Manager's shape.
    let arm_sub = token(&s, SUB_TENANT, "https://management.azure.com/.default").await;
    let (status, _, body) = get(&s, &subs, Some(&arm_sub)).await;
    assert_eq!(status, 200, "{body}");
    let sub = &body["value"][0];
    assert_eq!(sub["id"], format!("/subscriptions/{SUBSCRIPTION}"));
    assert_eq!(sub["subscriptionId"], SUBSCRIPTION);
    assert_eq!(sub["tenantId"], SUB_TENANT);
    assert_eq!(sub["displayName"], "Fabrikam Production");
    assert_eq!(sub["state"], "Enabled");
    assert_eq!(body["value"].as_array().unwrap().len(), 1);

    let (status, _, body) = get(
        &s,
        &format!("{ARM}/tenants?api-version=2022-12-01"),
        Some(&arm_sub),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"][0]["tenantId"], SUB_TENANT);
    assert_eq!(body["value"][0]["id"], format!("/tenants/{SUB_TENANT}"));
    assert_eq!(body["value"][0]["defaultDomain"], "fabrikam.example");
    assert_eq!(body["value"][0]["tenantCategory"], "Home");

    // Resource Manager wants its api-version.
    let (status, _, body) = get(&s, &format!("{ARM}/subscriptions"), Some(&arm)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");
    // Only on Resource Manager's name: the service's own address has no /subscriptions.
    let resp = s
        .client()
        .get(format!("{}/subscriptions?api-version=2022-12-01", s.base()))
        .bearer_auth(&arm)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let log = s.log_text();
    assert!(
        log.contains(&format!(
            "GET https://management.azure.com/subscriptions 200 client={AZ_APP}"
        )),
        "{log}"
    );
}

#[tokio::test]
async fn the_portal_api_takes_its_own_tokens_and_grants_admin_consent() {
    let s = azure_server();
    let url = format!(
        "https://main.iam.ad.ext.azure.com/api/RegisteredApplications/{AZ_APP}/Consent?onBehalfOfAll=true"
    );
    let client = super::proxy::proxied(&s);
    let resp = client.post(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let arm = token(&s, TENANT, "https://management.core.windows.net//.default").await;
    let resp = client.post(&url).bearer_auth(&arm).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401, "a token for another resource");
    let portal = token(&s, TENANT, &format!("{PORTAL_API}/.default")).await;
    let resp = client.post(&url).bearer_auth(&portal).send().await.unwrap();
    // The app asks for nothing (no requiredResourceAccess): consent grants nothing, and
    // says so with a 204 as az expects (what it grants is tested with `az ad app permission
    // add` + `admin-consent` and in the directory's unit tests).
    assert_eq!(resp.status().as_u16(), 204);
    let unknown = "https://main.iam.ad.ext.azure.com/api/RegisteredApplications/00000000-0000-4000-8000-00000000dead/Consent?onBehalfOfAll=true";
    let resp = client
        .post(unknown)
        .bearer_auth(&portal)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("no application with appId"), "{message}");
}
