//! Graph's application permissions (app roles on Microsoft Graph) that this crate knows about:
//! which ones let an app-only caller read what, and which one to ask an administrator for.
//! An emulator decides 200 or 403 from these lists, and a client can name the least
//! privileged one in its hint, so the two always agree.

/// Roles that let an app read every user (`GET /users`, `GET /users/{id}`). `User.Read.All`
/// is the least privileged (user-list.md; the Python daemon sample's troubleshooting).
/// Delegated scopes that let a signed-in user read their own profile (`/me`).
pub const READ_ME: &[&str] = &[
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// The application permissions that let an app read users.
pub const READ_USERS: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Roles that let an app read other apps' application objects (application-get.md). An app
/// reads its own object with no role at all.
pub const READ_APPLICATIONS: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Permissions that let a caller create, update and delete users
/// (<https://learn.microsoft.com/en-us/graph/api/user-post-users>,
/// <https://learn.microsoft.com/en-us/graph/api/user-update>,
/// <https://learn.microsoft.com/en-us/graph/api/user-delete>).
pub const WRITE_USERS: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];

/// Permissions that let a caller read groups and their members
/// (<https://learn.microsoft.com/en-us/graph/api/group-list>,
/// <https://learn.microsoft.com/en-us/graph/api/group-list-members>).
pub const READ_GROUPS: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Permissions that let a caller create, update and delete groups
/// (<https://learn.microsoft.com/en-us/graph/api/group-post-groups>,
/// <https://learn.microsoft.com/en-us/graph/api/group-update>,
/// <https://learn.microsoft.com/en-us/graph/api/group-delete>).
pub const WRITE_GROUPS: &[&str] = &["Group.ReadWrite.All", "Directory.ReadWrite.All"];

/// Permissions that let a caller add and remove group members
/// (<https://learn.microsoft.com/en-us/graph/api/group-post-members>,
/// <https://learn.microsoft.com/en-us/graph/api/group-delete-members>).
pub const WRITE_MEMBERS: &[&str] = &[
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// Permissions that let a caller list the groups a user is a member of
/// (<https://learn.microsoft.com/en-us/graph/api/user-list-memberof>).
pub const READ_MEMBERSHIPS: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Roles that let an app create, change and delete applications and service principals
/// (<https://learn.microsoft.com/en-us/graph/api/application-post-applications>,
/// <https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-serviceprincipals>).
/// `Application.ReadWrite.OwnedBy` also lets Graph's caller change the apps it owns; owners are
/// not modelled here, so it grants no write.
pub const WRITE_APPLICATIONS: &[&str] = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];

/// The role that lets an app grant and revoke app roles; Graph wants it together with one of
/// [`READ_APPLICATIONS`]
/// (<https://learn.microsoft.com/en-us/graph/api/serviceprincipal-post-approleassignedto>:
/// "AppRoleAssignment.ReadWrite.All and Application.Read.All").
pub const WRITE_APP_ROLE_ASSIGNMENTS: &[&str] = &["AppRoleAssignment.ReadWrite.All"];

/// Roles that let an app grant, change and revoke delegated permissions
/// (<https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-post>).
pub const WRITE_DELEGATED_GRANTS: &[&str] = &[
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// Roles that let an app read delegated permission grants
/// (<https://learn.microsoft.com/en-us/graph/api/oauth2permissiongrant-list>).
pub const READ_DELEGATED_GRANTS: &[&str] = &[
    "Directory.Read.All",
    "DelegatedPermissionGrant.ReadWrite.All",
    "Directory.ReadWrite.All",
];

/// Whether any of `granted` is among `accepted`.
pub fn allows(granted: &[&str], accepted: &[&str]) -> bool {
    granted.iter().any(|g| accepted.contains(g))
}

/// The least privileged application permission for reading the collection a Graph path
/// starts with (`/v1.0/users/…` → `User.Read.All`), when this crate knows it.
pub fn least_privileged_read(path: &str) -> Option<&'static str> {
    let first = path
        .trim_start_matches('/')
        .split('/')
        .find(|s| !s.is_empty() && !s.starts_with("v1.0") && !s.starts_with("beta"))?;
    // `applications(appId='…')` names the collection before its key.
    let collection = first.split('(').next().unwrap_or(first);
    Some(match collection.to_ascii_lowercase().as_str() {
        "users" => "User.Read.All",
        "applications" | "serviceprincipals" => "Application.Read.All",
        "groups" => "Group.Read.All",
        "devices" => "Device.Read.All",
        "sites" => "Sites.Read.All",
        "organization" | "directoryobjects" | "domains" => "Directory.Read.All",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_to_ask_for_follows_the_collection() {
        assert_eq!(least_privileged_read("/v1.0/users"), Some("User.Read.All"));
        assert_eq!(
            least_privileged_read("/v1.0/users/ada@contoso.example"),
            Some("User.Read.All")
        );
        assert_eq!(
            least_privileged_read("/v1.0/applications(appId='x')"),
            Some("Application.Read.All")
        );
        assert_eq!(
            least_privileged_read("/beta/groups"),
            Some("Group.Read.All")
        );
        assert_eq!(least_privileged_read("/v1.0/me"), None);
        assert!(allows(&["Directory.Read.All"], READ_USERS));
        assert!(!allows(&["Application.Read.All"], READ_USERS));
    }
}
