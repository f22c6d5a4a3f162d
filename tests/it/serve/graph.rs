//! The Graph slice of `certgen serve` (`/v1.0/…`), driven over HTTPS like any client: users
//! with paging and `$select`, applications read by themselves or with `Application.Read.All`,
//! 401/403/400/404 bodies compared field by field with Graph's shapes (https://learn.microsoft.com/en-us/graph/errors,
//! https://learn.microsoft.com/en-us/graph/paging), the expired-certificate refusal, and the Python daemon sample's own code path (MSAL +
//! `requests`) when CERTGEN_TEST_PYTHON names a Python with msal and requests.

use std::process::Command;

use crate::support::graph::*;
use crate::support::serve::*;
use serde_json::{json, Value};

#[tokio::test]
async fn users_are_listed_paged_selected_and_read_one_by_one() {
    let g = graph();
    let s = g.start(&[]);
    let token = g.token(&s, READER).await;

    let (status, headers, body) = g.get(&s, "/v1.0/users", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json;odata.metadata=minimal"));
    assert!(uuid::Uuid::parse_str(headers["request-id"].to_str().unwrap()).is_ok());
    assert_eq!(
        body["@odata.context"],
        format!("{}/v1.0/$metadata#users", s.base())
    );
    let users = body["value"].as_array().unwrap();
    assert_eq!(users.len(), USERS.len());
    assert!(body.get("@odata.nextLink").is_none());
    // Graph's default properties, in its order, camelCase, null when not set.
    let keys: Vec<&str> = users[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "businessPhones",
            "displayName",
            "givenName",
            "id",
            "jobTitle",
            "mail",
            "mobilePhone",
            "officeLocation",
            "preferredLanguage",
            "surname",
            "userPrincipalName"
        ]
    );
    assert_eq!(users[0]["userPrincipalName"], USERS[0]);
    assert_eq!(users[0]["businessPhones"], json!(["+1 425 555 0100"]));
    assert_eq!(users[0]["jobTitle"], "Engineer");
    assert_eq!(users[1]["jobTitle"], Value::Null);
    assert_eq!(users[0]["id"], ADA_ID);

    // $top pages through @odata.nextLink, which keeps the query and adds $skiptoken.
    let mut url = format!(
        "{}/v1.0/users?$top=2&$select=displayName,userPrincipalName",
        s.base()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, _, page) = g.get_url(&s, &url, Some(&token)).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        assert_eq!(
            page["@odata.context"],
            format!(
                "{}/v1.0/$metadata#users(displayName,userPrincipalName)",
                s.base()
            )
        );
        for u in page["value"].as_array().unwrap() {
            assert_eq!(u.as_object().unwrap().len(), 2, "{u}");
            seen.push(u["userPrincipalName"].as_str().unwrap().to_string());
        }
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.contains("$top=2") && next.contains("$skiptoken="),
                    "{next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, USERS);

    // One user, by UPN or by id.
    for key in [USERS[0], ADA_ID] {
        let (status, _, one) = g.get(&s, &format!("/v1.0/users/{key}"), Some(&token)).await;
        assert_eq!(status, 200, "{one}");
        assert_eq!(
            one["@odata.context"],
            format!("{}/v1.0/$metadata#users/$entity", s.base())
        );
        assert_eq!(one["displayName"], "Ada Lovelace");
    }
    let (status, _, one) = g
        .get(
            &s,
            &format!("/v1.0/users/{ADA_ID}?$select=mail"),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        one,
        json!({"@odata.context": format!("{}/v1.0/$metadata#users(mail)/$entity", s.base()),
               "mail": "ada@contoso.example"})
    );

    let (status, _, err) = g
        .get(&s, "/v1.0/users/nobody@contoso.example", Some(&token))
        .await;
    assert_graph_error(
        status,
        &err,
        404,
        "Request_ResourceNotFound",
        "Resource 'nobody@contoso.example' does not exist or one of its queried reference-property objects are not present.",
    );
    let (status, _, err) = g.get(&s, "/v1.0/users?$top=1000", Some(&token)).await;
    assert_graph_error(
        status,
        &err,
        400,
        "Request_BadRequest",
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
    );
    let (status, _, err) = g
        .get(&s, "/v1.0/users?$select=shoeSize", Some(&token))
        .await;
    assert_graph_error(
        status,
        &err,
        400,
        "BadRequest",
        "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.",
    );
}

#[tokio::test]
async fn refusals_have_graphs_status_envelope_and_headers() {
    let g = graph();
    let s = g.start(&[]);
    let client = s.client();

    // No token: 401, Graph's challenge, and the ids echoed in headers and body.
    let resp = client
        .get(format!("{}/v1.0/users", s.base()))
        .header("client-request-id", "0f1e2d3c-0000-4000-8000-00000000beef")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"\", authorization_uri=\"{}/common/oauth2/authorize\", client_id=\"{GRAPH_APP_ID}\"",
            s.base()
        )
    );
    let request_id = resp.headers()["request-id"].to_str().unwrap().to_string();
    assert_eq!(
        resp.headers()["client-request-id"],
        "0f1e2d3c-0000-4000-8000-00000000beef"
    );
    let body: Value = resp.json().await.unwrap();
    assert_graph_error(
        401,
        &body,
        401,
        "InvalidAuthenticationToken",
        "Access token is empty.",
    );
    assert_eq!(body["error"]["innerError"]["request-id"], request_id);
    assert_eq!(
        body["error"]["innerError"]["client-request-id"],
        "0f1e2d3c-0000-4000-8000-00000000beef"
    );

    let (status, _, body) = g.get(&s, "/v1.0/users", Some("not-a-jwt")).await;
    assert_graph_error(
        status,
        &body,
        401,
        "InvalidAuthenticationToken",
        "CompactToken parsing failed with error code: 80049217",
    );

    // A token this service issued, but for another API: Graph refuses the audience.
    let (code, orders) = post_form(
        &client,
        &s.token_url(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", READER),
            ("client_secret", SECRET),
            ("scope", "api://legacy/.default"),
        ],
    )
    .await;
    assert_eq!(code, 200, "{orders}");
    let other = orders["access_token"].as_str().unwrap();
    let (status, headers, body) = g.get(&s, "/v1.0/users", Some(other)).await;
    assert_graph_error(
        status,
        &body,
        401,
        "InvalidAuthenticationToken",
        "Access token validation failure. Invalid audience.",
    );
    assert!(headers.contains_key("www-authenticate"));

    // A Graph token whose signature was tampered with.
    let good = g.token(&s, READER).await;
    let forged = format!("{}AAAA", &good[..good.len() - 4]);
    let (status, _, body) = g.get(&s, "/v1.0/users", Some(&forged)).await;
    assert_graph_error(
        status,
        &body,
        401,
        "InvalidAuthenticationToken",
        "Access token validation failure.",
    );

    // No Graph role: exactly the daemon sample's 403.
    let bare = g.token(&s, BARE).await;
    let (status, _, body) = g.get(&s, "/v1.0/users", Some(&bare)).await;
    assert_graph_error(
        status,
        &body,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );

    let (status, _, body) = g.get(&s, "/v1.0/me", Some(&bare)).await;
    assert_graph_error(
        status,
        &body,
        400,
        "BadRequest",
        "/me request is only valid with delegated authentication flow.",
    );
    let (status, _, body) = g.get(&s, "/v1.0/devices", Some(&bare)).await;
    assert_graph_error(
        status,
        &body,
        400,
        "BadRequest",
        "Resource not found for the segment 'devices'.",
    );
}

#[tokio::test]
async fn applications_are_readable_by_themselves_and_with_application_read_all() {
    let g = graph();
    let s = g.start(&[]);
    let f = fixture();
    let bare = g.token(&s, BARE).await;
    let bare_claims = claims_of(&bare);

    let forms = [
        format!("/v1.0/applications(appId='{BARE}')"),
        format!("/v1.0/applications/{BARE_OBJECT}"),
    ];
    for path in &forms {
        let (status, _, app) = g.get(&s, path, Some(&bare)).await;
        assert_eq!(status, 200, "{path}: {app}");
        assert_eq!(
            app["@odata.context"],
            format!("{}/v1.0/$metadata#applications/$entity", s.base())
        );
        assert_eq!(app["id"], BARE_OBJECT);
        assert_eq!(app["appId"], BARE);
        assert_eq!(app["displayName"], "bare daemon");
        // The application object is not the service principal the token names.
        assert_ne!(app["id"], bare_claims["oid"]);
        let key = &app["keyCredentials"][0];
        assert_eq!(key["customKeyIdentifier"], f.main.thumbprint_hex());
        assert_eq!(key["key"], Value::Null);
        assert_eq!(key["type"], "AsymmetricX509Cert");
        assert_eq!(key["usage"], "Verify");
        assert!(uuid::Uuid::parse_str(key["keyId"].as_str().unwrap()).is_ok());
    }
    // The live listing's query (https://learn.microsoft.com/en-us/graph/api/application-addkey), with the key material selected.
    let path = format!(
        "/v1.0/applications?$filter=appId eq '{BARE}'&$select=id,appId,displayName,keyCredentials"
    );
    let (status, _, list) = g.get(&s, &path, Some(&bare)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["@odata.context"],
        format!(
            "{}/v1.0/$metadata#applications(id,appId,displayName,keyCredentials)",
            s.base()
        )
    );
    let only = &list["value"].as_array().unwrap()[..];
    assert_eq!(only.len(), 1);
    assert_eq!(
        only[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["id", "appId", "displayName", "keyCredentials"]
    );
    assert_eq!(
        only[0]["keyCredentials"][0]["key"],
        b64_std(&f.main.cert_der)
    );

    // Another app's object needs Application.Read.All.
    for path in [
        format!("/v1.0/applications(appId='{READER}')"),
        "/v1.0/applications".to_string(),
        format!("/v1.0/applications?$filter=appId eq '{READER}'"),
    ] {
        let (status, _, body) = g.get(&s, &path, Some(&bare)).await;
        assert_graph_error(
            status,
            &body,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let admin = g.token(&s, APP_READER).await;
    let (status, _, body) = g
        .get(
            &s,
            &format!("/v1.0/applications(appId='{BARE}')"),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = g.get(&s, "/v1.0/applications", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    // The six apps and the [[resource]] API (a registration of the tenant, as in Entra);
    // Microsoft Graph's application object is Microsoft's, never listed.
    let listed: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["appId"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 7, "{listed:?}");
    assert!(listed.contains(&LEGACY_API));
    assert!(!listed.contains(&"00000003-0000-0000-c000-000000000000"));
    let (status, _, body) = g
        .get(
            &s,
            "/v1.0/applications/00000000-0000-4000-8000-00000000dead",
            Some(&admin),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    // Application.Read.All is not User.Read.All.
    let (status, _, _) = g.get(&s, "/v1.0/users", Some(&admin)).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn discovery_ready_line_and_banner_name_the_graph() {
    let g = graph();
    let s = g.start(&[]);
    assert_eq!(s.field("graph"), format!("{}/v1.0", s.base()));
    let listen = s.field("listen");
    for doc in [
        format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            s.base()
        ),
        format!("{}/{TENANT}/.well-known/openid-configuration", s.base()),
    ] {
        assert_eq!(s.get_json(&doc).await["msgraph_host"], listen.as_str());
    }
    let banner = s.log_text();
    assert!(
        banner.contains(&format!("graph          {}/v1.0", s.base())),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("users    {}: {}", USERS.len(), USERS.join(", "))),
        "{banner}"
    );
    assert!(
        banner.contains(&format!(
            "readable by {READER} \"graph reader\" (User.Read.All)"
        )),
        "{banner}"
    );
    assert!(!banner.contains(&format!("readable by {BARE}")), "{banner}");
    assert!(
        banner.contains("past notAfter: refused with AADSTS700027"),
        "{banner}"
    );
}

#[tokio::test]
async fn an_expired_registered_certificate_is_refused_with_700027() {
    let g = graph();
    let s = g.start(&[]);
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": g.expired.x5t()});
    let mut c = claims(&s);
    c["iss"] = json!(EXPIRED_APP);
    c["sub"] = json!(EXPIRED_APP);
    let jwt = sign_rsa(
        &header,
        &c,
        &g.expired.key_pkcs1,
        jsonwebtoken::Algorithm::RS256,
    );
    let got = s
        .post_token(&[
            ("grant_type", "client_credentials"),
            ("client_id", EXPIRED_APP),
            ("scope", "https://graph.microsoft.com/.default"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ])
        .await;
    assert_refusal(&got, 401, "invalid_client", 700027);
    let text = got.1["error_description"].as_str().unwrap();
    assert!(text.contains("The key used is expired."), "{text}");
    assert!(text.contains(&g.expired.thumbprint_hex()), "{text}");
}

#[test]
fn the_python_daemon_sample_lists_users_with_msal_and_requests() {
    let Some(python) = crate::support::require::python(&["msal", "requests"]) else {
        return;
    };
    let g = graph();
    let s = g.start(&[]);
    let f = fixture();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/graph_daemon.py");
    let run = |client_id: &str| -> Value {
        let out = Command::new(&python)
            .arg(script)
            .env("AUTHORITY", format!("{}/{TENANT}", s.base()))
            .env("CA_FILE", s.field("ca_file"))
            .env("CLIENT_ID", client_id)
            .env("KEY_PEM", &f.main.key_pem)
            .env("THUMBPRINT", f.main.thumbprint_hex())
            .env("ENDPOINT", format!("{}/users", s.field("graph")))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.trim())
            .unwrap_or_else(|_| panic!("no JSON: {text}\n{}", String::from_utf8_lossy(&out.stderr)))
    };
    let ok = run(READER);
    assert_eq!(ok["status"], 200, "{ok}");
    let upns: Vec<&str> = ok["body"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    assert_eq!(upns, USERS);
    // Without admin consent for User.Read.All: the sample's troubleshooting section.
    let denied = run(BARE);
    assert_eq!(denied["status"], 403, "{denied}");
    assert_eq!(
        denied["body"]["error"]["code"],
        "Authorization_RequestDenied"
    );
}
