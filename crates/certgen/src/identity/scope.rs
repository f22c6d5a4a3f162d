//! Scope rules of the client-credentials flow toward Entra, checked before any request.
//!
//! Entra grants an application token for one resource at a time, with every app role the
//! application holds on it; the only scope form it accepts is `{resource}/.default`
//! (AADSTS1002012 / AADSTS70011 otherwise, AADSTS700022 for several resources). Checking
//! locally turns a round trip and a cryptic code into a precise message.

use crate::error::{Error, InputKind, Result};

/// The scope requested when none is given.
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

const DEFAULT_SUFFIX: &str = "/.default";

/// The resource a `{resource}/.default` scope names, or `None` for any other form.
pub fn resource_of(scope: &str) -> Option<&str> {
    scope
        .strip_suffix(DEFAULT_SUFFIX)
        .filter(|resource| !resource.trim().is_empty())
}

/// Checks scopes bound for an Entra authority: at least one, each `{resource}/.default`, and
/// all for the same resource. Returns that resource.
pub fn check_for_entra(scopes: &[String]) -> Result<String> {
    let Some(first) = scopes.first() else {
        return Err(Error::input(InputKind::NoScope, "no scope to request"));
    };
    for scope in scopes {
        if resource_of(scope).is_none() {
            return Err(Error::input(InputKind::NotDefaultScope, format!(
                "scope {scope:?} is not of the form RESOURCE/.default, which is the only form the client-credentials flow accepts"
            )));
        }
    }
    let resource = resource_of(first).unwrap_or_default();
    let mut all: Vec<&str> = Vec::new();
    for r in scopes.iter().filter_map(|s| resource_of(s)) {
        if !all.contains(&r) {
            all.push(r);
        }
    }
    if all.len() > 1 {
        return Err(Error::input(
            InputKind::SeveralResources,
            format!(
                "the scopes name {} resources ({}); one token is for one resource",
                all.len(),
                all.join(", ")
            ),
        ));
    }
    Ok(resource.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_default_scope_names_graph() {
        assert_eq!(
            check_for_entra(&v(&[DEFAULT_SCOPE])).unwrap(),
            "https://graph.microsoft.com"
        );
    }

    #[test]
    fn app_id_and_api_uri_forms_are_accepted() {
        let id = "api://11111111-2222-3333-4444-555555555555/.default";
        assert_eq!(
            check_for_entra(&v(&[id, id])).unwrap(),
            "api://11111111-2222-3333-4444-555555555555"
        );
        // Azure Resource Manager's resource ends in a slash, so its scope has two.
        assert_eq!(
            check_for_entra(&v(&["https://management.azure.com//.default"])).unwrap(),
            "https://management.azure.com/"
        );
    }

    #[test]
    fn a_delegated_scope_is_refused_with_the_reason() {
        let e = check_for_entra(&v(&["User.Read"])).unwrap_err();
        assert!(e.message().contains("\"User.Read\""), "{}", e.message());
        assert!(e.message().contains("RESOURCE/.default"));
        assert_eq!(e.input_kind(), Some(&InputKind::NotDefaultScope));
    }

    #[test]
    fn a_bare_default_is_refused() {
        assert!(check_for_entra(&v(&["/.default"])).is_err());
    }

    #[test]
    fn two_resources_are_refused_and_named() {
        let e = check_for_entra(&v(&[
            "https://graph.microsoft.com/.default",
            "https://vault.azure.net/.default",
        ]))
        .unwrap_err();
        assert!(e.message().contains("2 resources"), "{}", e.message());
        assert!(e.message().contains("https://vault.azure.net"));
    }

    #[test]
    fn no_scope_is_refused() {
        assert!(check_for_entra(&[]).is_err());
    }
}
