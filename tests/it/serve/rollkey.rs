//! Graph's `addKey`/`removeKey` on `certgen serve` (https://learn.microsoft.com/en-us/graph/api/application-addkey), against a real
//! serve process with proofs made by hand here (jsonwebtoken, no certgen code): each of Graph's
//! proof refusals, the bodies of its answers, and the token endpoint following the registry at
//! once or after `--replication-delay`.

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use crate::support::graph::*;
use crate::support::serve::*;

const PROOF_AUD: &str = "00000002-0000-0000-c000-000000000000";

/// A proof for BARE signed by `cred`, with `claims` changed by `edit`.
fn proof_with(cred: &Cred, edit: impl FnOnce(&mut Value)) -> String {
    let now = now();
    let mut claims = json!({"aud": PROOF_AUD, "iss": BARE_OBJECT, "nbf": now, "exp": now + 600});
    edit(&mut claims);
    let header = json!({
        "alg": "RS256",
        "typ": "JWT",
        "x5t": cred.x5t(),
        "kid": cred.thumbprint_hex(),
    });
    sign_rsa(&header, &claims, &cred.key_pkcs1, Algorithm::RS256)
}

pub(super) fn proof(cred: &Cred) -> String {
    proof_with(cred, |_| {})
}

pub(super) fn key_credential(cred: &Cred) -> Value {
    json!({
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": b64_std(&cred.cert_der),
        "displayName": "CN=rotated",
    })
}

pub(super) async fn action(s: &Server, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = s
        .client()
        .post(format!("{}/v1.0/{path}", s.base()))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub(super) async fn add_key(s: &Server, token: &str, new: &Cred, signer: &Cred) -> (u16, Value) {
    let body = json!({
        "keyCredential": key_credential(new),
        "passwordCredential": null,
        "proof": proof(signer),
    });
    action(
        s,
        token,
        &format!("applications/{BARE_OBJECT}/addKey"),
        &body,
    )
    .await
}

/// An assertion grant for BARE signed by `cred` (RS256 + x5t).
pub(super) async fn token_with(s: &Server, cred: &Cred) -> (u16, Value) {
    let now = now();
    let claims = json!({
        "aud": s.token_url(TENANT), "iss": BARE, "sub": BARE,
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600,
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": cred.x5t()});
    let jwt = sign_rsa(&header, &claims, &cred.key_pkcs1, Algorithm::RS256);
    post_form(
        &s.client(),
        &s.token_url(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", BARE),
            ("scope", "https://graph.microsoft.com/.default"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await
}

/// The keyCredentials BARE reads on itself: (keyId, customKeyIdentifier) pairs.
pub(super) async fn registered(g: &GraphFixture, s: &Server, token: &str) -> Vec<(String, String)> {
    let (status, _, body) = g
        .get(
            s,
            &format!("/v1.0/applications(appId='{BARE}')"),
            Some(token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["keyCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["keyId"].as_str().unwrap().to_string(),
                k["customKeyIdentifier"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_of_graphs_proof_refusals_is_401_missing_or_malformed() {
    let g = graph();
    let f = fixture();
    let s = g.start(&[]);
    let token = g.token(&s, BARE).await;
    let padded = format!("{}==", proof(&f.main));
    let cases = [
        ("padded", padded),
        (
            "aud = Microsoft Graph",
            proof_with(&f.main, |c| c["aud"] = json!(GRAPH_APP_ID)),
        ),
        (
            "iss = appId",
            proof_with(&f.main, |c| c["iss"] = json!(BARE)),
        ),
        (
            "a 1-hour lifetime",
            proof_with(&f.main, |c| {
                c["exp"] = json!(c["nbf"].as_i64().unwrap() + 3600)
            }),
        ),
        ("an unregistered key", proof(&f.other)),
        // Once accepted: `exp - nbf` wrapped around, so this lasted ten years.
        (
            "nbf = i64::MIN, exp ten years ahead",
            proof_with(&f.main, |c| {
                c["nbf"] = json!(i64::MIN);
                c["exp"] = json!(now() + 10 * 365 * 86_400);
            }),
        ),
        (
            "exp before nbf",
            proof_with(&f.main, |c| {
                c["nbf"] = json!(now() + 60);
                c["exp"] = json!(now() - 60);
            }),
        ),
        (
            "expired an hour ago",
            proof_with(&f.main, |c| {
                c["nbf"] = json!(now() - 3600);
                c["exp"] = json!(now() - 3000);
            }),
        ),
    ];
    for (why, p) in cases {
        let body = json!({"keyCredential": key_credential(&f.second), "passwordCredential": null, "proof": p});
        let (status, answer) = action(
            &s,
            &token,
            &format!("applications/{BARE_OBJECT}/addKey"),
            &body,
        )
        .await;
        eprintln!("{why}");
        assert_graph_error(
            status,
            &answer,
            401,
            "Authentication_MissingOrMalformed",
            "Access Token missing or malformed.",
        );
    }
    // Nothing was added by any of them.
    assert_eq!(registered(g, &s, &token).await.len(), 1);
}

#[tokio::test]
async fn add_then_token_with_the_new_then_remove_the_old_which_gets_700027() {
    let g = graph();
    let f = fixture();
    let s = g.start(&[]);
    let token = g.token(&s, BARE).await;
    assert_eq!(token_with(&s, &f.second).await.0, 401);

    let (status, added) = add_key(&s, &token, &f.second, &f.main).await;
    assert_eq!(status, 200, "{added}");
    // The live capture's fields (as https://learn.microsoft.com/en-us/graph/api/application-addkey shows): upper-case hex thumbprint, key null.
    let keys: Vec<&str> = added
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "@odata.context",
            "customKeyIdentifier",
            "displayName",
            "endDateTime",
            "key",
            "keyId",
            "startDateTime",
            "type",
            "usage"
        ]
    );
    assert_eq!(
        added["@odata.context"],
        format!("{}/v1.0/$metadata#microsoft.graph.keyCredential", s.base())
    );
    assert_eq!(added["customKeyIdentifier"], f.second.thumbprint_hex());
    assert_eq!(added["displayName"], "CN=rotated");
    assert_eq!(added["key"], Value::Null);
    assert!(uuid::Uuid::parse_str(added["keyId"].as_str().unwrap()).is_ok());

    // The new certificate gets a token at once; both are registered.
    let (status, body) = token_with(&s, &f.second).await;
    assert_eq!(status, 200, "{body}");
    let keys = registered(g, &s, &token).await;
    assert_eq!(keys.len(), 2);
    let (old_id, _) = keys
        .iter()
        .find(|(_, t)| *t == f.main.thumbprint_hex())
        .unwrap()
        .clone();

    // The appId-keyed form, the proof signed by the new certificate.
    let body = json!({"keyId": old_id, "proof": proof(&f.second)});
    let (status, answer) = action(
        &s,
        &token,
        &format!("applications(appId='{BARE}')/removeKey"),
        &body,
    )
    .await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(answer, Value::String(String::new()));

    let refused = token_with(&s, &f.main).await;
    assert_refusal(&refused, 401, "invalid_client", 700027);
    assert_eq!(token_with(&s, &f.second).await.0, 200);
    assert_eq!(
        registered(g, &s, &token).await,
        [(
            added["keyId"].as_str().unwrap().to_string(),
            f.second.thumbprint_hex()
        )]
    );

    // Removing it again: Graph's 400; and a proof by the removed key is refused.
    let (status, answer) = action(
        &s,
        &token,
        &format!("applications/{BARE_OBJECT}/removeKey"),
        &json!({"keyId": old_id, "proof": proof(&f.second)}),
    )
    .await;
    assert_graph_error(
        status,
        &answer,
        400,
        "Request_BadRequest",
        "No credentials found to be removed.",
    );
    let (status, answer) = add_key(&s, &token, &f.other, &f.main).await;
    assert_eq!(status, 401, "{answer}");
}

#[tokio::test]
async fn a_bad_certificate_is_400_and_a_missing_proof_403() {
    let g = graph();
    let f = fixture();
    let s = g.start(&[]);
    let token = g.token(&s, BARE).await;
    let path = format!("applications/{BARE_OBJECT}/addKey");
    let mut kc = key_credential(&f.second);
    kc["key"] = json!(b64_std(b"not a certificate"));
    let body = json!({"keyCredential": kc, "passwordCredential": null, "proof": proof(&f.main)});
    let (status, answer) = action(&s, &token, &path, &body).await;
    assert_graph_error(
        status,
        &answer,
        400,
        "Request_BadRequest",
        "Invalid credential value. Error: Cannot find the requested object.\r\n",
    );
    let body = json!({"keyCredential": key_credential(&f.second), "passwordCredential": null});
    let (status, answer) = action(&s, &token, &path, &body).await;
    assert_graph_error(
        status,
        &answer,
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    );
    // Another app's token may not roll BARE's keys, even with a right proof.
    let reader = g.token(&s, READER).await;
    let body = json!({"keyCredential": key_credential(&f.second), "passwordCredential": null, "proof": proof(&f.main)});
    let (status, _) = action(&s, &reader, &path, &body).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn with_a_replication_delay_the_new_key_works_only_after_it() {
    let g = graph();
    let f = fixture();
    let s = g.start(&["--replication-delay", "2"]);
    let token = g.token(&s, BARE).await;
    let before_add = std::time::Instant::now();
    let (status, added) = add_key(&s, &token, &f.second, &f.main).await;
    assert_eq!(status, 200, "{added}");
    // Graph lists it at once; the token endpoint refuses it until the delay has passed.
    assert_eq!(registered(g, &s, &token).await.len(), 2);
    let early = token_with(&s, &f.second).await;
    assert_refusal(&early, 401, "invalid_client", 700027);
    // Asked again until it works (a wait on the condition, not a fixed sleep): 700027 until
    // then, and never before the delay.
    loop {
        let answer = token_with(&s, &f.second).await;
        if answer.0 == 200 {
            break;
        }
        assert_refusal(&answer, 401, "invalid_client", 700027);
        assert!(
            before_add.elapsed() < std::time::Duration::from_secs(20),
            "the new key never worked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The service counts the delay in whole seconds of the clock: 2 s is at least 1 s more.
    assert!(
        before_add.elapsed() >= std::time::Duration::from_secs(1),
        "the key worked before the replication delay"
    );
}

/// Issue 19 item 4: an application holds at most 50 key credentials (serve's documented cap):
/// addKey up to it works, the next is refused with Graph's error envelope, the listing stays
/// that size, and the app still gets tokens.
#[tokio::test]
async fn add_key_is_capped_per_application() {
    const CAP: usize = 50;
    let g = graph();
    let f = fixture();
    let s = g.start(&[]);
    let token = g.token(&s, BARE).await;
    let dir = tempfile::tempdir().unwrap();
    // Certificates of one key (signing only: fast), each its own thumbprint.
    let certs: Vec<Vec<u8>> = (0..CAP)
        .map(|i| {
            let out = dir.path().join(format!("cap{i}.cer"));
            crate::support::openssl(&[
                "req",
                "-x509",
                "-new",
                "-key",
                f.main.key_pem.to_str().unwrap(),
                "-subj",
                &format!("/CN=cap{i}"),
                "-days",
                "2",
                "-outform",
                "DER",
                "-out",
                out.to_str().unwrap(),
            ]);
            std::fs::read(&out).unwrap()
        })
        .collect();
    let add = |der: &Vec<u8>| {
        json!({
            "keyCredential": {
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "key": b64_std(der),
            },
            "passwordCredential": null,
            "proof": proof(&f.main),
        })
    };
    let path = format!("applications/{BARE_OBJECT}/addKey");
    // BARE holds `main` already: CAP - 1 more fit.
    for der in &certs[..CAP - 1] {
        let (status, body) = action(&s, &token, &path, &add(der)).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(registered(g, &s, &token).await.len(), CAP);
    let bytes = f.main.cert_der.len() + certs[..CAP - 1].iter().map(Vec::len).sum::<usize>();
    let (status, body) = action(&s, &token, &path, &add(&certs[CAP - 1])).await;
    assert_graph_error(
        status,
        &body,
        400,
        "Request_BadRequest",
        &format!(
            "The application has {CAP} key credentials ({bytes} bytes of certificates); \
             certgen serve allows at most {CAP} per application and 262144 bytes in all. \
             Remove one with removeKey first."
        ),
    );
    assert_eq!(registered(g, &s, &token).await.len(), CAP);
    let (status, body) = token_with(&s, &f.main).await;
    assert_eq!(status, 200, "{body}");
}
