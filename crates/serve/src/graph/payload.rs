//! The bodies of directory writes (users, groups): the JSON object read with Graph's refusals
//! for a payload that is not one, a property the type does not have, one of the wrong type, a
//! required one missing.

use serde_json::{Map, Value};

use super::error::GraphError;

/// The JSON type a writable property takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Text,
    /// A string or null (clears it).
    TextOrNull,
    Bool,
    Texts,
    /// An object, checked by its own writer (`passwordProfile`).
    Object,
}

/// A writable property of a type: its name, its shape.
pub type Writable = (&'static str, Shape);

/// The properties of `body` checked against `writable` (annotations such as `@odata.type`
/// ignored): each known and of its shape. `type_name` is Graph's (`microsoft.graph.user`),
/// `resource` the directory's word in its refusals (`User`).
pub fn checked(
    body: Map<String, Value>,
    writable: &[Writable],
    type_name: &str,
    resource: &str,
) -> Result<Map<String, Value>, GraphError> {
    let mut out = Map::new();
    for (k, v) in body {
        if k.starts_with('@') || k.contains("@odata.") {
            continue;
        }
        // OData's refusal of a property its model does not define. UNCONFIRMED: Graph's exact
        // code for it (`BadRequest` is what its OData layer answers with).
        let Some((name, shape)) = writable.iter().find(|(n, _)| n.eq_ignore_ascii_case(&k)) else {
            return Err(GraphError::bad_request(
                "BadRequest",
                format!(
                    "The property '{k}' does not exist on type '{type_name}'. Make sure to only \
                     use property names that are defined by the type or mark the type as open \
                     type."
                ),
            ));
        };
        let fits = match shape {
            Shape::Text => v.is_string(),
            Shape::TextOrNull => v.is_string() || v.is_null(),
            Shape::Bool => v.is_boolean(),
            Shape::Texts => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Shape::Object => v.is_object(),
        };
        if !fits {
            return Err(invalid_value(name, resource));
        }
        out.insert((*name).to_string(), v);
    }
    Ok(out)
}

/// Graph's refusal of a value it cannot take, as it words it for directory objects
/// (`Invalid value specified for property 'mailNickname' of resource 'User'.`, seen in
/// Azure-Samples/ms-identity-dotnetcore-b2c-account-management#16).
pub fn invalid_value(property: &str, resource: &str) -> GraphError {
    GraphError::bad_request(
        "Request_BadRequest",
        format!("Invalid value specified for property '{property}' of resource '{resource}'."),
    )
}

/// The first of `required` that `body` lacks (or holds empty), as Graph refuses it:
/// "Property mailNickname value is required but is empty or missing." (the service's text,
/// quoted by Graph's SDK maintainers in microsoftgraph/msgraph-sdk-powershell#230).
pub fn require(body: &Map<String, Value>, required: &[&str]) -> Result<(), GraphError> {
    for r in required {
        let empty = match body.get(*r) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if empty {
            return Err(GraphError::bad_request(
                "Request_BadRequest",
                format!("Property {r} value is required but is empty or missing."),
            ));
        }
    }
    Ok(())
}

/// A `mailNickname` Graph takes: 1 to 64 characters, none of `@ ( ) \ [ ] " ; : < > ,` or
/// a space (<https://learn.microsoft.com/en-us/graph/api/resources/user>, `mailNickname`).
pub fn valid_mail_nickname(s: &str) -> bool {
    (1..=64).contains(&s.chars().count())
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "@()\\[]\";:<>,".contains(c))
}

/// `createdDateTime`: UTC to the second with `Z`, as Graph writes it.
pub fn now_text() -> String {
    format!(
        "{}Z",
        super::error::graph_date(time::OffsetDateTime::now_utc())
    )
}

#[cfg(test)]
mod tests {
    use super::super::json_body;
    use super::*;
    use serde_json::json;

    const W: &[Writable] = &[
        ("displayName", Shape::Text),
        ("accountEnabled", Shape::Bool),
    ];

    #[test]
    fn bodies_are_checked_as_graph_checks_them() {
        let body = json_body(br#"{"DisplayName": "x", "@odata.type": "y"}"#).unwrap();
        let out = checked(body, W, "microsoft.graph.user", "User").unwrap();
        assert_eq!(Value::Object(out), json!({"displayName": "x"}));
        let e = checked(
            json_body(br#"{"nope": 1}"#).unwrap(),
            W,
            "microsoft.graph.user",
            "User",
        )
        .unwrap_err();
        assert!(e.message.starts_with("The property 'nope' does not exist"));
        let e = checked(
            json_body(br#"{"accountEnabled": "yes"}"#).unwrap(),
            W,
            "microsoft.graph.user",
            "User",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value specified for property 'accountEnabled' of resource 'User'."
        );
        let e = require(
            &json_body(br#"{"displayName": " "}"#).unwrap(),
            &["displayName"],
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Property displayName value is required but is empty or missing."
        );
        assert!(valid_mail_nickname("grace.hopper"));
        assert!(!valid_mail_nickname("grace hopper"));
        assert!(!valid_mail_nickname("g@h"));
        assert!(!valid_mail_nickname(""));
    }
}
