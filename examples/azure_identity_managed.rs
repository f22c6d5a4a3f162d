//! Code written for a managed identity with the Azure SDK for Rust, unchanged: `azure_identity`'s
//! `ManagedIdentityCredential`, configured by the environment only (`IDENTITY_ENDPOINT` and
//! `IDENTITY_HEADER`). Run by the tests against `certgen serve`
//! (tests/it/serve/managed_identity_clients.rs).
//!
//! `azure_identity_managed SCOPE [client_id|object_id|resource_id ID]`: prints the access
//! token on stdout, or the SDK's error on stderr and exits 1.

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (scope, selector) = match args.as_slice() {
        [scope] => (scope.clone(), None),
        [scope, kind, id] => (
            scope.clone(),
            Some(match kind.as_str() {
                "client_id" => UserAssignedId::ClientId(id.clone()),
                "object_id" => UserAssignedId::ObjectId(id.clone()),
                "resource_id" => UserAssignedId::ResourceId(id.clone()),
                other => {
                    eprintln!("error: unknown selector {other}");
                    std::process::exit(2)
                }
            }),
        ),
        _ => {
            eprintln!("usage: azure_identity_managed SCOPE [client_id|object_id|resource_id ID]");
            std::process::exit(2)
        }
    };
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id: selector,
        ..Default::default()
    };
    let result = match ManagedIdentityCredential::new(Some(options)) {
        Ok(credential) => credential.get_token(&[scope.as_str()], None).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(token) => println!("{}", token.token.secret()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}
