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

use super::model::{Resource, TokenVersion, GRAPH_APP_ID, GRAPH_URI};

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
    ]
    .iter()
    .any(|id| id.eq_ignore_ascii_case(app_id))
}
