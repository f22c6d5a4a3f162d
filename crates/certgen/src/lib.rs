//! certgen — certificates, client assertions, tokens, token validation, Microsoft Graph calls
//! and certificate rotation for Microsoft Entra ID (Azure AD) applications, on aws-lc-rs with
//! no system OpenSSL.
//!
//! The types a caller needs are at the root; the protocol pieces are namespaces of their own:
//!
//! | where | what |
//! |---|---|
//! | the root | [`Certificate`], [`PrivateKey`], [`Thumbprints`], [`Credential`] (a certificate chain and its RSA key checked for Entra), [`Secret`], [`generate()`] for a new self-signed certificate, [`load`] for any certificate/key/PKCS#12 file, and the [`Error`] a caller matches |
//! | [`identity`] | getting access tokens: the [`TokenCredential`](identity::TokenCredential) trait, the certificate, secret and environment credentials, their cache and token client |
//! | [`verify`] | validating access tokens as a protected API does (discovery, keys, claims; `bearer`: an axum extractor, feature `bearer`) |
//! | [`graph`] | calling Microsoft Graph (or any API) with a token: retries, paging, OData errors, the app's own keys, the addKey/removeKey proof |
//! | [`rotate`] | renewing a certificate in place through Graph, crash-safe, step by step |
//! | [`jose`] | JWS/JWT: base64url, the compact form, NumericDate, RS256/PS256 |
//! | [`cloud`] | the Microsoft identity and Graph host names of every national cloud |
//!
//! Modules hidden from these docs (`files`, `read`, `paths`, `input`, …) are shared with the
//! emulator and the command line of the same workspace; they are not part of the API.
//!
//! Cargo features: `bearer` (the axum extractor `verify::bearer`); none by default, so a
//! program that only gets or verifies tokens compiles no web server.
//!
//! ## Getting a token
//!
//! The README's example, run here against an in-process `certgen serve` (the hidden lines
//! start it and set the `AZURE_*` variables; a unit test keeps the README's copy identical):
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
//! let token = credential.get_token(&["https://graph.microsoft.com/.default"]).await?;
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
//! ## Renewing a certificate
//!
//! [`rotate::run`] makes a new key and certificate, registers it with Graph's `addKey`, waits
//! until it gets a token, swaps the files and removes the old certificate — each step told as
//! an [`rotate::Event`], and a run killed anywhere completed by the next. The caller supplies
//! the credential loading, the Graph session and the token requests through [`rotate::Host`]:
//!
//! ```no_run
//! # fn demo(host: &impl certgen::rotate::Host<Error = certgen::Error>) -> certgen::Result<()> {
//! use certgen::rotate::{self, Files, Layout, Policy};
//!
//! let layout = Layout::new(Files::Pair { cert: "app.crt".into(), key: "app.key".into() });
//! let protection = rotate::protection(&layout)?;
//! let outcome = rotate::run(&layout, protection, &Policy::default(), host, &mut |event| {
//!     eprintln!("{event:?}")
//! })?;
//! println!("{}", outcome.action.as_str());
//! # Ok(()) }
//! ```

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
#[doc(hidden)]
pub mod generate;
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
#[doc(hidden)]
pub mod pkcs12;
#[doc(hidden)]
pub mod read;
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
pub use generate::{generate, Generated, KeySize, NewCertificate, Profile, Subject};
pub use input::{load, Format, Material};
pub use key::PrivateKey;
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
