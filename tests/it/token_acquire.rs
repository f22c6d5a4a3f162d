//! The library token flow (`certgen::token::acquire`) against the stub token endpoint, as
//! another Rust program would use it: the cache policies counted in requests, a fresh
//! assertion per attempt, cache warnings through the caller's sink, an explained refusal,
//! and the async variant.

use std::path::{Path, PathBuf};

use crate::support::token_stub::{busy, fake_jwt, field, reply, Stub};
use certgen::assertion::{AssertionParams, SigningAlg};
use certgen::credential::Credential;
use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
use certgen::jose;
use certgen::secret::Secret;
use certgen::token::{
    acquire, acquire_async, AcquireRequest, AcquiredToken, CachePolicy, ClientOptions, Source,
    TokenCredential, TokenTarget,
};
use certgen::{ErrorKind, Result};
use serde_json::json;
use time::OffsetDateTime;

const SCOPE: &str = "api://my-api/.default";
const CLIENT_ID: &str = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";

fn request(stub: &Stub, cache: &Path, credential: TokenCredential) -> AcquireRequest {
    AcquireRequest {
        target: TokenTarget::endpoint(
            &stub.url(),
            Some("contoso.onmicrosoft.com"),
            vec![SCOPE.into()],
        )
        .unwrap(),
        client_id: CLIENT_ID.into(),
        credential,
        client: ClientOptions {
            // Talk to the stub directly, whatever proxy the test machine sets.
            proxy_from_env: false,
            ..Default::default()
        },
        cache_dir: Some(cache.to_path_buf()),
    }
}

fn secret() -> TokenCredential {
    TokenCredential::secret(Secret::new("s3cret-value"), "a test").unwrap()
}

fn certificate(audience: &str, file: PathBuf) -> TokenCredential {
    let made = generate(&NewCertificate {
        subject: Subject::common_name("certgen acquire test").unwrap(),
        sans: vec![],
        days: 1,
        key_size: KeySize::Rsa2048,
        profile: Profile::ClientAuth,
    })
    .unwrap();
    let credential = Credential::from_parts(
        vec![made.cert],
        vec![made.key],
        "test",
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    TokenCredential::Certificate {
        credential: Box::new(credential),
        params: AssertionParams {
            client_id: CLIENT_ID.into(),
            audience: audience.into(),
            alg: SigningAlg::Rs256,
            x5c: false,
            lifetime_secs: 600,
        },
        file: Some(file),
        file_has_key: false,
    }
}

/// `acquire`, with the warnings it gave.
fn run(req: &AcquireRequest, policy: CachePolicy) -> (Result<AcquiredToken>, Vec<String>) {
    let mut warnings = Vec::new();
    let result = acquire(req, policy, |w| warnings.push(w.to_string()));
    (result, warnings)
}

fn token(req: &AcquireRequest, policy: CachePolicy) -> AcquiredToken {
    let (result, warnings) = run(req, policy);
    assert!(warnings.is_empty(), "{warnings:?}");
    result.unwrap()
}

#[test]
fn each_cache_policy_reads_and_writes_as_documented() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let req = request(&stub, cache.path(), secret());

    let first = token(&req, CachePolicy::Use);
    assert_eq!(
        (first.source, first.access_token.as_str()),
        (Source::Network, fake_jwt(1).as_str())
    );
    assert_eq!((first.expires_in, first.ext_expires_in), (3599, Some(3599)));
    let hit = token(&req, CachePolicy::Use);
    assert_eq!(
        (hit.source, hit.access_token.as_str()),
        (Source::Cache, fake_jwt(1).as_str())
    );
    assert_eq!(
        (hit.expires_on, hit.ext_expires_in),
        (first.expires_on, None)
    );
    assert_eq!(stub.count(), 1);

    // NoCache: neither read (a request) nor written (the cache still answers token 1).
    let fresh = token(&req, CachePolicy::NoCache);
    assert_eq!(fresh.access_token, fake_jwt(2));
    assert_eq!(token(&req, CachePolicy::Use).access_token, fake_jwt(1));
    assert_eq!(stub.count(), 2);

    // ForceRefresh: not read (a request), but written (the cache now answers token 3).
    let forced = token(&req, CachePolicy::ForceRefresh);
    assert_eq!(
        (forced.source, forced.access_token.as_str()),
        (Source::Network, fake_jwt(3).as_str())
    );
    assert_eq!(token(&req, CachePolicy::Use).access_token, fake_jwt(3));
    assert_eq!(stub.count(), 3);

    // The form the stub saw: the secret, the scope, and nothing of the secret in the cache.
    let (_, form) = &stub.requests()[0];
    assert_eq!(field(form, "client_secret"), Some("s3cret-value"));
    assert_eq!(field(form, "scope"), Some(SCOPE));
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("s3cret-value"));
    }
}

#[test]
fn every_attempt_carries_a_fresh_assertion() {
    let stub = Stub::start(vec![busy(503, "0"), busy(429, "0")]);
    let cache = tempfile::tempdir().unwrap();
    let cred = certificate(&stub.url(), PathBuf::from("app.crt"));
    let req = request(&stub, cache.path(), cred);
    let t = token(&req, CachePolicy::Use);
    assert_eq!(t.access_token, fake_jwt(3));
    let jtis: Vec<String> = stub
        .requests()
        .iter()
        .map(|(_, form)| {
            let assertion = field(form, "client_assertion").unwrap();
            let claims = jose::parse(assertion, jose::Policy::Strict).unwrap().claims;
            assert_eq!(claims["aud"], stub.url());
            claims["jti"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(jtis.len(), 3);
    assert!(jtis[0] != jtis[1] && jtis[1] != jtis[2] && jtis[0] != jtis[2]);
}

#[test]
fn a_refusal_is_explained_with_the_certificate_and_its_file() {
    let body = json!({
        "error": "invalid_client",
        "error_description": "AADSTS700027: Client assertion failed signature validation.",
        "error_codes": [700027],
    });
    let stub = Stub::start(vec![reply(401, body.to_string())]);
    let cache = tempfile::tempdir().unwrap();
    let cred = certificate(&stub.url(), PathBuf::from("my-daemon.crt"));
    let TokenCredential::Certificate { credential, .. } = &cred else {
        unreachable!()
    };
    let thumbprint = credential.leaf().thumbprints.thumbprint();
    let req = request(&stub, cache.path(), cred);
    let (result, warnings) = run(&req, CachePolicy::Use);
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Provider);
    assert!(e.message().contains("AADSTS700027"), "{}", e.message());
    let hints = e.hints().join("\n");
    assert!(hints.contains(&thumbprint), "{hints}");
    assert!(hints.contains("upload my-daemon.crt"), "{hints}");
    assert!(warnings.is_empty());
    assert_eq!(
        std::fs::read_dir(cache.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing cached"
    );
}

#[test]
fn cache_problems_reach_the_sink_and_never_fail_the_request() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let req = request(&stub, cache.path(), secret());
    token(&req, CachePolicy::Use);
    let entry = std::fs::read_dir(cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&entry, "{\"token_type\":\"Bea").unwrap();
    let (result, warnings) = run(&req, CachePolicy::Use);
    assert_eq!(result.unwrap().access_token, fake_jwt(2));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("set aside"), "{warnings:?}");

    // A file where the cache folder should be: the token still comes, uncached.
    let blocked = cache.path().join("blocked");
    std::fs::write(&blocked, "not a folder").unwrap();
    let req = request(&stub, &blocked, secret());
    let (result, warnings) = run(&req, CachePolicy::Use);
    assert_eq!(result.unwrap().source, Source::Network);
    assert!(
        warnings.iter().any(|w| w.contains("not cached")),
        "{warnings:?}"
    );
}

#[test]
fn the_async_variant_runs_on_the_callers_runtime() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let req = request(&stub, cache.path(), secret());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Spawned: the future is Send, so a multi-threaded server can await it.
    let handle = runtime.spawn(async move {
        let first = acquire_async(&req, CachePolicy::Use, |_| {}).await?;
        let second = acquire_async(&req, CachePolicy::Use, |_| {}).await?;
        Result::<_>::Ok((first, second))
    });
    let (first, second) = runtime.block_on(handle).unwrap().unwrap();
    assert_eq!(
        (first.source, second.source),
        (Source::Network, Source::Cache)
    );
    assert_eq!(second.access_token, fake_jwt(1));
    assert_eq!(stub.count(), 1);
}
