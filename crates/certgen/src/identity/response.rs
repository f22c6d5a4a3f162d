//! What a token endpoint answers: a token, or an error body in Entra's shape.
//!
//! Parsing is lenient where real servers differ (the v1 endpoint and some IdPs send
//! `expires_in` as a string; proxies answer errors in HTML) and never fails on an error
//! answer: whatever could be read is kept, so the explanation can still name the status.

use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{Error, ProviderError, Result};
use crate::secret::Secret;

/// An access token as the endpoint issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The token type (`Bearer`).
    pub token_type: String,
    /// The access token.
    pub access_token: Secret,
    /// Seconds of validity left when it was received.
    pub expires_in: u64,
    /// The `ext_expires_in` sent, in seconds.
    pub ext_expires_in: Option<u64>,
    /// Unix seconds at which it expires.
    pub expires_on: i64,
}

impl TokenResponse {
    /// Reads a success body received at `received_at`.
    pub fn parse(body: &[u8], received_at: OffsetDateTime) -> Result<TokenResponse> {
        let malformed = |why: &str| {
            let mut answer = ProviderError::new(200, received_at);
            answer.unusable = Some(why.to_string());
            Error::from(answer)
        };
        let value: Value = serde_json::from_slice(body).map_err(|_| malformed("not with JSON"))?;
        let access_token = value
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| malformed("without an access_token"))?
            .to_string();
        let token_type = value
            .get("token_type")
            .and_then(Value::as_str)
            .unwrap_or("Bearer")
            .to_string();
        let now = received_at.unix_timestamp();
        let expires_in = seconds(value.get("expires_in"));
        // v1 answers carry `expires_on`; when both exist, the relative one is the one that
        // does not depend on the two clocks agreeing.
        let (expires_in, expires_on) = match (expires_in, seconds(value.get("expires_on"))) {
            (Some(i), _) => (i, now.saturating_add_unsigned(i)),
            (None, Some(on)) => ((on as i64 - now).max(0) as u64, on as i64),
            (None, None) => return Err(malformed("without expires_in")),
        };
        Ok(TokenResponse {
            token_type,
            access_token: Secret::new(access_token),
            expires_in,
            ext_expires_in: seconds(value.get("ext_expires_in")),
            expires_on,
        })
    }
}

/// A number of seconds sent as a JSON number or a numeric string.
fn seconds(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl ProviderError {
    /// Reads an error answer; never fails: whatever could be read is kept.
    pub fn parse(
        status: u16,
        body: &[u8],
        server_date: Option<OffsetDateTime>,
        received_at: OffsetDateTime,
    ) -> ProviderError {
        let mut answer = ProviderError::new(status, received_at);
        answer.server_date = server_date.map(Into::into);
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            answer.body_excerpt = excerpt(body);
            return answer;
        };
        let text = |k: &str| {
            map.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        answer.error = text("error");
        answer.description = text("error_description");
        answer.trace_id = text("trace_id");
        answer.correlation_id = text("correlation_id");
        answer.timestamp = text("timestamp");
        answer.error_uri = text("error_uri");
        if let Some(Value::Array(codes)) = map.get("error_codes") {
            answer.codes = codes.iter().filter_map(Value::as_u64).collect();
        }
        if answer.codes.is_empty() {
            answer
                .codes
                .extend(answer.description.as_deref().and_then(aadsts_code));
        }
        answer
    }
}

/// The number in `AADSTS700027: …`.
pub fn aadsts_code(text: &str) -> Option<u64> {
    let at = text.find("AADSTS")?;
    let digits: String = text[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let short: String = line.chars().take(160).collect();
    Some(if short.len() < line.len() {
        format!("{short}…")
    } else {
        short
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00:00 UTC);

    #[test]
    fn a_v2_token_answer() {
        let body = br#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0.x.y"}"#;
        let t = TokenResponse::parse(body, NOW).unwrap();
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_in, 3599);
        assert_eq!(t.ext_expires_in, Some(3599));
        assert_eq!(t.expires_on, NOW.unix_timestamp() + 3599);
        assert!(!format!("{t:?}").contains("eyJ0"));
    }

    #[test]
    fn a_v1_answer_with_string_numbers() {
        let on = NOW.unix_timestamp() + 600;
        let body = format!(
            r#"{{"token_type":"Bearer","expires_in":"3599","expires_on":"{on}","access_token":"abc"}}"#
        );
        let t = TokenResponse::parse(body.as_bytes(), NOW).unwrap();
        assert_eq!(t.expires_in, 3599);
        let body = format!(r#"{{"expires_on":"{on}","access_token":"abc"}}"#);
        let t = TokenResponse::parse(body.as_bytes(), NOW).unwrap();
        assert_eq!((t.expires_in, t.expires_on), (600, on));
    }

    #[test]
    fn a_success_without_a_token_is_a_provider_error() {
        let e = TokenResponse::parse(br#"{"expires_in":1}"#, NOW).unwrap_err();
        assert!(matches!(e, Error::Provider(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the token endpoint answered success but without an access_token"
        );
        assert!(TokenResponse::parse(b"<html>", NOW).is_err());
        assert!(TokenResponse::parse(br#"{"access_token":"a"}"#, NOW).is_err());
    }

    // The documented sample body of the error-codes reference (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes).
    const SAMPLE: &str = r#"{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope https://foo.microsoft.com/.default is not valid.\r\nTrace ID: 255d1aef-8c98-452f-ac51-23d051240864\r\nCorrelation ID: fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7\r\nTimestamp: 2016-01-09 02:02:12Z","error_codes":[70011],"timestamp":"2016-01-09 02:02:12Z","trace_id":"255d1aef-8c98-452f-ac51-23d051240864","correlation_id":"fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7","error_uri":"https://login.microsoftonline.com/error?code=70011"}"#;

    #[test]
    fn the_documented_error_body() {
        let a = ProviderError::parse(400, SAMPLE.as_bytes(), None, NOW);
        assert_eq!(a.error.as_deref(), Some("invalid_scope"));
        assert_eq!(a.code(), Some(70011));
        assert_eq!(
            a.first_line(),
            Some("AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope https://foo.microsoft.com/.default is not valid.")
        );
        assert_eq!(
            a.trace_id.as_deref(),
            Some("255d1aef-8c98-452f-ac51-23d051240864")
        );
        assert_eq!(
            a.correlation_id.as_deref(),
            Some("fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7")
        );
    }

    #[test]
    fn the_code_is_found_in_the_description_without_error_codes() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#;
        let a = ProviderError::parse(401, body, None, NOW);
        assert_eq!(a.code(), Some(7000215));
        assert_eq!(aadsts_code("no code here"), None);
    }

    #[test]
    fn a_non_json_body_keeps_a_short_excerpt() {
        let a = ProviderError::parse(
            503,
            b"\n<html><body>Service Unavailable</body></html>",
            None,
            NOW,
        );
        assert_eq!(a.error, None);
        assert_eq!(
            a.body_excerpt.as_deref(),
            Some("<html><body>Service Unavailable</body></html>")
        );
        let long = "x".repeat(500);
        let a = ProviderError::parse(502, long.as_bytes(), None, NOW);
        assert_eq!(a.body_excerpt.unwrap().chars().count(), 161);
    }

    #[test]
    fn http_dates_and_the_clock_offset() {
        use crate::http::parse_http_date;
        let server = parse_http_date("Sat, 21 Nov 2026 11:58:20 GMT").unwrap();
        assert_eq!(server, datetime!(2026-11-21 11:58:20 UTC));
        let a = ProviderError::parse(401, b"{}", Some(server), NOW);
        assert_eq!(a.clock_offset(), Some(100));
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
