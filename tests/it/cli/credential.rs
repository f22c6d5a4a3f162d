//! `certgen credential list | add | remove` against a real `certgen serve`: the app reads its
//! own keys (this machine's marked), adds another certificate (idempotently), and removes one
//! — refused for the last valid certificate or this machine's without `--force`.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support::certgen;
use crate::support::graph::*;
use crate::support::serve::*;

/// `certgen credential ARGS` as BARE signing with `cred`, against `s`.
fn credential(s: &Server, cache: &Path, cred: &Cred, args: &[&str]) -> Output {
    let mut cmd = certgen();
    cmd.arg("credential")
        .args(args)
        .args(["--tenant", TENANT, "--client-id", BARE])
        .arg("--cert")
        .arg(&cred.cert_pem)
        .arg("--key")
        .arg(&cred.key_pem)
        .args(["--authority-host", &s.base()])
        .env("CERTGEN_CACHE_DIR", cache);
    if let Some(ca) = s.ready["ca_file"].as_str() {
        cmd.args(["--ca-file", ca]);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}; stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn listed(s: &Server, cache: &Path, cred: &Cred) -> Value {
    serde_json::from_str(&ok(&credential(s, cache, cred, &["list", "--json"]))).unwrap()
}

#[test]
fn list_add_remove_with_the_apps_own_token_and_the_one_way_door_guarded() {
    let g = graph();
    let f = fixture();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();

    let doc = listed(&s, cache, &f.main);
    assert_eq!(doc["application"]["id"], BARE_OBJECT);
    assert_eq!(doc["application"]["appId"], BARE);
    let keys = doc["keyCredentials"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    let fields: Vec<&str> = k.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "keyId",
            "thumbprint",
            "displayName",
            "startDateTime",
            "endDateTime",
            "state",
            "this_machine"
        ]
    );
    assert_eq!(k["thumbprint"], f.main.thumbprint_hex());
    assert_eq!(k["state"], "valid");
    assert_eq!(k["this_machine"], true);
    let main_key = k["keyId"].as_str().unwrap().to_string();

    let text = ok(&credential(&s, cache, &f.main, &["list"]));
    assert!(text.contains("<- this machine"), "{text}");
    assert!(text.contains("valid, expires in "), "{text}");

    // The last valid certificate (and this machine's) is not removed without --force.
    let out = credential(&s, cache, &f.main, &["remove", &main_key]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("last valid certificate"), "{err}");
    assert!(err.contains("--force"), "{err}");

    // add: registered once; a second add is reported, exit 0.
    let second = f.second.cert_pem.to_str().unwrap();
    let new_id = ok(&credential(
        &s,
        cache,
        &f.main,
        &["add", second, "--display-name", "host2"],
    ));
    let again = credential(&s, cache, &f.main, &["add", second]);
    assert_eq!(ok(&again), new_id);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already registered"));
    let doc = listed(&s, cache, &f.main);
    assert_eq!(doc["keyCredentials"].as_array().unwrap().len(), 2);
    assert_eq!(doc["keyCredentials"][1]["displayName"], "host2");
    assert_eq!(doc["keyCredentials"][1]["this_machine"], false);

    // A weak certificate is refused before any request.
    let out = credential(
        &s,
        cache,
        &f.main,
        &["add", f.weak.cert_pem.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 2048 bits"));

    // This machine's certificate is still guarded; from the new one, by thumbprint, it goes.
    let out = credential(&s, cache, &f.main, &["remove", &f.main.thumbprint_hex()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("this machine signs with"));
    ok(&credential(
        &s,
        cache,
        &f.second,
        &["remove", &f.main.thumbprint_hex()],
    ));
    let doc = listed(&s, cache, &f.second);
    let keys = doc["keyCredentials"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["thumbprint"], f.second.thumbprint_hex());
    assert!(!keys.iter().any(|k| k["keyId"] == main_key.as_str()));

    // The old certificate no longer gets a new token (its cached one lives on until it
    // expires, as with Entra): exit 3 with 700027.
    let fresh = tempfile::tempdir().unwrap();
    let out = credential(&s, fresh.path(), &f.main, &["list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("700027"));
}

/// `certgen call` of addKey with a proof Graph refuses: exit 3, Graph's code, and what to check.
#[test]
fn call_explains_a_refused_proof() {
    let g = graph();
    let f = fixture();
    let s = g.start(&[]);
    let cache = tempfile::tempdir().unwrap();
    let body = serde_json::json!({
        "keyCredential": {"type": "AsymmetricX509Cert", "usage": "Verify", "key": b64_std(&f.second.cert_der)},
        "passwordCredential": null,
        "proof": "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",
    });
    let url = format!("/v1.0/applications/{BARE_OBJECT}/addKey");
    let data = body.to_string();
    let out = crate::cli::call::call(
        &s,
        cache.path(),
        BARE,
        &[&url, "--method", "POST", "--data", &data],
    );
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("401 Unauthorized: Authentication_MissingOrMalformed: Access Token missing or malformed."),
        "{err}"
    );
    assert!(err.contains("certgen decode PROOF"), "{err}");
}
