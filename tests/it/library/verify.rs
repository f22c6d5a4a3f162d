//! The library validator against tokens signed in the test and keys served by a stub IdP.

use std::time::Duration;

use crate::support::verify::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certgen::verify::{KeySet, TokenVersion, Validator, ValidatorOptions, VerifyError};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

fn options() -> ValidatorOptions {
    ValidatorOptions::new([API.to_string(), format!("api://{API}")])
}

async fn authority_validator(idp: &Idp, options: ValidatorOptions) -> Validator {
    Validator::from_authority(&idp.authority(TENANT), options)
        .await
        .expect("validator")
}

#[tokio::test]
async fn v2_token_is_valid_and_claims_come_back() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options().require_role("Data.Read")).await;
    let token = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]));
    let valid = v
        .validate(&format!("Bearer {token}\n"))
        .await
        .expect("valid");
    assert_eq!(valid.client_id(), Some(CLIENT));
    assert_eq!(valid.kid, "k1");
    assert_eq!(valid.issuer, idp.v2_issuer(TENANT));
    assert_eq!(valid.roles(), vec!["Data.Read"]);
    assert_eq!(idp.jwks_fetches(), 1);
    // Warm: further tokens need no network.
    for _ in 0..5 {
        v.validate(&token).await.expect("valid");
    }
    assert_eq!(idp.jwks_fetches(), 1);
    assert_eq!(
        idp.metadata_fetches("v1"),
        0,
        "v1 metadata is read only for v1 tokens"
    );
}

#[tokio::test]
async fn v1_token_uses_the_v1_document_and_sts_issuer() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options()).await;
    let claims = v1_claims(&v1_issuer(TENANT), TENANT, &[]);
    // v1 headers carry x5t = kid.
    let token = key.sign_with_header(
        &json!({"typ": "JWT", "alg": "RS256", "kid": "k1", "x5t": "k1"}),
        &claims,
    );
    let valid = v.validate(&token).await.expect("valid v1");
    assert_eq!(valid.issuer, v1_issuer(TENANT));
    assert_eq!(valid.client_id(), Some(CLIENT));
    assert_eq!(idp.metadata_fetches("v1"), 1);
    // A v1-shaped token claiming the v2 issuer is checked against the v1 document.
    let mut wrong = claims.clone();
    wrong["iss"] = json!(idp.v2_issuer(TENANT));
    let e = v.validate(&key.sign(&wrong)).await.unwrap_err();
    assert!(matches!(e, VerifyError::Issuer { .. }), "{e}");
    // A v1 token whose header has only x5t is matched by x5t.
    let only_x5t = key.sign_with_header(&json!({"alg": "RS256", "x5t": "k1"}), &claims);
    v.validate(&only_x5t).await.expect("x5t selects the key");
}

#[tokio::test]
async fn wrong_audience_issuer_and_tenant() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options()).await;
    let good = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);

    let mut c = good.clone();
    c["aud"] = json!("api://someone-else");
    let e = v.validate(&key.sign(&c)).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("audience \"api://someone-else\" is not accepted (expected \"{API}\" or \"api://{API}\")")
    );

    let mut c = good.clone();
    c["iss"] = json!("https://evil.example/issuer");
    let e = v.validate(&key.sign(&c)).await.unwrap_err();
    assert_eq!(
        e,
        VerifyError::Issuer {
            found: "https://evil.example/issuer".into(),
            expected: idp.v2_issuer(TENANT)
        }
    );

    // Entra signs every tenant's tokens with the same keys: only iss/tid tell them apart.
    let other = v2_claims(&idp.v2_issuer(OTHER_TENANT), OTHER_TENANT, &[]);
    let e = v.validate(&key.sign(&other)).await.unwrap_err();
    assert!(
        matches!(e, VerifyError::OtherTenant { ref tid, .. } if tid == OTHER_TENANT),
        "{e}"
    );
    assert!(e
        .to_string()
        .starts_with(&format!("token is from tenant {OTHER_TENANT}")));

    let mut c = good.clone();
    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        v.validate(&key.sign(&c)).await.unwrap_err(),
        VerifyError::MissingClaim("iss")
    );
}

#[tokio::test]
async fn issuer_override_replaces_the_metadata_issuer() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let custom = "https://issuer.example/custom";
    let v = authority_validator(&idp, options().issuer(custom)).await;
    v.validate(&key.sign(&v2_claims(custom, TENANT, &[])))
        .await
        .expect("custom issuer accepted");
    let e = v
        .validate(&key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &[])))
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::Issuer { .. }), "{e}");
}

#[tokio::test]
async fn expired_and_not_yet_valid_with_and_without_leeway() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let strict = authority_validator(&idp, options().leeway(Duration::ZERO)).await;
    let lenient = authority_validator(&idp, options()).await; // 300 s default
    let t = now();

    let mut expired = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);
    expired["exp"] = json!(t - 120);
    let token = key.sign(&expired);
    let e = strict.validate(&token).await.unwrap_err();
    assert!(
        matches!(e, VerifyError::Expired { ago, leeway: 0, .. } if (120..125).contains(&ago)),
        "{e}"
    );
    lenient.validate(&token).await.expect("within 300 s leeway");
    expired["exp"] = json!(t - 400);
    let e = lenient.validate(&key.sign(&expired)).await.unwrap_err();
    assert!(e.to_string().contains("leeway 300 s"), "{e}");

    let mut early = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);
    early["nbf"] = json!(t + 120);
    let token = key.sign(&early);
    let e = strict.validate(&token).await.unwrap_err();
    assert!(matches!(e, VerifyError::NotYetValid { .. }), "{e}");
    lenient.validate(&token).await.expect("within 300 s leeway");
    early["nbf"] = json!(t + 400);
    assert!(matches!(
        lenient.validate(&key.sign(&early)).await,
        Err(VerifyError::NotYetValid { .. })
    ));
}

#[tokio::test]
async fn missing_role_is_named() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options().require_role("Data.Write")).await;
    let e = v
        .validate(&key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"])))
        .await
        .unwrap_err();
    assert!(e.is_insufficient_scope());
    assert_eq!(
        e.to_string(),
        "missing required role \"Data.Write\" (token has roles \"Data.Read\")"
    );
    let mut none = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);
    none.as_object_mut().unwrap().remove("roles");
    let e = v.validate(&key.sign(&none)).await.unwrap_err();
    assert!(e.to_string().ends_with("(token has no roles)"), "{e}");
}

#[tokio::test]
async fn rotated_key_is_found_by_one_refresh() {
    let old = TestKey::new("old");
    let new = TestKey::new("new");
    let idp = Idp::start(&[&old]);
    let v = authority_validator(&idp, options()).await;
    assert_eq!(idp.jwks_fetches(), 1);
    idp.set_keys(&[&old, &new]);
    let claims = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);
    let valid = v
        .validate(&new.sign(&claims))
        .await
        .expect("rotated key found");
    assert_eq!(valid.kid, "new");
    assert_eq!(idp.jwks_fetches(), 2);
    v.validate(&old.sign(&claims))
        .await
        .expect("old key still there");
    v.validate(&new.sign(&claims))
        .await
        .expect("new key cached");
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_refetch() {
    let key = TestKey::new("k1");
    let attacker = TestKey::new("unused");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options()).await;
    let claims = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let v = v.clone();
        let token = attacker.sign_with_header(
            &json!({"alg": "RS256", "kid": format!("forged-{i}")}),
            &claims,
        );
        tasks.push(tokio::spawn(async move { v.validate(&token).await }));
    }
    for t in tasks {
        let e = t.await.expect("task").unwrap_err();
        assert!(matches!(e, VerifyError::UnknownKey { .. }), "{e}");
    }
    assert_eq!(idp.jwks_fetches(), 2, "initial fetch + exactly one refresh");
    // The price of the limit: a key published during the quiet period waits for it.
    let late = TestKey::new("late");
    idp.set_keys(&[&key, &late]);
    let e = v.validate(&late.sign(&claims)).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("not refetched, the last refresh was"),
        "{e}"
    );
    assert_eq!(idp.jwks_fetches(), 2);
    // Known keys keep working throughout.
    v.validate(&key.sign(&claims)).await.expect("valid");
}

#[tokio::test]
async fn refresh_interval_is_an_option() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let mut opts = options();
    opts.refresh.min_interval = Duration::ZERO;
    let v = authority_validator(&idp, opts).await;
    let claims = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);
    for i in 0..3 {
        let t = key.sign_with_header(&json!({"alg": "RS256", "kid": format!("x{i}")}), &claims);
        assert!(v.validate(&t).await.is_err());
    }
    assert_eq!(idp.jwks_fetches(), 4);
}

#[tokio::test]
async fn tampered_signature_and_foreign_key() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options().require_role("Admin")).await;
    let token = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Data.Read"]));
    // Grant ourselves the role by editing the payload, keeping the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let forged_claims = v2_claims(&idp.v2_issuer(TENANT), TENANT, &["Admin"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    assert_eq!(
        v.validate(&forged).await.unwrap_err(),
        VerifyError::BadSignature { kid: "k1".into() }
    );
    // One flipped bit in the signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(matches!(
        v.validate(&flipped).await,
        Err(VerifyError::BadSignature { .. })
    ));
    // Signed by another key that claims the published kid.
    let impostor = TestKey::new("k1");
    assert!(matches!(
        v.validate(&impostor.sign(&forged_claims)).await,
        Err(VerifyError::BadSignature { .. })
    ));
}

#[tokio::test]
async fn alg_none_and_hmac_confusion_are_refused() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options()).await;
    let claims = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);

    let none = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "kid": "k1"}), &claims)
    );
    assert_eq!(v.validate(&none).await.unwrap_err(), VerifyError::AlgNone);

    // The classic confusion: HS256 with the public key (PEM, as published) as the secret.
    for secret in [
        key.public_pem.as_bytes(),
        key.jwk["n"].as_str().unwrap().as_bytes(),
    ] {
        let input = signing_input(&json!({"alg": "HS256", "kid": "k1"}), &claims);
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
        .unwrap();
        let e = v.validate(&format!("{input}.{sig}")).await.unwrap_err();
        assert_eq!(e, VerifyError::AlgHmac("HS256".into()));
    }

    // A real RS256 signature relabelled PS256 / RS512 is refused by the header rule.
    let token = key.sign(&claims);
    let body = token.split_once('.').unwrap().1;
    for alg in ["PS256", "RS512", "ES256"] {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k1"}).to_string());
        let e = v.validate(&format!("{header}.{body}")).await.unwrap_err();
        assert_eq!(e, VerifyError::AlgUnsupported(alg.into()));
    }
    let no_kid = key.sign_with_header(&json!({"alg": "RS256"}), &claims);
    assert_eq!(v.validate(&no_kid).await.unwrap_err(), VerifyError::NoKeyId);
}

#[tokio::test]
async fn key_whose_type_does_not_fit_is_refused() {
    let key = TestKey::new("k1");
    let mut enc = key.jwk.clone();
    enc["use"] = json!("enc");
    let keys = KeySet::from_json(json!({"keys": [enc]}).to_string().as_bytes(), "test").unwrap();
    let v = Validator::from_key_set(keys, options().issuer("https://issuer"));
    let e = v
        .validate(&key.sign(&v2_claims("https://issuer", TENANT, &[])))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "key \"k1\" cannot verify RS256 signatures: use is \"enc\", not \"sig\""
    );
}

#[tokio::test]
async fn per_key_issuer_of_v2_key_sets() {
    let key = TestKey::new("k1");
    let mut jwk = key.jwk.clone();
    jwk["issuer"] = json!("https://login.example/{tenantid}/v2.0");
    let keys =
        || KeySet::from_json(json!({"keys": [jwk.clone()]}).to_string().as_bytes(), "t").unwrap();
    let good_iss = format!("https://login.example/{TENANT}/v2.0");
    let v = Validator::from_key_set(keys(), options().issuer(&good_iss));
    v.validate(&key.sign(&v2_claims(&good_iss, TENANT, &[])))
        .await
        .expect("template resolved with tid");
    let elsewhere = "https://other-cloud.example/t/v2.0";
    let v = Validator::from_key_set(keys(), options().issuer(elsewhere));
    let e = v
        .validate(&key.sign(&v2_claims(elsewhere, TENANT, &[])))
        .await
        .unwrap_err();
    assert!(matches!(e, VerifyError::KeyIssuer { .. }), "{e}");
}

#[tokio::test]
async fn jwks_uri_and_file_need_an_issuer() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let e = Validator::from_jwks_uri(&idp.jwks_uri(TENANT), options())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, VerifyError::Config(_)) && e.to_string().contains("issuer is required"));
    let v = Validator::from_jwks_uri(
        &idp.jwks_uri(TENANT),
        options().issuer(idp.v2_issuer(TENANT)),
    )
    .await
    .expect("validator");
    v.validate(&key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &[])))
        .await
        .expect("valid");
}

#[tokio::test]
async fn setup_failures_are_not_rejections() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    // Port 9 on loopback: nothing listens there.
    let e = Validator::from_authority("http://127.0.0.1:9/t", options())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e, VerifyError::Unreachable { .. }) && !e.is_rejection(),
        "{e}"
    );
    let e = Validator::from_authority(&format!("{}/no/such/path", idp.base), options())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e, VerifyError::BadResponse { .. }) && e.to_string().contains("404"),
        "{e}"
    );
    let e = Validator::from_authority("http://login.example.com/t", options())
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("plain http"), "{e}");
}

#[tokio::test]
async fn keys_past_their_age_are_refetched_and_withdrawn_keys_stop_working() {
    let old = TestKey::new("old");
    let new = TestKey::new("new");
    let idp = Idp::start(&[&old, &new]);
    let mut opts = options();
    opts.refresh.max_age = Duration::ZERO; // every validation finds the keys "24 h old"
    let v = authority_validator(&idp, opts).await;
    let claims = v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]);
    v.validate(&old.sign(&claims)).await.expect("valid");
    assert_eq!(idp.jwks_fetches(), 2, "the age-based refresh ran");
    // Entra withdraws the old key: once refreshed, tokens it signed are refused.
    idp.set_keys(&[&new]);
    let e = v.validate(&old.sign(&claims)).await.unwrap_err();
    assert!(
        matches!(e, VerifyError::UnknownKey { ref kid, .. } if kid == "old"),
        "{e}"
    );
    v.validate(&new.sign(&claims)).await.expect("valid");
}

fn lazy_validator(idp: &Idp, options: ValidatorOptions) -> Validator {
    Validator::from_authority_lazy(&idp.authority(TENANT), options).expect("validator")
}

fn v1_token(key: &TestKey, kid: &str) -> String {
    key.sign_with_header(
        &json!({"typ": "JWT", "alg": "RS256", "kid": kid, "x5t": kid}),
        &v1_claims(&v1_issuer(TENANT), TENANT, &[]),
    )
}

// [v1 metadata, v1 keys, v2 metadata, v2 keys] in the assertions below.

#[tokio::test]
async fn lazy_discovery_reads_only_the_version_a_token_has() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = lazy_validator(&idp, options());
    assert_eq!(
        idp.fetches_by_version(),
        [0, 0, 0, 0],
        "nothing read up front"
    );
    for _ in 0..3 {
        v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    }
    assert_eq!(idp.fetches_by_version(), [1, 1, 0, 0], "v1 tokens: v1 only");
    let v2 = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]));
    for _ in 0..3 {
        v.validate(&v2).await.expect("valid v2");
        v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    }
    assert_eq!(idp.fetches_by_version(), [1, 1, 1, 1], "each read once");

    let idp = Idp::start(&[&key]);
    let v = lazy_validator(&idp, options());
    let v2 = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]));
    for _ in 0..3 {
        v.validate(&v2).await.expect("valid v2");
    }
    assert_eq!(idp.fetches_by_version(), [0, 0, 1, 1], "v2 tokens: v2 only");
}

#[tokio::test]
async fn concurrent_first_tokens_share_one_discovery() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = lazy_validator(&idp, options());
    let v2 = key.sign(&v2_claims(&idp.v2_issuer(TENANT), TENANT, &[]));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (v, token) = (
            v.clone(),
            if i % 2 == 0 {
                v1_token(&key, "k1")
            } else {
                v2.clone()
            },
        );
        tasks.push(tokio::spawn(async move { v.validate(&token).await }));
    }
    for t in tasks {
        t.await.expect("task").expect("valid");
    }
    assert_eq!(idp.fetches_by_version(), [1, 1, 1, 1]);
}

#[tokio::test]
async fn from_authority_still_reads_v2_at_start_and_v1_on_first_need() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    let v = authority_validator(&idp, options()).await;
    assert_eq!(idp.fetches_by_version(), [0, 0, 1, 1]);
    v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    assert_eq!(idp.fetches_by_version(), [1, 1, 1, 1]);
    // An API that receives v1 tokens only can check its authority at start without v2.
    let idp = Idp::start(&[&key]);
    let v = lazy_validator(&idp, options());
    v.discover(TokenVersion::V1).await.expect("v1 discovery");
    v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    assert_eq!(idp.fetches_by_version(), [1, 1, 0, 0]);
}

#[tokio::test]
async fn refresh_rules_hold_for_v1_keys_too() {
    let key = TestKey::new("k1");
    let attacker = TestKey::new("unused");
    let idp = Idp::start(&[&key]);
    let v = lazy_validator(&idp, options());
    v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (v, token) = (v.clone(), v1_token(&attacker, &format!("forged-{i}")));
        tasks.push(tokio::spawn(async move { v.validate(&token).await }));
    }
    for t in tasks {
        let e = t.await.expect("task").unwrap_err();
        assert!(matches!(e, VerifyError::UnknownKey { .. }), "{e}");
    }
    assert_eq!(
        idp.fetches_by_version(),
        [1, 2, 0, 0],
        "first read + exactly one refresh of the v1 keys"
    );

    // Age-based re-read, per version: only the keys of the version in use are re-read.
    let idp = Idp::start(&[&key]);
    let mut opts = options();
    opts.refresh.max_age = Duration::ZERO;
    let v = lazy_validator(&idp, opts);
    v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    v.validate(&v1_token(&key, "k1")).await.expect("valid v1");
    assert_eq!(idp.fetches_by_version(), [1, 3, 0, 0]);
}

#[tokio::test]
async fn a_failing_authority_is_asked_once_per_interval() {
    let key = TestKey::new("k1");
    let idp = Idp::start(&[&key]);
    idp.set_metadata_down(true);
    let v = lazy_validator(&idp, options());
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (v, token) = (v.clone(), v1_token(&key, "k1"));
        tasks.push(tokio::spawn(async move { v.validate(&token).await }));
    }
    for t in tasks {
        let e = t.await.expect("task").unwrap_err();
        assert!(
            matches!(e, VerifyError::BadResponse { .. }) && !e.is_rejection(),
            "{e}"
        );
        assert!(e.to_string().contains("503"), "{e}");
    }
    assert_eq!(idp.fetches_by_version(), [1, 0, 0, 0]);

    // Once the interval has passed (zero here), the next token reads the document again.
    let idp = Idp::start(&[&key]);
    idp.set_metadata_down(true);
    let mut opts = options();
    opts.refresh.min_interval = Duration::ZERO;
    let v = lazy_validator(&idp, opts);
    assert!(v.validate(&v1_token(&key, "k1")).await.is_err());
    idp.set_metadata_down(false);
    v.validate(&v1_token(&key, "k1")).await.expect("recovered");
    assert_eq!(idp.fetches_by_version(), [2, 1, 0, 0]);
}

#[tokio::test]
async fn lazy_setup_checks_what_it_can_without_the_network() {
    let e = Validator::from_authority_lazy("http://login.example.com/t", options())
        .err()
        .unwrap();
    assert!(e.to_string().contains("plain http"), "{e}");
    let e = Validator::from_authority_lazy("http://127.0.0.1:9/t", ValidatorOptions::new([""]))
        .err()
        .unwrap();
    assert!(matches!(e, VerifyError::Config(_)), "{e}");
    // Unreachable shows up on the first token, as a setup fault rather than a rejection.
    let key = TestKey::new("k1");
    let v = Validator::from_authority_lazy("http://127.0.0.1:9/t", options()).expect("validator");
    let e = v
        .validate(&key.sign(&v2_claims("https://issuer", TENANT, &[])))
        .await
        .unwrap_err();
    assert!(
        matches!(e, VerifyError::Unreachable { ref url, .. }
            if url == "http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration")
            && !e.is_rejection(),
        "{e}"
    );
}
