//! `certgen proof`, `certgen keycred` and `decode` of a proof: the proof's signature and claims
//! checked by the openssl CLI and by PyJWT (when CERTGEN_TEST_PYTHON names a Python with
//! PyJWT and cryptography), its header shaped like Microsoft's .NET sample (https://learn.microsoft.com/en-us/graph/application-rollkey-prooftoken); the keyCredential compared with openssl's view of the certificate; both accepted by
//! `certgen serve`'s addKey; and decode naming the rule a hand-made bad proof breaks.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};

use crate::support::graph::*;
use crate::support::serve::*;
use crate::support::{certgen, openssl_thumbprints, p};

const PROOF_AUD: &str = "00000002-0000-0000-c000-000000000000";

fn proof_of(cred: &Cred, extra: &[&str]) -> String {
    let out = certgen()
        .args(["proof", "--object-id", BARE_OBJECT, "--cert"])
        .arg(&cred.cert_pem)
        .arg("--key")
        .arg(&cred.key_pem)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn part(jwt: &str, i: usize) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(i).unwrap())
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn the_proof_verifies_with_openssl_and_is_shaped_like_microsofts() {
    let f = fixture();
    let jwt = proof_of(&f.main, &[]);
    assert!(!jwt.contains('='), "no padding anywhere: {jwt}");
    let tp = openssl_thumbprints(&f.main.cert_pem);
    let header = part(&jwt, 0);
    assert_eq!(
        header,
        json!({"alg": "RS256", "kid": tp.sha1, "typ": "JWT", "x5t": tp.x5t})
    );
    let claims = part(&jwt, 1);
    let keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["aud", "iss", "nbf", "exp"]);
    assert_eq!(claims["aud"], PROOF_AUD);
    assert_eq!(claims["iss"], BARE_OBJECT);
    let nbf = claims["nbf"].as_i64().unwrap();
    assert!((nbf - now()).abs() < 60);
    assert_eq!(claims["exp"].as_i64().unwrap() - nbf, 600);

    // openssl: the RS256 signature over header.claims, with the certificate's public key.
    let dir = tempfile::tempdir().unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let input_file = dir.path().join("input");
    let sig_file = dir.path().join("sig");
    let pubkey = dir.path().join("pub.pem");
    std::fs::write(&input_file, input).unwrap();
    std::fs::write(&sig_file, URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
    crate::support::openssl(&[
        "x509",
        "-in",
        p(&f.main.cert_pem),
        "-pubkey",
        "-noout",
        "-out",
        p(&pubkey),
    ]);
    let out = crate::support::openssl_output(&[
        "dgst",
        "-sha256",
        "-verify",
        p(&pubkey),
        "-signature",
        p(&sig_file),
        p(&input_file),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A shorter lifetime; more than Graph's 10 minutes is refused before signing.
    let short = proof_of(&f.main, &["--lifetime", "120"]);
    let c = part(&short, 1);
    assert_eq!(c["exp"].as_i64().unwrap() - c["nbf"].as_i64().unwrap(), 120);
    certgen()
        .args([
            "proof",
            "--object-id",
            BARE_OBJECT,
            "--lifetime",
            "3600",
            "--cert",
        ])
        .arg(&f.main.cert_pem)
        .arg("--key")
        .arg(&f.main.key_pem)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("3600 is not in 1..=600"));
    certgen()
        .args(["proof", "--object-id", "my-app", "--cert"])
        .arg(&f.main.cert_pem)
        .arg("--key")
        .arg(&f.main.key_pem)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "object id 'my-app' is not a GUID",
        ));
}

#[test]
fn pyjwt_verifies_the_proof_and_its_claims() {
    let Some(python) = crate::support::require::python(&["jwt", "cryptography"]) else {
        return;
    };
    let f = fixture();
    let jwt = proof_of(&f.main, &[]);
    let script = r#"
import sys, jwt
from cryptography import x509
cert = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
token = sys.argv[2]
claims = jwt.decode(token, cert.public_key(), algorithms=["RS256"],
                    audience="00000002-0000-0000-c000-000000000000", issuer=sys.argv[3],
                    options={"require": ["aud", "iss", "nbf", "exp"]})
assert claims["exp"] - claims["nbf"] <= 600, claims
assert "=" not in token
print("ok", jwt.get_unverified_header(token)["kid"])
"#;
    let out = Command::new(python)
        .args(["-c", script, p(&f.main.cert_pem), &jwt, BARE_OBJECT])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ok {}", f.main.thumbprint_hex())
    );
}

fn openssl_date(cert: &Path, which: &str) -> time::OffsetDateTime {
    // "notBefore=Dec  1 11:00:00 2026 GMT"
    let out = crate::support::openssl(&["x509", "-in", p(cert), "-noout", which]);
    let text = out.trim().split_once('=').unwrap().1.replace("  ", " ");
    let fmt = time::macros::format_description!(
        "[month repr:short] [day padding:none] [hour]:[minute]:[second] [year] GMT"
    );
    time::PrimitiveDateTime::parse(&text, &fmt)
        .unwrap()
        .assume_utc()
}

#[tokio::test]
async fn keycred_matches_openssl_and_serve_adds_it_with_certgens_proof() {
    let g = graph();
    let f = fixture();
    let out = certgen()
        .args(["keycred", "--display-name", "host1"])
        .arg(&f.second.cert_pem)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("replaces the whole keyCredentials"));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kc = &body["keyCredentials"][0];
    let tp = openssl_thumbprints(&f.second.cert_pem);
    assert_eq!(kc["customKeyIdentifier"], tp.sha1);
    assert_eq!(kc["displayName"], "host1");
    assert_eq!(kc["type"], "AsymmetricX509Cert");
    assert_eq!(kc["usage"], "Verify");
    assert_eq!(
        STANDARD.decode(kc["key"].as_str().unwrap()).unwrap(),
        f.second.cert_der
    );
    assert!(uuid::Uuid::parse_str(kc["keyId"].as_str().unwrap()).is_ok());
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert_eq!(
        parse(&kc["startDateTime"]),
        openssl_date(&f.second.cert_pem, "-startdate")
    );
    assert_eq!(
        parse(&kc["endDateTime"]),
        openssl_date(&f.second.cert_pem, "-enddate")
    );

    let s = g.start(&[]);
    let token = g.token(&s, BARE).await;
    let resp = s
        .client()
        .post(format!(
            "{}/v1.0/applications/{BARE_OBJECT}/addKey",
            s.base()
        ))
        .bearer_auth(&token)
        .json(&json!({
            "keyCredential": kc,
            "passwordCredential": null,
            "proof": proof_of(&f.main, &[]),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let added: Value = resp.json().await.unwrap();
    assert_eq!(added["keyId"], kc["keyId"]);
    assert_eq!(added["displayName"], "host1");
}

fn decode_lines(jwt: &str) -> String {
    let out = certgen().args(["decode", jwt]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn decode_names_the_rule_a_proof_breaks() {
    let f = fixture();
    let sign = |claims: Value| {
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": f.main.x5t()});
        sign_rsa(
            &header,
            &claims,
            &f.main.key_pkcs1,
            jsonwebtoken::Algorithm::RS256,
        )
    };
    let now = now();
    let good = sign(json!({"aud": PROOF_AUD, "iss": BARE_OBJECT, "nbf": now, "exp": now + 600}));
    let out = decode_lines(&good);
    assert!(out.contains("follows Graph's rules"), "{out}");
    assert!(!out.contains("BROKEN"), "{out}");

    let out = decode_lines(&format!("{good}=="));
    assert!(
        out.contains("BROKEN: the signature is not base64url without padding"),
        "{out}"
    );
    let out = decode_lines(&sign(json!({
        "aud": GRAPH_APP_ID, "iss": BARE_OBJECT, "nbf": now, "exp": now + 600
    })));
    assert!(
        out.contains(&format!(
            "BROKEN: aud is {GRAPH_APP_ID} (Microsoft Graph's app id"
        )),
        "{out}"
    );
    let out = decode_lines(&sign(json!({
        "aud": PROOF_AUD, "iss": BARE_OBJECT, "nbf": now, "exp": now + 3600
    })));
    assert!(out.contains("BROKEN: exp - nbf is 3600 s"), "{out}");
    let out = decode_lines(&sign(
        json!({"aud": PROOF_AUD, "iss": "my-app", "nbf": now, "exp": now + 60}),
    ));
    assert!(
        out.contains("BROKEN: iss \"my-app\" is not a GUID"),
        "{out}"
    );

    let json_out = certgen()
        .args(["decode", "--json", &format!("{good}==")])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(doc["signature_verified"], false);
    assert_eq!(
        doc["graph_proof"]["broken_rules"].as_array().unwrap().len(),
        1
    );
    // An access token is not a proof: no such section.
    let out = decode_lines(&rs256(&Server::start(), &f.main));
    assert!(!out.contains("graph proof"), "{out}");
}
