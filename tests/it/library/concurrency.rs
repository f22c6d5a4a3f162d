//! One long-lived credential shared by 20 tasks against a running `certgen serve`, as a daemon
//! would use it: the token requests are counted in serve's own log (one line per request on
//! its stderr), not in anything the library reports about itself.

use std::sync::Arc;
use std::time::Duration;

use crate::support::require::wait_until;
use crate::support::serve::{fixture, Server, APP, TENANT};
use certgen::credential::{Credential, CredentialSource};
use certgen::identity::{
    ClientCertificateCredential, ClientOptions, CredentialOptions, Source, TokenCredential,
};
use certgen::secret::SecretSource;

const SCOPE: &str = "https://graph.microsoft.com/.default";

/// Token requests serve logged so far.
fn token_requests(server: &Server) -> usize {
    server
        .log_text()
        .lines()
        .filter(|l| l.contains(" POST ") && l.contains("/oauth2/v2.0/token "))
        .count()
}

#[test]
fn twenty_concurrent_cold_calls_make_one_token_request() {
    let server = Server::start();
    let main = &fixture().main;
    let certificate = Credential::load(
        &CredentialSource {
            cert: Some(main.cert_pem.clone()),
            key: Some(main.key_pem.clone()),
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
    let credential: Arc<dyn TokenCredential> =
        Arc::new(ClientCertificateCredential::new(TENANT, APP, certificate, options).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tokens = runtime.block_on(async {
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
    });
    assert_eq!(tokens.len(), 20);
    assert!(tokens.iter().all(|t| t.token == tokens[0].token));
    assert_eq!(
        tokens
            .iter()
            .filter(|t| t.source == Source::Network)
            .count(),
        1
    );
    // The log line is written as the answer leaves; wait for it, then for no second one.
    wait_until(
        Duration::from_secs(10),
        "serve to log the token request",
        || token_requests(&server) >= 1,
    );
    assert_eq!(token_requests(&server), 1, "{}", server.log_text());
    // A 21st call, later: memory, still one request.
    let again = runtime
        .block_on(credential.get_token(&[SCOPE], None))
        .unwrap();
    assert_eq!(again.source, Source::Memory);
    assert_eq!(token_requests(&server), 1);
}
