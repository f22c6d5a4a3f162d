//! The OData query options the slice understands (`$select`, `$top`, `$skiptoken`, `$filter`
//! where a collection supports it), and collection pages with `@odata.context` and
//! `@odata.nextLink` (<https://learn.microsoft.com/en-us/graph/paging>).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::error::GraphError;

/// Page size without `$top`. UNCONFIRMED (chosen because <https://learn.microsoft.com/en-us/graph/paging> leaves it to each API): Graph's documented default for
/// directory collections is 100.
pub const DEFAULT_PAGE: usize = 100;
/// The largest `$top` directory collections take.
pub const MAX_PAGE: usize = 999;

/// The query of one request.
#[derive(Debug, Default)]
pub struct Query {
    /// In the order given; canonical property names once checked by [`Query::select`].
    select: Option<Vec<String>>,
    top: Option<usize>,
    skip: usize,
    /// Where a keyset page starts (a store position), from a `$skiptoken` that
    /// [`Query::keyset_page`] issued.
    pub from: Option<i64>,
    pub filter: Option<String>,
    /// Every pair as received, to carry into `@odata.nextLink`.
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses the query string. `filterable` says whether the collection takes `$filter`.
    pub fn parse(raw: Option<&str>, filterable: bool) -> Result<Query, GraphError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let mut q = Query::default();
        for (k, v) in &pairs {
            match k.to_ascii_lowercase().as_str() {
                "$select" => {
                    q.select = Some(
                        v.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect(),
                    )
                }
                "$top" => q.top = Some(page_size(v)?),
                "$skiptoken" => match skip_position(v)? {
                    Skip::Offset(n) => q.skip = n,
                    Skip::From(p) => q.from = Some(p),
                },
                "$filter" if filterable => q.filter = Some(v.clone()),
                other if other.starts_with('$') => {
                    return Err(GraphError::bad_request(
                        "BadRequest",
                        format!(
                            "certgen serve does not support the query option '{k}' here; it \
                             takes $select, $top{}",
                            if filterable { " and $filter" } else { "" }
                        ),
                    ))
                }
                _ => {}
            }
        }
        q.pairs = pairs;
        Ok(q)
    }

    /// The selected properties, checked against the type's: canonical names in the order
    /// asked; `None` without `$select`.
    pub fn select(
        &self,
        known: &[&'static str],
        type_name: &str,
    ) -> Result<Option<Vec<&'static str>>, GraphError> {
        let Some(asked) = &self.select else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for a in asked {
            let Some(p) = known.iter().find(|k| k.eq_ignore_ascii_case(a)) else {
                return Err(GraphError::bad_request(
                    "BadRequest",
                    format!("Could not find a property named '{a}' on type '{type_name}'."),
                ));
            };
            if !out.contains(p) {
                out.push(*p);
            }
        }
        Ok(Some(out))
    }

    /// One page of `items` as a collection answer: `@odata.context` (with the selection),
    /// `@odata.nextLink` when more remain (the original query plus `$skiptoken`), `value`.
    pub fn page(&self, collection_url: &str, context: &str, items: Vec<Value>) -> Value {
        let size = self.top.unwrap_or(DEFAULT_PAGE);
        let total = items.len();
        let start = self.skip.min(total);
        let end = start.saturating_add(size).min(total);
        let mut doc = Map::new();
        doc.insert("@odata.context".into(), Value::String(context.to_string()));
        if end < total {
            doc.insert(
                "@odata.nextLink".into(),
                Value::String(self.next_link(collection_url, end)),
            );
        }
        let page: Vec<Value> = items.into_iter().skip(start).take(end - start).collect();
        doc.insert("value".into(), Value::Array(page));
        Value::Object(doc)
    }

    /// The page size asked (`$top`), or the default.
    pub fn size(&self) -> usize {
        self.top.unwrap_or(DEFAULT_PAGE)
    }

    /// How many items of an in-memory collection to skip (a `$skiptoken` of [`Query::page`]).
    pub fn skipped(&self) -> usize {
        self.skip
    }

    /// One page read from the store by position (`items` already the page): its nextLink
    /// names where the next page starts, so the hundredth page costs what the second does.
    pub fn keyset_page(
        &self,
        collection_url: &str,
        context: &str,
        items: Vec<Value>,
        next: Option<i64>,
    ) -> Value {
        let mut doc = Map::new();
        doc.insert("@odata.context".into(), Value::String(context.to_string()));
        if let Some(n) = next {
            doc.insert(
                "@odata.nextLink".into(),
                Value::String(self.link(collection_url, &Skip::From(n).token())),
            );
        }
        doc.insert("value".into(), Value::Array(items));
        Value::Object(doc)
    }

    fn next_link(&self, collection_url: &str, offset: usize) -> String {
        self.link(collection_url, &Skip::Offset(offset).token())
    }

    fn link(&self, collection_url: &str, token: &str) -> String {
        // Keys keep their `$` (as Graph's links do); values are form-encoded.
        let mut parts: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
            .map(|(k, v)| format!("{}={}", encode(k).replace("%24", "$"), encode(v)))
            .collect();
        parts.push(format!("$skiptoken={token}"));
        format!("{collection_url}?{}", parts.join("&"))
    }
}

/// `@odata.context` of a collection (`…#users`, `…#users(displayName,id)`) or of one entity
/// (`…/$entity`).
pub fn context(
    graph_base: &str,
    set: &str,
    select: Option<&[&'static str]>,
    entity: bool,
) -> String {
    let mut c = format!("{graph_base}/v1.0/$metadata#{set}");
    if let Some(props) = select {
        c.push('(');
        c.push_str(&props.join(","));
        c.push(')');
    }
    if entity {
        c.push_str("/$entity");
    }
    c
}

/// One entity as Graph answers it: `@odata.context` first, then its properties.
pub fn entity(context: String, properties: Value) -> Value {
    let mut doc = Map::new();
    doc.insert("@odata.context".into(), Value::String(context));
    if let Value::Object(fields) = properties {
        doc.extend(fields);
    }
    Value::Object(doc)
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn page_size(v: &str) -> Result<usize, GraphError> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(GraphError::bad_request(
            "Request_BadRequest",
            format!(
                "Invalid page size specified: '{v}'. Must be between 1 and {MAX_PAGE} inclusive."
            ),
        )),
    }
}

/// Where a `$skiptoken` resumes: opaque to clients, as Graph's are; here an offset into an
/// in-memory collection or a store position.
enum Skip {
    Offset(usize),
    From(i64),
}

impl Skip {
    fn token(&self) -> String {
        URL_SAFE_NO_PAD.encode(match self {
            Skip::Offset(n) => format!("certgen-skip:{n}"),
            Skip::From(p) => format!("certgen-from:{p}"),
        })
    }
}

/// UNCONFIRMED: the text Graph gives for a skip token it did not issue is not recorded.
fn skip_position(token: &str) -> Result<Skip, GraphError> {
    let text = URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let text = text.as_deref().unwrap_or_default();
    let parsed = if let Some(n) = text.strip_prefix("certgen-skip:") {
        n.parse().ok().map(Skip::Offset)
    } else if let Some(p) = text.strip_prefix("certgen-from:") {
        p.parse().ok().filter(|p: &i64| *p >= 0).map(Skip::From)
    } else {
        None
    };
    parsed.ok_or_else(|| {
        GraphError::bad_request(
            "Request_BadRequest",
            "The specified page token value has expired or is invalid.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_link_to_the_next_with_the_original_query() {
        let q = Query::parse(Some("%24top=2&$select=id,displayName"), false).unwrap();
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let p1 = q.page("https://h/v1.0/users", "ctx", items.clone());
        assert_eq!(p1["value"], json!([0, 1]));
        let next = p1["@odata.nextLink"].as_str().unwrap();
        assert!(
            next.starts_with("https://h/v1.0/users?$top=2&$select=id%2CdisplayName&$skiptoken="),
            "{next}"
        );
        let q2 = Query::parse(Some(next.split_once('?').unwrap().1), false).unwrap();
        let p2 = q2.page("https://h/v1.0/users", "ctx", items.clone());
        assert_eq!(p2["value"], json!([2, 3]));
        let q3 = Query::parse(
            Some(
                p2["@odata.nextLink"]
                    .as_str()
                    .unwrap()
                    .split_once('?')
                    .unwrap()
                    .1,
            ),
            false,
        )
        .unwrap();
        let p3 = q3.page("https://h/v1.0/users", "ctx", items);
        assert_eq!(p3["value"], json!([4]));
        assert!(p3.get("@odata.nextLink").is_none());
    }

    #[test]
    fn bad_options_are_refused_as_graph_does() {
        for bad in [
            "$top=0",
            "$top=1000",
            "$top=x",
            "$skiptoken=nope",
            "$orderby=id",
        ] {
            let e = Query::parse(Some(bad), false).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
        assert!(Query::parse(Some("$filter=x"), false).is_err());
        assert!(Query::parse(Some("$filter=x"), true).is_ok());
        let q = Query::parse(Some("$select=DisplayName,nope"), false).unwrap();
        let e = q
            .select(&["displayName"], "microsoft.graph.user")
            .unwrap_err();
        assert_eq!(
            e.message,
            "Could not find a property named 'nope' on type 'microsoft.graph.user'."
        );
        assert_eq!(
            context("https://h", "users", Some(&["displayName", "id"]), true),
            "https://h/v1.0/$metadata#users(displayName,id)/$entity"
        );
    }
}
