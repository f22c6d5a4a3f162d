//! Groups written through Graph against a real `certgen serve`: `/v1.0/groups` POST, GET
//! (the `$filter` forms `az ad group create|list|member add` send), PATCH, DELETE; members
//! added by reference, listed with `@odata.type`, removed; `/users/{id}/memberOf`
//! (https://learn.microsoft.com/en-us/graph/api/resources/group). Every write is checked again
//! after a restart on the same state folder. Then the `groups` claim: by the client's
//! `groupMembershipClaims` in the id token, by the API's in the access token, and an app role
//! assigned to a group in its member's access token
//! (https://learn.microsoft.com/en-us/entra/identity-platform/optional-claims).

use reqwest::Method;
use serde_json::{json, Value};

use super::graph_users::sign_in_to_web;
use crate::support::graph::*;
use crate::support::serve::*;

/// The id of the first object a list answer holds.
fn first_id(list: &Value) -> String {
    list["value"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no object in {list}"))
        .to_string()
}

async fn post(g: &GraphFixture, s: &Server, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = g.send(s, Method::POST, path, token, Some(body)).await;
    assert!(status == 201 || status == 204, "{path}: {status} {answer}");
    answer
}

/// The service principal object id of `app_id`, found as the Azure CLI finds it.
async fn sp_of(g: &GraphFixture, s: &Server, token: &str, app_id: &str) -> String {
    let (status, _, list) = g
        .get(
            s,
            &format!(
                "/v1.0/servicePrincipals?$filter=servicePrincipalNames%2Fany%28c%3Ac%20eq%20%27{app_id}%27%29"
            ),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    first_id(&list)
}

const OPS_FILTER: &str =
    "/v1.0/groups?$filter=displayName%20eq%20%27Ops%27%20and%20mailNickname%20eq%20%27ops%27";

#[tokio::test]
async fn groups_and_members_as_the_azure_cli_writes_them_are_kept() {
    let g = graph();
    let (s, state) = g.start_fresh();
    let admin = g.token(&s, ADMIN).await;
    let reader = g.token(&s, READER).await;
    let ops = json!({"displayName": "Ops", "mailNickname": "ops", "mailEnabled": false,
                     "securityEnabled": true});

    // User.Read.All neither reads nor writes groups.
    for (method, body) in [(Method::GET, None), (Method::POST, Some(ops.clone()))] {
        let (status, answer) = g.send(&s, method, "/v1.0/groups", &reader, body).await;
        assert_graph_error(
            status,
            &answer,
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let mut lacking = ops.clone();
    lacking.as_object_mut().unwrap().remove("securityEnabled");
    let (status, answer) = g
        .send(&s, Method::POST, "/v1.0/groups", &admin, Some(lacking))
        .await;
    assert_graph_error(
        status,
        &answer,
        400,
        "Request_BadRequest",
        "Property securityEnabled value is required but is empty or missing.",
    );

    // `az ad group create`: look first, then POST.
    let (status, _, none) = g.get(&s, OPS_FILTER, Some(&admin)).await;
    assert_eq!((status, none["value"].clone()), (200, json!([])));
    let made = post(g, &s, "/v1.0/groups", &admin, ops).await;
    assert_eq!(
        made["@odata.context"],
        format!("{}/v1.0/$metadata#groups/$entity", s.base())
    );
    assert_eq!(made["securityEnabled"], true);
    assert_eq!(made["groupTypes"], json!([]));
    let group = made["id"].as_str().unwrap().to_string();
    let (_, _, found) = g.get(&s, OPS_FILTER, Some(&admin)).await;
    assert_eq!(first_id(&found), group);
    let (_, _, found) = g
        .get(
            &s,
            "/v1.0/groups?$filter=startswith%28displayName%2C%27op%27%29",
            Some(&admin),
        )
        .await;
    assert_eq!(first_id(&found), group);

    // `az ad group member add`: a user and a service principal, by `directoryObjects` URL.
    let reader_sp = sp_of(g, &s, &admin, READER).await;
    let refs = format!("/v1.0/groups/{group}/members/$ref");
    for id in [ADA_ID, reader_sp.as_str()] {
        let body =
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")});
        let (status, answer) = g.send(&s, Method::POST, &refs, &admin, Some(body)).await;
        assert_eq!((status, answer), (204, Value::Null));
    }
    let again =
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{ADA_ID}")});
    let (status, answer) = g.send(&s, Method::POST, &refs, &admin, Some(again)).await;
    assert_graph_error(
        status,
        &answer,
        400,
        "Request_BadRequest",
        "One or more added object references already exist for the following modified \
         properties: 'members'.",
    );
    let nobody = "0d0d0d0d-0000-4000-8000-00000000dead";
    let (status, answer) = g
        .send(
            &s,
            Method::POST,
            &refs,
            &admin,
            Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{nobody}")})),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "Request_ResourceNotFound");

    let (status, none) = g
        .send(
            &s,
            Method::PATCH,
            &format!("/v1.0/groups/{group}"),
            &admin,
            Some(json!({"description": "on call"})),
        )
        .await;
    assert_eq!((status, none), (204, Value::Null));

    // All of it kept across a restart.
    drop(s);
    let s = g.restart(&state);
    let admin = g.token(&s, ADMIN).await;
    let (status, _, got) = g
        .get(&s, &format!("/v1.0/groups/{group}"), Some(&admin))
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["description"], "on call");
    let (_, _, members) = g
        .get(&s, &format!("/v1.0/groups/{group}/members"), Some(&admin))
        .await;
    let members = members["value"].as_array().unwrap().clone();
    assert_eq!(members.len(), 2, "{members:?}");
    assert_eq!(members[0]["@odata.type"], "#microsoft.graph.user");
    assert_eq!(members[0]["id"], ADA_ID);
    assert_eq!(members[0]["userPrincipalName"], USERS[0]);
    assert_eq!(
        members[1]["@odata.type"],
        "#microsoft.graph.servicePrincipal"
    );
    assert_eq!(members[1]["appId"], READER);
    let (status, _, member_of) = g
        .get(&s, &format!("/v1.0/users/{ADA_ID}/memberOf"), Some(&admin))
        .await;
    assert_eq!(status, 200, "{member_of}");
    assert_eq!(
        member_of["value"][0]["@odata.type"],
        "#microsoft.graph.group"
    );
    assert_eq!(member_of["value"][0]["id"], group.as_str());

    // Removing a member, then the group: its memberships go with it.
    let one = format!("/v1.0/groups/{group}/members/{ADA_ID}/$ref");
    let (status, _) = g.send(&s, Method::DELETE, &one, &admin, None).await;
    assert_eq!(status, 204);
    let (status, answer) = g.send(&s, Method::DELETE, &one, &admin, None).await;
    assert_eq!(status, 404, "{answer}");
    let (status, _) = g
        .send(
            &s,
            Method::DELETE,
            &format!("/v1.0/groups/{group}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 204);
    drop(s);
    let s = g.restart(&state);
    let admin = g.token(&s, ADMIN).await;
    let (status, _, _) = g
        .get(&s, &format!("/v1.0/groups/{group}"), Some(&admin))
        .await;
    assert_eq!(status, 404);
    let (_, _, all) = g.get(&s, "/v1.0/groups", Some(&admin)).await;
    assert_eq!(all["value"], json!([]));
    let (_, _, member_of) = g
        .get(&s, &format!("/v1.0/users/{ADA_ID}/memberOf"), Some(&admin))
        .await;
    assert_eq!(member_of["value"], json!([]));
}

#[tokio::test]
async fn group_ids_and_group_roles_reach_the_tokens_of_members() {
    let g = graph();
    let (s, state) = g.start_fresh();
    let admin = g.token(&s, ADMIN).await;
    let lin = "lin@contoso.example";
    let user = post(
        g,
        &s,
        "/v1.0/users",
        &admin,
        json!({"accountEnabled": true, "displayName": "Lin", "mailNickname": "lin",
               "userPrincipalName": lin,
               "passwordProfile": {"password": "Pa55w.rd-2026!"}}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let security = post(
        g,
        &s,
        "/v1.0/groups",
        &admin,
        json!({"displayName": "Ops", "mailNickname": "ops", "mailEnabled": false,
               "securityEnabled": true}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unified = post(
        g,
        &s,
        "/v1.0/groups",
        &admin,
        json!({"displayName": "Social", "mailNickname": "social", "mailEnabled": true,
               "securityEnabled": false, "groupTypes": ["Unified"]}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for group in [&security, &unified] {
        post(
            g,
            &s,
            &format!("/v1.0/groups/{group}/members/$ref"),
            &admin,
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{user}")}),
        )
        .await;
    }

    // The client asks for security groups in its id tokens.
    let (_, _, web) = g
        .get(
            &s,
            &format!("/v1.0/applications?$filter=appId%20eq%20%27{WEB}%27"),
            Some(&admin),
        )
        .await;
    let (status, answer) = g
        .send(
            &s,
            Method::PATCH,
            &format!("/v1.0/applications/{}", first_id(&web)),
            &admin,
            Some(json!({"groupMembershipClaims": "SecurityGroup"})),
        )
        .await;
    assert_eq!(status, 204, "{answer}");

    // An API asking for every group in its access tokens, with a role for users, the role
    // given to the security group, and the client consented for its scope.
    let role_id = "7d3e0a3c-0000-4000-8000-00000000a0a1";
    let api = post(
        g,
        &s,
        "/v1.0/applications",
        &admin,
        json!({
            "displayName": "groups api",
            "groupMembershipClaims": "All",
            "appRoles": [{"id": role_id, "value": "Things.Admin", "displayName": "admin",
                          "description": "admin", "allowedMemberTypes": ["User"],
                          "isEnabled": true}],
            "api": {"requestedAccessTokenVersion": 2,
                    "oauth2PermissionScopes": [{"id": "7d3e0a3c-0000-4000-8000-00000000a0a2",
                        "value": "Things.Read", "type": "User", "isEnabled": true,
                        "adminConsentDisplayName": "read", "adminConsentDescription": "read"}]},
        }),
    )
    .await;
    let api_app = api["appId"].as_str().unwrap().to_string();
    let api_sp = post(
        g,
        &s,
        "/v1.0/servicePrincipals",
        &admin,
        json!({"appId": api_app, "accountEnabled": true}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let web_sp = sp_of(g, &s, &admin, WEB).await;
    post(
        g,
        &s,
        "/v1.0/oauth2PermissionGrants",
        &admin,
        json!({"clientId": web_sp, "consentType": "AllPrincipals", "principalId": null,
               "resourceId": api_sp, "scope": "Things.Read"}),
    )
    .await;
    post(
        g,
        &s,
        &format!("/v1.0/servicePrincipals/{api_sp}/appRoleAssignedTo"),
        &admin,
        json!({"principalId": security, "resourceId": api_sp, "appRoleId": role_id}),
    )
    .await;

    // After a restart, the member signs in.
    drop(s);
    let s = g.restart(&state);
    let tokens = sign_in_to_web(&s, lin, &format!("{api_app}/Things.Read openid profile")).await;
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["oid"], user.as_str());
    assert_eq!(id_token["groups"], json!([security]), "{id_token}");
    assert!(id_token.get("roles").is_none(), "{id_token}");
    let access = claims_of(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], api_app.as_str());
    let mut groups: Vec<String> = access["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups in {access}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    groups.sort();
    let mut want = vec![security.clone(), unified.clone()];
    want.sort();
    assert_eq!(groups, want);
    assert_eq!(access["roles"], json!(["Things.Admin"]));
    assert_eq!(access["scp"], "Things.Read");

    // Graph asks for no groups: its tokens carry none.
    let graph_tokens = sign_in_to_web(&s, lin, "User.Read openid").await;
    let graph_access = claims_of(graph_tokens["access_token"].as_str().unwrap());
    assert!(graph_access.get("groups").is_none(), "{graph_access}");

    // Out of the group, out of the tokens.
    let admin = g.token(&s, ADMIN).await;
    let (status, _) = g
        .send(
            &s,
            Method::DELETE,
            &format!("/v1.0/groups/{security}/members/{user}/$ref"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let tokens = sign_in_to_web(&s, lin, &format!("{api_app}/Things.Read openid profile")).await;
    let id_token = claims_of(tokens["id_token"].as_str().unwrap());
    assert!(id_token.get("groups").is_none(), "{id_token}");
    let access = claims_of(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["groups"], json!([unified]));
    assert!(access.get("roles").is_none(), "{access}");
}
