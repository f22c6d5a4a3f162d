//! The library credentials (`certgen::identity::ClientSecretCredential`,
//! `ClientCertificateCredential`) against the stub token endpoint, as another Rust program
//! would use them: the cache policies counted in requests, the in-memory cache of a
//! long-lived credential, a fresh assertion per attempt, cache warnings through the caller's
//! sink, a typed refusal, and a credential shared across a multi-threaded runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::support::token_stub::{busy, fake_jwt, field, reply, Stub};
use certgen::assertion::SigningAlg;
use certgen::credential::Credential;
use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
use certgen::identity::{
    AccessToken, CachePolicy, ClientCertificateCredential, ClientOptions, ClientSecretCredential,
    CredentialOptions, Source, TokenCredential, WarningSink,
};
use certgen::jose;
use certgen::secret::Secret;
use certgen::{Error, Result};
use serde_json::json;
use time::OffsetDateTime;

const SCOPE: &str = "api://my-api/.default";
const CLIENT_ID: &str = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";

type Warnings = Arc<Mutex<Vec<String>>>;

fn options(
    stub: &Stub,
    cache: &Path,
    policy: CachePolicy,
    warnings: &Warnings,
) -> CredentialOptions {
    let sink = warnings.clone();
    CredentialOptions {
        token_endpoint: Some(stub.url()),
        alg: SigningAlg::Rs256,
        cache: policy,
        cache_dir: Some(cache.to_path_buf()),
        transport: ClientOptions {
            // Talk to the stub directly, whatever proxy the test machine sets.
            proxy_from_env: false,
            ..Default::default()
        },
        on_warning: Some(WarningSink(Arc::new(move |w| {
            sink.lock().unwrap().push(w.to_string())
        }))),
        ..Default::default()
    }
}

fn secret(
    stub: &Stub,
    cache: &Path,
    policy: CachePolicy,
    warnings: &Warnings,
) -> ClientSecretCredential {
    ClientSecretCredential::new(
        "contoso.onmicrosoft.com",
        CLIENT_ID,
        Secret::new("s3cret-value"),
        options(stub, cache, policy, warnings),
    )
    .unwrap()
}

fn certificate(stub: &Stub, cache: &Path, warnings: &Warnings) -> ClientCertificateCredential {
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
    ClientCertificateCredential::new(
        "contoso.onmicrosoft.com",
        CLIENT_ID,
        credential,
        options(stub, cache, CachePolicy::Use, warnings),
    )
    .unwrap()
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// One `get_token` on a credential of its own (an empty memory cache), with no warning.
fn token(stub: &Stub, cache: &Path, policy: CachePolicy) -> AccessToken {
    let warnings = Warnings::default();
    let t = block_on(secret(stub, cache, policy, &warnings).get_token(&[SCOPE])).unwrap();
    assert!(warnings.lock().unwrap().is_empty(), "{warnings:?}");
    t
}

#[test]
fn each_cache_policy_reads_and_writes_as_documented() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path();

    let first = token(&stub, cache, CachePolicy::Use);
    assert_eq!(
        (first.source, first.token.expose()),
        (Source::Network, fake_jwt(1).as_str())
    );
    assert_eq!((first.expires_in, first.ext_expires_in), (3599, Some(3599)));
    let hit = token(&stub, cache, CachePolicy::Use);
    assert_eq!(
        (hit.source, hit.token.expose()),
        (Source::Cache, fake_jwt(1).as_str())
    );
    assert_eq!(
        (hit.expires_on, hit.ext_expires_in),
        (first.expires_on, None)
    );
    assert_eq!(stub.count(), 1);

    // NoCache: neither read (a request) nor written (the cache still answers token 1).
    let fresh = token(&stub, cache, CachePolicy::NoCache);
    assert_eq!(fresh.token.expose(), fake_jwt(2));
    assert_eq!(
        token(&stub, cache, CachePolicy::Use).token.expose(),
        fake_jwt(1)
    );
    assert_eq!(stub.count(), 2);

    // ForceRefresh: not read (a request), but written (the cache now answers token 3).
    let forced = token(&stub, cache, CachePolicy::ForceRefresh);
    assert_eq!(
        (forced.source, forced.token.expose()),
        (Source::Network, fake_jwt(3).as_str())
    );
    assert_eq!(
        token(&stub, cache, CachePolicy::Use).token.expose(),
        fake_jwt(3)
    );
    assert_eq!(stub.count(), 3);

    // The form the stub saw: the secret, the scope, and nothing of the secret in the cache.
    let (_, form) = &stub.requests()[0];
    assert_eq!(field(form, "client_secret"), Some("s3cret-value"));
    assert_eq!(field(form, "scope"), Some(SCOPE));
    for entry in std::fs::read_dir(cache).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("s3cret-value"));
    }
}

#[test]
fn a_long_lived_credential_answers_from_memory() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let warnings = Warnings::default();
    let credential = secret(&stub, cache.path(), CachePolicy::Use, &warnings);
    let first = block_on(credential.get_token(&[SCOPE])).unwrap();
    // The disk cache gone, the same credential still answers, without a request.
    std::fs::remove_dir_all(cache.path()).unwrap();
    let second = block_on(credential.get_token(&[SCOPE])).unwrap();
    assert_eq!(
        (first.source, second.source),
        (Source::Network, Source::Memory)
    );
    assert_eq!(second.token, first.token);
    assert_eq!(stub.count(), 1);
    assert!(warnings.lock().unwrap().is_empty());
}

#[test]
fn every_attempt_carries_a_fresh_assertion() {
    let stub = Stub::start(vec![busy(503, "0"), busy(429, "0")]);
    let cache = tempfile::tempdir().unwrap();
    let cred = certificate(&stub, cache.path(), &Warnings::default());
    let t = block_on(cred.get_token(&[SCOPE])).unwrap();
    assert_eq!(t.token.expose(), fake_jwt(3));
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
fn a_refusal_is_a_provider_error_with_its_code() {
    let body = json!({
        "error": "invalid_client",
        "error_description": "AADSTS700027: Client assertion failed signature validation.",
        "error_codes": [700027],
        "trace_id": "t-1",
        "correlation_id": "c-1",
    });
    let stub = Stub::start(vec![reply(401, body.to_string())]);
    let cache = tempfile::tempdir().unwrap();
    let warnings = Warnings::default();
    let cred = certificate(&stub, cache.path(), &warnings);
    match block_on(cred.get_token(&[SCOPE])) {
        Err(Error::Provider(p)) if p.has_code(700027) => {
            assert_eq!(
                (p.status, p.error.as_deref()),
                (401, Some("invalid_client"))
            );
            assert_eq!(p.trace_id.as_deref(), Some("t-1"));
            assert_eq!(p.correlation_id.as_deref(), Some("c-1"));
        }
        other => panic!("expected AADSTS700027, got {other:?}"),
    }
    assert!(warnings.lock().unwrap().is_empty());
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
    token(&stub, cache.path(), CachePolicy::Use);
    let entry = std::fs::read_dir(cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&entry, "{\"token_type\":\"Bea").unwrap();
    let warnings = Warnings::default();
    let t = block_on(secret(&stub, cache.path(), CachePolicy::Use, &warnings).get_token(&[SCOPE]));
    assert_eq!(t.unwrap().token.expose(), fake_jwt(2));
    let seen = warnings.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("set aside"), "{seen:?}");

    // A file where the cache folder should be: the token still comes, uncached.
    let blocked = cache.path().join("blocked");
    std::fs::write(&blocked, "not a folder").unwrap();
    let warnings = Warnings::default();
    let t = block_on(secret(&stub, &blocked, CachePolicy::Use, &warnings).get_token(&[SCOPE]));
    assert_eq!(t.unwrap().source, Source::Network);
    let seen = warnings.lock().unwrap().clone();
    assert!(seen.iter().any(|w| w.contains("not cached")), "{seen:?}");
}

#[test]
fn one_credential_serves_a_multi_threaded_runtime() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let credential: Arc<dyn TokenCredential> = Arc::new(secret(
        &stub,
        cache.path(),
        CachePolicy::Use,
        &Warnings::default(),
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Spawned: the future is Send, so a multi-threaded server can await it.
    let handle = runtime.spawn(async move {
        let first = credential.get_token(&[SCOPE]).await?;
        let second = credential.get_token(&[SCOPE]).await?;
        Result::<_>::Ok((first, second))
    });
    let (first, second) = runtime.block_on(handle).unwrap().unwrap();
    assert_eq!(
        (first.source, second.source),
        (Source::Network, Source::Memory)
    );
    assert_eq!(second.token.expose(), fake_jwt(1));
    assert_eq!(stub.count(), 1);
}
