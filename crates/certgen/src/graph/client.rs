//! Calling Microsoft Graph (or any API) with an app-only bearer token, as `az rest` does for a
//! user: one request, retried on 429 and 503 as `Retry-After` says (capped), or every page of a
//! collection followed through `@odata.nextLink` and merged into one document.
//!
//! The transport is the library's one (the token client's too) (TLS roots plus an extra CA file, proxies from the
//! environment, no redirects, `http://` only to loopback), so the token goes exactly where the
//! credential would. Bodies are read up to [`MAX_RESPONSE_BYTES`]; paging stops at
//! [`MAX_PAGES`] and refuses a `nextLink` to another origin, which would receive the token.

use std::time::Instant;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, DATE};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use time::OffsetDateTime;

use super::odata::{next_link, ODataError, Pages};
use crate::authority;
use crate::error::{Error, GraphError, Result, Service};
use crate::http::ClientOptions;
use crate::http::{self, header_str, parse_http_date, read_capped, retry_wait, transport_error};

/// Largest answer kept: far above a Graph page (999 users), bounded all the same.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// Most bytes [`ApiClient::get_all`] reads over all pages together: a listing of 100,000 users
/// fits; an API that links pages forever does not take the process down with it.
pub const MAX_TOTAL_BYTES: usize = 256 << 20;
/// Most pages followed by [`ApiClient::get_all`].
pub const MAX_PAGES: usize = 10_000;

/// One API request (the bearer token is added by the client).
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The HTTP method.
    pub method: Method,
    /// The URL called.
    pub url: Url,
    /// Sent as given; `Content-Type: application/json` is added to a body without one.
    pub headers: HeaderMap,
    /// The JSON body, if any.
    pub body: Option<Vec<u8>>,
}

impl ApiRequest {
    /// A `GET` of `url`.
    pub fn get(url: Url) -> ApiRequest {
        ApiRequest {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }
}

/// What the API answered (after any retries).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The HTTP version of the answer.
    pub version: reqwest::Version,
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body (bounded).
    pub body: Vec<u8>,
    /// Requests made, the first included.
    pub attempts: u32,
}

impl ApiResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The OData error of an error answer, when the body is one.
    pub fn odata_error(&self) -> Option<ODataError> {
        ODataError::parse(&self.body)
    }

    /// This answer as a [`GraphError`] for a call to `url`.
    pub fn to_error(&self, url: &Url) -> GraphError {
        let odata = self.odata_error();
        let header_id = header_str(
            &self.headers,
            reqwest::header::HeaderName::from_static("request-id"),
        );
        let request_id = odata
            .as_ref()
            .and_then(|o| o.inner_error.as_ref())
            .and_then(|i| i.request_id.clone())
            .or_else(|| header_id.map(str::to_string));
        let body_excerpt = odata.is_none().then(|| {
            let text = String::from_utf8_lossy(&self.body);
            let first = text.lines().next().unwrap_or("").trim();
            first.chars().take(200).collect::<String>()
        });
        let (code, message) = match odata {
            Some(o) => (Some(o.code), Some(o.message)),
            None => (None, None),
        };
        GraphError {
            url: url.to_string(),
            status: self.status.as_u16(),
            code,
            message,
            request_id,
            body_excerpt: body_excerpt.filter(|b| !b.is_empty()),
        }
    }
}

/// Every page of a collection, or the answer that stopped the paging.
#[derive(Debug)]
pub enum AllPages {
    /// One document: the first page's `@odata.context`, `value` with every item.
    Merged {
        /// The merged document (every page's `value` in one array).
        document: Value,
        /// How many pages were fetched.
        pages: usize,
    },
    /// A page answered with an error (or with something that is not a collection).
    Failed(ApiResponse),
}

/// A reusable API client.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    options: ClientOptions,
}

impl ApiClient {
    /// A client with these transport settings.
    pub fn new(options: ClientOptions) -> Result<ApiClient> {
        Ok(ApiClient {
            http: http::client(&options)?,
            options,
        })
    }

    /// Sends `request` with `Authorization: Bearer {token}`; 429 and 503 are retried (up to
    /// `max_attempts`) within `timeout`. An error answer is an `Ok` response; only a failure
    /// to reach the API (or a body past the limit) is an `Err`.
    pub async fn send(&self, request: &ApiRequest, token: &str) -> Result<ApiResponse> {
        authority::check_endpoint_url(request.url.as_str())?;
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::failure("the access token holds characters a header cannot"))?;
        bearer.set_sensitive(true);
        let deadline = Instant::now() + self.options.timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = self
                .http
                .request(request.method.clone(), request.url.clone())
                .headers(request.headers.clone())
                .header(AUTHORIZATION, bearer.clone())
                .timeout(deadline.saturating_duration_since(Instant::now()));
            if let Some(body) = &request.body {
                if !request.headers.contains_key(CONTENT_TYPE) {
                    builder = builder.header(CONTENT_TYPE, "application/json");
                }
                builder = builder.body(body.clone());
            }
            let unreachable =
                |e: reqwest::Error| transport_error(e, &request.url, &self.options, Service::Api);
            let mut response = builder.send().await.map_err(unreachable)?;
            let status = response.status();
            let version = response.version();
            let headers = response.headers().clone();
            let (body, cut) = read_capped(&mut response, MAX_RESPONSE_BYTES)
                .await
                .map_err(unreachable)?;
            if cut {
                return Err(Error::failure(format!(
                    "the answer from {} is larger than {} MiB; not read",
                    request.url,
                    MAX_RESPONSE_BYTES >> 20
                )));
            }
            if matches!(status.as_u16(), 429 | 503) && attempt < self.options.max_attempts {
                let received = OffsetDateTime::now_utc();
                let server_date = header_str(&headers, DATE).and_then(parse_http_date);
                let wait = retry_wait(&headers, server_date, received, attempt, &self.options);
                if Instant::now() + wait < deadline {
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
            return Ok(ApiResponse {
                version,
                status,
                headers,
                body,
                attempts: attempt,
            });
        }
    }

    /// GETs `request` and every page after it (`@odata.nextLink`), merged. Stops, naming the
    /// page, at a link already followed (a loop), past [`MAX_PAGES`] pages, or past
    /// [`MAX_RESPONSE_BYTES`] in all.
    pub async fn get_all(&self, request: &ApiRequest, token: &str) -> Result<AllPages> {
        let origin = request.url.origin();
        let mut pages = Pages::new();
        let mut next = request.clone();
        next.method = Method::GET;
        let mut seen = std::collections::HashSet::from([next.url.to_string()]);
        let mut total = 0usize;
        loop {
            let response = self.send(&next, token).await?;
            if !response.is_success() {
                return Ok(AllPages::Failed(response));
            }
            let page_number = pages.pages() + 1;
            total = total.saturating_add(response.body.len());
            if total > MAX_TOTAL_BYTES {
                return Err(Error::failure(format!(
                    "paging stopped at page {page_number} ({}): the pages hold more than {} MiB \
                     in all; narrow the query (e.g. $filter, $select)",
                    next.url,
                    MAX_TOTAL_BYTES >> 20
                )));
            }
            let page: Value = match serde_json::from_slice(&response.body) {
                Ok(v) => v,
                Err(_) => return Ok(AllPages::Failed(response)),
            };
            let link = next_link(&page).map(str::to_string);
            if let Err(why) = pages.push(page) {
                return Err(Error::failure(format!(
                    "paging stopped: {why}; {} is not a collection",
                    next.url
                )));
            }
            let Some(link) = link else {
                let count = pages.pages();
                return Ok(AllPages::Merged {
                    document: pages.finish(),
                    pages: count,
                });
            };
            let url = Url::parse(&link).map_err(|e| {
                Error::failure(format!("@odata.nextLink '{link}' is not a URL ({e})"))
            })?;
            if url.origin() != origin {
                return Err(Error::failure(format!(
                    "@odata.nextLink points to another origin ({}); the token is not sent there",
                    url.origin().ascii_serialization()
                )));
            }
            if !seen.insert(url.to_string()) {
                return Err(Error::failure(format!(
                    "paging stopped at page {page_number}: its @odata.nextLink ({url}) was \
                     followed before; the API links its pages in a loop"
                )));
            }
            if pages.pages() >= MAX_PAGES {
                return Err(Error::failure(format!(
                    "paging stopped after {MAX_PAGES} pages; narrow the query (e.g. $filter, $select)"
                )));
            }
            next.url = url;
        }
    }
}
