//! Provisioning through Graph on `certgen serve`: applications, secrets, service principals,
//! app role assignments, delegated grants and `$batch`, each write checked by what a client
//! then sees (a token with the secret, a role in `roles`, a sign-in with no 65001) — and again
//! after the process is killed and started on the same state folder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use super::signin::{authorize_url, browser, field, location_fields};
use crate::support::graph::*;
use crate::support::serve::*;

/// Granted on Graph what provisioning needs; the test secret.
const ADMIN: &str = "6f1c5e8a-0000-4000-8000-0000000000b1";
/// Granted Application.Read.All only: reads, never writes.
const READ_ONLY: &str = APP_READER;
/// Microsoft Graph's `User.Read.All` app role
/// (<https://learn.microsoft.com/en-us/graph/permissions-reference>).
const USER_READ_ALL: &str = "df021288-bdef-4463-88db-98f22de89214";

/// graph.toml plus ADMIN.
fn config() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let g = graph();
        let path = g.config.with_file_name("graph-writes.toml");
        let text = std::fs::read_to_string(&g.config).unwrap()
            + &format!(
                "\n[[app]]\nclient_id = \"{ADMIN}\"\ndisplay_name = \"graph admin\"\n\
                 secret_env = [\"{SECRET_VAR}\"]\ncertificates = [\"{}\"]\n[app.roles]\n\
                 \"00000003-0000-0000-c000-000000000000\" = [\"Application.ReadWrite.All\", \
                 \"AppRoleAssignment.ReadWrite.All\", \"DelegatedPermissionGrant.ReadWrite.All\"]\n",
                fixture().main.cert_pem.display()
            );
        std::fs::write(&path, text).unwrap();
        path
    })
    .clone()
}

/// A new state folder (the fixture's keys, an empty directory).
fn new_state() -> PathBuf {
    let state = fixture()
        .state
        .with_file_name(format!("state-{}", uuid::Uuid::new_v4().simple()));
    copy_keys(&fixture().state, &state);
    state
}

fn start(state: &Path, extra: &[&str]) -> Server {
    let config = config();
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_in(state, &args)
}

/// Kills `s` (SIGKILL: nothing is flushed on the way out) and starts again on `state`.
fn restart(s: Server, state: &Path) -> Server {
    drop(s);
    start(state, &[])
}

/// A Graph request: (status, body; `Value::Null` for an empty one).
async fn call(
    s: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s
        .client()
        .request(
            method.parse().unwrap(),
            format!("{}/v1.0/{}", s.base(), path.trim_start_matches('/')),
        )
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

async fn token_for(s: &Server, client_id: &str, secret: &str, scope: &str) -> (u16, Value) {
    post_form(
        &s.client(),
        &s.token_url(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope),
        ],
    )
    .await
}

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// An application made through Graph: its object.
async fn create_app(s: &Server, admin: &str, body: Value) -> Value {
    let (status, app) = call(s, admin, "POST", "applications", Some(body)).await;
    assert_eq!(status, 201, "{app}");
    app
}

/// A secret added to `app_object_id`: the `secretText`.
async fn add_password(s: &Server, admin: &str, app_object_id: &str) -> (String, String) {
    let (status, cred) = call(
        s,
        admin,
        "POST",
        &format!("applications/{app_object_id}/addPassword"),
        Some(json!({"passwordCredential": {"displayName": "ci"}})),
    )
    .await;
    assert_eq!(status, 200, "{cred}");
    (
        cred["secretText"].as_str().unwrap().to_string(),
        cred["keyId"].as_str().unwrap().to_string(),
    )
}

/// A service principal made for `app_id` (as `az ad sp create` sends it): its object.
async fn create_sp(s: &Server, admin: &str, app_id: &str) -> Value {
    let (status, sp) = call(
        s,
        admin,
        "POST",
        "servicePrincipals",
        Some(json!({"appId": app_id, "accountEnabled": true})),
    )
    .await;
    assert_eq!(status, 201, "{sp}");
    sp
}

fn guid(v: &Value) -> String {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    assert!(uuid::Uuid::parse_str(s).is_ok(), "{s}");
    s.to_string()
}

#[tokio::test]
async fn applications_are_made_found_changed_and_deleted_and_every_write_is_kept() {
    let state = new_state();
    let s = start(&state, &[]);
    let g = graph();
    let admin = g.token(&s, ADMIN).await;

    // As `az ad app create --display-name …` sends it.
    let app = create_app(
        &s,
        &admin,
        json!({"displayName": "made by graph", "keyCredentials": []}),
    )
    .await;
    assert_eq!(
        app["@odata.context"],
        format!("{}/v1.0/$metadata#applications/$entity", s.base())
    );
    let (id, app_id) = (guid(&app["id"]), guid(&app["appId"]));
    assert_ne!(id, app_id);
    assert_eq!(app["displayName"], "made by graph");
    assert_eq!(app["keyCredentials"], json!([]));
    assert_eq!(app["passwordCredentials"], json!([]));
    assert_eq!(app["requiredResourceAccess"], json!([]));
    assert_eq!(app["publisherDomain"], TENANT_DOMAIN);
    let second = create_app(&s, &admin, json!({"displayName": "made by graph too"})).await;

    // The forms the Azure CLI lists and resolves with.
    let list = |q: &str| format!("applications?$filter={}", q);
    let (status, found) = call(
        &s,
        &admin,
        "GET",
        &list("startswith(displayName,'made%20by')"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let names: Vec<&str> = found["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["made by graph", "made by graph too"]);
    for q in [
        format!("appId%20eq%20%27{app_id}%27"),
        "displayName%20eq%20%27made%20by%20graph%27".to_string(),
    ] {
        let (status, found) = call(&s, &admin, "GET", &list(&q), None).await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["value"].as_array().unwrap().len(), 1, "{q}: {found}");
        assert_eq!(found["value"][0]["id"], id.as_str());
    }
    // An object id where an app id is expected (az does not know which it holds): none.
    let (_, found) = call(&s, &admin, "GET", &list(&format!("appId eq '{id}'")), None).await;
    assert_eq!(found["value"], json!([]));
    let (status, page) = call(
        &s,
        &admin,
        "GET",
        "applications?$filter=startswith(displayName,'made')&$select=id,displayName&$top=1",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        page["value"],
        json!([{"id": id, "displayName": "made by graph"}])
    );
    let next = page["@odata.nextLink"].as_str().unwrap();
    let (_, _, page2) = g.get_url(&s, next, Some(&admin)).await;
    assert_eq!(page2["value"][0]["id"], second["id"]);
    let (status, bad) = call(&s, &admin, "GET", &list("tags/any(t:t eq 'x')"), None).await;
    assert_graph_error(
        status,
        &bad,
        400,
        "Request_UnsupportedQuery",
        "certgen serve does not support the filter 'tags/any(t:t eq 'x')' here; it takes \
         appId eq '…', displayName eq '…', startswith(displayName,'…'), \
         identifierUris/any(x:x eq '…').",
    );

    // PATCH merges as Graph's does: `web.redirectUris` replaced, `web`'s other settings kept.
    let (status, body) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{id}"),
        Some(json!({"web": {"redirectUris": ["http://localhost:5000/cb"]}, "identifierUris": ["api://made-by-graph"]})),
    )
    .await;
    assert_eq!((status, &body), (204, &Value::Null));
    let (status, got) = call(
        &s,
        &admin,
        "GET",
        &format!("applications(appId='{app_id}')"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["web"]["redirectUris"],
        json!(["http://localhost:5000/cb"])
    );
    assert_eq!(
        got["web"]["implicitGrantSettings"]["enableIdTokenIssuance"],
        false
    );
    assert_eq!(got["identifierUris"], json!(["api://made-by-graph"]));
    let (status, clash) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{}", second["id"].as_str().unwrap()),
        Some(json!({"identifierUris": ["api://made-by-graph"]})),
    )
    .await;
    assert_graph_error(
        status,
        &clash,
        400,
        "Request_BadRequest",
        "Another object with the same value for property identifierUris already exists.",
    );

    // `az ad app permission add` sends the whole list back.
    let rra = json!([{"resourceAppId": "00000003-0000-0000-c000-000000000000",
                      "resourceAccess": [{"id": USER_READ_ALL, "type": "Role"}]}]);
    let (status, _) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{id}"),
        Some(json!({"requiredResourceAccess": rra})),
    )
    .await;
    assert_eq!(status, 204);
    let (_, got) = call(&s, &admin, "GET", &format!("applications/{id}"), None).await;
    assert_eq!(got["requiredResourceAccess"], rra);

    // Refusals: no write role, an unknown object, a malformed property or body.
    let reader = g.token(&s, READ_ONLY).await;
    let (status, denied) = call(
        &s,
        &reader,
        "POST",
        "applications",
        Some(json!({"displayName": "x"})),
    )
    .await;
    assert_graph_error(
        status,
        &denied,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );
    let (status, denied) = call(&s, &reader, "DELETE", &format!("applications/{id}"), None).await;
    assert_eq!(status, 403, "{denied}");
    let missing = "0e0e0e0e-0000-4000-8000-000000000000";
    let (status, nf) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{missing}"),
        Some(json!({"displayName": "y"})),
    )
    .await;
    assert_graph_error(
        status,
        &nf,
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{missing}' does not exist or one of its queried reference-property objects are not present."),
    );
    let (status, bad) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{id}"),
        Some(json!({"identifierUris": "api://x"})),
    )
    .await;
    assert_graph_error(
        status,
        &bad,
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'identifierUris' of resource 'Application'.",
    );

    let resp = s
        .client()
        .post(format!("{}/v1.0/applications", s.base()))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Kept: killed and started again, the objects and the change are there.
    let s = restart(s, &state);
    let admin = g.token(&s, ADMIN).await;
    let (status, got) = call(&s, &admin, "GET", &format!("applications/{id}"), None).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["web"]["redirectUris"],
        json!(["http://localhost:5000/cb"])
    );

    let (status, body) = call(&s, &admin, "DELETE", &format!("applications/{id}"), None).await;
    assert_eq!((status, &body), (204, &Value::Null));
    let (status, _) = call(&s, &admin, "GET", &format!("applications/{id}"), None).await;
    assert_eq!(status, 404);
    let s = restart(s, &state);
    let admin = g.token(&s, ADMIN).await;
    let (status, _) = call(&s, &admin, "GET", &format!("applications/{id}"), None).await;
    assert_eq!(status, 404, "a delete is kept too");
    let (_, found) = call(
        &s,
        &admin,
        "GET",
        &list("startswith(displayName,'made')"),
        None,
    )
    .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_secret_works_once_the_app_has_a_service_principal_and_after_a_restart() {
    let state = new_state();
    let s = start(&state, &[]);
    let admin = graph().token(&s, ADMIN).await;
    let app = create_app(&s, &admin, json!({"displayName": "daemon"})).await;
    let (id, app_id) = (guid(&app["id"]), guid(&app["appId"]));

    let (status, cred) = call(
        &s,
        &admin,
        "POST",
        &format!("applications/{id}/addPassword"),
        Some(json!({"passwordCredential": {"displayName": "ci", "endDateTime": "2099-01-01T00:00:00Z"}})),
    )
    .await;
    assert_eq!(status, 200, "{cred}");
    assert_eq!(
        cred["@odata.context"],
        format!(
            "{}/v1.0/$metadata#microsoft.graph.passwordCredential",
            s.base()
        )
    );
    let secret = cred["secretText"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 40, "{secret}");
    assert_eq!(cred["hint"], &secret[..3]);
    assert_eq!(cred["displayName"], "ci");
    assert_eq!(cred["endDateTime"], "2099-01-01T00:00:00Z");
    let key_id = guid(&cred["keyId"]);
    // Answered once: the object lists the credential, never the secret.
    let (_, got) = call(&s, &admin, "GET", &format!("applications/{id}"), None).await;
    assert_eq!(got["passwordCredentials"][0]["keyId"], key_id.as_str());
    assert_eq!(got["passwordCredentials"][0]["secretText"], Value::Null);
    assert!(!got.to_string().contains(&secret));
    let db = std::fs::read(state.join("directory.sqlite3")).unwrap();
    assert!(
        !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret itself is never kept"
    );

    // Dates from the caller are checked, never trusted to fit.
    for bad in [
        json!({"passwordCredential": {"startDateTime": "9999-12-31T00:00:00Z"}}),
        json!({"passwordCredential": {"endDateTime": "yesterday"}}),
        json!({"passwordCredential": {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2029-01-01T00:00:00Z"}}),
    ] {
        let (status, body) = call(
            &s,
            &admin,
            "POST",
            &format!("applications/{id}/addPassword"),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "Request_BadRequest", "{body}");
    }

    // No service principal yet: Entra's AADSTS7000229.
    let got = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_refusal(&got, 401, "invalid_client", 7000229);

    let sp = create_sp(&s, &admin, &app_id).await;
    assert_eq!(sp["appId"], app_id.as_str());
    assert_eq!(sp["displayName"], "daemon");
    assert_eq!(sp["servicePrincipalNames"], json!([app_id]));
    assert_eq!(
        sp["@odata.context"],
        format!("{}/v1.0/$metadata#servicePrincipals/$entity", s.base())
    );
    let (status, again) = call(
        &s,
        &admin,
        "POST",
        "servicePrincipals",
        Some(json!({"appId": app_id})),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(
        again["error"]["code"],
        "Request_MultipleObjectsWithSameKeyValue"
    );
    let (status, none) = call(
        &s,
        &admin,
        "POST",
        "servicePrincipals",
        Some(json!({"appId": "0e0e0e0e-0000-4000-8000-000000000000"})),
    )
    .await;
    assert_eq!(status, 400, "{none}");

    let (status, body) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["appid"],
        app_id.as_str()
    );

    // Kept across a kill: the secret still works, the service principal is still found.
    let s = restart(s, &state);
    let admin = graph().token(&s, ADMIN).await;
    let (status, body) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(status, 200, "{body}");
    let (status, found) = call(
        &s,
        &admin,
        "GET",
        &format!("servicePrincipals?$filter=servicePrincipalNames%2Fany%28c%3Ac%20eq%20%27{app_id}%27%29"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["value"][0]["id"], sp["id"]);
    let (status, by_app) = call(
        &s,
        &admin,
        "GET",
        &format!("servicePrincipals(appId='{app_id}')"),
        None,
    )
    .await;
    assert_eq!((status, &by_app["id"]), (200, &sp["id"]));

    // removePassword: the secret stops working at once; an unknown keyId is Graph's 400.
    let remove = |k: &str| json!({"keyId": k});
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        &format!("applications/{id}/removePassword"),
        Some(remove(&key_id)),
    )
    .await;
    assert_eq!((status, &body), (204, &Value::Null));
    let got = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(got.0, 401, "{}", got.1);
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        &format!("applications/{id}/removePassword"),
        Some(remove(&key_id)),
    )
    .await;
    assert_graph_error(
        status,
        &body,
        400,
        "Request_BadRequest",
        "No credentials found to be removed.",
    );
    let s = restart(s, &state);
    let got = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(got.0, 401, "the removal is kept: {}", got.1);
}

#[tokio::test]
async fn an_app_role_granted_through_graph_is_in_the_next_token_and_revoked_with_it() {
    let state = new_state();
    let s = start(&state, &[]);
    let g = graph();
    let admin = g.token(&s, ADMIN).await;
    let app = create_app(&s, &admin, json!({"displayName": "reporting daemon"})).await;
    let app_id = guid(&app["appId"]);
    let (secret, _) = add_password(&s, &admin, app["id"].as_str().unwrap()).await;
    let sp = create_sp(&s, &admin, &app_id).await;
    let sp_id = guid(&sp["id"]);
    let (status, graph_sp) = call(
        &s,
        &admin,
        "GET",
        "servicePrincipals(appId='00000003-0000-0000-c000-000000000000')",
        None,
    )
    .await;
    assert_eq!(status, 200, "{graph_sp}");
    let graph_sp_id = guid(&graph_sp["id"]);

    let (status, token) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(status, 200);
    assert!(claims_of(token["access_token"].as_str().unwrap())
        .get("roles")
        .is_none());

    let assignment =
        json!({"principalId": sp_id, "resourceId": graph_sp_id, "appRoleId": USER_READ_ALL});
    let (status, made) = call(
        &s,
        &admin,
        "POST",
        &format!("servicePrincipals/{graph_sp_id}/appRoleAssignedTo"),
        Some(assignment.clone()),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["principalType"], "ServicePrincipal");
    assert_eq!(made["principalDisplayName"], "reporting daemon");
    assert_eq!(made["appRoleId"], USER_READ_ALL);
    assert_eq!(
        made["@odata.context"],
        format!(
            "{}/v1.0/$metadata#servicePrincipals('{graph_sp_id}')/appRoleAssignedTo/$entity",
            s.base()
        )
    );
    let assignment_id = guid(&made["id"]);

    // The next token carries the role, and Graph lets it read users.
    let (status, token) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(status, 200);
    let access = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims_of(&access)["roles"], json!(["User.Read.All"]));
    let (status, _, users) = g.get(&s, "/v1.0/users", Some(&access)).await;
    assert_eq!(status, 200, "{users}");

    // Graph's refusals: a role the resource does not define; the same assignment twice; a
    // caller without AppRoleAssignment.ReadWrite.All.
    let mut wrong = assignment.clone();
    wrong["appRoleId"] = json!("0e0e0e0e-0000-4000-8000-000000000000");
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        &format!("servicePrincipals/{graph_sp_id}/appRoleAssignedTo"),
        Some(wrong),
    )
    .await;
    assert_graph_error(
        status,
        &body,
        400,
        "Request_BadRequest",
        "Permission being assigned was not found on application '00000003-0000-0000-c000-000000000000'.",
    );
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        &format!("servicePrincipals/{sp_id}/appRoleAssignments"),
        Some(assignment.clone()),
    )
    .await;
    assert_graph_error(
        status,
        &body,
        400,
        "Request_BadRequest",
        "Permission being assigned already exists on the object.",
    );
    let reader = g.token(&s, READ_ONLY).await;
    let (status, body) = call(
        &s,
        &reader,
        "POST",
        &format!("servicePrincipals/{sp_id}/appRoleAssignments"),
        Some(assignment.clone()),
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // Both sides list it; it survives a kill, and the role is still in the next token.
    let (status, held) = call(
        &s,
        &reader,
        "GET",
        &format!("servicePrincipals/{sp_id}/appRoleAssignments"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{held}");
    assert_eq!(held["value"].as_array().unwrap().len(), 1);
    assert_eq!(held["value"][0]["id"], assignment_id.as_str());
    let s = restart(s, &state);
    let admin = g.token(&s, ADMIN).await;
    let (status, given) = call(
        &s,
        &admin,
        "GET",
        &format!("servicePrincipals/{graph_sp_id}/appRoleAssignedTo/{assignment_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{given}");
    let (_, token) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(
        claims_of(token["access_token"].as_str().unwrap())["roles"],
        json!(["User.Read.All"])
    );

    // Revoked: gone from the next token.
    let (status, body) = call(
        &s,
        &admin,
        "DELETE",
        &format!("servicePrincipals/{sp_id}/appRoleAssignments/{assignment_id}"),
        None,
    )
    .await;
    assert_eq!((status, &body), (204, &Value::Null));
    let (_, token) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    let access = token["access_token"].as_str().unwrap().to_string();
    assert!(claims_of(&access).get("roles").is_none());
    let (status, _, _) = g.get(&s, "/v1.0/users", Some(&access)).await;
    assert_eq!(status, 403);

    // Without its service principal the app is back to AADSTS7000229; an unknown principal
    // cannot be given a role.
    let (status, body) = call(
        &s,
        &admin,
        "DELETE",
        &format!("servicePrincipals/{sp_id}"),
        None,
    )
    .await;
    assert_eq!((status, &body), (204, &Value::Null));
    let got = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_refusal(&got, 401, "invalid_client", 7000229);
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        &format!("servicePrincipals/{graph_sp_id}/appRoleAssignedTo"),
        Some(assignment.clone()),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    let sp_id = guid(&create_sp(&s, &admin, &app_id).await["id"]);

    // Deleting the application takes its service principal along.
    let (status, _) = call(
        &s,
        &admin,
        "DELETE",
        &format!("applications/{}", app["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &s,
        &admin,
        "GET",
        &format!("servicePrincipals/{sp_id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

/// A client assertion for `client_id` signed by `cred` (RS256 + x5t), as MSAL makes one.
async fn assertion_token(s: &Server, client_id: &str, cred: &Cred) -> (u16, Value) {
    let now = now();
    let claims = json!({
        "aud": s.token_url(TENANT), "iss": client_id, "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600,
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": cred.x5t()});
    let jwt = sign_rsa(&header, &claims, &cred.key_pkcs1, Algorithm::RS256);
    post_form(
        &s.client(),
        &s.token_url(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", GRAPH_DEFAULT),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await
}

/// The PEM body as `az ad app credential reset --cert` sends it in `key`: base64 with its line
/// breaks, no armour lines.
fn pem_body(cred: &Cred) -> String {
    let pem = std::fs::read_to_string(&cred.cert_pem).unwrap();
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn new_key(cred: &Cred) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.keyCredential",
        "displayName": null,
        "key": pem_body(cred),
        "keyId": uuid::Uuid::new_v4().to_string(),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    })
}

#[tokio::test]
async fn key_credentials_replaced_whole_as_az_credential_reset_does() {
    let f = fixture();
    let state = new_state();
    let s = start(&state, &[]);
    let admin = graph().token(&s, ADMIN).await;
    let app = create_app(&s, &admin, json!({"displayName": "cert daemon"})).await;
    let (id, app_id) = (guid(&app["id"]), guid(&app["appId"]));
    create_sp(&s, &admin, &app_id).await;
    let patch = |keys: Value| json!({"keyCredentials": keys});

    // `--cert @main.pem --append` on an app with none.
    let (status, body) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{id}"),
        Some(patch(json!([new_key(&f.main)]))),
    )
    .await;
    assert_eq!((status, &body), (204, &Value::Null));
    let (status, _) = assertion_token(&s, &app_id, &f.main).await;
    assert_eq!(status, 200);

    // A second `--append`: the held entry comes back as the GET gave it (key null).
    let (_, got) = call(&s, &admin, "GET", &format!("applications/{id}"), None).await;
    let mut held = got["keyCredentials"].as_array().unwrap().clone();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["key"], Value::Null);
    assert_eq!(held[0]["customKeyIdentifier"], f.main.thumbprint_hex());
    held.push(new_key(&f.second));
    let (status, body) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{id}"),
        Some(patch(Value::Array(held))),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    for cred in [&f.main, &f.second] {
        let (status, body) = assertion_token(&s, &app_id, cred).await;
        assert_eq!(status, 200, "{body}");
    }
    let (_, got) = call(
        &s,
        &admin,
        "GET",
        &format!("applications/{id}?$select=keyCredentials"),
        None,
    )
    .await;
    assert_eq!(got["keyCredentials"][0]["key"], b64_std(&f.main.cert_der));

    // Refused: a key that is not a certificate, a weak one, a new keyId with no key.
    for (bad, message) in [
        (
            json!([{"type": "AsymmetricX509Cert", "usage": "Verify", "key": "bm90IGEgY2VydA=="}]),
            "Invalid credential value. Error: Cannot find the requested object.\r\n".to_string(),
        ),
        (
            json!([new_key(&f.weak)]),
            "Invalid credential value. The key must be RSA of at least 2048 bits.".to_string(),
        ),
    ] {
        let (status, body) = call(
            &s,
            &admin,
            "PATCH",
            &format!("applications/{id}"),
            Some(patch(bad)),
        )
        .await;
        assert_graph_error(status, &body, 400, "Request_BadRequest", &message);
    }
    let (status, body) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{id}"),
        Some(patch(json!([{"keyId": uuid::Uuid::new_v4().to_string(), "key": null, "type": "AsymmetricX509Cert", "usage": "Verify"}]))),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // Kept across a kill; then without `--append` the list is the new key alone.
    let s = restart(s, &state);
    let admin = graph().token(&s, ADMIN).await;
    for cred in [&f.main, &f.second] {
        let (status, body) = assertion_token(&s, &app_id, cred).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{id}"),
        Some(patch(json!([new_key(&f.other)]))),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = assertion_token(&s, &app_id, &f.other).await;
    assert_eq!(status, 200);
    let got = assertion_token(&s, &app_id, &f.main).await;
    assert_eq!(
        got.0, 401,
        "a key left out of the list is removed: {}",
        got.1
    );
}

#[tokio::test]
async fn a_key_set_by_patch_waits_for_the_replication_delay() {
    let f = fixture();
    let state = new_state();
    let s = start(&state, &["--replication-delay", "3600"]);
    let admin = graph().token(&s, ADMIN).await;
    let app = create_app(
        &s,
        &admin,
        json!({"displayName": "slow replication", "keyCredentials": [new_key(&f.main)]}),
    )
    .await;
    let app_id = guid(&app["appId"]);
    create_sp(&s, &admin, &app_id).await;
    let got = assertion_token(&s, &app_id, &f.main).await;
    assert_eq!(got.0, 401, "not usable before the delay: {}", got.1);
}

#[tokio::test]
async fn a_delegated_grant_through_graph_ends_the_65001_of_a_sign_in() {
    let state = new_state();
    let s = start(&state, &["--auto-sign-in", USERS[0]]);
    let admin = graph().token(&s, ADMIN).await;
    let redirect = "http://localhost:5000/getAToken";
    let app = create_app(
        &s,
        &admin,
        json!({"displayName": "web app", "web": {"redirectUris": [redirect]}}),
    )
    .await;
    let app_id = guid(&app["appId"]);
    let sp = create_sp(&s, &admin, &app_id).await;
    let (_, graph_sp) = call(
        &s,
        &admin,
        "GET",
        "servicePrincipals(appId='00000003-0000-0000-c000-000000000000')",
        None,
    )
    .await;
    let params = [
        ("client_id", app_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", "openid Mail.Read"),
        ("state", "st4te"),
    ];
    let b = browser(&s);
    let resp = b.get(authorize_url(&s, &params)).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let (loc, fields) = location_fields(&resp);
    assert_eq!(field(&fields, "error"), Some("consent_required"), "{loc}");
    assert!(field(&fields, "error_description")
        .unwrap()
        .starts_with("AADSTS65001: "));

    // As `az ad app permission grant --id APP --api 00000003-… --scope Mail.Read` sends it.
    let (status, grant) = call(
        &s,
        &admin,
        "POST",
        "oauth2PermissionGrants",
        Some(json!({
            "clientId": sp["id"], "consentType": "AllPrincipals", "principalId": null,
            "resourceId": graph_sp["id"], "scope": "Mail.Read",
        })),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    assert_eq!(grant["scope"], "Mail.Read");
    let grant_id = guid(&grant["id"]);
    let (status, listed) = call(
        &s,
        &admin,
        "GET",
        &format!(
            "oauth2PermissionGrants?$filter=clientId%20eq%20%27{}%27",
            sp["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["value"][0]["id"], grant_id.as_str());

    let (status, body) = call(
        &s,
        &admin,
        "PATCH",
        &format!("oauth2PermissionGrants/{grant_id}"),
        Some(json!({"scope": "Mail.Read Calendars.Read"})),
    )
    .await;
    assert_eq!((status, &body), (204, &Value::Null));
    let (_, got) = call(
        &s,
        &admin,
        "GET",
        &format!("oauth2PermissionGrants/{grant_id}"),
        None,
    )
    .await;
    assert_eq!(got["scope"], "Mail.Read Calendars.Read");

    let code_of = |resp: &reqwest::Response| {
        let (loc, fields) = location_fields(resp);
        field(&fields, "code").map(str::to_string).ok_or(loc)
    };
    let resp = b.get(authorize_url(&s, &params)).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    code_of(&resp).expect("a code once consented");

    // Kept across a kill.
    let s = restart_with(s, &state, &["--auto-sign-in", USERS[0]]);
    let b = browser(&s);
    let resp = b.get(authorize_url(&s, &params)).send().await.unwrap();
    code_of(&resp).expect("a code after a restart");

    // Deleted with the route the Azure CLI spells `oAuth2PermissionGrants`: 65001 again.
    let admin = graph().token(&s, ADMIN).await;
    let (status, _) = call(
        &s,
        &admin,
        "DELETE",
        &format!("oAuth2PermissionGrants/{grant_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let resp = b.get(authorize_url(&s, &params)).send().await.unwrap();
    let (loc, fields) = location_fields(&resp);
    assert_eq!(field(&fields, "error"), Some("consent_required"), "{loc}");
}

fn restart_with(s: Server, state: &Path, extra: &[&str]) -> Server {
    drop(s);
    start(state, extra)
}

#[tokio::test]
async fn batch_answers_each_request_by_id_and_refuses_more_than_twenty() {
    let state = new_state();
    let s = start(&state, &[]);
    let admin = graph().token(&s, ADMIN).await;
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        "$batch",
        Some(json!({"requests": [
            {"id": "1", "method": "POST", "url": "/applications",
             "headers": {"Content-Type": "application/json"}, "body": {"displayName": "batched"}},
            {"id": "2", "method": "GET", "url": "/applications?$filter=displayName eq 'batched'", "dependsOn": ["1"]},
            {"id": "3", "method": "GET", "url": "/applications/0e0e0e0e-0000-4000-8000-000000000000"},
            {"id": "4", "method": "DELETE", "url": "/applications/0e0e0e0e-0000-4000-8000-000000000000", "dependsOn": ["3"]},
        ]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = body["responses"].as_array().unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[3]["status"], 424, "a failed dependency: {}", r[3]);
    assert_eq!(
        (r[0]["id"].as_str(), r[0]["status"].as_u64()),
        (Some("1"), Some(201))
    );
    assert_eq!(r[0]["body"]["displayName"], "batched");
    assert!(r[0]["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(r[1]["status"], 200);
    assert_eq!(r[1]["body"]["value"][0]["id"], r[0]["body"]["id"]);
    assert_eq!(r[2]["status"], 404);
    assert_eq!(r[2]["body"]["error"]["code"], "Request_ResourceNotFound");

    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/applications"}))
        .collect();
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        "$batch",
        Some(json!({"requests": many})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "BadRequest");

    // The batched write is kept like any other.
    let s = restart(s, &state);
    let admin = graph().token(&s, ADMIN).await;
    let (_, found) = call(
        &s,
        &admin,
        "GET",
        "applications?$filter=displayName eq 'batched'",
        None,
    )
    .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
}

/// Microsoft's Graph SDK for Python (GraphServiceClient + azure-identity's
/// CertificateCredential), unchanged, through the proxy: it makes an application, its service
/// principal and a secret, and lists applications; the secret then gets a token, also after a
/// restart.
#[tokio::test]
async fn the_python_graph_sdk_provisions_an_app_through_the_proxy() {
    let Some(python) = crate::support::require::python(&["msgraph", "azure.identity.aio"]) else {
        return;
    };
    let f = fixture();
    let state = new_state();
    let s = start(&state, &["--proxy", "127.0.0.1:0"]);
    let pem = state.with_file_name(format!("admin-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &pem,
        std::fs::read_to_string(&f.main.key_pem).unwrap()
            + &std::fs::read_to_string(&f.main.cert_pem).unwrap(),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/msgraph_provision.py"
    ))
    .env("TENANT", TENANT)
    .env("CLIENT_ID", ADMIN)
    .env("CERT_PEM", &pem)
    .env("NAME", "sdk made");
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
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in s.ready["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "msgraph printed no JSON: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(result["listed"], json!(["sdk made"]), "{result}");
    let app_id = guid(&result["appId"]);
    guid(&result["sp"]);
    let secret = result["secret"].as_str().unwrap().to_string();
    let log = s.log_text();
    assert!(
        log.contains("POST https://graph.microsoft.com/v1.0/applications 201"),
        "{log}"
    );

    let (status, body) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(status, 200, "{body}");
    drop(s);
    let s = start(&state, &["--proxy", "127.0.0.1:0"]);
    let (status, body) = token_for(&s, &app_id, &secret, GRAPH_DEFAULT).await;
    assert_eq!(status, 200, "kept across a restart: {body}");
    let admin = graph().token(&s, ADMIN).await;
    let (status, got) = call(
        &s,
        &admin,
        "GET",
        &format!("applications(appId='{app_id}')"),
        None,
    )
    .await;
    assert_eq!((status, &got["displayName"]), (200, &json!("sdk made")));
}

/// An API made through Graph defines its own app roles (after its service principal exists:
/// the PATCH reaches the service principal too); a client granted one gets it in `roles` of a
/// token for that API; a role meant for users only cannot be given to an app.
#[tokio::test]
async fn an_api_made_through_graph_gives_its_own_roles() {
    let state = new_state();
    let s = start(&state, &[]);
    let admin = graph().token(&s, ADMIN).await;
    let api = create_app(
        &s,
        &admin,
        json!({"displayName": "orders api", "identifierUris": ["api://orders-made"]}),
    )
    .await;
    let api_sp = create_sp(&s, &admin, api["appId"].as_str().unwrap()).await;
    let roles = json!([
        {"allowedMemberTypes": ["Application"], "description": "read orders", "displayName": "Orders.Read",
         "id": "3b1c0000-0000-4000-8000-000000000001", "isEnabled": true, "value": "Orders.Read"},
        {"allowedMemberTypes": ["User"], "description": "approve", "displayName": "Orders.Approve",
         "id": "3b1c0000-0000-4000-8000-000000000002", "isEnabled": true, "value": "Orders.Approve"},
    ]);
    let (status, body) = call(
        &s,
        &admin,
        "PATCH",
        &format!("applications/{}", api["id"].as_str().unwrap()),
        Some(json!({"appRoles": roles})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (_, sp_now) = call(
        &s,
        &admin,
        "GET",
        &format!("servicePrincipals/{}", api_sp["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(
        sp_now["appRoles"], roles,
        "the service principal follows its application"
    );

    let client = create_app(&s, &admin, json!({"displayName": "orders client"})).await;
    let client_id = guid(&client["appId"]);
    let (secret, _) = add_password(&s, &admin, client["id"].as_str().unwrap()).await;
    let client_sp = create_sp(&s, &admin, &client_id).await;
    let assign = |role: &str| json!({"principalId": client_sp["id"], "resourceId": api_sp["id"], "appRoleId": role});
    let path = format!(
        "servicePrincipals/{}/appRoleAssignedTo",
        api_sp["id"].as_str().unwrap()
    );
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        &path,
        Some(assign("3b1c0000-0000-4000-8000-000000000002")),
    )
    .await;
    assert_eq!(status, 400, "a user-only role: {body}");
    let (status, body) = call(
        &s,
        &admin,
        "POST",
        &path,
        Some(assign("3b1c0000-0000-4000-8000-000000000001")),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let (status, token) = token_for(&s, &client_id, &secret, "api://orders-made/.default").await;
    assert_eq!(status, 200, "{token}");
    let claims = claims_of(token["access_token"].as_str().unwrap());
    assert_eq!(claims["roles"], json!(["Orders.Read"]), "{claims}");
    assert_eq!(claims["aud"], "api://orders-made", "{claims}");

    let s = restart(s, &state);
    let (_, token) = token_for(&s, &client_id, &secret, "api://orders-made/.default").await;
    assert_eq!(
        claims_of(token["access_token"].as_str().unwrap())["roles"],
        json!(["Orders.Read"])
    );
}
