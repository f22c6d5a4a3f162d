//! `certgen credential list | add | remove`: the certificates registered on the app, managed by
//! the app itself through Graph with no administrator and no Graph permission.

use super::error::{CliError as Error, Result};
use std::path::PathBuf;

use certgen::certificate::rfc3339;
use certgen::credential::{Credential, ENV_CERTIFICATE_PASSWORD, ENV_CERTIFICATE_PATH};
use certgen::graph::app_keys::{check_addable, KeyState, RegisteredKey};
use certgen::input;
use certgen::rotate::remove_confirmed;
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::assertion::env_value;
use super::credential_args::passwords;
use super::graph_session::{GraphArgs, Session};
use super::output;
use certgen::graph::AppKeys;

/// The certificates registered on the app itself: list, add, remove (Graph addKey/removeKey).
///
/// The app reads its own application object and calls addKey/removeKey with a proof signed by
/// its local certificate: no administrator and no Graph permission are needed, as long as one
/// registered certificate is still valid.
#[derive(Debug, Args)]
pub struct CredentialCmd {
    #[command(subcommand)]
    command: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    List(ListArgs),
    Add(AddArgs),
    Remove(RemoveArgs),
}

/// List the app's certificates: key id, thumbprint, state, dates, and this machine's.
#[derive(Debug, Args)]
#[command(mut_arg("output", |a| a.hide(true)), mut_arg("scopes", |a| a.hide(true)))]
pub struct ListArgs {
    #[command(flatten)]
    graph: GraphArgs,
    /// Print {"application", "keyCredentials": [...]}
    #[arg(long)]
    json: bool,
}

/// Register another certificate on the app (addKey), the proof signed by the local one.
#[derive(Debug, Args)]
#[command(mut_arg("output", |a| a.hide(true)), mut_arg("scopes", |a| a.hide(true)))]
pub struct AddArgs {
    /// The certificate to register (PEM, DER or PKCS#12; the first certificate)
    #[arg(value_name = "NEW_CERT")]
    new_cert: PathBuf,
    /// Its displayName [default: its subject]
    #[arg(long, value_name = "S")]
    display_name: Option<String>,
    #[command(flatten)]
    graph: GraphArgs,
}

/// Remove a certificate from the app (removeKey), by key id or SHA-1 thumbprint.
#[derive(Debug, Args)]
#[command(mut_arg("output", |a| a.hide(true)), mut_arg("scopes", |a| a.hide(true)))]
pub struct RemoveArgs {
    /// The keyId, or the SHA-1 thumbprint (hex), of the certificate to remove
    #[arg(value_name = "KEY_ID|THUMBPRINT")]
    which: String,
    /// Remove it even if it is the last valid certificate or this machine's
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    graph: GraphArgs,
}

pub fn run(cmd: CredentialCmd) -> Result<()> {
    match cmd.command {
        Action::List(args) => list(args),
        Action::Add(args) => add(args),
        Action::Remove(args) => remove(args),
    }
}

/// The local certificate credential, when the options name one.
fn local_credential(args: &GraphArgs) -> Result<Option<Credential>> {
    let c = &args.token.credential;
    if c.cert.is_none() && c.pfx.is_none() && env_value(ENV_CERTIFICATE_PATH).is_none() {
        return Ok(None);
    }
    c.load().map(Some)
}

fn signer(args: &GraphArgs) -> Result<Credential> {
    local_credential(args)?.ok_or_else(|| {
        Error::usage("addKey and removeKey need a proof signed by a certificate, and no certificate was given")
            .with_hint("give --cert/--key or --pfx (a client secret cannot sign the proof)")
    })
}

fn state_text(k: &RegisteredKey, now: OffsetDateTime) -> String {
    match (k.state(now), k.end, k.start) {
        (KeyState::Valid, Some(end), _) => {
            format!("valid, expires in {} days", (end - now).whole_days())
        }
        (KeyState::Valid, None, _) => "valid".into(),
        (KeyState::Expired, Some(end), _) => {
            format!("EXPIRED {} days ago", (now - end).whole_days())
        }
        (KeyState::Expired, None, _) => "expired".into(),
        (KeyState::NotYetValid, _, Some(start)) => format!("not valid before {}", rfc3339(start)),
        (KeyState::NotYetValid, _, None) => "not yet valid".into(),
    }
}

/// The SHA-1 thumbprints of the certificates in `FILE.next` and `FILE.previous` beside the
/// credential's certificate file, the names a rotation stages and keeps
/// ([`certgen::rotate`]); `None` when one exists but cannot be read without a password, so
/// nothing can be said about which keys this machine holds.
fn staged_thumbprints(args: &GraphArgs) -> Option<Vec<String>> {
    let (Some(file), _) = args.token.credential.certificate_file() else {
        return Some(Vec::new());
    };
    let mut out = Vec::new();
    for suffix in [".next", ".previous"] {
        let mut name = file.clone().into_os_string();
        name.push(suffix);
        let path = PathBuf::from(name);
        if !path.exists() {
            continue;
        }
        let material =
            input::load_all_certificates(&[path], &certgen::SecretSource::default()).ok()?;
        out.extend(
            material
                .iter()
                .flat_map(|m| m.certs.iter().map(|c| c.thumbprints.thumbprint())),
        );
    }
    Some(out)
}

fn list(args: ListArgs) -> Result<()> {
    let local = local_credential(&args.graph)?;
    let mine = local.as_ref().map(|c| c.leaf().thumbprints.thumbprint());
    // A rotation registers its new certificate under the current one's subject (the
    // displayName addKey is given by default): such a key that neither the current file nor a
    // *.next/*.previous beside it holds is not this machine's, typically left by a rotation
    // cut short whose *.next files were deleted.
    let subject = local.as_ref().map(|c| c.leaf().subject.clone());
    let staged = staged_thumbprints(&args.graph);
    let session = Session::open(&args.graph)?;
    let app = session.application()?;
    let now = OffsetDateTime::now_utc();
    if args.json {
        return output::print_json(&app.to_json(now, mine.as_deref()));
    }
    let mut out = format!(
        "application {:?}  appId {}  object id {}\n",
        app.display_name, app.app_id, app.id
    );
    if app.keys.is_empty() {
        out += "  no certificates registered\n";
    }
    let mut stray = Vec::new();
    for k in &app.keys {
        let elsewhere = match (&mine, &subject, &staged, &k.thumbprint) {
            (Some(mine), Some(subject), Some(staged), Some(_)) => {
                !k.is(mine)
                    && k.display_name.as_deref() == Some(subject.as_str())
                    && !staged.iter().any(|t| k.is(t))
            }
            _ => false,
        };
        let this = if mine.as_deref().is_some_and(|t| k.is(t)) {
            "  <- this machine"
        } else if elsewhere {
            stray.push(k.key_id.clone());
            "  (not on this machine)"
        } else {
            ""
        };
        out += &format!(
            "  {}  {}  {}  until {}  {}{this}\n",
            k.key_id,
            k.thumbprint.as_deref().unwrap_or("(no thumbprint)"),
            state_text(k, now),
            k.end.map(rfc3339).unwrap_or_default(),
            k.display_name.as_deref().unwrap_or(""),
        );
    }
    if !app.keys.iter().any(|k| k.state(now) == KeyState::Valid) {
        out += "warning: no valid certificate: the app cannot add one itself; an administrator \
                must upload one (Azure portal → App registrations → the app → Certificates & secrets)\n";
    }
    output::write_stdout(&out)?;
    if let Some(first) = stray.first() {
        eprintln!(
            "hint: a key marked \"not on this machine\" has this certificate's subject, but neither it nor a .next or .previous file beside it holds that key; a rotation cut short after registering its new certificate, whose .next files were then deleted, leaves such a key: unless another machine uses it, remove it with certgen credential remove {first}{}",
            if stray.len() > 1 { " (and the others marked)" } else { "" }
        );
    }
    Ok(())
}

fn add(args: AddArgs) -> Result<()> {
    let passwords = passwords(None, ENV_CERTIFICATE_PASSWORD, "PKCS#12 password: ")?;
    let material = input::load_all_certificates(std::slice::from_ref(&args.new_cert), &passwords)?;
    let Some(new) = material.first().and_then(|m| m.certs.first()).cloned() else {
        return Err(Error::failure(format!(
            "{} holds no certificate",
            args.new_cert.display()
        )));
    };
    check_addable(&new, OffsetDateTime::now_utc())?;
    let signer = signer(&args.graph)?;
    let session = Session::open(&args.graph)?;
    let app = session.application()?;
    let thumbprint = new.thumbprints.thumbprint();
    if let Some(k) = app.key_for(&thumbprint) {
        eprintln!("already registered: {thumbprint} as keyId {}", k.key_id);
        return output::write_stdout(&format!("{}\n", k.key_id));
    }
    let key_id = session.add_key(&app, &new, args.display_name.as_deref(), &signer)?;
    eprintln!("added {thumbprint} as keyId {key_id} (a real tenant takes up to a minute before it gets tokens)");
    output::write_stdout(&format!("{key_id}\n"))
}

fn remove(args: RemoveArgs) -> Result<()> {
    let signer = signer(&args.graph)?;
    let mine = signer.leaf().thumbprints.thumbprint();
    let session = Session::open(&args.graph)?;
    let app = session.application()?;
    let Some(key) = app.find(&args.which).cloned() else {
        return Err(Error::failure(format!(
            "no certificate {} is registered on the app",
            args.which
        ))
        .with_hint("certgen credential list shows the key ids and thumbprints"));
    };
    let now = OffsetDateTime::now_utc();
    if let Some(risk) = app.removal_risk(&key, Some(&mine), now) {
        if !args.force {
            return Err(Error::failure(format!(
                "refusing to remove keyId {}: {risk}",
                key.key_id
            ))
            .with_hint("register and test another certificate first (certgen credential add), or pass --force"));
        }
        eprintln!("warning: removing keyId {} although {risk}", key.key_id);
    }
    remove_confirmed(&session, &app, &key.key_id, &signer)?;
    eprintln!(
        "removed keyId {} ({})",
        key.key_id,
        key.thumbprint.as_deref().unwrap_or("no thumbprint")
    );
    Ok(())
}
