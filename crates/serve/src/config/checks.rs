//! The checks a configured value passes wherever it is written — an app's `[[app]]` or a
//! `[[managed_identity]]`: a GUID, and a grant of roles or scopes on a registered resource.

use std::collections::HashMap;

use super::model::{find_resource, Resource};
use crate::error::{Result, ServeError};

/// A configured GUID in its canonical (lowercase, hyphenated) form; `what` names the field.
pub(super) fn guid(value: &str, what: &str) -> Result<String> {
    uuid::Uuid::parse_str(value.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ServeError::Argument(format!("{what} '{value}' is not a GUID")))
}

/// What an app is given on a resource: app roles (`[app.roles]`, application permissions) or
/// delegated scopes (`[app.delegated]`).
#[derive(Clone, Copy)]
pub(super) enum Permission {
    Role,
    Scope,
}

impl Permission {
    /// What the resource defines of this kind; empty means "any" (Microsoft Graph here).
    fn defined(self, r: &Resource) -> &[String] {
        match self {
            Permission::Role => &r.roles,
            Permission::Scope => &r.scopes,
        }
    }

    /// Roles match as written (they are copied into `roles` claims); scope names, as Entra
    /// reads a `scope` parameter, in any case.
    fn same(self, a: &str, b: &str) -> bool {
        match self {
            Permission::Role => a == b,
            Permission::Scope => a.eq_ignore_ascii_case(b),
        }
    }
}

/// Gives `who` (`app {client_id}`, `managed identity {client_id}`: for messages) the `names`
/// (roles or scopes, per `kind`) of `resource` (app id or identifier URI), in `map` by the
/// resource's app id; each must be one the resource defines, and a scope a bare name.
pub(super) fn grant(
    who: &str,
    map: &mut HashMap<String, Vec<String>>,
    resources: &[Resource],
    resource: &str,
    names: &[String],
    kind: Permission,
) -> Result<()> {
    let (given, one, defined) = match kind {
        Permission::Role => ("roles are granted", "role", "defined"),
        Permission::Scope => ("delegated scopes are consented", "scope", "exposed"),
    };
    let Some(r) = find_resource(resources, resource) else {
        return Err(ServeError::UnknownResource {
            message: format!("{who}: {given} on '{resource}', which is not a registered resource"),
        });
    };
    for name in names {
        let bare = !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('/');
        if matches!(kind, Permission::Scope) && !bare {
            return Err(ServeError::Invalid(format!(
                "{who}: delegated scope '{name}' must be a bare scope name such as \
                 User.Read (the resource is the table key)"
            )));
        }
        let list = kind.defined(r);
        if !list.is_empty() && !list.iter().any(|d| kind.same(d, name)) {
            return Err(ServeError::Invalid(format!(
                "{who}: {one} '{name}' is not {defined} by resource '{}'",
                r.display_name
            )));
        }
    }
    map.entry(r.app_id.clone())
        .or_default()
        .extend(names.iter().cloned());
    Ok(())
}
