//! The OData shapes Microsoft Graph answers with (<https://learn.microsoft.com/en-us/graph/errors>, <https://learn.microsoft.com/en-us/graph/paging>): the error
//! envelope `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`
//! and collections whose pages link to the next with `@odata.nextLink`. the emulator writes
//! these types and clients read them, so both sides share one definition.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The `error` object.
    pub error: ODataError,
}

/// Graph's error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ODataError {
    /// The `code` (`Authorization_RequestDenied` …).
    pub code: String,
    /// The `message`.
    pub message: String,
    /// Absent in some older answers; `request-id` and `date` only in others.
    #[serde(
        rename = "innerError",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inner_error: Option<InnerError>,
}

/// What Graph's support asks for: when, and the request's ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerError {
    /// `2026-12-01T10:20:30`: UTC, whole seconds, no offset — as Graph writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(
        rename = "request-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    /// The `request-id` Microsoft support asks for.
    pub request_id: Option<String>,
    #[serde(
        rename = "client-request-id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    /// The `client-request-id` echoed back.
    pub client_request_id: Option<String>,
}

impl ODataError {
    /// The OData error in an answer body, if it holds one. Azure AD Graph's older
    /// `{"odata.error":{"code","message":{"value"}}}` is read too, so a call to it is explained.
    pub fn parse(body: &[u8]) -> Option<ODataError> {
        if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(body) {
            return Some(envelope.error);
        }
        let doc: Value = serde_json::from_slice(body).ok()?;
        let legacy = doc.get("odata.error")?;
        Some(ODataError {
            code: legacy.get("code")?.as_str()?.to_string(),
            message: legacy
                .pointer("/message/value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            inner_error: None,
        })
    }
}

/// `@odata.nextLink` of a collection page.
pub fn next_link(page: &Value) -> Option<&str> {
    page.get("@odata.nextLink").and_then(Value::as_str)
}

/// Collects the pages of one collection into one document: the first page's `@odata.context`
/// (and `@odata.count` when asked for), then `value` holding every page's items.
#[derive(Debug, Default)]
pub struct Pages {
    head: Map<String, Value>,
    items: Vec<Value>,
    pages: usize,
}

impl Pages {
    /// No page yet.
    pub fn new() -> Pages {
        Pages::default()
    }

    /// Adds a page; `Err` names what is wrong when the page is not a collection.
    pub fn push(&mut self, page: Value) -> Result<(), &'static str> {
        let Value::Object(mut fields) = page else {
            return Err("the answer is not a JSON object");
        };
        let Some(Value::Array(items)) = fields.remove("value") else {
            return Err("the answer has no \"value\" array (is this a collection?)");
        };
        if self.pages == 0 {
            fields.remove("@odata.nextLink");
            self.head = fields;
        }
        self.items.extend(items);
        self.pages += 1;
        Ok(())
    }

    /// How many pages were merged.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The merged document.
    pub fn finish(self) -> Value {
        let mut doc = self.head;
        doc.insert("value".into(), Value::Array(self.items));
        Value::Object(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_envelope_round_trips_field_by_field() {
        // The shape of a live 403 (ms-identity-python-daemon#8).
        let live = json!({"error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation.",
            "innerError": {
                "date": "2026-12-01T10:20:30",
                "request-id": "5f5e6c4e-0000-4000-8000-000000000001",
                "client-request-id": "5f5e6c4e-0000-4000-8000-000000000001"
            }
        }});
        let text = live.to_string();
        let e = ODataError::parse(text.as_bytes()).unwrap();
        assert_eq!(e.code, "Authorization_RequestDenied");
        let back = serde_json::to_value(ErrorEnvelope { error: e }).unwrap();
        assert_eq!(back, live);
        // Only request-id and date, as older answers have.
        let old = br#"{"error":{"code":"BadRequest","message":"m","innerError":{"request-id":"r","date":"d"}}}"#;
        assert_eq!(
            ODataError::parse(old)
                .unwrap()
                .inner_error
                .unwrap()
                .client_request_id,
            None
        );
        let legacy = br#"{"odata.error":{"code":"Authorization_RequestDenied","message":{"lang":"en","value":"Insufficient privileges to complete the operation."}}}"#;
        assert_eq!(
            ODataError::parse(legacy).unwrap().message,
            "Insufficient privileges to complete the operation."
        );
        assert!(ODataError::parse(b"{\"value\":[]}").is_none());
    }

    #[test]
    fn pages_merge_into_one_value() {
        let mut p = Pages::new();
        p.push(json!({"@odata.context": "c", "@odata.nextLink": "n", "value": [1, 2]}))
            .unwrap();
        p.push(json!({"@odata.context": "c", "value": [3]}))
            .unwrap();
        assert!(p.push(json!({"error": {}})).is_err());
        assert_eq!(p.pages(), 2);
        assert_eq!(
            p.finish(),
            json!({"@odata.context": "c", "value": [1, 2, 3]})
        );
    }
}
