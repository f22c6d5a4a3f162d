//! `certgen rotate`: renews the app's certificate through Graph (addKey, wait, swap, removeKey),
//! for cron. The workflow is the library's ([`certgen::rotate::run`]); this command reads the
//! flags, loads the credential files, gets the tokens, and prints each step as it happens.

use super::error::{CliError as Error, Result};
use std::time::Duration;

use certgen::certificate::rfc3339;
use certgen::credential::Credential;
use certgen::generate::{self, KeySize};
use certgen::graph::AppKeys;
use certgen::rotate::{self, Action, Event, Files, KeyRef, Layout, Outcome, Policy, Slot};
use certgen::secret::Secret;
use clap::Args;
use serde_json::{json, Value};

use super::credential_args::CredentialArgs;
use super::graph_session::{GraphArgs, Session};
use super::output;
use super::token;

/// Renew the app's certificate when it is due: new key and certificate, addKey, wait until it
/// gets a token, swap the files, removeKey the old one. For cron; safe to re-run at any point.
///
/// The credential is --cert and --key, --cert alone (a PEM holding both) or --pfx (the new
/// one gets the same password and flavour): those files are what it renews. Beside each it
/// keeps FILE.next while a rotation is under way, and FILE.previous after; the DER copy
/// BASE.cer that certgen new wrote beside them is renewed with them. CERT.rotate.lock keeps two
/// runs on the same files from overlapping. When nothing is due it prints one line with the
/// date it will renew from, and exits 0.
#[derive(Debug, Args)]
#[command(
    mut_arg("output", |a| a.hide(true)),
    mut_arg("scopes", |a| a.hide(true)),
    after_help = "Cron (daily, 03:17):\n  \
17 3 * * * certgen rotate --tenant $T --client-id $APP --cert /etc/daemon/app.crt --key /etc/daemon/app.key >> /var/log/certgen-rotate.log 2>&1"
)]
pub struct RotateArgs {
    /// Renew when the certificate has at most this many days left
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    renew_within: u32,
    /// Validity of the new certificate, in days
    #[arg(long, value_name = "N", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=generate::MAX_DAYS as i64))]
    days: u32,
    /// RSA key size of the new key: 2048, 3072 or 4096
    #[arg(long, value_name = "BITS", default_value_t = 2048)]
    key_size: u32,
    /// Leave the old certificate registered (other machines still use it)
    #[arg(long)]
    keep_old: bool,
    /// Seconds to wait for the new certificate to get a token
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    wait: u64,
    /// Say what would be done; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Print {"action", "renew_from", "old", "new", "old_removed"}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    graph: GraphArgs,
}

/// A test's kill point: in debug builds only, CERTGEN_TEST_ROTATE_KILL_AFTER=STEP makes the
/// process SIGKILL itself right after STEP, so a crash at each step can be rehearsed exactly.
fn kill_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("CERTGEN_TEST_ROTATE_KILL_AFTER").is_ok_and(|v| v == step) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::thread::sleep(Duration::from_secs(60));
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

fn say(step: &str, text: &str) {
    eprintln!("rotate {step}: {text}");
}

/// The credential flags (with the password read once, if any) for the files of `slot`.
fn credential_args(c: &CredentialArgs, layout: &Layout, slot: Slot) -> CredentialArgs {
    let source = layout.source(slot);
    CredentialArgs {
        cert: source.cert,
        key: source.key,
        pfx: source.pfx,
        password_file: c.password_file.clone(),
        password: c.password.clone(),
    }
}

/// The files the credential flags name: those are what rotate renews.
fn layout_of(c: &CredentialArgs) -> Result<Layout> {
    let files = match (&c.pfx, &c.cert, &c.key) {
        (Some(pfx), _, _) => Files::Pkcs12(pfx.clone()),
        // The same file given twice holds both: renewed as one file, not as two.
        (None, Some(cert), Some(key)) if same_file(cert, key) => Files::single(cert)?,
        (None, Some(cert), Some(key)) => Files::Pair {
            cert: cert.clone(),
            key: key.clone(),
        },
        (None, Some(cert), None) => Files::single(cert)?,
        (None, None, _) => match c.source().cert {
            Some(path) => Files::single(&path)?,
            None => return Err(Error::usage(
                "certgen rotate needs the credential files it renews",
            )
            .with_hint("--cert FILE --key FILE, --cert FILE (a PEM holding both), or --pfx FILE")
            .with_hint("or set AZURE_CLIENT_CERTIFICATE_PATH (PEM holding both, or PKCS#12)")),
        },
    };
    Ok(Layout::new(files))
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Reads the password once, when the files need one, for every load of this run (the current,
/// staged and previous files, the token requests) and for the new files: `--password-file -`
/// and a prompt can give it only once.
fn settle_password(c: &mut CredentialArgs, protection: rotate::Protection) -> Result<()> {
    if protection.password {
        // None (no source, no terminal): the loads say the files need a password.
        c.password = c.password_sources()?.read()?;
    } else {
        // Nothing to read: an environment password set for another file must not apply.
        c.password = Some(certgen::secret::Secret::new(""));
    }
    Ok(())
}

/// What the library's workflow asks of the command: the credential files with the password
/// read once, the Graph session (opened on first use) and token requests as `certgen token`.
struct CliHost<'a> {
    args: &'a RotateArgs,
    layout: &'a Layout,
}

impl rotate::Host for CliHost<'_> {
    type Error = Error;

    fn load(&self, slot: Slot) -> Result<Credential> {
        credential_args(&self.args.graph.token.credential, self.layout, slot).load()
    }

    fn graph(&self) -> Result<Box<dyn AppKeys<Error = Error> + '_>> {
        Ok(Box::new(Session::open(&self.args.graph)?))
    }

    fn token(&self, slot: Slot) -> Result<()> {
        let mut probe = self.args.graph.token.clone();
        probe.credential = credential_args(&self.args.graph.token.credential, self.layout, slot);
        probe.no_cache = true;
        token::get(&probe).map(|_| ())
    }

    fn password(&self) -> Option<&Secret> {
        self.args.graph.token.credential.password.as_ref()
    }
}

pub fn run(mut args: RotateArgs) -> Result<()> {
    super::graph_session::refuse_managed_identity(&args.graph)?;
    let key_size = KeySize::from_bits(args.key_size)?;
    let layout = layout_of(&args.graph.token.credential)?;
    let protection = rotate::protection(&layout)?;
    let c = &mut args.graph.token.credential;
    settle_password(c, protection)?;
    // The token requests sign with exactly the files being renewed.
    *c = credential_args(c, &layout, Slot::Current);
    let mut policy = Policy::default();
    policy.renew_within_days = args.renew_within;
    policy.days = args.days;
    policy.key_size = key_size;
    policy.keep_old = args.keep_old;
    policy.wait = Duration::from_secs(args.wait);
    policy.dry_run = args.dry_run;
    let host = CliHost {
        args: &args,
        layout: &layout,
    };
    let outcome = rotate::run(&layout, protection, &policy, &host, &mut |e| tell(&args, e))?;
    print_outcome(&args, &outcome)
}

fn print_outcome(args: &RotateArgs, outcome: &Outcome) -> Result<()> {
    let thumbprint = |k: &Option<KeyRef>| k.as_ref().map(|k| k.thumbprint.clone());
    if args.json {
        return output::print_json(&json!({
            "action": outcome.action.as_str(),
            "renew_from": rfc3339(outcome.renew_from),
            "old": key_json(&outcome.old),
            "new": key_json(&outcome.new),
            "old_removed": outcome.old_removed,
        }));
    }
    let old = thumbprint(&outcome.old);
    let line = match outcome.action {
        Action::None if outcome.planned => format!(
            "dry run: {} is due; nothing changed\n",
            old.as_deref().unwrap_or("the certificate"),
        ),
        Action::None => format!(
            "nothing to do: {} is valid until {}; renewal from {}\n",
            old.unwrap_or_default(),
            outcome.valid_until.map(rfc3339).unwrap_or_default(),
            rfc3339(outcome.renew_from)
        ),
        action => format!(
            "{}: {} -> {}; old certificate {}; next renewal from {}\n",
            action.as_str(),
            old.as_deref().unwrap_or("?"),
            thumbprint(&outcome.new).as_deref().unwrap_or("?"),
            if outcome.old_removed {
                "removed"
            } else {
                "kept"
            },
            rfc3339(outcome.renew_from)
        ),
    };
    output::write_stdout(&line)
}

/// `old`/`new` of --json, exactly the contract's two fields (the expiry is in the human line).
fn key_json(k: &Option<KeyRef>) -> Value {
    match k {
        Some(k) => json!({ "thumbprint": k.thumbprint, "keyId": k.key_id }),
        None => Value::Null,
    }
}

/// Prints a step as it happens (and, in debug builds, stops at a test's kill point).
fn tell(args: &RotateArgs, event: Event) {
    if let Some((step, text)) = describe(args, &event) {
        say(step, &text);
    }
    if let Some(point) = kill_point_after(&event) {
        kill_point(point);
    }
}

/// The kill point a test may set after `event`: the step it ends.
fn kill_point_after(event: &Event) -> Option<&'static str> {
    match event {
        Event::Staged { .. } => Some("1"),
        Event::Registered { .. } => Some("2"),
        Event::TokenWorks { .. } => Some("3"),
        // 4a: after the first rename (a pair's key, or a single file), 4b: after the second.
        Event::Renamed { n } => ["4a", "4b"].get(n - 1).copied(),
        Event::Swapped { .. } => Some("4"),
        _ => None,
    }
}

/// The step and the line `rotate STEP: …` for `event`.
fn describe(args: &RotateArgs, event: &Event) -> Option<(&'static str, String)> {
    Some(match event {
        Event::HalfSwapFinished { done: false } => (
            "4/5",
            "would finish the swap a killed run left half done".into(),
        ),
        Event::HalfSwapFinished { done: true } => (
            "4/5",
            "finished the swap a killed run left half done".into(),
        ),
        Event::Plan {
            thumbprint,
            renew_from,
            next_names,
            previous_names,
            ..
        } => (
            "plan",
            plan(args, thumbprint, *renew_from, next_names, previous_names),
        ),
        Event::WouldResume { stage } => (
            "plan",
            format!("would resume a rotation under way ({stage:?}); nothing changed"),
        ),
        Event::Staged {
            thumbprint,
            not_after,
            names,
        } => (
            "1/5",
            format!(
                "made a new key and certificate {thumbprint} (valid until {}) as {names}",
                rfc3339(*not_after)
            ),
        ),
        Event::Registered {
            thumbprint,
            key_id,
            already: true,
        } => (
            "2/5",
            format!("{thumbprint} is registered already (keyId {key_id})"),
        ),
        Event::Registered {
            thumbprint, key_id, ..
        } => (
            "2/5",
            format!("registered {thumbprint} with addKey (keyId {key_id})"),
        ),
        Event::Waiting { waited, .. } => (
            "3/5",
            format!(
                "waiting for the new certificate to get a token ({} s of {})",
                waited.as_secs(),
                args.wait
            ),
        ),
        Event::TokenWorks { thumbprint, after } => (
            "3/5",
            format!(
                "the new certificate {thumbprint} gets a token (after {} s)",
                after.as_secs()
            ),
        ),
        Event::Swapped {
            names,
            thumbprint,
            previous_names,
        } => (
            "4/5",
            format!(
                "swapped: {names} now hold {thumbprint}; the old ones are kept as {previous_names}"
            ),
        ),
        Event::OldRemoved { thumbprint, key_id } => (
            "5/5",
            format!("removed the old certificate {thumbprint} (keyId {key_id})"),
        ),
        Event::OldNotRegistered { thumbprint } => (
            "5/5",
            format!("the old certificate {thumbprint} is no longer registered"),
        ),
        Event::OldKept => (
            "5/5",
            "kept the old certificate registered (--keep-old)".into(),
        ),
        _ => return None,
    })
}

/// A dry run's plan, in the flags' terms.
fn plan(
    args: &RotateArgs,
    thumbprint: &str,
    renew_from: time::OffsetDateTime,
    next_names: &str,
    previous_names: &str,
) -> String {
    format!(
        "{thumbprint} is due (renewal from {}); would make a {}-bit key and a {}-day certificate \
         as {next_names}, register it with addKey, wait up to {} s for it to get a token, swap \
         the files (keeping {previous_names}), and {}",
        rfc3339(renew_from),
        args.key_size,
        args.days,
        args.wait,
        if args.keep_old {
            "keep the old certificate registered"
        } else {
            "remove the old certificate with removeKey"
        }
    )
}
