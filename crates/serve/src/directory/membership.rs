//! Groups as the rest of the directory sees them: the groups a user or service principal is in,
//! what a user's token says about them (`groups`, `roles` through a group), and what goes with
//! an object when it is deleted (its memberships and role assignments).

use std::collections::HashSet;

use serde_json::Value;

use super::objects::{role_value, str_of};
use super::store::{Change, Kind, Object, StoreResult};
use super::Directory;

/// The most groups followed when membership is resolved through nested groups: far more than
/// the 200 a token can carry, and a bound on a pathological nesting.
const MAX_GROUPS_WALKED: usize = 5_000;

/// What a signed-in user's token says about their groups and roles, for one application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClaims {
    /// `groups`: the group object ids the app's `groupMembershipClaims` asks for; `None` when
    /// it asks for none.
    pub groups: Option<Vec<String>>,
    /// `roles`: the app's roles assigned to the user or to a group the user is a direct
    /// member of.
    pub roles: Vec<String>,
}

/// Which groups `groupMembershipClaims` asks for
/// (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-app-manifest#groupmembershipclaims-attribute>):
/// `SecurityGroup` — security groups; `All` — security groups, distribution lists and
/// directory roles (no directory roles are held here); `ApplicationGroup` — only groups
/// assigned to the application. `None`, `DirectoryRole`, absent: no groups. Several may be
/// given, comma-separated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupSetting {
    pub security: bool,
    pub all: bool,
    pub assigned_only: bool,
}

impl GroupSetting {
    pub fn of(application: &Value) -> GroupSetting {
        let mut s = GroupSetting::default();
        for part in str_of(application, "groupMembershipClaims").split(',') {
            match part.trim().to_ascii_lowercase().as_str() {
                "securitygroup" => s.security = true,
                "all" => s.all = true,
                "applicationgroup" => s.assigned_only = true,
                _ => {}
            }
        }
        s
    }

    fn any(self) -> bool {
        self.security || self.all || self.assigned_only
    }
}

impl Directory {
    /// The groups `member_id` is a direct member of.
    pub fn groups_of(&self, member_id: &str) -> StoreResult<Vec<Object>> {
        let mut out = Vec::new();
        for m in self.find(Kind::Member, "member", member_id)? {
            if let Some(g) = self.get(Kind::Group, str_of(&m.doc, "groupId"))? {
                out.push(g);
            }
        }
        Ok(out)
    }

    /// The groups `member_id` is in directly or through nested groups (each once).
    pub fn transitive_groups(&self, member_id: &str) -> StoreResult<Vec<Object>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut next = vec![member_id.to_ascii_lowercase()];
        while let Some(id) = next.pop() {
            for g in self.groups_of(&id)? {
                if out.len() >= MAX_GROUPS_WALKED {
                    return Ok(out);
                }
                if seen.insert(g.id.clone()) {
                    next.push(g.id.clone());
                    out.push(g);
                }
            }
        }
        Ok(out)
    }

    /// The `groups` and `roles` of a token for `user_id` issued on behalf of the application
    /// `app_id` (the client's for an id token, the resource's for an access token).
    pub fn user_claims(&self, user_id: &str, app_id: &str) -> StoreResult<UserClaims> {
        let Some(application) = self.find(Kind::Application, "appId", app_id)?.pop() else {
            return Ok(UserClaims::default());
        };
        let sp = self.find(Kind::ServicePrincipal, "appId", app_id)?.pop();
        let setting = GroupSetting::of(&application.doc);
        let direct = self.groups_of(user_id)?;
        // An app role assigned to a group reaches the group's direct members; nested groups do
        // not pass it on (https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/assign-user-or-group-access-portal).
        let mut roles = Vec::new();
        let mut assigned_groups = HashSet::new();
        if let Some(sp) = &sp {
            let mut principals = vec![user_id.to_ascii_lowercase()];
            principals.extend(direct.iter().map(|g| g.id.clone()));
            for principal in principals {
                for a in self.find(Kind::AppRoleAssignment, "principalId", &principal)? {
                    if !str_of(&a.doc, "resourceId").eq_ignore_ascii_case(&sp.id) {
                        continue;
                    }
                    if principal != user_id.to_ascii_lowercase() {
                        assigned_groups.insert(principal.clone());
                    }
                    if let Some(v) = role_value(&sp.doc, str_of(&a.doc, "appRoleId")) {
                        if !v.is_empty() && !roles.iter().any(|r| r == v) {
                            roles.push(v.to_string());
                        }
                    }
                }
            }
        }
        let groups = if setting.any() {
            let all = self.transitive_groups(user_id)?;
            Some(
                all.iter()
                    .filter(|g| {
                        setting.all
                            || (setting.security
                                && g.doc.get("securityEnabled").and_then(Value::as_bool)
                                    == Some(true))
                            || (setting.assigned_only && assigned_groups.contains(&g.id))
                    })
                    .map(|g| g.id.clone())
                    .collect(),
            )
        } else {
            None
        };
        Ok(UserClaims { groups, roles })
    }
}

/// The changes that remove what goes with a deleted user, group or service principal: its
/// memberships either way (as a member, and as the group), and the app roles assigned to it.
pub fn dependents(directory: &Directory, id: &str) -> StoreResult<Vec<Change>> {
    let mut out = Vec::new();
    for index in ["member", "group"] {
        for m in directory.find(Kind::Member, index, id)? {
            out.push(Change::Delete(Kind::Member, m.id));
        }
    }
    for a in directory.find(Kind::AppRoleAssignment, "principalId", id)? {
        out.push(Change::Delete(Kind::AppRoleAssignment, a.id));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::directory::objects::{application_doc, member, object, service_principal_doc};
    use crate::directory::sqlite::SqliteStore;
    use crate::directory::Origin;

    fn group(id: &str, security: bool) -> Object {
        object(
            Kind::Group,
            id,
            Origin::Graph,
            json!({"id": id, "displayName": id, "securityEnabled": security}),
            json!({}),
        )
    }

    #[test]
    fn nested_groups_reach_the_groups_claim_and_direct_ones_the_roles() {
        let d = Directory::with_store(Box::new(SqliteStore::in_memory().unwrap()), 0);
        let app = application_doc(
            "a0",
            "c11e0000-0000-4000-8000-000000000001",
            "api",
            json!({
                "groupMembershipClaims": "SecurityGroup",
                "appRoles": [{"id": "r1", "value": "Things.Admin", "isEnabled": true}],
            })
            .as_object()
            .unwrap(),
        );
        let sp = service_principal_doc("s0", &app);
        let assign = |id: &str, principal: &str, role: &str| {
            Change::Put(object(
                Kind::AppRoleAssignment,
                id,
                Origin::Graph,
                json!({"principalId": principal, "resourceId": "s0", "appRoleId": role}),
                json!({}),
            ))
        };
        d.write(vec![
            Change::Put(object(
                Kind::Application,
                "a0",
                Origin::Graph,
                app,
                json!({}),
            )),
            Change::Put(object(
                Kind::ServicePrincipal,
                "s0",
                Origin::Graph,
                sp,
                json!({}),
            )),
            Change::Put(group("g-direct", true)),
            Change::Put(group("g-outer", true)),
            Change::Put(group("g-mail", false)),
            Change::Put(member("g-direct", "u1", "User", Origin::Graph)),
            Change::Put(member("g-mail", "u1", "User", Origin::Graph)),
            Change::Put(member("g-outer", "g-direct", "Group", Origin::Graph)),
            // A cycle must not loop.
            Change::Put(member("g-direct", "g-outer", "Group", Origin::Graph)),
            assign("as1", "g-outer", "r1"),
        ])
        .unwrap();
        let claims = d
            .user_claims("u1", "c11e0000-0000-4000-8000-000000000001")
            .unwrap();
        let mut groups = claims.groups.unwrap();
        groups.sort();
        assert_eq!(groups, ["g-direct", "g-outer"]);
        // The role is the nested group's: not passed on to members of its members.
        assert!(claims.roles.is_empty());
        d.write(vec![assign("as2", "g-direct", "r1")]).unwrap();
        let claims = d
            .user_claims("U1", "C11E0000-0000-4000-8000-000000000001")
            .unwrap();
        assert_eq!(claims.roles, ["Things.Admin"]);
        // Deleting the user takes its memberships and assignments along.
        d.write(vec![assign("as3", "u1", "r1")]).unwrap();
        let gone = dependents(&d, "u1").unwrap();
        assert_eq!(gone.len(), 3, "{gone:?}");
    }

    #[test]
    fn settings_as_the_manifest_spells_them() {
        let of = |v: Value| GroupSetting::of(&json!({ "groupMembershipClaims": v }));
        assert!(of(json!("SecurityGroup")).security);
        assert!(of(json!("All")).all);
        assert!(of(json!("SecurityGroup, ApplicationGroup")).assigned_only);
        assert!(!of(json!("None")).any());
        assert!(!of(json!("DirectoryRole")).any());
        assert!(!of(Value::Null).any());
    }
}
