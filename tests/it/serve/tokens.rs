//! `certgen serve` grants tokens: discovery and JWKS content, tokens for PS256 and RS256
//! assertions crafted here, for a secret in the form and in HTTP Basic, v2 and v1 shapes,
//! roles from the config — each token verified against the JWKS with jsonwebtoken, and one
//! signature cross-checked with the `openssl` CLI.

use crate::support::serve::*;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

/// Verifies `token` with the key the JWKS publishes under its `kid`; returns (header, claims).
async fn verify_with_jwks(server: &Server, token: &str, aud: &str, iss: &str) -> (Value, Value) {
    let claims = server.verified(token, aud, iss).await;
    let raw_header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    (raw_header, claims)
}

fn assert_v2_claims(claims: &Value, server: &Server, aud: &str, acr: &str) {
    assert_eq!(claims["aud"], aud);
    assert_eq!(claims["iss"], format!("{}/{TENANT}/v2.0", server.base()));
    assert_eq!(claims["azp"], APP);
    assert_eq!(claims["azpacr"], acr);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["sub"], claims["oid"]);
    assert!(uuid::Uuid::parse_str(claims["oid"].as_str().unwrap()).is_ok());
    assert!(claims["uti"].as_str().unwrap().len() >= 16);
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["nbf"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((iat - now()).abs() < 60 && nbf == iat && exp - iat == 3600);
    assert!(claims.get("appid").is_none() && claims.get("scp").is_none());
}

#[tokio::test]
async fn discovery_documents_v2_and_v1() {
    let s = Server::start();
    let base = s.base();
    let v2 = s
        .get_json(&format!(
            "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .await;
    assert_eq!(v2["issuer"], format!("{base}/{TENANT}/v2.0"));
    assert_eq!(v2["token_endpoint"], s.field("token_endpoint"));
    assert_eq!(v2["jwks_uri"], s.field("jwks_uri"));
    assert_eq!(
        v2["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic"
        ])
    );
    assert_eq!(
        v2["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );

    // The tenant by domain name: endpoints keep the segment, the issuer names the tenant id.
    let v1 = s
        .get_json(&format!(
            "{base}/{TENANT_DOMAIN}/.well-known/openid-configuration"
        ))
        .await;
    assert_eq!(v1["issuer"], format!("{base}/{TENANT}/"));
    assert_eq!(
        v1["token_endpoint"],
        format!("{base}/{TENANT_DOMAIN}/oauth2/token")
    );
    assert_eq!(
        v1["jwks_uri"],
        format!("{base}/{TENANT_DOMAIN}/discovery/keys")
    );

    let health = s.get_json(&format!("{base}/health")).await;
    assert_eq!(health["status"], "ok");
}

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let s = Server::start();
    let jwks = s.get_json(&s.field("jwks_uri")).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], "RSA");
    assert_eq!(k["use"], "sig");
    assert_eq!(k["e"], "AQAB");
    assert_eq!(k["issuer"], format!("{}/{TENANT}/v2.0", s.base()));
    let der = STANDARD
        .decode(k["x5c"][0].as_str().unwrap())
        .expect("x5c is standard base64 DER");
    use sha1::Digest;
    let x5t = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der));
    assert_eq!(k["x5t"], x5t.as_str());
    assert_eq!(k["kid"], x5t.as_str());

    // n is the modulus of the x5c certificate, as openssl reads it.
    let dir = tempfile::tempdir().unwrap();
    let cer = dir.path().join("k.cer");
    std::fs::write(&cer, &der).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-modulus", "-in"])
        .arg(&cer)
        .output()
        .unwrap();
    let modulus = String::from_utf8(out.stdout).unwrap();
    let modulus = modulus.trim().trim_start_matches("Modulus=");
    let n = URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap();
    assert_eq!(hex::encode_upper(n), modulus);

    let v1 = s
        .get_json(&format!("{}/{TENANT}/discovery/keys", s.base()))
        .await;
    assert_eq!(v1["keys"][0]["kid"], k["kid"]);
    assert_eq!(v1["keys"][0]["issuer"], format!("{}/{TENANT}/", s.base()));
}

#[tokio::test]
async fn ps256_assertion_gets_a_v2_token_with_granted_roles() {
    let s = Server::start();
    let f = fixture();
    let (status, body) = s
        .assertion_grant(&ps256(&s, &f.main), "api://orders/.default")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap();
    let iss = format!("{}/{TENANT}/v2.0", s.base());
    let (header, claims) = verify_with_jwks(&s, token, ORDERS_API, &iss).await;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert!(header.get("x5t").is_none(), "v2 headers carry kid only");
    assert_v2_claims(&claims, &s, ORDERS_API, "2");
    assert_eq!(claims["roles"], json!(["Orders.Read"]));
}

#[tokio::test]
async fn rs256_assertion_with_x5t_and_the_second_certificate() {
    let s = Server::start();
    let f = fixture();
    let iss = format!("{}/{TENANT}/v2.0", s.base());
    for cred in [&f.main, &f.second] {
        // The resource by app id instead of identifier URI.
        let (status, body) = s
            .assertion_grant(&rs256(&s, cred), &format!("{ORDERS_API}/.default"))
            .await;
        assert_eq!(status, 200, "{body}");
        let token = body["access_token"].as_str().unwrap();
        let (_, claims) = verify_with_jwks(&s, token, ORDERS_API, &iss).await;
        assert_v2_claims(&claims, &s, ORDERS_API, "2");
    }
}

#[tokio::test]
async fn secret_in_the_form_gets_a_v1_shaped_token() {
    let s = Server::start();
    let (status, body) = s.secret_grant(SECRET, "api://legacy/.default").await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let iss = format!("{}/{TENANT}/", s.base());
    let (header, claims) = verify_with_jwks(&s, token, "api://legacy", &iss).await;
    assert_eq!(header["x5t"], header["kid"], "v1 headers repeat kid as x5t");
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["appid"], APP);
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["idp"], iss.as_str());
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["roles"], json!(["Legacy.Use"]));
    assert!(claims.get("azp").is_none());
}

#[tokio::test]
async fn secret_in_http_basic() {
    let s = Server::start();
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    let encoded: String = form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    let resp = s
        .client()
        .post(s.token_url(TENANT_DOMAIN))
        .basic_auth(APP, Some(encoded))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["cache-control"].to_str().unwrap(),
        "no-store, no-cache"
    );
    let body: Value = resp.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    // Graph's tokens are v1, with aud = https://graph.microsoft.com, as live.
    let iss = format!("{}/{TENANT}/", s.base());
    let (_, claims) = verify_with_jwks(&s, token, "https://graph.microsoft.com", &iss).await;
    assert_eq!(claims["appidacr"], "1");
    assert!(claims.get("roles").is_none(), "no Graph roles were granted");

    // curl -u sends the secret unencoded; that works too.
    let resp = s
        .client()
        .post(s.token_url(TENANT))
        .basic_auth(APP, Some(SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api://orders/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn v1_endpoint_takes_resource() {
    let s = Server::start();
    let f = fixture();
    // A v1-endpoint assertion names the v1 token URL as aud.
    let mut c = claims(&s);
    c["aud"] = json!(s.v1_token_url(TENANT));
    let jwt = sign_rsa(
        &json!({"alg": "RS256", "x5t": f.main.x5t()}),
        &c,
        &f.main.key_pkcs1,
        Algorithm::RS256,
    );
    let (status, body) = post_form(
        &s.client(),
        &s.v1_token_url(TENANT),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("resource", "api://orders"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &jwt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], "3599", "v1 numbers are strings");
    assert_eq!(body["resource"], "api://orders");
    let exp: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let nbf: i64 = body["not_before"].as_str().unwrap().parse().unwrap();
    assert_eq!(exp - nbf, 3600);
    // The resource asked for v2 tokens, so v2 it is, whatever the endpoint.
    let iss = format!("{}/{TENANT}/v2.0", s.base());
    let (_, claims) =
        verify_with_jwks(&s, body["access_token"].as_str().unwrap(), ORDERS_API, &iss).await;
    assert_v2_claims(&claims, &s, ORDERS_API, "2");
}

#[tokio::test]
async fn token_signature_checks_out_with_openssl() {
    let s = Server::start();
    let f = fixture();
    let (status, body) = s
        .assertion_grant(&ps256(&s, &f.main), "api://orders/.default")
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let jwks = s.get_json(&s.field("jwks_uri")).await;
    let der = STANDARD
        .decode(jwks["keys"][0]["x5c"][0].as_str().unwrap())
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let (input, sig) = token.rsplit_once('.').unwrap();
    std::fs::write(p("input"), input).unwrap();
    std::fs::write(p("sig"), URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    std::fs::write(p("k.cer"), der).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    assert!(
        run(&["x509", "-inform", "DER", "-in", "k.cer", "-pubkey", "-noout", "-out", "pub.pem"]).0
    );
    let (ok, out) = run(&[
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig",
        "input",
    ]);
    assert!(ok && out.contains("Verified OK"), "{out}");
}
