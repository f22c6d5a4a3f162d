//! The `$filter` forms served on directory collections: `prop eq 'v'`,
//! `startswith(prop,'v')`, joined by `and` — what the Azure CLI and the Graph SDKs send for
//! users and groups (<https://learn.microsoft.com/en-us/graph/filter-query-parameter>). String
//! literals are OData's: single-quoted, a quote inside doubled (`'O''Brien'`).

use super::error::GraphError;
use crate::directory::{Directory, Kind, Object};

/// The most objects a `startswith` filter reads before paging: its answer is paged in memory.
pub const MAX_MATCHES: usize = 10_000;

/// The objects of `kind` every clause of `filter` holds for. One clause is answered by the
/// store's index (`indexed`: property → index key; `id` by the object's id), the others are
/// checked on what it found. Properties outside `known` are Graph's 400 for an unknown
/// property of `type_name`.
pub fn run(
    directory: &Directory,
    kind: Kind,
    filter: &Filter,
    indexed: &[(&str, &str)],
    known: &[&str],
    type_name: &str,
) -> Result<Vec<Object>, GraphError> {
    for c in filter {
        if !known.iter().any(|k| k.eq_ignore_ascii_case(c.property())) {
            return Err(GraphError::bad_request(
                "BadRequest",
                format!(
                    "Could not find a property named '{}' on type '{type_name}'.",
                    c.property()
                ),
            ));
        }
    }
    let index = |p: &str| {
        indexed
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(p))
            .map(|(_, i)| *i)
    };
    let eq = filter.iter().find_map(|c| match c {
        Clause::Eq(p, v) => Some((p, v)),
        Clause::StartsWith(..) => None,
    });
    let found = if let Some((_, v)) = eq.filter(|(p, _)| p.eq_ignore_ascii_case("id")) {
        directory.get(kind, v)?.into_iter().collect()
    } else if let Some((i, v)) = filter.iter().find_map(|c| match c {
        Clause::Eq(p, v) => index(p).map(|i| (i, v)),
        Clause::StartsWith(..) => None,
    }) {
        directory.find(kind, i, v)?
    } else if let Some((i, v)) = filter.iter().find_map(|c| match c {
        Clause::StartsWith(p, v) => index(p).map(|i| (i, v)),
        Clause::Eq(..) => None,
    }) {
        directory.find_prefix(kind, i, v, MAX_MATCHES)?
    } else {
        return Err(GraphError::bad_request(
            "Request_UnsupportedQuery",
            format!(
                "certgen serve filters {} by {} only.",
                kind.name(),
                indexed
                    .iter()
                    .map(|(p, _)| *p)
                    .chain(["id"])
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    Ok(found
        .into_iter()
        .filter(|o| filter.iter().all(|c| c.holds(&o.doc)))
        .collect())
}

/// One comparison of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `prop eq 'value'`.
    Eq(String, String),
    /// `startswith(prop,'value')`.
    StartsWith(String, String),
}

impl Clause {
    pub fn property(&self) -> &str {
        match self {
            Clause::Eq(p, _) | Clause::StartsWith(p, _) => p,
        }
    }

    /// Whether a document's string property satisfies the clause, ignoring case as the
    /// directory compares these properties.
    pub fn holds(&self, doc: &serde_json::Value) -> bool {
        let held = doc
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(self.property()))
            })
            .and_then(|(_, v)| v.as_str())
            .map(str::to_lowercase);
        match (self, held) {
            (Clause::Eq(_, v), Some(h)) => h == v.to_lowercase(),
            (Clause::StartsWith(_, v), Some(h)) => h.starts_with(&v.to_lowercase()),
            _ => false,
        }
    }
}

/// A parsed filter: every clause must hold.
pub type Filter = Vec<Clause>;

/// Parses `filter`; a form not served is Graph's 400 for an unsupported query
/// (`Request_UnsupportedQuery`, the code Graph gives directory filters it cannot run).
pub fn parse(filter: &str) -> Result<Filter, GraphError> {
    let unsupported = || {
        GraphError::bad_request(
            "Request_UnsupportedQuery",
            format!(
                "certgen serve filters this collection by \"prop eq '…'\" and \
                 \"startswith(prop,'…')\" joined by \"and\", not '{filter}'."
            ),
        )
    };
    let mut rest = filter.trim();
    let mut out = Vec::new();
    loop {
        let (clause, after) = clause(rest).ok_or_else(unsupported)?;
        out.push(clause);
        rest = after.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        // OData separates `and` from its operands by whitespace.
        if rest.len() == after.len() {
            return Err(unsupported());
        }
        rest = strip_word(rest, "and").ok_or_else(unsupported)?;
    }
}

/// One clause at the start of `s`, and what follows it.
fn clause(s: &str) -> Option<(Clause, &str)> {
    let s = s.trim_start();
    if let Some(inner) = strip_prefix_ci(s, "startswith") {
        let inner = inner.trim_start().strip_prefix('(')?;
        let (prop, after) = identifier(inner.trim_start())?;
        let after = after.trim_start().strip_prefix(',')?;
        let (value, after) = literal(after.trim_start())?;
        let after = after.trim_start().strip_prefix(')')?;
        return Some((Clause::StartsWith(prop.to_string(), value), after));
    }
    let (prop, after) = identifier(s)?;
    let after = strip_word(after.trim_start(), "eq")?;
    let (value, after) = literal(after)?;
    Some((Clause::Eq(prop.to_string(), value), after))
}

fn identifier(s: &str) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

/// `word` followed by at least one space, any case.
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let rest = strip_prefix_ci(s, word)?;
    rest.starts_with(' ').then(|| rest.trim_start())
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A single-quoted OData string at the start of `s` (`''` is one quote), and what follows.
fn literal(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('\'')?.char_indices().peekable();
    let body = &s[1..];
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            out.push(c);
            continue;
        }
        if chars.peek().is_some_and(|(_, n)| *n == '\'') {
            chars.next();
            out.push('\'');
            continue;
        }
        return Some((out, &body[i + 1..]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_forms_the_azure_cli_sends() {
        assert_eq!(
            parse("userPrincipalName eq 'grace@contoso.example'").unwrap(),
            vec![Clause::Eq(
                "userPrincipalName".into(),
                "grace@contoso.example".into()
            )]
        );
        assert_eq!(
            parse("displayName eq 'Ops' and mailNickname eq 'ops'").unwrap(),
            vec![
                Clause::Eq("displayName".into(), "Ops".into()),
                Clause::Eq("mailNickname".into(), "ops".into())
            ]
        );
        assert_eq!(
            parse("startswith(displayName,'O''Br')").unwrap(),
            vec![Clause::StartsWith("displayName".into(), "O'Br".into())]
        );
        assert_eq!(
            parse(" StartsWith( displayName , 'a b' ) AND displayName EQ 'x'").unwrap(),
            vec![
                Clause::StartsWith("displayName".into(), "a b".into()),
                Clause::Eq("displayName".into(), "x".into())
            ]
        );
        for bad in [
            "",
            "displayName eq Ops",
            "displayName ne 'x'",
            "displayName eq 'x' or id eq 'y'",
            "displayName eq 'x",
            "startswith(displayName,'x'",
            "displayName eq 'x' and",
            "displayName eq 'x'and id eq 'y'",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clauses_compare_ignoring_case() {
        let doc = json!({"displayName": "Ops Team", "mail": null});
        assert!(Clause::Eq("displayname".into(), "ops team".into()).holds(&doc));
        assert!(Clause::StartsWith("displayName".into(), "OPS".into()).holds(&doc));
        assert!(!Clause::Eq("mail".into(), "x".into()).holds(&doc));
        assert!(!Clause::StartsWith("displayName".into(), "Team".into()).holds(&doc));
    }
}
