//! The `$filter` expressions the directory's collections take, parsed once for every
//! collection: `prop eq 'v'`, `startswith(prop,'v')`, `coll/any(x:x eq 'v')`, joined by
//! `and` (<https://learn.microsoft.com/en-us/graph/filter-query-parameter>). These are the forms
//! scripts and the Azure CLI send; anything else is refused with Graph's
//! `Request_UnsupportedQuery`, never half-applied.

use serde_json::Value;

use super::error::GraphError;
use super::query::Query;
use crate::directory::{Directory, Kind, Object};

/// One comparison of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `prop eq 'value'`
    Eq(String, String),
    /// `startswith(prop,'value')`
    StartsWith(String, String),
    /// `prop/any(x:x eq 'value')`: a string collection holding `value`.
    Any(String, String),
}

impl Clause {
    pub fn property(&self) -> &str {
        match self {
            Clause::Eq(p, _) | Clause::StartsWith(p, _) | Clause::Any(p, _) => p,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Clause::Eq(_, v) | Clause::StartsWith(_, v) | Clause::Any(_, v) => v,
        }
    }

    /// Whether `doc` satisfies the clause. Directory string comparisons ignore case, as
    /// Graph's do for these properties.
    pub fn matches(&self, doc: &Value) -> bool {
        let field = doc.get(self.property());
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_lowercase);
        let want = self.value().to_lowercase();
        match self {
            Clause::Eq(..) => match field {
                Some(Value::Bool(b)) => b.to_string() == want,
                other => text(other).is_some_and(|t| t == want),
            },
            Clause::StartsWith(..) => text(field).is_some_and(|t| t.starts_with(&want)),
            Clause::Any(..) => field
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|i| text(Some(i)) == Some(want.clone()))),
        }
    }
}

/// A parsed filter: every clause must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter(pub Vec<Clause>);

impl Filter {
    /// Parses `text`; `allowed` lists the clauses a collection takes, as (kind, property) with
    /// kind `eq`, `startswith` or `any` (properties compared ignoring case; the canonical
    /// spelling is kept).
    pub fn parse(text: &str, allowed: &[(&str, &str)]) -> Result<Filter, GraphError> {
        let unsupported = || {
            GraphError::bad_request(
                "Request_UnsupportedQuery",
                format!(
                    "certgen serve does not support the filter '{text}' here; it takes {}.",
                    allowed
                        .iter()
                        .map(|(k, p)| match *k {
                            "startswith" => format!("startswith({p},'…')"),
                            "any" => format!("{p}/any(x:x eq '…')"),
                            _ => format!("{p} eq '…'"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        };
        let mut clauses = Vec::new();
        for part in split_and(text) {
            let c = clause(part.trim()).ok_or_else(unsupported)?;
            let kind = match c {
                Clause::Eq(..) => "eq",
                Clause::StartsWith(..) => "startswith",
                Clause::Any(..) => "any",
            };
            let Some((_, canonical)) = allowed
                .iter()
                .find(|(k, p)| *k == kind && p.eq_ignore_ascii_case(c.property()))
            else {
                return Err(unsupported());
            };
            clauses.push(match c {
                Clause::Eq(_, v) => Clause::Eq((*canonical).into(), v),
                Clause::StartsWith(_, v) => Clause::StartsWith((*canonical).into(), v),
                Clause::Any(_, v) => Clause::Any((*canonical).into(), v),
            });
        }
        if clauses.is_empty() {
            return Err(unsupported());
        }
        Ok(Filter(clauses))
    }

    pub fn matches(&self, doc: &Value) -> bool {
        self.0.iter().all(|c| c.matches(doc))
    }
}

/// The most objects one filtered read considers. UNCONFIRMED as Graph's: chosen so a
/// `startswith` over an organisation-sized directory (10,000 apps) is answered whole while a
/// read stays bounded.
pub const MAX_MATCHES: usize = 20_000;

/// The objects of `kind` a filter selects: found through the index of the first clause that
/// has one (`index` maps a property to its index key), then every clause checked on the
/// documents; without an indexed clause, every object of the kind is read.
pub fn select(
    directory: &Directory,
    kind: Kind,
    filter: Option<&Filter>,
    index: &[(&str, &str)],
) -> Result<Vec<Object>, GraphError> {
    let indexed = filter.and_then(|f| {
        f.0.iter().find_map(|c| {
            index
                .iter()
                .find(|(p, _)| *p == c.property())
                .map(|(_, i)| (c, *i))
        })
    });
    let found = match indexed {
        Some((Clause::StartsWith(_, v), name)) => {
            directory.find_prefix(kind, name, v, MAX_MATCHES)?
        }
        Some((c, name)) => directory.find(kind, name, c.value())?,
        None => all(directory, kind)?,
    };
    Ok(found
        .into_iter()
        .filter(|o| filter.is_none_or(|f| f.matches(&o.doc)))
        .collect())
}

/// Every object of `kind`, in making order (at most [`MAX_MATCHES`]).
pub fn all(directory: &Directory, kind: Kind) -> Result<Vec<Object>, GraphError> {
    let mut out = Vec::new();
    let mut from = None;
    loop {
        let page = directory.page(kind, from, 1000)?;
        out.extend(page.objects);
        match page.next {
            Some(n) if out.len() < MAX_MATCHES => from = Some(n),
            _ => return Ok(out),
        }
    }
}

/// Splits on ` and ` (any case) outside quoted literals.
fn split_and(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quote = false;
    let mut start = 0;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            in_quote = !in_quote;
        } else if !in_quote
            && bytes[i].is_ascii_whitespace()
            && text
                .get(i + 1..i + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case("and "))
        {
            parts.push(&text[start..i]);
            i += 5;
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// An OData string literal (`'it''s'` → `it's`), and what follows it.
fn literal(s: &str) -> Option<(String, &str)> {
    let rest = s.strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().map(|(_, n)| *n) == Some('\'') {
                out.push('\'');
                chars.next();
                continue;
            }
            return Some((out, &rest[i + 1..]));
        }
        out.push(c);
    }
    None
}

fn clause(s: &str) -> Option<Clause> {
    if s.get(..10)
        .is_some_and(|w| w.eq_ignore_ascii_case("startswith"))
    {
        let inner = s[10..].trim_start().strip_prefix('(')?;
        let (prop, rest) = inner.split_once(',')?;
        let (value, rest) = literal(rest.trim_start())?;
        if rest.trim() != ")" {
            return None;
        }
        return Some(Clause::StartsWith(prop.trim().to_string(), value));
    }
    // `coll/any(c:c eq 'v')`: the `/` right after a property name, never one inside a
    // literal (`subject eq 'repo:o/r:ref:refs/heads/main'`).
    if let Some((coll, rest)) = s
        .split_once('/')
        .filter(|(coll, _)| !coll.contains(['\'', ' ']))
    {
        let rest = rest.trim_start();
        if !rest.get(..3).is_some_and(|w| w.eq_ignore_ascii_case("any")) {
            return None;
        }
        let inner = rest[3..].trim_start().strip_prefix('(')?;
        let (var, body) = inner.split_once(':')?;
        let var = var.trim();
        let body = body.trim_start();
        let after_var = body.strip_prefix(var)?;
        let mut words = after_var.trim_start().splitn(2, char::is_whitespace);
        if !words.next()?.eq_ignore_ascii_case("eq") {
            return None;
        }
        let (value, rest) = literal(words.next()?.trim_start())?;
        if rest.trim() != ")" || var.is_empty() {
            return None;
        }
        return Some(Clause::Any(coll.trim().to_string(), value));
    }
    let (prop, rest) = s.split_once(char::is_whitespace)?;
    let (op, rest) = rest.trim_start().split_once(char::is_whitespace)?;
    if !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let (value, rest) = literal(rest.trim_start())?;
    if !rest.trim().is_empty() {
        return None;
    }
    Some(Clause::Eq(prop.to_string(), value))
}

/// A collection's answer, as Graph pages it: with `$filter`, the matches found through the
/// store's index (`allowed` forms, `indexed` keys); without, one page read from the store at the
/// position the skip token names, so page 100 costs what page 2 does.
#[allow(clippy::too_many_arguments)]
pub fn collection(
    directory: &Directory,
    kind: Kind,
    query: &Query,
    allowed: &[(&str, &str)],
    indexed: &[(&str, &str)],
    url: &str,
    context: &str,
    to_json: impl Fn(&Object) -> Value,
) -> Result<Value, GraphError> {
    if let Some(f) = &query.filter {
        let f = Filter::parse(f, allowed)?;
        let found = select(directory, kind, Some(&f), indexed)?;
        let items = found.iter().map(&to_json).collect();
        return Ok(query.page(url, context, items));
    }
    let page = directory.page(kind, query.from, query.size())?;
    let items = page.objects.iter().map(&to_json).collect();
    Ok(query.keyset_page(url, context, items, page.next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALLOWED: &[(&str, &str)] = &[
        ("eq", "appId"),
        ("eq", "displayName"),
        ("startswith", "displayName"),
        ("any", "servicePrincipalNames"),
    ];

    #[test]
    fn the_forms_scripts_and_the_azure_cli_send() {
        let f = |t: &str| Filter::parse(t, ALLOWED).map(|f| f.0);
        assert_eq!(
            f("appId eq '6f1c'").unwrap(),
            [Clause::Eq("appId".into(), "6f1c".into())]
        );
        assert_eq!(
            f("appid  EQ  'x'").unwrap(),
            [Clause::Eq("appId".into(), "x".into())]
        );
        assert_eq!(
            f("startswith(displayName,'My App')").unwrap(),
            [Clause::StartsWith("displayName".into(), "My App".into())]
        );
        assert_eq!(
            f("servicePrincipalNames/any(c:c eq 'api://x')").unwrap(),
            [Clause::Any(
                "servicePrincipalNames".into(),
                "api://x".into()
            )]
        );
        assert_eq!(
            f("appId eq 'repo:o/r:ref:refs/heads/main'").unwrap(),
            [Clause::Eq(
                "appId".into(),
                "repo:o/r:ref:refs/heads/main".into()
            )]
        );
        assert_eq!(
            f("displayName eq 'it''s and more' and appId eq 'a'").unwrap(),
            [
                Clause::Eq("displayName".into(), "it's and more".into()),
                Clause::Eq("appId".into(), "a".into())
            ]
        );
        for bad in [
            "",
            "appId eq 6f1c",
            "appId ne 'x'",
            "mail eq 'x'",
            "startswith(appId,'x')",
            "appId eq 'x' or appId eq 'y'",
            "appId eq 'x",
            "ééééééééé(displayName,'x')",
            "éé/ééé(c:c eq 'x')",
        ] {
            let e = f(bad).unwrap_err();
            assert_eq!(e.code, "Request_UnsupportedQuery", "{bad}");
        }
    }

    #[test]
    fn matching_ignores_case() {
        let doc = json!({"displayName": "My App", "servicePrincipalNames": ["API://X"]});
        let f = Filter::parse(
            "startswith(displayname,'my') and servicePrincipalNames/any(c:c eq 'api://x')",
            ALLOWED,
        )
        .unwrap();
        assert!(f.matches(&doc));
        assert!(!Filter::parse("displayName eq 'My'", ALLOWED)
            .unwrap()
            .matches(&doc));
    }
}
