//! `[[managed_identity]]`: the managed identities the platform endpoints (App Service, IMDS)
//! give tokens to. Each is a service principal of type `ManagedIdentity` with no application
//! object, as in Entra (<https://learn.microsoft.com/en-us/entra/identity/managed-identities-azure-resources/overview>).

use std::collections::{HashMap, HashSet};

use super::checks::{grant, guid, Permission};
use super::model::{
    find_tenant, name_based_guid, App, ManagedIdentity, ManagedIdentityKind, Resource,
    Subscription, Tenant,
};
use super::schema::ManagedIdentityEntry;
use crate::error::{Result, ServeError};

/// The provider segment of a user-assigned identity's resource id
/// (<https://learn.microsoft.com/en-us/rest/api/managedidentity/user-assigned-identities/get>).
const USER_ASSIGNED_PROVIDER: &str = "/providers/microsoft.managedidentity/userassignedidentities/";

/// The file's managed identities, checked: ids are GUIDs, none is an app's too or given twice,
/// a user-assigned one names its resource id, roles are on registered resources.
pub(super) fn from_file(
    entries: &[ManagedIdentityEntry],
    tenants: &[Tenant],
    resources: &[Resource],
    apps: &[App],
    subscriptions: &[Subscription],
) -> Result<Vec<ManagedIdentity>> {
    let mut out: Vec<ManagedIdentity> = Vec::new();
    let mut ids = HashSet::new();
    for a in apps {
        ids.insert(a.client_id.clone());
        ids.insert(a.object_id.clone());
    }
    for e in entries {
        let client_id = guid(&e.client_id, "managed_identity client_id")?;
        let who = format!("managed identity {client_id}");
        let kind = match e.kind.as_str() {
            "system" => ManagedIdentityKind::System,
            "user" => ManagedIdentityKind::User,
            other => {
                return Err(ServeError::Invalid(format!(
                    "{who}: kind '{other}' is not \"system\" or \"user\""
                )))
            }
        };
        let principal_id = match &e.principal_id {
            Some(p) => guid(p, "managed_identity principal_id")?,
            None => name_based_guid(&format!("managed identity {client_id}")),
        };
        for id in [&client_id, &principal_id] {
            if !ids.insert(id.clone()) {
                return Err(ServeError::Invalid(format!(
                    "{who}: the id {id} is already an app's or another managed identity's"
                )));
            }
        }
        let tenant = match &e.tenant {
            None => &tenants[0],
            Some(t) => find_tenant(tenants, t).ok_or_else(|| {
                ServeError::Invalid(format!(
                    "{who}: tenant '{t}' is not a [[tenant]] of the config file"
                ))
            })?,
        };
        let resource_id = match (kind, &e.resource_id) {
            (ManagedIdentityKind::User, None) => {
                return Err(ServeError::Invalid(format!(
                    "{who}: a user-assigned identity needs its resource_id \
                     (/subscriptions/SUB/resourceGroups/RG/providers/\
                     Microsoft.ManagedIdentity/userAssignedIdentities/NAME)"
                )))
            }
            (ManagedIdentityKind::User, Some(r)) => {
                if !is_user_assigned_id(r) {
                    return Err(ServeError::Invalid(format!(
                        "{who}: resource_id '{r}' is not a user-assigned identity's \
                         (/subscriptions/SUB/resourceGroups/RG/providers/\
                         Microsoft.ManagedIdentity/userAssignedIdentities/NAME)"
                    )));
                }
                r.clone()
            }
            (ManagedIdentityKind::System, Some(r)) if r.starts_with("/subscriptions/") => r.clone(),
            (ManagedIdentityKind::System, Some(r)) => {
                return Err(ServeError::Invalid(format!(
                    "{who}: resource_id '{r}' is not an Azure resource id (/subscriptions/…)"
                )))
            }
            // A system-assigned identity belongs to one Azure resource, and its tokens name
            // it in `xms_mirid`. None named: a VM in the tenant's first subscription (or a
            // stable made-up one), so tokens still carry a well-formed id.
            (ManagedIdentityKind::System, None) => {
                let subscription = subscriptions
                    .iter()
                    .find(|s| s.tenant_id == tenant.id)
                    .map(|s| s.id.clone())
                    .unwrap_or_else(|| name_based_guid(&format!("subscription {}", tenant.id)));
                format!(
                    "/subscriptions/{subscription}/resourceGroups/certgen/providers/\
                     Microsoft.Compute/virtualMachines/vm-{}",
                    &client_id[..8]
                )
            }
        };
        if out
            .iter()
            .any(|m| m.resource_id.eq_ignore_ascii_case(&resource_id))
        {
            return Err(ServeError::Invalid(format!(
                "{who}: resource_id '{resource_id}' is another managed identity's too"
            )));
        }
        // Entra names a managed identity's service principal after its resource (the
        // identity's or the VM's name): the last segment of the resource id.
        let display_name = e.display_name.clone().unwrap_or_else(|| {
            resource_id
                .rsplit('/')
                .next()
                .unwrap_or(&client_id)
                .to_string()
        });
        let mut roles = HashMap::new();
        for (resource, names) in &e.roles {
            grant(
                &who,
                &mut roles,
                resources,
                resource,
                names,
                Permission::Role,
            )?;
        }
        out.push(ManagedIdentity {
            kind,
            client_id,
            principal_id,
            resource_id,
            display_name,
            tenant_id: tenant.id.clone(),
            roles,
        });
    }
    Ok(out)
}

/// `/subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/
/// userAssignedIdentities/{name}`, any case (resource ids are case-insensitive).
fn is_user_assigned_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("/subscriptions/") else {
        return false;
    };
    let Some((subscription, rest)) = rest.split_once("/resourcegroups/") else {
        return false;
    };
    let Some((group, name)) = rest.split_once(USER_ASSIGNED_PROVIDER) else {
        return false;
    };
    uuid::Uuid::parse_str(subscription).is_ok()
        && !group.is_empty()
        && !group.contains('/')
        && !name.is_empty()
        && !name.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Flags, Registry};
    use std::path::Path;

    const UAMI: &str = "/subscriptions/9b1f4a3c-2d5e-4f60-8a7b-0c1d2e3f4a5b/resourceGroups/rg/\
                        providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-mi";

    fn load(toml: &str) -> Result<Registry> {
        Registry::from_toml(toml, "t", Path::new(""), &Flags::default(), &|_| None)
    }

    #[test]
    fn system_and_user_assigned_identities() {
        let r = load(&format!(
            "[[managed_identity]]\nkind = \"system\"\n\
             client_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\n\
             [managed_identity.roles]\n\"https://graph.microsoft.com\" = [\"User.Read.All\"]\n\
             [[managed_identity]]\nkind = \"user\"\n\
             client_id = \"aaaaaaaa-0000-4000-8000-000000000002\"\n\
             principal_id = \"bbbbbbbb-0000-4000-8000-000000000002\"\n\
             resource_id = \"{UAMI}\"\n"
        ))
        .unwrap();
        let [system, user] = &r.managed_identities[..] else {
            panic!("{:?}", r.managed_identities)
        };
        assert_eq!(system.kind, ManagedIdentityKind::System);
        assert!(
            system
                .resource_id
                .contains("/providers/Microsoft.Compute/virtualMachines/vm-aaaaaaaa"),
            "{}",
            system.resource_id
        );
        assert_eq!(
            system.roles["00000003-0000-0000-c000-000000000000"],
            ["User.Read.All"]
        );
        assert_eq!(user.display_name, "orders-mi");
        assert_eq!(user.principal_id, "bbbbbbbb-0000-4000-8000-000000000002");
        assert_eq!(user.resource_id, UAMI);
    }

    #[test]
    fn refusals() {
        for (toml, why) in [
            (
                "[[managed_identity]]\nkind = \"user\"\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\n".to_string(),
                "needs its resource_id",
            ),
            (
                "[[managed_identity]]\nkind = \"user\"\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\nresource_id = \"/subscriptions/x/vm\"\n".to_string(),
                "is not a user-assigned identity's",
            ),
            (
                "[[managed_identity]]\nkind = \"vm\"\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\n".to_string(),
                "is not \"system\" or \"user\"",
            ),
            (
                "[[managed_identity]]\nkind = \"system\"\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\n\
                 [[managed_identity]]\nkind = \"system\"\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\n".to_string(),
                "already an app's or another managed identity's",
            ),
            (
                "[[managed_identity]]\nkind = \"system\"\nclient_id = \"aaaaaaaa-0000-4000-8000-000000000001\"\n\
                 [managed_identity.roles]\n\"api://nowhere\" = [\"X\"]\n".to_string(),
                "not a registered resource",
            ),
        ] {
            let e = load(&toml).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }
}
