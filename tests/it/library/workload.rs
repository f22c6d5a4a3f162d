//! `certgen::identity::WorkloadIdentityCredential` against the stub token endpoint: the token
//! file presented as the client assertion, read again for every request that goes to the
//! network (and not while a held token serves), and an expired, empty or missing file refused
//! as a typed error with nothing sent.

use std::path::Path;

use crate::support::signing_input;
use crate::support::token_stub::{field, Stub};
use certgen::identity::{
    ClientOptions, CredentialOptions, FederatedTokenError, TokenCredential, TokenRequestOptions,
    WorkloadIdentityCredential,
};
use serde_json::json;

const APP: &str = "5e1d0000-0000-4000-8000-0000000000b1";
const SCOPE: &str = "https://graph.microsoft.com/.default";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A service-account-shaped JWT numbered `n` (the stub never checks its signature).
fn federated_jwt(n: u32, exp: i64) -> String {
    let claims = json!({
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": "system:serviceaccount:shop:orders",
        "aud": ["api://AzureADTokenExchange"],
        "exp": exp,
        "n": n,
    });
    format!(
        "{}.c2ln",
        signing_input(&json!({"alg": "RS256", "kid": "k1"}), &claims)
    )
}

fn in_an_hour() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp() + 3600
}

fn credential(stub: &Stub, file: &Path) -> WorkloadIdentityCredential {
    let options = CredentialOptions::default()
        .token_endpoint(stub.url())
        .transport(ClientOptions::default().proxy_from_env(false));
    WorkloadIdentityCredential::new("", APP, file, options).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The assertion of the stub's last request.
fn last_assertion(stub: &Stub) -> String {
    let requests = stub.requests();
    let (_, form) = requests.last().expect("a request was sent");
    assert_eq!(field(form, "client_assertion_type"), Some(ASSERTION_TYPE));
    assert_eq!(field(form, "client_id"), Some(APP));
    field(form, "client_assertion").unwrap().to_string()
}

#[test]
fn the_file_is_read_again_for_every_network_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    let first = federated_jwt(1, in_an_hour());
    // A trailing newline, as `echo` or an editor leaves it: trimmed.
    std::fs::write(&file, format!("{first}\n")).unwrap();
    let stub = Stub::start(vec![]);
    let credential = credential(&stub, &file);
    assert_eq!(credential.token_file(), file);
    let rt = runtime();
    rt.block_on(credential.get_token(&[SCOPE], None)).unwrap();
    assert_eq!(last_assertion(&stub), first);

    // The kubelet rewrites the file; a held token still serves without reading it…
    let second = federated_jwt(2, in_an_hour());
    std::fs::write(&file, &second).unwrap();
    rt.block_on(credential.get_token(&[SCOPE], None)).unwrap();
    assert_eq!(stub.count(), 1, "a held token serves without a request");
    // …and the next request presents the rewritten token.
    let fresh = TokenRequestOptions::default().force_refresh(true);
    rt.block_on(credential.get_token(&[SCOPE], Some(&fresh)))
        .unwrap();
    assert_eq!(stub.count(), 2);
    assert_eq!(last_assertion(&stub), second);
}

#[test]
fn an_unusable_file_is_a_typed_refusal_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    let stub = Stub::start(vec![]);
    let credential = credential(&stub, &file);
    let rt = runtime();
    let refusal = |rt: &tokio::runtime::Runtime| {
        let e = rt
            .block_on(credential.get_token(&[SCOPE], None))
            .unwrap_err();
        match e {
            certgen::Error::Assertion(inner) => *inner
                .downcast::<FederatedTokenError>()
                .unwrap_or_else(|e| panic!("not a FederatedTokenError: {e}")),
            other => panic!("not an assertion refusal: {other:?}"),
        }
    };
    assert!(matches!(
        refusal(&rt),
        FederatedTokenError::Unreadable { ref path, .. } if path == &file
    ));
    std::fs::write(&file, " \n").unwrap();
    assert!(matches!(refusal(&rt), FederatedTokenError::Empty { .. }));
    std::fs::write(&file, federated_jwt(3, 1_700_000_000)).unwrap();
    match refusal(&rt) {
        FederatedTokenError::Expired {
            origin, expired_at, ..
        } => {
            assert_eq!(origin, file.display().to_string());
            assert_eq!(expired_at, "2023-11-14T22:13:20Z");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(stub.count(), 0, "nothing may be sent");
}
