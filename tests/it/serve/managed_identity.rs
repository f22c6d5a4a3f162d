//! Managed identities: serve as the Azure platform's token endpoints (App Service's
//! `IDENTITY_ENDPOINT` and IMDS), asked over plain HTTP as the SDKs ask them, with the
//! identities' roles given by the config and by Graph writes. The unmodified SDKs are in
//! `managed_identity_clients`.

use std::path::PathBuf;
use std::sync::OnceLock;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::graph::{assert_graph_error, claims_of, graph, ADMIN};
use crate::support::serve::*;

/// System-assigned, granted User.Read.All on Graph by the config.
pub const SYSTEM_MI: &str = "5e5e5e5e-0000-4000-8000-000000000001";
pub const SYSTEM_MI_PRINCIPAL: &str = "5e5e5e5e-1111-4000-8000-000000000001";
/// User-assigned, with no role until a test gives it one.
pub const USER_MI: &str = "5e5e5e5e-0000-4000-8000-000000000002";
pub const USER_MI_PRINCIPAL: &str = "5e5e5e5e-1111-4000-8000-000000000002";
pub const USER_MI_RESOURCE: &str = "/subscriptions/9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b/\
     resourceGroups/orders/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-worker";
/// User-assigned, granted User.Read.All by the config (the clients' user-assigned case).
pub const READER_MI: &str = "5e5e5e5e-0000-4000-8000-000000000003";
pub const READER_MI_PRINCIPAL: &str = "5e5e5e5e-1111-4000-8000-000000000003";
pub const READER_MI_RESOURCE: &str = "/subscriptions/9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b/\
     resourceGroups/orders/providers/Microsoft.ManagedIdentity/userAssignedIdentities/reports";
pub const VM_RESOURCE: &str = "/subscriptions/9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b/\
     resourceGroups/orders/providers/Microsoft.Compute/virtualMachines/orders-vm";
/// Microsoft Graph's User.Read.All app role id.
pub const USER_READ_ALL: &str = "df021288-bdef-4463-88db-98f22de89214";

/// The Graph tests' config (users, ADMIN) plus three managed identities, beside it so its
/// relative certificate paths still hold.
pub fn mi_config() -> &'static PathBuf {
    static C: OnceLock<PathBuf> = OnceLock::new();
    C.get_or_init(|| {
        let base = &graph().config;
        let text = std::fs::read_to_string(base).unwrap();
        let path = base.with_file_name("managed-identity.toml");
        let identities = format!(
            r#"
[[managed_identity]]
kind = "system"
client_id = "{SYSTEM_MI}"
principal_id = "{SYSTEM_MI_PRINCIPAL}"
resource_id = "{VM_RESOURCE}"
[managed_identity.roles]
"https://graph.microsoft.com" = ["User.Read.All"]

[[managed_identity]]
kind = "user"
client_id = "{USER_MI}"
principal_id = "{USER_MI_PRINCIPAL}"
resource_id = "{USER_MI_RESOURCE}"

[[managed_identity]]
kind = "user"
client_id = "{READER_MI}"
principal_id = "{READER_MI_PRINCIPAL}"
resource_id = "{READER_MI_RESOURCE}"
display_name = "reports"
[managed_identity.roles]
"00000003-0000-0000-c000-000000000000" = ["User.Read.All"]
"#
        );
        std::fs::write(&path, format!("{text}\n{identities}")).unwrap();
        path
    })
}

/// serve with the managed identities, on a directory of its own, plus `extra` flags.
pub fn mi_server(extra: &[&str]) -> Server {
    let mut args = vec!["--config", mi_config().to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_keys_of(&fixture().state, &args)
}

/// The ready line's `env` value of `name`.
pub fn env_of(s: &Server, name: &str) -> String {
    s.ready["env"][name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} in {}", s.ready))
        .to_string()
}

/// GET `url` with `headers`: status and JSON body.
async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn imds_url(s: &Server, query: &str) -> String {
    format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&{query}",
        env_of(s, "AZURE_POD_IDENTITY_AUTHORITY_HOST")
    )
}

fn app_service_url(s: &Server, query: &str) -> String {
    format!(
        "{}?api-version=2019-08-01&{query}",
        env_of(s, "IDENTITY_ENDPOINT")
    )
}

async fn imds(s: &Server, query: &str) -> (u16, Value) {
    get(&imds_url(s, query), &[("Metadata", "true")]).await
}

async fn app_service(s: &Server, query: &str) -> (u16, Value) {
    let header = env_of(s, "IDENTITY_HEADER");
    get(
        &app_service_url(s, query),
        &[("X-IDENTITY-HEADER", header.as_str())],
    )
    .await
}

/// Every value of a success body is a string (the Rust SDK fails on a number), the expiry
/// agrees with the token's, and the token verifies with the service's keys.
async fn check_success(s: &Server, body: &Value, resource: &str, client_id: &str) -> Value {
    for (k, v) in body.as_object().unwrap() {
        assert!(v.is_string(), "{k} is not a string: {body}");
    }
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], resource);
    assert_eq!(body["client_id"], client_id);
    let token = body["access_token"].as_str().unwrap();
    let jwks = s.get_json(&s.field("jwks_uri")).await;
    let claims = verify_with_keys(token, &jwks, None, None);
    let exp = claims["exp"].as_i64().unwrap();
    assert_eq!(body["expires_on"], exp.to_string());
    assert_eq!(
        body["not_before"],
        claims["nbf"].as_i64().unwrap().to_string()
    );
    let expires_in: i64 = body["expires_in"].as_str().unwrap().parse().unwrap();
    assert!((3000..=3600).contains(&expires_in), "{body}");
    claims
}

/// The platform's refusal shape: exactly `error` and `error_description`.
fn assert_refusal(got: (u16, Value), status: u16, error: &str, description: &str) {
    let (s, body) = got;
    assert_eq!(s, status, "{body}");
    let keys: Vec<&String> = body.as_object().expect("JSON").keys().collect();
    assert_eq!(keys, ["error", "error_description"], "{body}");
    assert_eq!(body["error"], error, "{body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.starts_with(description), "{d}");
}

#[tokio::test]
async fn tokens_from_imds_and_app_service_shaped_as_entras() {
    let s = mi_server(&[]);
    // The ready line: the variables to export, on a loopback plain-HTTP listener, and never
    // IMDS_ENDPOINT (with IDENTITY_ENDPOINT it means Azure Arc to the SDKs).
    let mi = &s.ready["managed_identity"];
    let listen = mi["listen"].as_str().unwrap();
    assert!(listen.starts_with("127.0.0.1:"), "{}", s.ready);
    assert_eq!(
        env_of(&s, "IDENTITY_ENDPOINT"),
        format!("http://{listen}/msi/token")
    );
    assert_eq!(
        env_of(&s, "AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        format!("http://{listen}")
    );
    assert_eq!(env_of(&s, "IDENTITY_HEADER").len(), 64);
    assert!(s.ready["env"].get("IMDS_ENDPOINT").is_none());
    let banner = s.log_text();
    assert!(
        banner.contains(&format!(
            "export IDENTITY_ENDPOINT=http://{listen}/msi/token\n"
        )),
        "{banner}"
    );
    // The header is a secret: in the ready line only, never in the log.
    assert!(!banner.contains(&env_of(&s, "IDENTITY_HEADER")), "{banner}");
    assert!(
        banner.contains("export IDENTITY_HEADER=…   # the ready line's env.IDENTITY_HEADER"),
        "{banner}"
    );
    // A second start has another header: the platform rotates it, and nothing keeps it.
    let other = mi_server(&[]);
    assert_ne!(
        env_of(&s, "IDENTITY_HEADER"),
        env_of(&other, "IDENTITY_HEADER")
    );
    drop(other);

    // IMDS, no selector: the system-assigned identity, a v1 Graph token as Entra's.
    let (status, body) = imds(&s, "resource=https://graph.microsoft.com").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token"], "");
    assert_eq!(body["ext_expires_in"], body["expires_in"]);
    let claims = check_success(&s, &body, "https://graph.microsoft.com", SYSTEM_MI).await;
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["iss"], format!("{}/{TENANT}/", s.base()));
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["appid"], SYSTEM_MI);
    assert_eq!(claims["appidacr"], "2");
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["oid"], SYSTEM_MI_PRINCIPAL);
    assert_eq!(claims["sub"], SYSTEM_MI_PRINCIPAL);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["xms_mirid"], VM_RESOURCE);
    assert_eq!(claims["roles"], json!(["User.Read.All"]));
    // With a trailing slash on the path (`@azure/identity` adds one), by object id.
    let (status, body) = get(
        &format!(
            "{}/metadata/identity/oauth2/token/?api-version=2018-02-01&resource=https://graph.microsoft.com&object_id={READER_MI_PRINCIPAL}",
            env_of(&s, "AZURE_POD_IDENTITY_AUTHORITY_HOST")
        ),
        &[("Metadata", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = check_success(&s, &body, "https://graph.microsoft.com", READER_MI).await;
    assert_eq!(claims["xms_mirid"], READER_MI_RESOURCE);
    // By resource id (`msi_res_id`); the resource as Graph's app id, and as a scope.
    let (status, body) = imds(
        &s,
        &format!("resource=00000003-0000-0000-c000-000000000000&msi_res_id={USER_MI_RESOURCE}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = check_success(&s, &body, "00000003-0000-0000-c000-000000000000", USER_MI).await;
    assert_eq!(claims["aud"], "00000003-0000-0000-c000-000000000000");
    assert!(claims.get("roles").is_none(), "{claims}");
    let (status, body) = imds(
        &s,
        &format!("resource=https://graph.microsoft.com/.default&client_id={USER_MI}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = check_success(&s, &body, "https://graph.microsoft.com/.default", USER_MI).await;
    assert_eq!(claims["aud"], "https://graph.microsoft.com");

    // App Service: every selector it takes, and Rust azure_identity's `msi_res_id`.
    for query in [
        format!("client_id={USER_MI}"),
        format!("principal_id={USER_MI_PRINCIPAL}"),
        format!("object_id={USER_MI_PRINCIPAL}"),
        format!("mi_res_id={USER_MI_RESOURCE}"),
        format!("msi_res_id={USER_MI_RESOURCE}"),
    ] {
        let (status, body) =
            app_service(&s, &format!("resource=https://vault.azure.net&{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert!(body.get("refresh_token").is_none(), "{body}");
        let claims = check_success(&s, &body, "https://vault.azure.net", USER_MI).await;
        assert_eq!(claims["oid"], USER_MI_PRINCIPAL, "{query}");
        assert_eq!(claims["aud"], "https://vault.azure.net");
    }
    let (status, body) = app_service(&s, "resource=https://management.azure.com/").await;
    assert_eq!(status, 200, "{body}");
    check_success(&s, &body, "https://management.azure.com/", SYSTEM_MI).await;

    // For the AAD Token Exchange: a v2 token, the identity's federated credential for an app.
    let (status, body) = imds(
        &s,
        &format!("resource=api://AzureADTokenExchange&client_id={USER_MI}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = check_success(&s, &body, "api://AzureADTokenExchange", USER_MI).await;
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["aud"], "fb60f99c-7a34-4190-8149-302f77469936");
    assert_eq!(claims["iss"], format!("{}/{TENANT}/v2.0", s.base()));
    assert_eq!(claims["azp"], USER_MI);
    assert_eq!(claims["sub"], USER_MI_PRINCIPAL);
    assert_eq!(claims["xms_mirid"], USER_MI_RESOURCE);

    // The access log names the identity.
    let log = s.log_text();
    assert!(
        log.contains("/metadata/identity/oauth2/token") && log.contains(USER_MI),
        "{log}"
    );
}

#[tokio::test]
async fn refusals_as_the_platform_gives_them() {
    let s = mi_server(&[]);
    let graph_resource = "resource=https://graph.microsoft.com";
    // No Metadata header, asked as IMDS's own address: bad_request_102.
    let url = imds_url(&s, graph_resource);
    assert_refusal(
        get(&url, &[("Host", "169.254.169.254")]).await,
        400,
        "bad_request_102",
        "Required metadata header not specified",
    );
    // Asked by another host (AZURE_POD_IDENTITY_AUTHORITY_HOST), a probe without it is
    // answered: .NET's DefaultAzureCredential takes a 400 there for "no identity".
    let (status, body) = get(&url, &[]).await;
    assert_eq!(status, 200, "{body}");

    // An identity the machine does not have.
    let unknown = "5e5e5e5e-0000-4000-8000-0000000000ff";
    assert_refusal(
        imds(&s, &format!("{graph_resource}&client_id={unknown}")).await,
        400,
        "invalid_request",
        "Identity not found",
    );
    assert_refusal(
        app_service(&s, &format!("{graph_resource}&principal_id={unknown}")).await,
        400,
        "invalid_request",
        "Identity not found",
    );
    // An app's client id is not a managed identity.
    assert_refusal(
        imds(&s, &format!("{graph_resource}&client_id={ADMIN}")).await,
        400,
        "invalid_request",
        "Identity not found",
    );
    assert_refusal(
        imds(
            &s,
            &format!("{graph_resource}&msi_res_id={USER_MI_RESOURCE}x"),
        )
        .await,
        400,
        "invalid_request",
        "Identity not found",
    );
    // A resource the tenant does not have: 50001 from IMDS, Entra's 500011 from App Service.
    assert_refusal(
        imds(&s, "resource=https://nowhere.example").await,
        400,
        "invalid_resource",
        &format!("AADSTS50001: The application named https://nowhere.example was not found in the tenant named {TENANT}."),
    );
    assert_refusal(
        app_service(&s, "resource=api://nowhere/.default").await,
        400,
        "invalid_resource",
        &format!("AADSTS500011: The resource principal named api://nowhere was not found in the tenant named {TENANT}."),
    );
    // No resource, no api-version, two selectors.
    for (query, what) in [
        ("", "Required query variable 'resource' is missing"),
        ("resource=", "Required query variable 'resource' is missing"),
    ] {
        assert_refusal(imds(&s, query).await, 400, "invalid_request", what);
        assert_refusal(app_service(&s, query).await, 400, "invalid_request", what);
    }
    let no_version = format!(
        "{}/metadata/identity/oauth2/token?{graph_resource}",
        env_of(&s, "AZURE_POD_IDENTITY_AUTHORITY_HOST")
    );
    assert_refusal(
        get(&no_version, &[("Metadata", "true")]).await,
        400,
        "invalid_request",
        "Required query variable 'api-version' is missing",
    );
    assert_refusal(
        app_service(
            &s,
            &format!("{graph_resource}&client_id={USER_MI}&mi_res_id={USER_MI_RESOURCE}"),
        )
        .await,
        400,
        "invalid_request",
        "Only one of",
    );
    // App Service without its header, or with another value.
    let url = app_service_url(&s, graph_resource);
    for headers in [vec![], vec![("X-IDENTITY-HEADER", "not-the-header")]] {
        assert_refusal(
            get(&url, &headers).await,
            401,
            "unauthorized_client",
            "The X-IDENTITY-HEADER header is missing or is not this endpoint's IDENTITY_HEADER.",
        );
    }
    // The endpoints take GET only, and nothing else is served there.
    let resp = reqwest::Client::new().post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    let (status, _) = get(
        &format!(
            "{}/v1.0/users",
            env_of(&s, "AZURE_POD_IDENTITY_AUTHORITY_HOST")
        ),
        &[],
    )
    .await;
    assert_eq!(status, 404);

    // --strict: the Metadata header is required whoever is asked.
    let strict = mi_server(&["--strict"]);
    assert_refusal(
        get(&imds_url(&strict, graph_resource), &[]).await,
        400,
        "bad_request_102",
        "Required metadata header not specified",
    );

    // Without a managed identity in the config there is no listener and no variable.
    let plain = Server::start();
    assert!(
        plain.ready.get("managed_identity").is_none(),
        "{}",
        plain.ready
    );
    assert!(plain.ready.get("env").is_none(), "{}", plain.ready);
}

/// A Graph token of ADMIN, by its secret.
async fn admin_token(s: &Server) -> String {
    graph().token(s, ADMIN).await
}

async fn call(
    s: &Server,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    graph()
        .send(s, method, &format!("/v1.0/{path}"), token, body)
        .await
}

#[tokio::test]
async fn roles_come_from_the_directory_and_graph_lists_the_identities() {
    let s = mi_server(&[]);
    let admin = admin_token(&s).await;

    // Graph lists them as service principals of type ManagedIdentity, with no application.
    let (status, list) = call(
        &s,
        &admin,
        Method::GET,
        "servicePrincipals?$filter=servicePrincipalType eq 'ManagedIdentity'",
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let found: Vec<&Value> = list["value"].as_array().unwrap().iter().collect();
    let ids: Vec<&str> = found.iter().map(|v| v["appId"].as_str().unwrap()).collect();
    assert_eq!(ids, [SYSTEM_MI, USER_MI, READER_MI], "{list}");
    let user = found[1];
    assert_eq!(user["id"], USER_MI_PRINCIPAL);
    assert_eq!(user["servicePrincipalType"], "ManagedIdentity");
    assert_eq!(user["displayName"], "orders-worker");
    assert_eq!(
        user["alternativeNames"],
        json!(["isExplicit=True", USER_MI_RESOURCE])
    );
    assert_eq!(found[0]["alternativeNames"][0], "isExplicit=False");
    let (status, body) = call(
        &s,
        &admin,
        Method::GET,
        &format!("applications(appId='{USER_MI}')"),
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    // The config's role is an assignment Graph lists.
    let (status, held) = call(
        &s,
        &admin,
        Method::GET,
        &format!("servicePrincipals/{SYSTEM_MI_PRINCIPAL}/appRoleAssignments"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["value"][0]["appRoleId"], USER_READ_ALL);

    // Without a role: Graph's 403.
    let mi_token = |s: &Server| {
        let url = app_service_url(
            s,
            &format!("resource=https://graph.microsoft.com&client_id={USER_MI}"),
        );
        let header = env_of(s, "IDENTITY_HEADER");
        async move {
            let (status, body) = get(&url, &[("X-IDENTITY-HEADER", header.as_str())]).await;
            assert_eq!(status, 200, "{body}");
            body["access_token"].as_str().unwrap().to_string()
        }
    };
    let token = mi_token(&s).await;
    let (status, _, body) = graph().get(&s, "/v1.0/users", Some(&token)).await;
    assert_graph_error(
        status,
        &body,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );

    // Granted User.Read.All through Graph: in the next token, and Graph answers.
    let (status, graph_sp) = call(
        &s,
        &admin,
        Method::GET,
        "servicePrincipals(appId='00000003-0000-0000-c000-000000000000')",
        None,
    )
    .await;
    assert_eq!(status, 200, "{graph_sp}");
    let (status, assignment) = call(
        &s,
        &admin,
        Method::POST,
        &format!("servicePrincipals/{USER_MI_PRINCIPAL}/appRoleAssignments"),
        Some(json!({
            "principalId": USER_MI_PRINCIPAL,
            "resourceId": graph_sp["id"],
            "appRoleId": USER_READ_ALL,
        })),
    )
    .await;
    assert_eq!(status, 201, "{assignment}");
    assert_eq!(assignment["principalDisplayName"], "orders-worker");
    let token = mi_token(&s).await;
    assert_eq!(claims_of(&token)["roles"], json!(["User.Read.All"]));
    let (status, _, users) = graph().get(&s, "/v1.0/users", Some(&token)).await;
    assert_eq!(status, 200, "{users}");
    assert!(!users["value"].as_array().unwrap().is_empty());

    // Revoked: gone from the next token.
    let (status, _) = call(
        &s,
        &admin,
        Method::DELETE,
        &format!(
            "servicePrincipals/{USER_MI_PRINCIPAL}/appRoleAssignments/{}",
            assignment["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let token = mi_token(&s).await;
    assert!(claims_of(&token).get("roles").is_none());
    let (status, _, _) = graph().get(&s, "/v1.0/users", Some(&token)).await;
    assert_eq!(status, 403);
}

/// The endpoints' listener cuts off a client that never finishes its request head, as the main
/// listener does (its socket is not held forever).
#[test]
fn a_client_that_sends_half_a_request_is_cut_off() {
    use std::io::{Read, Write};
    let s = mi_server(&[]);
    let listen = s.ready["managed_identity"]["listen"]
        .as_str()
        .unwrap()
        .to_string();
    let mut stream = std::net::TcpStream::connect(&listen).unwrap();
    stream.write_all(b"GET /msi/token HTTP/1.1\r\n").unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 512];
    // Closed by the server (after its 10 s header deadline): EOF, or a 408 then EOF.
    let mut got = Vec::new();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("still open after 30 s: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}
