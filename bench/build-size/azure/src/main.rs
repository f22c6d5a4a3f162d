//! A token for Microsoft Graph with azure_identity 1.x, from the Azure Identity variables: the
//! program bench/build_size.sh builds from clean, beside the same one with certgen.
use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::ClientSecretCredential;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let credential = ClientSecretCredential::new(
        &var("AZURE_TENANT_ID"),
        var("AZURE_CLIENT_ID"),
        Secret::new(var("AZURE_CLIENT_SECRET")),
        None,
    )?;
    let token = credential
        .get_token(&["https://graph.microsoft.com/.default"], None)
        .await?;
    println!("{:?}", token.expires_on);
    Ok(())
}
