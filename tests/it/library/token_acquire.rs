//! The library credentials (`certgen::identity::ClientSecretCredential`,
//! `ClientCertificateCredential`, `ClientAssertionCredential`) against the stub token endpoint,
//! as another Rust program would use them: the disk cache and the per-call options counted in
//! requests, the in-memory cache of a long-lived credential, the renewal ahead of expiry by one
//! request, a fresh assertion per attempt, cache warnings through the caller's sink, a typed
//! refusal, and a credential shared across a multi-threaded runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::support::token_stub::{busy, fake_jwt, field, reply, Stub};
use certgen::assertion::SigningAlg;
use certgen::credential::Credential;
use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
use certgen::identity::{
    AccessToken, ClientAssertionCredential, ClientCertificateCredential, ClientOptions,
    ClientSecretCredential, CredentialOptions, DiskCache, Source, TokenCredential,
    TokenRequestOptions, WarningSink,
};
use certgen::jose;
use certgen::secret::Secret;
use certgen::{Error, Result};
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;

const SCOPE: &str = "api://my-api/.default";
const CLIENT_ID: &str = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";

type Warnings = Arc<Mutex<Vec<String>>>;

/// Options toward the stub; `cache`: the disk cache folder, `None` for memory only.
fn options(stub: &Stub, cache: Option<&Path>, warnings: &Warnings) -> CredentialOptions {
    let sink = warnings.clone();
    CredentialOptions::default()
        .token_endpoint(stub.url())
        .alg(SigningAlg::Rs256)
        .disk_cache(cache.map_or(DiskCache::Off, |c| DiskCache::Dir(c.to_path_buf())))
        // Talk to the stub directly, whatever proxy the test machine sets.
        .transport(ClientOptions::default().proxy_from_env(false))
        .on_warning(WarningSink::new(move |w| {
            sink.lock().unwrap().push(w.to_string())
        }))
}

fn secret(stub: &Stub, cache: Option<&Path>, warnings: &Warnings) -> ClientSecretCredential {
    ClientSecretCredential::new(
        "contoso.onmicrosoft.com",
        CLIENT_ID,
        Secret::new("s3cret-value"),
        options(stub, cache, warnings),
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
        options(stub, Some(cache), warnings),
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
fn token(stub: &Stub, cache: Option<&Path>, call: TokenRequestOptions) -> AccessToken {
    let warnings = Warnings::default();
    let credential = secret(stub, cache, &warnings);
    let t = block_on(credential.get_token(&[SCOPE], Some(&call))).unwrap();
    assert!(warnings.lock().unwrap().is_empty(), "{warnings:?}");
    t
}

fn plain() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[test]
fn the_disk_cache_and_force_refresh_read_and_write_as_documented() {
    let stub = Stub::start(vec![]);
    let folder = tempfile::tempdir().unwrap();
    let cache = Some(folder.path());

    let first = token(&stub, cache, plain());
    assert_eq!(
        (first.source, first.token.expose()),
        (Source::Network, fake_jwt(1).as_str())
    );
    assert!(
        (3590..=3599).contains(&first.expires_in().as_secs()),
        "{first:?}"
    );
    assert_eq!(first.ext_expires_in, Some(Duration::from_secs(3599)));
    let hit = token(&stub, cache, plain());
    assert_eq!(
        (hit.source, hit.token.expose()),
        (Source::Cache, fake_jwt(1).as_str())
    );
    assert_eq!(
        (hit.expires_on, hit.ext_expires_in),
        (first.expires_on, None)
    );
    assert_eq!(stub.count(), 1);

    // Memory only (the default): the disk neither read (a request) nor written (the disk
    // cache still answers token 1).
    let fresh = token(&stub, None, plain());
    assert_eq!(fresh.token.expose(), fake_jwt(2));
    assert_eq!(token(&stub, cache, plain()).token.expose(), fake_jwt(1));
    assert_eq!(stub.count(), 2);

    // force_refresh: not read (a request), but written (the cache now answers token 3).
    let forced = token(&stub, cache, plain().force_refresh(true));
    assert_eq!(
        (forced.source, forced.token.expose()),
        (Source::Network, fake_jwt(3).as_str())
    );
    assert_eq!(token(&stub, cache, plain()).token.expose(), fake_jwt(3));
    assert_eq!(stub.count(), 3);

    // The form the stub saw: the secret, the scope, and nothing of the secret in the cache.
    let (_, form) = &stub.requests()[0];
    assert_eq!(field(form, "client_secret"), Some("s3cret-value"));
    assert_eq!(field(form, "scope"), Some(SCOPE));
    for entry in std::fs::read_dir(folder.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("s3cret-value"));
    }
}

#[test]
fn a_long_lived_credential_answers_from_memory() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let warnings = Warnings::default();
    let credential = secret(&stub, Some(cache.path()), &warnings);
    let first = block_on(credential.get_token(&[SCOPE], None)).unwrap();
    // The disk cache gone, the same credential still answers, without a request.
    std::fs::remove_dir_all(cache.path()).unwrap();
    let second = block_on(credential.get_token(&[SCOPE], None)).unwrap();
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
    let t = block_on(cred.get_token(&[SCOPE], None)).unwrap();
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
    match block_on(cred.get_token(&[SCOPE], None)) {
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
    token(&stub, Some(cache.path()), plain());
    let entry = std::fs::read_dir(cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&entry, "{\"token_type\":\"Bea").unwrap();
    let warnings = Warnings::default();
    let t = block_on(secret(&stub, Some(cache.path()), &warnings).get_token(&[SCOPE], None));
    assert_eq!(t.unwrap().token.expose(), fake_jwt(2));
    let seen = warnings.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("set aside"), "{seen:?}");

    // A file where the cache folder should be: the token still comes, uncached.
    let blocked = cache.path().join("blocked");
    std::fs::write(&blocked, "not a folder").unwrap();
    let warnings = Warnings::default();
    let t = block_on(secret(&stub, Some(&blocked), &warnings).get_token(&[SCOPE], None));
    assert_eq!(t.unwrap().source, Source::Network);
    let seen = warnings.lock().unwrap().clone();
    assert!(seen.iter().any(|w| w.contains("not cached")), "{seen:?}");
}

#[test]
fn one_credential_serves_a_multi_threaded_runtime() {
    let stub = Stub::start(vec![]);
    let cache = tempfile::tempdir().unwrap();
    let credential: Arc<dyn TokenCredential> =
        Arc::new(secret(&stub, Some(cache.path()), &Warnings::default()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Spawned: the future is Send, so a multi-threaded server can await it.
    let handle = runtime.spawn(async move {
        let first = credential.get_token(&[SCOPE], None).await?;
        let second = credential.get_token(&[SCOPE], None).await?;
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

/// A v2 answer carrying `fake_jwt(n)` that lives `secs` seconds.
fn lasting(n: u32, secs: u64) -> crate::support::token_stub::Reply {
    reply(
        200,
        json!({"token_type": "Bearer", "expires_in": secs, "access_token": fake_jwt(n)})
            .to_string(),
    )
}

/// 20 tasks at once on a multi-threaded runtime, each asking `credential` for a token.
fn twenty_at_once(credential: &Arc<dyn TokenCredential>) -> Vec<AccessToken> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let c = credential.clone();
                tokio::spawn(async move { c.get_token(&[SCOPE], None).await })
            })
            .collect();
        let mut tokens = Vec::new();
        for t in tasks {
            tokens.push(t.await.unwrap().unwrap());
        }
        tokens
    })
}

#[test]
fn a_token_near_its_expiry_is_renewed_ahead_by_one_request() {
    // Token 1 lives 200 s: inside the five minutes before expiry in which it is renewed.
    let mut first = lasting(1, 200);
    // The renewal is slow, so the 20 callers are all there while it runs.
    let mut second = lasting(2, 3599);
    second.delay = Duration::from_millis(300);
    first.delay = Duration::ZERO;
    let stub = Stub::start(vec![first, second]);
    let credential: Arc<dyn TokenCredential> = Arc::new(secret(&stub, None, &Warnings::default()));
    let got = block_on(credential.get_token(&[SCOPE], None)).unwrap();
    assert_eq!(got.token.expose(), fake_jwt(1));
    assert_eq!(stub.count(), 1);

    let tokens = twenty_at_once(&credential);
    assert_eq!(stub.count(), 2, "one renewal for 20 callers");
    // The caller that renewed got token 2; the others were not made to wait: token 1, still
    // valid for minutes, or token 2 once it arrived.
    assert!(tokens.iter().any(|t| t.token.expose() == fake_jwt(2)));
    assert!(tokens
        .iter()
        .all(|t| [fake_jwt(1), fake_jwt(2)].contains(&t.token.expose().to_string())));
    let after = block_on(credential.get_token(&[SCOPE], None)).unwrap();
    assert_eq!(
        (after.token.expose(), after.source),
        (fake_jwt(2).as_str(), Source::Memory)
    );
    assert_eq!(stub.count(), 2);
}

#[test]
fn twenty_cold_callers_share_one_request() {
    let mut slow = lasting(1, 3599);
    slow.delay = Duration::from_millis(300);
    let stub = Stub::start(vec![slow]);
    let credential: Arc<dyn TokenCredential> = Arc::new(secret(&stub, None, &Warnings::default()));
    let tokens = twenty_at_once(&credential);
    assert_eq!(stub.count(), 1);
    assert!(tokens.iter().all(|t| t.token.expose() == fake_jwt(1)));
    assert_eq!(
        tokens
            .iter()
            .filter(|t| t.source == Source::Network)
            .count(),
        1
    );
}

#[test]
fn a_client_assertion_callback_is_asked_per_request_and_its_failure_is_typed() {
    let stub = Stub::start(vec![]);
    let asked = Arc::new(Mutex::new(0u32));
    let counter = asked.clone();
    let credential = ClientAssertionCredential::new(
        "contoso.onmicrosoft.com",
        CLIENT_ID,
        move || {
            let n = {
                let mut n = counter.lock().unwrap();
                *n += 1;
                *n
            };
            async move { Ok::<_, std::io::Error>(format!("signed-elsewhere-{n}")) }
        },
        options(&stub, None, &Warnings::default()),
    )
    .unwrap();
    block_on(credential.get_token(&[SCOPE], None)).unwrap();
    block_on(credential.get_token(&[SCOPE], Some(&plain().force_refresh(true)))).unwrap();
    assert_eq!(*asked.lock().unwrap(), 2);
    let forms: Vec<_> = stub.requests().into_iter().map(|(_, f)| f).collect();
    assert_eq!(
        field(&forms[1], "client_assertion"),
        Some("signed-elsewhere-2")
    );
    assert_eq!(
        field(&forms[1], "client_assertion_type"),
        Some(certgen::ASSERTION_TYPE)
    );

    let failing = ClientAssertionCredential::new(
        "contoso.onmicrosoft.com",
        CLIENT_ID,
        || async { Err::<String, _>(std::io::Error::other("the key vault is down")) },
        options(&stub, None, &Warnings::default()),
    )
    .unwrap();
    let e = block_on(failing.get_token(&[SCOPE], None)).unwrap_err();
    assert!(matches!(&e, Error::Assertion(_)), "{e:?}");
    assert!(e.to_string().contains("the key vault is down"), "{e}");
    assert_eq!(stub.count(), 2, "nothing sent after the callback failed");
}

#[test]
fn claims_and_tenant_go_with_the_call() {
    let stub = Stub::start(vec![]);
    let credential = secret(&stub, None, &Warnings::default());
    block_on(credential.get_token(&[SCOPE], None)).unwrap();
    let challenge = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let t = block_on(credential.get_token(&[SCOPE], Some(&plain().claims(challenge)))).unwrap();
    assert_eq!(
        t.source,
        Source::Network,
        "a claims challenge skips the cache"
    );
    let forms: Vec<_> = stub.requests().into_iter().map(|(_, f)| f).collect();
    assert_eq!(field(&forms[0], "claims"), None);
    assert_eq!(field(&forms[1], "claims"), Some(challenge));
    // A tenant the credential was not allowed: refused before anything is sent.
    let e = block_on(credential.get_token(&[SCOPE], Some(&plain().tenant("fabrikam.com"))))
        .unwrap_err();
    assert_eq!(e.input_kind(), Some(&certgen::InputKind::TenantNotAllowed));
    assert_eq!(stub.count(), 2);
}
