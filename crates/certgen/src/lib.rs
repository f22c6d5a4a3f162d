//! certgen — certificates, client assertions and tokens for the Microsoft Entra ID
//! client-credentials (machine-to-machine) flow, and an offline token service that behaves
//! like Entra for tests.
//!
//! The library holds the domain; the `certgen` binary is a thin layer of argument parsing,
//! printing, hints and exit codes over it. Cargo features: `serve` (the token service and
//! `verify::bearer`'s axum glue: axum, hyper-util, tower-http) and `cli` (the binary: clap, the
//! terminal prompt; implies `serve`), both on by default; `default-features = false` builds the
//! library without them. One module per concept:
//!
//! | module | concept |
//! |---|---|
//! | [`certificate`] | a parsed X.509 certificate and its facts |
//! | [`thumbprint`] | the four thumbprint forms Entra uses |
//! | [`key`] | private keys (PKCS#8, encrypted PKCS#8, PKCS#1) |
//! | [`pkcs12`] | PKCS#12 read (modern and legacy) and write |
//! | [`input`] | any certificate/key/PKCS#12 file, recognised by content |
//! | [`secret`] | passwords and client secrets, and where they come from |
//! | [`generate`] | new self-signed certificates and keys |
//! | [`credential`] | a signing credential: certificate chain + RSA key, checked for Entra |
//! | [`authority`] | authority hosts (named clouds), tenants, the token endpoint |
//! | [`cloud`] | the Microsoft identity and Graph host names of every cloud, and their issuers |
//! | [`assertion`] | the client-assertion JWT (PS256/RS256, `x5t#S256`/`x5t`, `x5c`) |
//! | [`jose`] | JWS/JWT: base64url, the compact form (strict or lenient), NumericDate rules, `Bearer`, RS256/PS256 sign and verify |
//! | [`rotate`] | renewing a certificate in place: the files of a rotation and the stage they show |
//! | [`files`] | safe, atomic output files |
//! | [`read`] | every input read with a bound suited to what it is |
//! | [`paths`] | where the cache and service state live |
//! | [`graph`] | Microsoft Graph from a daemon: cloud hosts, the scope of a URL, OData errors and paging, an API client, app permissions |
//! | [`identity`] | getting access tokens: the [`TokenCredential`](identity::TokenCredential) trait and the certificate, secret and environment credentials (memory, then disk cache, then the network), the request and its cache |
//! | [`verify`] | access-token validation as a protected API does it (JWKS, discovery, bearer) |
//! | `serve` | the local token service that behaves like Entra (`certgen serve`); feature `serve` |
//! | [`error`] | the one error type: provider, transport, input, I/O and verification failures a caller matches |
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
//! #     tls_files: None,
//! #     tls_passwords: Default::default(),
//! #     state_dir: Some(dir.path().join("state")),
//! #     strict: false,
//! #     log: certgen_serve::LogFormat::Text,
//! #     max_in_flight: 16,
//! #     replication_delay_secs: 0,
//! #     proxy: None,
//! #     user_flows: Default::default(),
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

pub mod assertion;
pub mod authority;
pub mod certificate;
pub mod cloud;
pub mod credential;
pub mod error;
pub mod files;
pub mod generate;
pub mod graph;
pub mod identity;
pub mod input;
pub mod jose;
pub mod key;
pub mod paths;
pub mod pkcs12;
pub mod read;
pub mod rotate;
pub mod secret;
pub mod thumbprint;
pub mod verify;

pub use error::{Error, InputError, InputKind, ProviderError, Result, TransportError};

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
