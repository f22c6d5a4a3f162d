//! OpenID Connect metadata (`issuer`, `jwks_uri`) and the HTTP client that reads it.
//!
//! Entra publishes two documents per tenant: `{authority}/v2.0/.well-known/openid-configuration`
//! (issuer `https://login.microsoftonline.com/{tid}/v2.0`) and the v1 one at
//! `{authority}/.well-known/openid-configuration` (issuer `https://sts.windows.net/{tid}/`), each
//! with its own `jwks_uri`. A token's `ver` says which one applies.

use std::path::Path;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

use crate::error::VerifyError;
use crate::http::{self, ClientOptions};

/// Metadata and key documents are small; anything bigger is not one (or is an attack).
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Entra's two access-token versions: which metadata document a token belongs to (`verify`),
/// which format a resource asks for and which endpoint was asked (`serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenVersion {
    /// Entra's v1 endpoints (`sts.windows.net` issuers).
    V1,
    /// Entra's v2 endpoints.
    V2,
}

impl TokenVersion {
    /// From the payload's `ver`: `"1.0"` is v1; anything else (Entra writes `"2.0"`) is v2.
    pub fn of(ver: Option<&str>) -> TokenVersion {
        match ver {
            Some("1.0") => TokenVersion::V1,
            _ => TokenVersion::V2,
        }
    }

    /// The metadata URL for this version under an authority such as
    /// `https://login.microsoftonline.com/{tenant}`.
    /// An authority given with the v2 suffix (`…/{tenant}/v2.0`, the v2 issuer's form, as
    /// MSAL.js and many configs write it) names the same tenant: the suffix is dropped rather
    /// than asked for twice (`…/v2.0/v2.0/…`, a 404).
    pub fn metadata_url(self, authority: &str) -> String {
        let base = authority.trim_end_matches('/');
        let base = base
            .strip_suffix("/v2.0")
            .unwrap_or(base)
            .trim_end_matches('/');
        match self {
            TokenVersion::V2 => format!("{base}/v2.0/.well-known/openid-configuration"),
            TokenVersion::V1 => format!("{base}/.well-known/openid-configuration"),
        }
    }
}

/// What the validator needs from a metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The issuer tokens carry.
    pub issuer: String,
    /// Where the signing keys are.
    pub jwks_uri: String,
}

impl Metadata {
    /// Fetches and checks the metadata document at `url`.
    pub async fn fetch(http: &HttpClient, url: &str) -> Result<Metadata, VerifyError> {
        let body = http.get(url).await?;
        let bad = |reason: String| VerifyError::BadResponse {
            url: url.to_string(),
            reason,
        };
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("not an OpenID configuration document ({e})")))?;
        let field = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| bad(format!("the metadata has no {name:?}")))
        };
        let issuer = field("issuer")?;
        let jwks_uri = field("jwks_uri")?;
        // The key URL is checked like a user-given one: a document must not be able to send the
        // validator to plain HTTP on another host.
        check_url(&jwks_uri)?;
        Ok(Metadata { issuer, jwks_uri })
    }
}

/// An HTTPS client with optional extra trust roots, no redirects, bounded bodies and timeouts.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
}

/// How long one metadata or key-set request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

impl HttpClient {
    /// `ca_file`: PEM certificates trusted in addition to the system roots (for a local emulator
    /// or a corporate CA).
    pub fn new(ca_file: Option<&Path>) -> Result<HttpClient, VerifyError> {
        let options = ClientOptions {
            timeout: REQUEST_TIMEOUT,
            connect_timeout: Some(Duration::from_secs(5)),
            ca_file: ca_file.map(Path::to_path_buf),
            ..ClientOptions::default()
        };
        let client = http::client(&options).map_err(|e| match (ca_file, e) {
            (Some(path), e @ (crate::Error::Input(_) | crate::Error::Io { .. })) => {
                VerifyError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            }
            (_, e) => VerifyError::Config(format!("cannot set up HTTPS ({e})")),
        })?;
        Ok(HttpClient { client })
    }

    /// GETs a document: 2xx and at most 1 MiB, or a typed reason.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, VerifyError> {
        check_url(url)?;
        // The same words for a TLS, DNS or connection failure as `certgen token` uses.
        let unreachable = |e: reqwest::Error| {
            let parsed = Url::parse(url).ok();
            let host = parsed
                .as_ref()
                .and_then(Url::host_str)
                .unwrap_or("the server");
            let port = parsed
                .as_ref()
                .and_then(Url::port_or_known_default)
                .unwrap_or(443);
            let (_, cause) = http::cause_of(&e, host, port, REQUEST_TIMEOUT);
            VerifyError::Unreachable {
                url: url.to_string(),
                reason: cause,
            }
        };
        let mut response = self.client.get(url).send().await.map_err(unreachable)?;
        let status = response.status();
        if !status.is_success() {
            return Err(VerifyError::BadResponse {
                url: url.to_string(),
                reason: format!("HTTP {status}"),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT_BYTES {
                return Err(VerifyError::BadResponse {
                    url: url.to_string(),
                    reason: format!("the document is larger than {MAX_DOCUMENT_BYTES} bytes"),
                });
            }
        }
        Ok(body)
    }
}

/// HTTPS anywhere; plain HTTP only to this machine (keys fetched over the network without TLS
/// could be swapped by anyone on the path).
pub fn check_url(url: &str) -> Result<(), VerifyError> {
    let parsed =
        Url::parse(url).map_err(|e| VerifyError::Config(format!("invalid URL {url:?} ({e})")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if crate::authority::is_loopback(&parsed) => Ok(()),
        "http" => Err(VerifyError::Config(format!(
            "{url} uses plain http; keys and metadata must come over https (http is allowed only to localhost)"
        ))),
        other => Err(VerifyError::Config(format!(
            "{url}: unsupported scheme {other:?} (use https)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_per_version() {
        let a = "https://login.microsoftonline.com/contoso.onmicrosoft.com/";
        assert_eq!(
            TokenVersion::V2.metadata_url(a),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            TokenVersion::V1.metadata_url(a),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/.well-known/openid-configuration"
        );
        for with_suffix in [
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/",
        ] {
            assert_eq!(
                TokenVersion::V2.metadata_url(with_suffix),
                TokenVersion::V2.metadata_url(a)
            );
        }
        assert_eq!(TokenVersion::of(Some("1.0")), TokenVersion::V1);
        assert_eq!(TokenVersion::of(None), TokenVersion::V2);
    }

    #[test]
    fn http_only_to_loopback() {
        assert!(check_url("https://login.microsoftonline.com/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080/keys").is_ok());
        assert!(check_url("http://[::1]:8080/keys").is_ok());
        assert!(check_url("http://localhost/keys").is_ok());
        let e = check_url("http://login.example.com/keys").err().unwrap();
        assert!(e.to_string().contains("plain http"), "{e}");
        assert!(check_url("ftp://127.0.0.1/keys").is_err());
        assert!(check_url("not a url").is_err());
    }
}
