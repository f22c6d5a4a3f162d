//! What `certgen serve`'s command line registers beside the file: tenants, and apps with a
//! certificate or a secret's variable. The loader reads it into the model; the sources record
//! it, so a later start knows whether it changed.

/// Registrations given as flags.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--tenant`: GUIDs or DNS names.
    pub tenants: Vec<String>,
    /// `--app CLIENT_ID=CERT_FILE`.
    pub app_certs: Vec<(String, std::path::PathBuf)>,
    /// `--app-secret CLIENT_ID=ENV_VAR`.
    pub app_secrets: Vec<(String, String)>,
}
