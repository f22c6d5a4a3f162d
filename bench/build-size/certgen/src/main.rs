//! A token for Microsoft Graph with certgen (no default features), from the Azure Identity
//! variables: the program bench/build_size.sh builds from clean.
use certgen::identity::{ClientSecretCredential, CredentialOptions, TokenCredential};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let credential = ClientSecretCredential::new(
        &var("AZURE_TENANT_ID"),
        &var("AZURE_CLIENT_ID"),
        certgen::Secret::new(var("AZURE_CLIENT_SECRET")),
        CredentialOptions::default(),
    )?;
    let token = credential
        .get_token(&["https://graph.microsoft.com/.default"], None)
        .await?;
    println!("{} s left", token.expires_in().as_secs());
    Ok(())
}
