//! Flags people bring from `az`, MSAL and Azure Identity samples. certgen has none of them on
//! purpose — a secret given as a flag value is visible in `ps` and kept in shell history — so
//! instead of clap's nearest-spelling guess (`--client-secret` → `--client-id`), the hint
//! names the safe way to give the same thing.

/// The hint for an unknown flag `flag` of the subcommand `command`, if it is a known one.
pub fn hint(command: Option<&str>, flag: &str) -> Option<&'static str> {
    let flag = flag.split_once('=').map_or(flag, |(name, _)| name);
    Some(match (command, flag) {
        (_, "--client-secret" | "--secret" | "--client_secret") => {
            "certgen never takes a secret as a flag value (ps and shell history would show \
             it): use --secret-file FILE, --secret-file - (stdin) or AZURE_CLIENT_SECRET"
        }
        (_, "--password" | "--pass" | "--certificate-password" | "-p") => {
            "certgen never takes a password as a flag value (ps and shell history would show \
             it): use --password-file FILE, --password-file - (stdin) or \
             AZURE_CLIENT_CERTIFICATE_PASSWORD"
        }
        (Some("token"), "--json") => "use --output json",
        (Some("token"), "--certificate" | "--certificate-path" | "--cert-path") => {
            "use --cert FILE (with --key FILE if the key is separate) or --pfx FILE"
        }
        _ => return None,
    })
}
