//! The client-credentials exchange at an OAuth 2.0 token endpoint (Entra's v2 endpoint, or
//! any other server's token URL), with the transport rules below.
//!
//! - TLS by rustls (aws-lc-rs) with the platform's roots, plus the roots of an extra CA file;
//!   plain `http://` only to a loopback address, so a secret never crosses a network unencrypted.
//! - `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` are honoured (reqwest reads them).
//! - One deadline ([`ClientOptions::timeout`]) for the whole exchange, retries included.
//! - Up to [`ClientOptions::max_attempts`] requests on 429/500/502/503/504, waiting as
//!   `Retry-After` says (capped). Each retry asks the caller for a fresh credential, so a
//!   client assertion is never re-sent after it could have expired.
//! - An error answer becomes [`Error::Provider`](crate::Error::Provider); a failure to reach
//!   the server becomes [`Error::Transport`](crate::Error::Transport) with its
//!   [`TransportKind`](crate::TransportKind) and the cause in words.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, DATE};
use reqwest::{StatusCode, Url};
use time::OffsetDateTime;

use crate::authority;
use crate::error::{ProviderError, Result, Service};
pub use crate::http::ClientOptions;
use crate::http::{self, header_str, parse_http_date, read_capped, retry_wait, transport_error};
use crate::secret::Secret;

use super::response::TokenResponse;

/// A token answer is a few kilobytes; anything past this is not a token endpoint talking.
const MAX_BODY_BYTES: usize = 1 << 20;

/// How the client proves who it is.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A signed client assertion (compact JWT).
    Assertion(String),
    /// A client secret.
    Secret(Secret),
}

/// One token request.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    /// The URL to post to.
    pub endpoint: &'a str,
    /// The application (client) id.
    pub client_id: &'a str,
    /// Sent space-joined as `scope`; none = no `scope` parameter.
    pub scopes: &'a [String],
    /// A claims challenge, sent as `claims`.
    pub claims: Option<&'a str>,
}

/// A reusable token client.
#[derive(Debug, Clone)]
pub struct TokenClient {
    http: reqwest::Client,
    options: ClientOptions,
}

impl TokenClient {
    /// A client with these transport settings (the HTTP client is built now).
    pub fn new(options: ClientOptions) -> Result<TokenClient> {
        let http = http::client(&options)?;
        Ok(TokenClient { http, options })
    }

    /// Its transport settings.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Requests a token. `auth` is called once per attempt for the credential to send.
    pub async fn fetch(
        &self,
        request: &TokenRequest<'_>,
        mut auth: impl FnMut() -> Result<ClientAuth>,
    ) -> Result<TokenResponse> {
        let url = check_endpoint(request.endpoint)?;
        let scope = request.scopes.join(" ");
        let (this, url_ref, scope) = (self, &url, scope.as_str());
        with_retries(&url, &self.options, http::is_retryable, move |remaining| {
            let credential = auth()?;
            // Encoded before the request: the serializer is not Send, so it must not live
            // across the await.
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form(request, scope, &credential))
                .finish();
            Ok(this.exchange(url_ref, body, remaining))
        })
        .await
    }

    async fn exchange(
        &self,
        url: &Url,
        body: String,
        remaining: Duration,
    ) -> reqwest::Result<(StatusCode, HeaderMap, Vec<u8>)> {
        let mut response = self
            .http
            .post(url.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            // The request timeout of reqwest spans connect, headers and body.
            .timeout(remaining)
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        // Keep what fits: enough to explain, never unbounded memory.
        let (body, _) = read_capped(&mut response, MAX_BODY_BYTES).await?;
        Ok((status, headers, body))
    }
}

/// One answer of a token endpoint: status, headers and the body as far as it was read.
pub(crate) type Answer = (StatusCode, HeaderMap, Vec<u8>);

/// A token from `url` under the transport rules every token source shares: one deadline over
/// all attempts, a retry on what `retryable` names while time remains (as `Retry-After` says,
/// capped), the answer parsed, or refused as a typed [`ProviderError`] that counts the
/// attempts. `send` makes one attempt with the time left (and may refuse before sending).
pub(crate) async fn with_retries<F, Fut>(
    url: &Url,
    options: &ClientOptions,
    retryable: impl Fn(StatusCode) -> bool,
    mut send: F,
) -> Result<TokenResponse>
where
    F: FnMut(Duration) -> Result<Fut>,
    Fut: std::future::Future<Output = reqwest::Result<Answer>>,
{
    let deadline = Instant::now() + options.timeout;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let (status, headers, body) = send(remaining)?
            .await
            .map_err(|e| transport_error(e, url, options, Service::TokenEndpoint))?;
        let received_at = OffsetDateTime::now_utc();
        if status.is_success() {
            return TokenResponse::parse(&body, received_at);
        }
        let server_date = header_str(&headers, DATE).and_then(parse_http_date);
        if retryable(status) && attempt < options.max_attempts {
            let wait = retry_wait(&headers, server_date, received_at, attempt, options);
            if Instant::now() + wait < deadline {
                tokio::time::sleep(wait).await;
                continue;
            }
        }
        let mut answer = ProviderError::parse(status.as_u16(), &body, server_date, received_at);
        answer.attempts = attempt;
        return Err(answer.into());
    }
}

/// The form of the v2 client-credentials request.
fn form<'a>(
    request: &TokenRequest<'a>,
    scope: &'a str,
    credential: &'a ClientAuth,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("client_id", request.client_id)];
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    form.push(("grant_type", "client_credentials"));
    if let Some(claims) = request.claims {
        form.push(("claims", claims));
    }
    match credential {
        ClientAuth::Assertion(jwt) => {
            form.push(("client_assertion_type", crate::assertion::ASSERTION_TYPE));
            form.push(("client_assertion", jwt.as_str()));
        }
        ClientAuth::Secret(secret) => form.push(("client_secret", secret.expose())),
    }
    form
}

/// Checks the URL a credential will be posted to (https, or http to a loopback address:
/// [`authority::check_endpoint_url`]) and parses it.
pub fn check_endpoint(endpoint: &str) -> Result<Url> {
    authority::check_endpoint_url(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::InputKind;

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            "http://127.0.0.1:8443/t/oauth2/v2.0/token",
            "http://127.9.9.9/t",
            "http://[::1]:80/t",
            "http://LOCALHOST:1/t",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://login.microsoftonline.com/t",
            "http://10.0.0.1/t",
            "ftp://x/t",
            "not a url",
        ] {
            // A wrong URL on the command line: a usage error (exit 2), before any request.
            let e = check_endpoint(bad).unwrap_err();
            assert!(
                matches!(
                    e.input_kind(),
                    Some(InputKind::Argument | InputKind::InsecureUrl)
                ),
                "{bad}: {e:?}"
            );
        }
    }
}
