//! `certgen proof`: the proof-of-possession JWT of Graph's addKey/removeKey.

use super::error::Result;
use certgen::graph::proof::{self, MAX_LIFETIME_SECS};
use clap::Args;
use serde_json::json;

use super::credential_args::CredentialArgs;
use super::output;

/// Sign the proof-of-possession JWT that Graph's addKey and removeKey demand.
///
/// RS256, header typ, alg, x5t and kid (the hex thumbprint, as Microsoft's .NET sample sends);
/// claims aud = 00000002-0000-0000-c000-000000000000, iss = the application's OBJECT id (not
/// its appId), nbf = now, exp = nbf + --lifetime; no base64 padding. Sign it with a certificate
/// that is registered and valid on that application.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
certgen proof --object-id $APP_OBJECT_ID --cert app.crt --key app.key | certgen decode")]
pub struct ProofArgs {
    /// The application's object id (Overview page: Object ID; Graph: the application's `id`)
    #[arg(long, value_name = "OID")]
    object_id: String,
    #[command(flatten)]
    credential: CredentialArgs,
    /// Seconds from nbf to exp, at most 600
    #[arg(long, value_name = "SECS", default_value_t = MAX_LIFETIME_SECS,
          value_parser = clap::value_parser!(u64).range(1..=MAX_LIFETIME_SECS))]
    lifetime: u64,
    /// Print {"proof", "header", "claims"}
    #[arg(long)]
    json: bool,
}

pub fn run(args: ProofArgs) -> Result<()> {
    let cred = args.credential.load()?;
    let p = proof::sign(&cred, &args.object_id, args.lifetime)?;
    if args.json {
        return output::print_json(&json!({
            "proof": p.jwt,
            "header": p.header,
            "claims": p.claims,
        }));
    }
    output::write_stdout(&format!("{}\n", p.jwt))
}
