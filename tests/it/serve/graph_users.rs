//! Users written through Graph (`/v1.0/users` POST, PATCH, DELETE) against a real `certgen
//! serve`, in the shapes and with the refusals of Graph's reference
//! (https://learn.microsoft.com/en-us/graph/api/user-post-users, …/user-update,
//! …/user-delete); each write is checked again after serve restarts on the same state folder,
//! and a user made by POST signs in at once through the sign-in page. Also `/users` paged by
//! store position and the `$filter` forms the Azure CLI sends.

use reqwest::Method;
use serde_json::{json, Value};

use super::signin::{browser, field, form_of, location_fields, submit};
use crate::support::graph::*;
use crate::support::serve::*;

const HEDY: &str = "hedy@contoso.example";
const PASSWORD: &str = "Pa55w.rd-2026!never-logged";

fn hedy() -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "Hedy Lamarr",
        "mailNickname": "hedy",
        "userPrincipalName": HEDY,
        "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": PASSWORD},
    })
}

/// Signs `upn` in to [`WEB`] on the sign-in page (with `login_hint`) and redeems the code: the
/// token response.
pub(super) async fn sign_in_to_web(s: &Server, upn: &str, scope: &str) -> Value {
    let b = browser(s);
    let mut url =
        reqwest::Url::parse(&format!("{}/{TENANT}/oauth2/v2.0/authorize", s.base())).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", WEB),
        ("response_type", "code"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", scope),
        ("state", "st4te"),
        ("login_hint", upn),
    ]);
    let page = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let form = form_of(page).await;
    assert!(form.html.contains(upn), "the page lists {upn}");
    let back = submit(&b, s, &form, &[("user", upn), ("action", "signin")]).await;
    assert_eq!(back.status(), 302);
    let (loc, fields) = location_fields(&back);
    let code = field(&fields, "code").unwrap_or_else(|| panic!("no code in {loc}"));
    let (status, body) = s
        .post_token(&[
            ("grant_type", "authorization_code"),
            ("client_id", WEB),
            ("client_secret", SECRET),
            ("code", code),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", scope),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn a_user_made_by_post_is_kept_changed_signs_in_and_is_deleted() {
    let g = graph();
    let (s, state) = g.start_fresh();
    let admin = g.token(&s, ADMIN).await;

    // Only the write roles may write: User.Read.All is refused as Graph refuses it.
    let reader = g.token(&s, READER).await;
    let (status, body) = g
        .send(&s, Method::POST, "/v1.0/users", &reader, Some(hedy()))
        .await;
    assert_graph_error(
        status,
        &body,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );

    // Each required property missing is Graph's 400, naming it.
    for missing in [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "passwordProfile",
        "userPrincipalName",
    ] {
        let mut body = hedy();
        body.as_object_mut().unwrap().remove(missing);
        let (status, answer) = g
            .send(&s, Method::POST, "/v1.0/users", &admin, Some(body))
            .await;
        assert_graph_error(
            status,
            &answer,
            400,
            "Request_BadRequest",
            &format!("Property {missing} value is required but is empty or missing."),
        );
    }
    let mut bad = hedy();
    bad["mailNickname"] = json!("hedy lamarr");
    let (status, answer) = g
        .send(&s, Method::POST, "/v1.0/users", &admin, Some(bad))
        .await;
    assert_graph_error(
        status,
        &answer,
        400,
        "Request_BadRequest",
        "Invalid value specified for property 'mailNickname' of resource 'User'.",
    );

    let (status, made) = g
        .send(&s, Method::POST, "/v1.0/users", &admin, Some(hedy()))
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        made["@odata.context"],
        format!("{}/v1.0/$metadata#users/$entity", s.base())
    );
    assert_eq!(made["userPrincipalName"], HEDY);
    assert_eq!(made["displayName"], "Hedy Lamarr");
    assert_eq!(made["businessPhones"], json!([]));
    let id = made["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert!(made.get("passwordProfile").is_none(), "{made}");

    // One UPN, one user.
    let (status, answer) = g
        .send(&s, Method::POST, "/v1.0/users", &admin, Some(hedy()))
        .await;
    assert_graph_error(
        status,
        &answer,
        400,
        "Request_BadRequest",
        "Another object with the same value for property userPrincipalName already exists.",
    );

    let (status, none) = g
        .send(
            &s,
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &admin,
            Some(json!({"jobTitle": "Inventor", "passwordProfile": {"password": "An0ther-one!"}})),
        )
        .await;
    assert_eq!((status, none), (204, Value::Null));

    // The password is never answered, kept readable or logged.
    let (_, _, full) = g
        .get(
            &s,
            &format!("/v1.0/users/{HEDY}?$select=id,passwordPolicies,mailNickname,accountEnabled"),
            Some(&admin),
        )
        .await;
    assert_eq!(full["mailNickname"], "hedy");
    assert_eq!(full["accountEnabled"], true);
    drop(s);
    for file in ["directory.sqlite3", "directory.sqlite3-wal"] {
        let bytes = std::fs::read(state.join(file)).unwrap_or_default();
        for secret in [PASSWORD, "An0ther-one!"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the password is in {file}"
            );
        }
    }

    // Kept across a restart, with the change.
    let s = g.restart(&state);
    assert!(!s.log_text().contains(PASSWORD));
    let reader = g.token(&s, READER).await;
    let (status, _, got) = g.get(&s, &format!("/v1.0/users/{id}"), Some(&reader)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["jobTitle"], "Inventor");
    assert_eq!(got["userPrincipalName"], HEDY);
    let (_, _, found) = g
        .get(
            &s,
            "/v1.0/users?$filter=userPrincipalName%20eq%20%27HEDY%40contoso.example%27",
            Some(&reader),
        )
        .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["value"][0]["id"], id.as_str());

    // Signs in at once: the page offers the hinted user, the tokens name them.
    let tokens = sign_in_to_web(&s, HEDY, "User.Read openid profile").await;
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["oid"], id.as_str());
    assert_eq!(id_token["preferred_username"], HEDY);
    assert_eq!(id_token["name"], "Hedy Lamarr");
    let access = claims_of(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["upn"], HEDY);
    assert!(s.log_text().find(PASSWORD).is_none());

    // Disabled, the account cannot sign in (AADSTS50057, as in Entra); enabled again, it can.
    let admin = g.token(&s, ADMIN).await;
    let enabled = |on: bool| json!({ "accountEnabled": on });
    let path = format!("/v1.0/users/{id}");
    let (status, _) = g
        .send(&s, Method::PATCH, &path, &admin, Some(enabled(false)))
        .await;
    assert_eq!(status, 204);
    let b = browser(&s);
    let mut url =
        reqwest::Url::parse(&format!("{}/{TENANT}/oauth2/v2.0/authorize", s.base())).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", WEB),
        ("response_type", "code"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", "openid"),
    ]);
    let form = form_of(b.get(url.as_str()).send().await.unwrap()).await;
    let refused = submit(&b, &s, &form, &[("user", HEDY), ("action", "signin")]).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("AADSTS50057"));
    let (status, _) = g
        .send(&s, Method::PATCH, &path, &admin, Some(enabled(true)))
        .await;
    assert_eq!(status, 204);
    sign_in_to_web(&s, HEDY, "openid").await;

    let (status, none) = g
        .send(
            &s,
            Method::DELETE,
            &format!("/v1.0/users/{HEDY}"),
            &admin,
            None,
        )
        .await;
    assert_eq!((status, none), (204, Value::Null));
    let (status, _, gone) = g.get(&s, &format!("/v1.0/users/{id}"), Some(&reader)).await;
    assert_graph_error(
        status,
        &gone,
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects \
             are not present."
        ),
    );
    drop(s);
    let s = g.restart(&state);
    let reader = g.token(&s, READER).await;
    let (status, _, _) = g.get(&s, &format!("/v1.0/users/{id}"), Some(&reader)).await;
    assert_eq!(status, 404);
    let (_, _, all) = g.get(&s, "/v1.0/users", Some(&reader)).await;
    assert_eq!(all["value"].as_array().unwrap().len(), USERS.len());
}

#[tokio::test]
async fn users_page_by_store_position_and_filter_as_the_azure_cli_asks() {
    let g = graph();
    let (s, _state) = g.start_fresh();
    let admin = g.token(&s, ADMIN).await;
    for i in 0..7 {
        let mut u = hedy();
        u["userPrincipalName"] = json!(format!("pager{i}@contoso.example"));
        u["displayName"] = json!(format!("Pager {i}"));
        u["mailNickname"] = json!(format!("pager{i}"));
        let (status, body) = g
            .send(&s, Method::POST, "/v1.0/users", &admin, Some(u))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let total = USERS.len() + 7;

    // Every user once, in the order made, three a page; the link carries the query on.
    let mut url = format!("{}/v1.0/users?$top=3&$select=userPrincipalName", s.base());
    let mut seen = Vec::new();
    loop {
        let (status, _, page) = g.get_url(&s, &url, Some(&admin)).await;
        assert_eq!(status, 200, "{page}");
        let items = page["value"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|u| u["userPrincipalName"].as_str().unwrap().to_string()),
        );
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.contains("$top=3") && next.contains("$skiptoken="),
                    "{next}"
                );
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    assert_eq!(&seen[..USERS.len()], USERS);
    assert_eq!(seen[total - 1], "pager6@contoso.example");

    // A skip token this service did not issue is refused.
    let (status, _, body) = g
        .get(&s, "/v1.0/users?$skiptoken=bm9wZQ", Some(&admin))
        .await;
    assert_eq!(status, 400, "{body}");

    // The forms `az ad user list --display-name` and `--upn` send.
    let (_, _, found) = g
        .get(
            &s,
            "/v1.0/users?$filter=startswith%28displayName%2C%27pager%27%29&$top=5",
            Some(&admin),
        )
        .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 5, "{found}");
    let next = found["@odata.nextLink"].as_str().unwrap().to_string();
    let (_, _, rest) = g.get_url(&s, &next, Some(&admin)).await;
    assert_eq!(rest["value"].as_array().unwrap().len(), 2, "{rest}");
    let (_, _, one) = g
        .get(
            &s,
            "/v1.0/users?$filter=userPrincipalName%20eq%20%27pager3%40contoso.example%27",
            Some(&admin),
        )
        .await;
    assert_eq!(one["value"][0]["displayName"], "Pager 3");
    let (status, _, body) = g
        .get(
            &s,
            "/v1.0/users?$filter=jobTitle%20ne%20%27x%27",
            Some(&admin),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "Request_UnsupportedQuery");
}
