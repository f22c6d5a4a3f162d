//! certgen — Microsoft Entra ID (Azure AD) for Rust services: access tokens from a
//! certificate, a secret, a signed assertion or the Azure Identity environment variables, with
//! one request under concurrency and renewal ahead of expiry; access-token validation for a
//! protected API; and, as features, certificates, PKCS#12, Microsoft Graph calls and
//! certificate rotation — on aws-lc-rs and rustls, with no system OpenSSL.
//!
//! | where | what |
//! |---|---|
//! | [`identity`] | getting tokens: the [`TokenCredential`](identity::TokenCredential) trait, the certificate, secret, assertion and environment credentials, their options |
//! | [`verify`] | validating access tokens as a protected API does: [`Validator`](verify::Validator) (discovery, keys, claims) |
//! | the root | [`Credential`] (a certificate chain and its RSA key, from PEM, DER, PKCS#1, PKCS#8 or PKCS#12), [`Secret`], and the [`Error`] a caller matches |
//! | [`jose`] | JWS/JWT: base64url, the compact form, RS256/PS256 |
//! | [`cloud`] | the identity and Graph host names of every national cloud |
//! | `generate` | new self-signed certificates (feature `generate`) |
//! | `graph` | Microsoft Graph calls: retries, paging, OData errors (feature `graph`) |
//! | `rotate` | renewing a certificate in place through Graph (feature `rotate`) |
//!
//! ## Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `pkcs12` | yes | reading PKCS#12 (`.pfx`) files, legacy RC2-40 and 3DES ones included, and writing them |
//! | `encrypted-keys` | yes | reading and writing password-protected PKCS#8 keys |
//! | `azure_core` | no | every credential is an `azure_core::credentials::TokenCredential` |
//! | `bearer` | no | `verify::bearer`, an axum extractor guarding an API's routes |
//! | `generate` | no | `generate`: new certificates and keys |
//! | `graph` | no | `graph`: Microsoft Graph calls |
//! | `rotate` | no | `rotate`: certificate renewal (with `graph`, `generate`, `pkcs12`) |
//! | `http2` | no | HTTP/2 toward the token endpoint and APIs |
//!
//! With `default-features = false` the crate compiles what getting and verifying tokens
//! needs: PEM, DER, PKCS#1 and PKCS#8 certificates and keys, secrets and assertions.
//!
//! ## Getting a token
//!
//! A long-lived credential from the Azure Identity variables, run here against an in-process
//! emulator of Entra (the hidden lines start it and set the `AZURE_*` variables). Keep the
//! credential: later calls are answered from memory, concurrent ones share one request, and
//! the token is renewed five minutes before it expires.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use certgen::generate::{generate, KeySize, NewCertificate, Profile, Subject};
//! # let dir = tempfile::tempdir()?;
//! # let made = generate(&NewCertificate {
//! #     subject: Subject::common_name("readme-example")?,
//! #     sans: vec![],
//! #     days: 1,
//! #     key_size: KeySize::Rsa2048,
//! #     profile: Profile::ClientAuth,
//! # })?;
//! # let (cert, both) = (dir.path().join("app.crt"), dir.path().join("app.pem"));
//! # std::fs::write(&cert, made.cert.to_pem())?;
//! # std::fs::write(&both, format!("{}{}", made.cert.to_pem(), made.key.to_pkcs8_pem()))?;
//! # let app = "6f1c2a3b-4d5e-4f60-8172-839405a6b7c8";
//! # let flags = certgen_serve::Flags {
//! #     app_certs: vec![(app.into(), cert)],
//! #     ..Default::default()
//! # };
//! # let registry = certgen_serve::Registry::load(None, &flags, &|_| None)?;
//! # let options = certgen_serve::Options {
//! #     listen: "127.0.0.1:0".parse()?,
//! #     http: true,
//! #     state_dir: Some(dir.path().join("state")),
//! #     ..Default::default()
//! # };
//! # let prepared = certgen_serve::prepare(&options, registry)?;
//! # for (var, value) in [
//! #     ("AZURE_TENANT_ID", certgen_serve::DEFAULT_TENANT.to_string()),
//! #     ("AZURE_CLIENT_ID", app.to_string()),
//! #     ("AZURE_CLIENT_CERTIFICATE_PATH", both.display().to_string()),
//! #     ("AZURE_AUTHORITY_HOST", format!("http://{}", prepared.ready.listen)),
//! #     ("CERTGEN_CACHE_DIR", dir.path().join("cache").display().to_string()),
//! # ] {
//! #     std::env::set_var(var, value);
//! # }
//! # for var in ["AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
//! #     std::env::remove_var(var);
//! # }
//! # let runtime = tokio::runtime::Runtime::new()?;
//! # runtime.spawn(certgen_serve::serve(prepared, std::future::pending()));
//! # let got = runtime.block_on(async {
//! use certgen::identity::{CredentialOptions, EnvironmentCredential, TokenCredential};
//!
//! // AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_CERTIFICATE_PATH (or AZURE_CLIENT_SECRET)
//! let credential = EnvironmentCredential::new(CredentialOptions::default())?;
//! let token = credential.get_token(&["https://graph.microsoft.com/.default"], None).await?;
//! println!("Authorization: Bearer {}", token.token.expose());
//! # Ok::<_, certgen::Error>(token)
//! # })?;
//! # let claims = certgen::jose::parse(got.token.expose(), certgen::jose::Policy::Strict)?.claims;
//! # let appid = claims.get("appid").or(claims.get("azp")).and_then(|v| v.as_str());
//! # assert_eq!(appid, Some(app));
//! # Ok(())
//! # }
//! ```
//!
//! ## Verifying a token
//!
//! ```no_run
//! # async fn demo(token: &str) -> Result<(), certgen::verify::VerifyError> {
//! use certgen::verify::{Validator, ValidatorOptions};
//!
//! let validator = Validator::from_authority(
//!     "https://login.microsoftonline.com/contoso.onmicrosoft.com",
//!     ValidatorOptions::new(["api://my-api"]).require_role("Data.Read"),
//! )
//! .await?;
//! let token = validator.validate(token).await?; // per request; keys are cached
//! println!("caller {:?}", token.client_id());
//! # Ok(()) }
//! ```
//!
//! ## Matching errors
//!
//! ```
//! use certgen::{Error, TransportKind};
//!
//! fn explain(e: &Error) -> &'static str {
//!     match e {
//!         // AADSTS700027: the certificate is not registered for the app.
//!         Error::Provider(p) if p.has_code(700027) => "register the certificate",
//!         Error::Provider(p) if p.has_code(7000215) => "the client secret is wrong",
//!         Error::Transport(t) if matches!(t.kind, TransportKind::Tls(_)) => "the TLS handshake failed",
//!         Error::Transport(_) => "Entra could not be reached",
//!         Error::Input(_) => "refused before anything was sent",
//!         _ => "something else",
//!     }
//! }
//! # let _ = explain;
//! ```
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(hidden)]
pub mod assertion;
#[doc(hidden)]
pub mod authority;
#[doc(hidden)]
pub mod certificate;
pub mod cloud;
#[doc(hidden)]
pub mod credential;
mod dates;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod files;
#[cfg(feature = "generate")]
#[cfg_attr(docsrs, doc(cfg(feature = "generate")))]
pub mod generate;
#[cfg(feature = "graph")]
#[cfg_attr(docsrs, doc(cfg(feature = "graph")))]
pub mod graph;
mod http;
pub mod identity;
#[doc(hidden)]
pub mod input;
pub mod jose;
#[doc(hidden)]
pub mod key;
#[doc(hidden)]
pub mod paths;
#[cfg(feature = "pkcs12")]
#[doc(hidden)]
pub mod pkcs12;
#[doc(hidden)]
pub mod read;
#[cfg(feature = "rotate")]
#[cfg_attr(docsrs, doc(cfg(feature = "rotate")))]
pub mod rotate;
mod rsa;
#[doc(hidden)]
pub mod secret;
#[doc(hidden)]
pub mod thumbprint;
pub mod verify;

pub use assertion::{
    sign as sign_assertion, AssertionParams, SignedAssertion, SigningAlg, ASSERTION_TYPE,
};
pub use certificate::{CertKey, Certificate, Validity};
pub use credential::{Credential, CredentialSource};
pub use error::{
    Error, GraphError, InputError, InputKind, Param, ProviderError, Result, RotateError, Service,
    TlsProblem, TransportError, TransportKind, VerifyError,
};
#[cfg(feature = "generate")]
pub use generate::{generate, Generated, KeySize, NewCertificate, Profile, Subject};
pub use input::{load, Format, Material};
pub use key::PrivateKey;
#[cfg(feature = "pkcs12")]
pub use pkcs12::{Pkcs12Contents, Pkcs12Error, Pkcs12Flavor};
pub use secret::{Secret, SecretSource};
pub use thumbprint::Thumbprints;

#[cfg(test)]
mod readme {
    /// The lines of the first fenced block after `marker` in `text` whose fence is `fence`;
    /// `#`-hidden doc-test lines are left out.
    fn block(text: &str, marker: &str, fence: &str, strip: &str) -> Vec<String> {
        let start = text.find(marker).expect("marker present");
        text[start..]
            .lines()
            .map(|l| {
                l.strip_prefix(strip)
                    .unwrap_or(l.trim_end_matches(strip.trim_end()))
            })
            .skip_while(|l| *l != fence)
            .skip(1)
            .take_while(|l| *l != "```")
            .filter(|l| *l != "#" && !l.starts_with("# "))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_readme_example_is_the_doc_tested_one() {
        let readme = block(
            include_str!("../../../README.md"),
            "**Using the library.**",
            "```rust",
            "",
        );
        let lib = block(include_str!("lib.rs"), "## Getting a token", "```", "//! ");
        assert!(readme.len() >= 3, "{readme:?}");
        assert!(readme.len() <= 10, "at most 10 lines: {readme:?}");
        assert_eq!(readme, lib);
    }
}
