//! `certgen rotate`: renews the app's certificate through Graph (addKey, wait, swap, removeKey),
//! for cron. Where a rotation stands is read from the files ([`certgen::rotate`]) and from the
//! keys registered on the app, so every run completes what a killed one left.

use super::hints::{CliError as Error, Result};
use std::time::{Duration, Instant};

use certgen::certificate::rfc3339;
use certgen::credential::Credential;
use certgen::generate::{self, KeySize, NewCertificate, Profile, Subject};
use certgen::rotate::{self, Files, Layout, Slot, Stage};
use clap::Args;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::credential::remove_confirmed;
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

struct Outcome {
    action: &'static str,
    /// A --dry-run that found work to do (the plan is on stderr).
    planned: bool,
    renew_from: OffsetDateTime,
    /// The validity end of the certificate in use, for the line that says nothing is due.
    valid_until: Option<OffsetDateTime>,
    old: Value,
    new: Value,
    old_removed: bool,
}

pub fn run(mut args: RotateArgs) -> Result<()> {
    KeySize::from_bits(args.key_size)?;
    let layout = layout_of(&args.graph.token.credential)?;
    let Some(_lock) = rotate::lock(&layout)? else {
        return Err(Error::failure(format!(
            "another certgen rotate is running on {} (it holds {}); nothing changed",
            layout.credential_names(Slot::Current),
            layout.lock_file().display()
        ))
        .with_hint("let it finish; a cron interval longer than --wait keeps runs apart"));
    };
    let protection = rotate::protection(&layout)?;
    let c = &mut args.graph.token.credential;
    settle_password(c, protection)?;
    // The token requests sign with exactly the files being renewed.
    *c = credential_args(c, &layout, Slot::Current);
    let outcome = rotate_files(&args, &layout, protection)?;
    if args.json {
        return output::print_json(&json!({
            "action": outcome.action,
            "renew_from": rfc3339(outcome.renew_from),
            "old": outcome.old,
            "new": outcome.new,
            "old_removed": outcome.old_removed,
        }));
    }
    let line = match outcome.action {
        "none" if outcome.planned => format!(
            "dry run: {} is due; nothing changed\n",
            outcome.old["thumbprint"]
                .as_str()
                .unwrap_or("the certificate"),
        ),
        "none" => format!(
            "nothing to do: {} is valid until {}; renewal from {}\n",
            outcome.old["thumbprint"].as_str().unwrap_or_default(),
            outcome.valid_until.map(rfc3339).unwrap_or_default(),
            rfc3339(outcome.renew_from)
        ),
        action => format!(
            "{action}: {} -> {}; old certificate {}; next renewal from {}\n",
            outcome.old["thumbprint"].as_str().unwrap_or("?"),
            outcome.new["thumbprint"].as_str().unwrap_or("?"),
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
fn key_json(c: &Credential, key_id: Option<&str>) -> Value {
    json!({
        "thumbprint": c.leaf().thumbprints.thumbprint(),
        "keyId": key_id,
    })
}

fn rotate_files(
    args: &RotateArgs,
    layout: &Layout,
    protection: rotate::Protection,
) -> Result<Outcome> {
    let c = &args.graph.token.credential;
    let load = |slot: Slot| credential_args(c, layout, slot).load();
    let mut stage = rotate::stage(layout);
    let resumed = stage != Stage::Idle;
    if stage == Stage::HalfSwapped {
        if args.dry_run {
            say("4/5", "would finish the swap a killed run left half done");
        } else {
            rotate::finish_swap(layout)?;
            say("4/5", "finished the swap a killed run left half done");
            stage = rotate::stage(layout);
        }
    }
    let now = OffsetDateTime::now_utc();
    if stage == Stage::Idle {
        let current = load(Slot::Current)?;
        let renew_from = rotate::renew_from(current.leaf(), args.renew_within);
        if now < renew_from {
            return Ok(Outcome {
                action: "none",
                planned: false,
                renew_from,
                valid_until: Some(current.leaf().not_after),
                old: key_json(&current, None),
                new: Value::Null,
                old_removed: false,
            });
        }
        if current.leaf().not_after <= now {
            return Err(Error::failure(format!(
                "the certificate expired on {}: Graph takes no proof signed by it",
                rfc3339(current.leaf().not_after)
            ))
            .with_hint("if no other certificate of the app is valid, an administrator must upload a new one: Azure portal → App registrations → the app → Certificates & secrets → Upload certificate (certgen new makes one)"));
        }
        if args.dry_run {
            return dry_run(args, layout, &current, renew_from);
        }
        stage_new(args, layout, &current, protection)?;
        kill_point("1");
        stage = Stage::Staged;
    } else if args.dry_run {
        let current = load(Slot::Current).ok();
        say(
            "plan",
            &format!("would resume a rotation under way ({stage:?}); nothing changed"),
        );
        return Ok(Outcome {
            action: "none",
            planned: true,
            renew_from: current
                .as_ref()
                .map(|c| rotate::renew_from(c.leaf(), args.renew_within))
                .unwrap_or(now),
            valid_until: current.as_ref().map(|c| c.leaf().not_after),
            old: current
                .as_ref()
                .map(|c| key_json(c, None))
                .unwrap_or(Value::Null),
            new: Value::Null,
            old_removed: false,
        });
    }
    let session = Session::open(&args.graph)?;
    let (old, new, new_key_id) = if stage == Stage::Staged {
        let current = load(Slot::Current)?;
        let next = load(Slot::Next)?;
        let key_id = register(&session, &current, &next)?;
        kill_point("2");
        wait_for_token(args, layout, &next)?;
        kill_point("3");
        // 4a: after the first rename (a pair's key, or a single file), 4b: after the second.
        rotate::swap(layout, next.leaf(), args.keep_old, &|n| {
            kill_point(["4a", "4b"].get(n - 1).copied().unwrap_or_default())
        })?;
        say(
            "4/5",
            &format!(
                "swapped: {} now hold {}; the old ones are kept as {}",
                layout.names(Slot::Current),
                next.leaf().thumbprints.thumbprint(),
                layout.names(Slot::Previous)
            ),
        );
        kill_point("4");
        (current, next, Some(key_id))
    } else {
        let current = load(Slot::Current)?;
        let previous = load(Slot::Previous)?;
        (previous, current, None)
    };
    let mut old_removed = false;
    let mut old_key_id = None;
    if args.keep_old {
        say("5/5", "kept the old certificate registered (--keep-old)");
        rotate::removal_done(layout)?;
    } else {
        let app = session.application()?;
        let old_tp = old.leaf().thumbprints.thumbprint();
        match app.key_for(&old_tp).cloned() {
            Some(k) => {
                remove_confirmed(&session, &app, &k, &new)?;
                say(
                    "5/5",
                    &format!("removed the old certificate {old_tp} (keyId {})", k.key_id),
                );
                old_key_id = Some(k.key_id);
                old_removed = true;
            }
            None => say(
                "5/5",
                &format!("the old certificate {old_tp} is no longer registered"),
            ),
        }
        rotate::removal_done(layout)?;
    }
    let new_key_id = match new_key_id {
        Some(id) => Some(id),
        None => session
            .application()?
            .key_for(&new.leaf().thumbprints.thumbprint())
            .map(|k| k.key_id.clone()),
    };
    Ok(Outcome {
        action: if resumed { "resumed" } else { "rotated" },
        planned: false,
        renew_from: rotate::renew_from(new.leaf(), args.renew_within),
        valid_until: Some(new.leaf().not_after),
        old: key_json(&old, old_key_id.as_deref()),
        new: key_json(&new, new_key_id.as_deref()),
        old_removed,
    })
}

fn dry_run(
    args: &RotateArgs,
    layout: &Layout,
    current: &Credential,
    renew_from: OffsetDateTime,
) -> Result<Outcome> {
    say(
        "plan",
        &format!(
            "{} is due (renewal from {}); would make a {}-bit key and a {}-day certificate as {}, \
             register it with addKey, wait up to {} s for it to get a token, swap the files \
             (keeping {}), and {}",
            current.leaf().thumbprints.thumbprint(),
            rfc3339(renew_from),
            args.key_size,
            args.days,
            layout.credential_names(Slot::Next),
            args.wait,
            layout.names(Slot::Previous),
            if args.keep_old {
                "keep the old certificate registered"
            } else {
                "remove the old certificate with removeKey"
            }
        ),
    );
    Ok(Outcome {
        action: "none",
        planned: true,
        renew_from,
        valid_until: Some(current.leaf().not_after),
        old: key_json(current, None),
        new: Value::Null,
        old_removed: false,
    })
}

/// Step 1: a new key and certificate with the current subject, the profile of `certgen new`.
fn stage_new(
    args: &RotateArgs,
    layout: &Layout,
    current: &Credential,
    protection: rotate::Protection,
) -> Result<()> {
    let subject =
        Subject::parse(&current.leaf().subject).or_else(|_| Subject::common_name("certgen"))?;
    let generated = generate::generate(&NewCertificate {
        subject,
        sans: Vec::new(),
        days: args.days,
        key_size: KeySize::from_bits(args.key_size)?,
        profile: Profile::ClientAuth,
    })?;
    rotate::stage_new(
        layout,
        &generated.cert,
        &generated.key,
        protection,
        args.graph.token.credential.password.as_ref(),
    )?;
    say(
        "1/5",
        &format!(
            "made a new key and certificate {} (valid until {}) as {}",
            generated.cert.thumbprints.thumbprint(),
            rfc3339(generated.cert.not_after),
            layout.credential_names(Slot::Next)
        ),
    );
    Ok(())
}

/// Step 2: addKey, unless the new certificate is registered already (a resumed run).
fn register(session: &Session, current: &Credential, next: &Credential) -> Result<String> {
    let app = session.application()?;
    let tp = next.leaf().thumbprints.thumbprint();
    if let Some(k) = app.key_for(&tp) {
        say(
            "2/5",
            &format!("{tp} is registered already (keyId {})", k.key_id),
        );
        return Ok(k.key_id.clone());
    }
    let key_id = session.add_key(&app, next.leaf(), None, current)?;
    say(
        "2/5",
        &format!("registered {tp} with addKey (keyId {key_id})"),
    );
    Ok(key_id)
}

/// Step 3: asks for a token with the new certificate (no cache) until one comes or `--wait`
/// runs out; a real tenant takes seconds to a minute to accept a new key.
fn wait_for_token(args: &RotateArgs, layout: &Layout, next: &Credential) -> Result<()> {
    let mut probe = args.graph.token.clone();
    probe.credential = credential_args(&args.graph.token.credential, layout, Slot::Next);
    probe.no_cache = true;
    let start = Instant::now();
    let limit = Duration::from_secs(args.wait);
    let tp = next.leaf().thumbprints.thumbprint();
    loop {
        match token::get(&probe) {
            Ok(_) => {
                say(
                    "3/5",
                    &format!(
                        "the new certificate {tp} gets a token (after {} s)",
                        start.elapsed().as_secs()
                    ),
                );
                return Ok(());
            }
            Err(e) => {
                let waited = start.elapsed();
                if waited >= limit {
                    return Err(Error::failure(format!(
                        "the new certificate {tp} got no token within {} s (last answer: {})",
                        args.wait,
                        e.message()
                    ))
                    .with_hint(format!(
                        "nothing was swapped: {} still hold the working certificate; run again \
                         (it resumes), or give a longer --wait",
                        layout.credential_names(Slot::Current)
                    )));
                }
                say(
                    "3/5",
                    &format!(
                        "waiting for the new certificate to get a token ({} s of {})",
                        waited.as_secs(),
                        args.wait
                    ),
                );
                std::thread::sleep(
                    Duration::from_secs(2)
                        .min(limit.saturating_sub(waited))
                        .max(Duration::from_millis(200)),
                );
            }
        }
    }
}
