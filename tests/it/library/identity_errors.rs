//! The library's typed errors against a running `certgen serve`, matched as a Rust caller
//! matches them: on the AADSTS code of the provider's answer, never on text.

use crate::support::serve::{fixture, Cred, Server, APP, TENANT};
use certgen::credential::{Credential, CredentialSource};
use certgen::identity::{
    ClientCertificateCredential, ClientOptions, CredentialOptions, Source, TokenCredential,
    TokenRequestOptions,
};
use certgen::secret::SecretSource;
use certgen::Error;

const SCOPE: &str = "https://graph.microsoft.com/.default";

/// A certificate credential for `client_id` at the server, as Entra would be addressed: the
/// server is the authority host, the tenant a GUID, and its CA file trusted.
fn credential(server: &Server, client_id: &str, cred: &Cred) -> ClientCertificateCredential {
    let certificate = Credential::load(
        &CredentialSource {
            cert: Some(cred.cert_pem.clone()),
            key: Some(cred.key_pem.clone()),
            ..Default::default()
        },
        &SecretSource::default(),
    )
    .unwrap();
    let options = CredentialOptions::default()
        .authority_host(server.base())
        .transport(
            ClientOptions::default()
                .ca_file(server.field("ca_file"))
                .proxy_from_env(false),
        );
    ClientCertificateCredential::new(TENANT, client_id, certificate, options).unwrap()
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn an_unknown_certificate_is_aadsts700027() {
    let server = Server::start();
    let c = credential(&server, APP, &fixture().other);
    match block_on(c.get_token(&[SCOPE], None)) {
        Err(Error::Provider(p)) if p.has_code(700027) => {
            assert_eq!(p.status, 401);
            assert_eq!(p.error.as_deref(), Some("invalid_client"));
            assert!(p.trace_id.is_some() && p.correlation_id.is_some(), "{p:?}");
        }
        other => panic!("expected AADSTS700027, got {other:?}"),
    }
}

#[test]
fn an_unknown_client_is_aadsts700016() {
    let server = Server::start();
    let c = credential(
        &server,
        "0badc0de-0000-4000-8000-00000000dead",
        &fixture().main,
    );
    let e = block_on(c.get_token(&[SCOPE], None)).unwrap_err();
    assert!(e.has_code(700016), "{e:?}");
    assert!(matches!(&e, Error::Provider(p) if p.codes() == [700016] && p.status == 400));
}

#[test]
fn a_registered_certificate_gets_a_token_then_from_memory() {
    let server = Server::start();
    let c = credential(&server, APP, &fixture().main);
    let first = block_on(c.get_token(&[SCOPE], None)).unwrap();
    assert_eq!(first.source, Source::Network);
    assert_eq!(first.token_type, "Bearer");
    let claims = certgen::jose::parse(first.token.expose(), certgen::jose::Policy::Strict)
        .unwrap()
        .claims;
    let appid = claims.get("appid").or(claims.get("azp"));
    assert_eq!(appid.and_then(|v| v.as_str()), Some(APP));
    // From memory, then forced: the long-lived credential asks again.
    let again = block_on(c.get_token(&[SCOPE], None)).unwrap();
    assert_eq!((again.source, &again.token), (Source::Memory, &first.token));
    let forced = TokenRequestOptions::default().force_refresh(true);
    let fresh = block_on(c.get_token(&[SCOPE], Some(&forced))).unwrap();
    assert_eq!(fresh.source, Source::Network);
}
