//! Microsoft's own resource APIs, which exist in every Entra tenant as service principals of
//! Microsoft's first-party apps: any app of the tenant may ask a token for them, and an app-only
//! token carries only the app roles granted (none, for the Azure ones: access there is Azure RBAC,
//! not app roles). All four issue v1-shaped tokens, as the live ones do.
//!
//! App ids and identifier URIs: <https://learn.microsoft.com/en-us/troubleshoot/entra/entra-id/governance/verify-first-party-apps-sign-in>
//! (the first-party application ids) and the resources of the Azure SDKs' scopes
//! (<https://learn.microsoft.com/en-us/rest/api/azure/#create-the-request> for Resource Manager,
//! <https://learn.microsoft.com/en-us/azure/key-vault/general/authentication> for Key Vault,
//! <https://learn.microsoft.com/en-us/rest/api/storageservices/authorize-with-azure-active-directory>
//! for Storage).

use super::model::{name_based_guid, Resource, TokenVersion, GRAPH_APP_ID, GRAPH_URI};

/// Azure Service Management: Resource Manager's token audience (`az login` asks for
/// `https://management.core.windows.net//.default`).
pub const AZURE_SERVICE_MANAGEMENT_APP_ID: &str = "797f4846-ba00-4fd7-ba43-dac1f8f63013";
/// Its two identifier URIs, as the Azure CLI and the Azure SDKs name it.
pub const AZURE_SERVICE_MANAGEMENT_URIS: [&str; 2] = [
    "https://management.core.windows.net/",
    "https://management.azure.com/",
];
pub const AZURE_KEY_VAULT_APP_ID: &str = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";
pub const AZURE_STORAGE_APP_ID: &str = "e406a681-f3d4-42a8-90b6-c2b029497af1";
/// The Entra portal's API ("ADIbizaUX"): `az ad app permission admin-consent` asks a token for
/// it by app id (`azure/cli/command_modules/role/custom.py`). UNCONFIRMED: the display name, and
/// that it has no identifier URI (the CLI only ever names it by app id).
pub const PORTAL_API_APP_ID: &str = "74658136-14ec-4630-ad9b-26e160ff0fc6";
/// The AAD Token Exchange app: a managed identity's token for `api://AzureADTokenExchange` is a
/// federated credential of an app (<https://learn.microsoft.com/en-us/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity>).
/// UNCONFIRMED: that this is the app id such tokens carry as `aud`, and that they are v2
/// (`iss` `…/{tid}/v2.0`); chosen as the shared plan for issues 21 and 22 says.
pub const TOKEN_EXCHANGE_APP_ID: &str = "fb60f99c-7a34-4190-8149-302f77469936";
pub const TOKEN_EXCHANGE_URI: &str = "api://AzureADTokenExchange";

/// The resources every tenant has, Microsoft Graph first.
pub fn resources() -> Vec<Resource> {
    let resource = |app_id: &str, display_name: &str, uris: &[&str]| Resource {
        app_id: app_id.into(),
        display_name: display_name.into(),
        identifier_uris: uris.iter().map(|u| u.to_string()).collect(),
        // Graph: "any" role or scope may be granted (its permission reference is long).
        roles: Vec::new(),
        scopes: Vec::new(),
        token_version: TokenVersion::V1,
    };
    vec![
        // Graph's tokens are v1 (`ver` 1.0, `aud` https://graph.microsoft.com), as live.
        resource(GRAPH_APP_ID, "Microsoft Graph", &[GRAPH_URI]),
        resource(
            AZURE_SERVICE_MANAGEMENT_APP_ID,
            "Windows Azure Service Management API",
            &AZURE_SERVICE_MANAGEMENT_URIS,
        ),
        resource(
            AZURE_KEY_VAULT_APP_ID,
            "Azure Key Vault",
            &["https://vault.azure.net"],
        ),
        resource(
            AZURE_STORAGE_APP_ID,
            "Azure Storage",
            &["https://storage.azure.com"],
        ),
        resource(PORTAL_API_APP_ID, "ADIbizaUX", &[]),
        Resource {
            token_version: TokenVersion::V2,
            ..resource(
                TOKEN_EXCHANGE_APP_ID,
                "AAD Token Exchange",
                &[TOKEN_EXCHANGE_URI],
            )
        },
    ]
}

/// Whether `app_id` is one of [`resources`].
pub fn is_microsoft(app_id: &str) -> bool {
    [
        GRAPH_APP_ID,
        AZURE_SERVICE_MANAGEMENT_APP_ID,
        AZURE_KEY_VAULT_APP_ID,
        AZURE_STORAGE_APP_ID,
        PORTAL_API_APP_ID,
        TOKEN_EXCHANGE_APP_ID,
    ]
    .iter()
    .any(|id| id.eq_ignore_ascii_case(app_id))
}

// The ids Microsoft Graph gives its own permissions. Scripts and the Azure CLI name Graph's
// app roles and scopes by these GUIDs (`az ad app permission add --api-permissions
// df021288-…=Role`), so Graph's service principal here carries them, as in every tenant.
// Source: <https://learn.microsoft.com/en-us/graph/permissions-reference> (each permission's
// "Identifier" row).

/// Application permissions (app roles): value → id.
pub const GRAPH_ROLES: &[(&str, &str)] = &[
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca"),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
    (
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
    ),
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    ),
    (
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    ),
    (
        "Application.ReadWrite.OwnedBy",
        "18a4783c-866b-4cc7-a460-3d5e5662c884",
    ),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"),
    (
        "Group.ReadWrite.All",
        "62a82d76-70ea-41e2-9197-370581804d09",
    ),
    (
        "GroupMember.Read.All",
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    ),
    (
        "GroupMember.ReadWrite.All",
        "dbaae8cf-10b5-4b86-a4a1-f871c94c6695",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
    ),
    (
        "DelegatedPermissionGrant.ReadWrite.All",
        "8e8e4742-1d95-4f68-9d56-6ee75648c72a",
    ),
];

/// Delegated permissions (scopes): value → id.
pub const GRAPH_SCOPES: &[(&str, &str)] = &[
    ("User.Read", "e1fe6dd8-ba31-4d61-89e7-88639da4683d"),
    ("User.Read.All", "a154be20-db9c-4678-8ab7-66f6cc099a59"),
    ("User.ReadBasic.All", "b340eb25-3456-403f-be2f-af7a0d370277"),
    ("Directory.Read.All", "06da0dbc-49e2-44d2-8312-53f166ab848a"),
    ("Group.Read.All", "5f8c59db-677d-491f-a6b8-5f174b11ec1d"),
    ("openid", "37f7f235-527c-4136-accd-4a02d197296e"),
    ("profile", "14dad69e-099b-42c9-810b-d002981feec1"),
    ("email", "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0"),
    ("offline_access", "7427e0e9-2fba-42fe-b0c0-848c9e6a8182"),
];

/// The id of a resource's app role or scope named `value`: Graph's own where it has one, else
/// one derived from the resource and the name, stable across starts.
pub fn permission_id(resource_app_id: &str, value: &str, scope: bool) -> String {
    if resource_app_id.eq_ignore_ascii_case(GRAPH_APP_ID) {
        let table = if scope { GRAPH_SCOPES } else { GRAPH_ROLES };
        if let Some((_, id)) = table.iter().find(|(v, _)| v.eq_ignore_ascii_case(value)) {
            return (*id).to_string();
        }
    }
    let what = if scope { "scope" } else { "app role" };
    name_based_guid(&format!(
        "{what} {} {value}",
        resource_app_id.to_ascii_lowercase()
    ))
}
