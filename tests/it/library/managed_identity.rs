//! The library's `ManagedIdentityCredential` against `certgen serve`'s platform endpoints (App
//! Service and IMDS shapes), and against the stub for IMDS's retries: tokens, the memory cache,
//! every selector, and the platform's refusals as typed errors.

use std::time::Duration;

use crate::serve::managed_identity::*;
use crate::support::graph::claims_of;
use crate::support::serve::{Server, TENANT};
use crate::support::token_stub::{busy, ok, reply, Stub};
use certgen::error::InputKind;
use certgen::identity::{
    ClientOptions, CredentialOptions, ManagedIdentityCredential, ManagedIdentityId,
    ManagedIdentitySource, Source, TokenCredential, TokenRequestOptions,
};
use certgen::Error;

fn app_service(s: &Server) -> ManagedIdentitySource {
    ManagedIdentitySource::from_vars(&|name| s.ready["env"][name].as_str().map(String::from))
        .unwrap()
}

fn imds(s: &Server) -> ManagedIdentitySource {
    ManagedIdentitySource::from_vars(&|name| {
        (name == "AZURE_POD_IDENTITY_AUTHORITY_HOST").then(|| env_of(s, name))
    })
    .unwrap()
}

fn credential(id: ManagedIdentityId, source: ManagedIdentitySource) -> ManagedIdentityCredential {
    ManagedIdentityCredential::with_source(id, source, CredentialOptions::default()).unwrap()
}

const GRAPH: &[&str] = &["https://graph.microsoft.com/.default"];

#[tokio::test]
async fn tokens_of_each_identity_from_both_shapes() {
    let s = mi_server(&[]);
    assert!(matches!(
        app_service(&s),
        ManagedIdentitySource::AppService { .. }
    ));
    for source in [app_service(&s), imds(&s)] {
        let system = credential(ManagedIdentityId::SystemAssigned, source.clone());
        let first = system.get_token(GRAPH, None).await.unwrap();
        assert_eq!(first.source, Source::Network);
        let claims = claims_of(first.token.expose());
        assert_eq!(claims["appid"], SYSTEM_MI);
        assert_eq!(claims["tid"], TENANT);
        assert!((3000..=3600).contains(&first.expires_in().as_secs()));
        // Held in memory, until a forced refresh.
        let again = system.get_token(GRAPH, None).await.unwrap();
        assert_eq!(again.source, Source::Memory);
        assert_eq!(again.token, first.token);
        let forced = TokenRequestOptions::default().force_refresh(true);
        let fresh = system.get_token(GRAPH, Some(&forced)).await.unwrap();
        assert_eq!(fresh.source, Source::Network);
        // Every selector names the same user-assigned identity (App Service is asked for a
        // resource id as `mi_res_id`, IMDS as `msi_res_id`).
        for id in [
            ManagedIdentityId::ClientId(READER_MI.into()),
            ManagedIdentityId::ObjectId(READER_MI_PRINCIPAL.into()),
            ManagedIdentityId::ResourceId(READER_MI_RESOURCE.into()),
        ] {
            let c = credential(id.clone(), source.clone());
            let t = c
                .get_token(&["https://vault.azure.net/.default"], None)
                .await
                .unwrap();
            let claims = claims_of(t.token.expose());
            assert_eq!(claims["appid"], READER_MI, "{id:?}");
            assert_eq!(claims["aud"], "https://vault.azure.net", "{id:?}");
            assert_eq!(claims["xms_mirid"], READER_MI_RESOURCE);
        }
    }
}

#[tokio::test]
async fn refusals_are_typed() {
    let s = mi_server(&[]);
    for (source, unknown_resource_code) in [(app_service(&s), 500011), (imds(&s), 50001)] {
        let unknown = credential(
            ManagedIdentityId::ClientId("5e5e5e5e-0000-4000-8000-0000000000ff".into()),
            source.clone(),
        );
        match unknown.get_token(GRAPH, None).await.unwrap_err() {
            Error::Provider(p) => {
                assert_eq!(p.status, 400);
                assert_eq!(p.error.as_deref(), Some("invalid_request"));
                assert_eq!(p.description.as_deref(), Some("Identity not found"));
                assert_eq!(p.attempts, 1, "a 400 is not retried");
            }
            other => panic!("{other:?}"),
        }
        let system = credential(ManagedIdentityId::SystemAssigned, source.clone());
        match system
            .get_token(&["api://nowhere/.default"], None)
            .await
            .unwrap_err()
        {
            Error::Provider(p) => {
                assert_eq!(p.error.as_deref(), Some("invalid_resource"));
                assert!(p.has_code(unknown_resource_code), "{p:?}");
            }
            other => panic!("{other:?}"),
        }
        // Scopes are checked before anything is sent, as every credential checks them.
        let e = system.get_token(&["User.Read"], None).await.unwrap_err();
        assert!(
            matches!(&e, Error::Input(i) if i.kind == InputKind::NotDefaultScope),
            "{e:?}"
        );
    }
    // A header the endpoint does not know.
    let ManagedIdentitySource::AppService { endpoint, .. } = app_service(&s) else {
        unreachable!()
    };
    let wrong = ManagedIdentitySource::from_vars(&|name| match name {
        "IDENTITY_ENDPOINT" => Some(endpoint.clone()),
        "IDENTITY_HEADER" => Some("stale".into()),
        _ => None,
    })
    .unwrap();
    match credential(ManagedIdentityId::SystemAssigned, wrong)
        .get_token(GRAPH, None)
        .await
        .unwrap_err()
    {
        Error::Provider(p) => {
            assert_eq!(p.status, 401);
            assert_eq!(p.error.as_deref(), Some("unauthorized_client"));
        }
        other => panic!("{other:?}"),
    }
    let empty = ManagedIdentityCredential::with_source(
        ManagedIdentityId::ClientId(" ".into()),
        imds(&s),
        CredentialOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(&empty, Error::Input(i) if i.kind == InputKind::BadClientId));
}

/// IMDS's passing statuses (410 while it is updated, 404 before it is ready, 429, 5xx) are
/// asked again, with `Retry-After` when sent; App Service's 404 and a 400 are not.
#[test]
fn imds_retries_what_the_platform_documents() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = CredentialOptions::default().transport(
        ClientOptions::default()
            .max_attempts(5)
            .timeout(Duration::from_secs(20)),
    );
    let stub = Stub::start(vec![
        busy(410, "0"),
        busy(404, "0"),
        busy(429, "0"),
        busy(503, "0"),
    ]);
    let imds = ManagedIdentityCredential::with_source(
        ManagedIdentityId::ClientId("c".into()),
        ManagedIdentitySource::from_vars(&|name| {
            (name == "AZURE_POD_IDENTITY_AUTHORITY_HOST").then(|| stub.host())
        })
        .unwrap(),
        options.clone(),
    )
    .unwrap();
    let token = runtime.block_on(imds.get_token(GRAPH, None)).unwrap();
    assert_eq!(stub.count(), 5);
    assert_eq!(
        token.token.expose(),
        crate::support::token_stub::fake_jwt(5)
    );
    let (target, _) = &stub.requests()[0];
    assert_eq!(
        target,
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fgraph.microsoft.com&client_id=c"
    );

    // Attempts are bounded: the last refusal is the answer, with the attempts counted.
    let stub = Stub::start(vec![busy(503, "0"); 6]);
    let imds = ManagedIdentityCredential::with_source(
        ManagedIdentityId::SystemAssigned,
        ManagedIdentitySource::Imds { host: stub.host() },
        options.clone(),
    )
    .unwrap();
    match runtime.block_on(imds.get_token(GRAPH, None)).unwrap_err() {
        Error::Provider(p) => assert_eq!((p.status, p.attempts), (503, 5)),
        other => panic!("{other:?}"),
    }

    // With the default options (3 attempts), IMDS still gets the five tries its retry
    // guidance asks for: a VM's IMDS answers 404 or 410 for a while after boot.
    let stub = Stub::start(vec![
        busy(410, "0"),
        busy(404, "0"),
        busy(503, "0"),
        busy(429, "0"),
        ok(5),
    ]);
    let booting = ManagedIdentityCredential::with_source(
        ManagedIdentityId::SystemAssigned,
        ManagedIdentitySource::Imds { host: stub.host() },
        CredentialOptions::default(),
    )
    .unwrap();
    let token = runtime.block_on(booting.get_token(GRAPH, None)).unwrap();
    assert_eq!(stub.count(), 5);
    assert_eq!(
        token.token.expose(),
        crate::support::token_stub::fake_jwt(5)
    );

    let stub = Stub::start(vec![reply(404, "{}"), ok(2)]);
    let app = ManagedIdentityCredential::with_source(
        ManagedIdentityId::SystemAssigned,
        ManagedIdentitySource::from_vars(&|name| match name {
            "IDENTITY_ENDPOINT" => Some(format!("{}/msi/token", stub.host())),
            "IDENTITY_HEADER" => Some("h".into()),
            _ => None,
        })
        .unwrap(),
        options,
    )
    .unwrap();
    match runtime.block_on(app.get_token(GRAPH, None)).unwrap_err() {
        Error::Provider(p) => assert_eq!((p.status, p.attempts), (404, 1)),
        other => panic!("{other:?}"),
    }
}
