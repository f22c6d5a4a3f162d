//! A certgen credential handed to Azure SDK for Rust code (feature `azure_core`): azure_core's
//! own `BearerTokenAuthorizationPolicy`, the policy every Azure SDK client authorises its
//! requests with, takes the credential as an `Arc<dyn azure_core::credentials::TokenCredential>`
//! and puts a token from a running `certgen serve` on a request.

use std::sync::{Arc, Mutex};

use azure_core::credentials::TokenCredential as AzureCredential;
use azure_core::http::headers::{Headers, AUTHORIZATION};
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{AsyncRawResponse, Context, Method, Request, StatusCode, Url};

use crate::support::serve::{fixture, Server, APP, TENANT};
use certgen::credential::{Credential, CredentialSource};
use certgen::identity::{ClientCertificateCredential, ClientOptions, CredentialOptions};
use certgen::secret::SecretSource;

const SCOPE: &str = "https://graph.microsoft.com/.default";

/// The end of the pipeline: records the `Authorization` header instead of sending.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl Policy for Recorder {
    async fn send(
        &self,
        _ctx: &Context,
        request: &mut Request,
        _next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let header = request.headers().get_optional_string(&AUTHORIZATION);
        self.0.lock().unwrap().push(header.unwrap_or_default());
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::Ok,
            Headers::new(),
            Vec::new(),
        ))
    }
}

#[test]
fn an_azure_sdk_policy_authorises_requests_with_a_certgen_credential() {
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
    let credential: Arc<dyn AzureCredential> =
        Arc::new(ClientCertificateCredential::new(TENANT, APP, certificate, options).unwrap());
    let policy = BearerTokenAuthorizationPolicy::new(credential, [SCOPE]);
    let recorder = Arc::new(Recorder::default());
    let next: Vec<Arc<dyn Policy>> = vec![recorder.clone()];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..2 {
        let url = Url::parse("https://myvault.vault.azure.net/secrets/db?api-version=7.5").unwrap();
        let mut request = Request::new(url, Method::Get);
        let response = runtime
            .block_on(policy.send(&Context::new(), &mut request, &next))
            .unwrap();
        assert_eq!(response.status(), StatusCode::Ok);
    }
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], seen[1]);
    let token = seen[0].strip_prefix("Bearer ").expect("a bearer token");
    let claims = certgen::jose::parse(token, certgen::jose::Policy::Strict)
        .unwrap()
        .claims;
    let appid = claims.get("appid").or(claims.get("azp"));
    assert_eq!(appid.and_then(|v| v.as_str()), Some(APP));
    let requests = server
        .log_text()
        .lines()
        .filter(|l| l.contains(" POST ") && l.contains("/oauth2/v2.0/token "))
        .count();
    assert_eq!(requests, 1, "{}", server.log_text());
}
