//! Renewing a certificate in place, crash-safe: where a rotation stands is read from the files
//! alone, so a run killed at any point is completed by the next one.
//!
//! The credential's files are one of three [`Files`] layouts: a certificate and a key
//! (`app.crt`, `app.key`), one PEM file holding both (`app.pem`), or one PKCS#12 file
//! (`app.pfx`). Beside each of them (written here for `app.crt`):
//! - `app.crt.next` — the new one (step 1); of a pair the key is written first, so a lone
//!   `app.key.next` is a step 1 cut short and is made again;
//! - `app.crt.previous` — the old one, kept after the swap (step 4);
//! - `app.crt.remove-pending` (beside the certificate, or the single file) — the old
//!   certificate is still to be removed from the app (step 5); written before the swap unless
//!   the old one is kept.
//!
//! The DER copy written for the portal (`app.cer` beside the certificate or the
//! single file) is part of the swap when it exists: left alone it would still show the old
//! certificate to whoever uploads it. It gets `app.cer.next` and `app.cer.previous` too.
//!
//! The swap renames each `.next` over its file, in order: the key, the certificate (or the
//! single file), then the `.cer`. Each file is whole at every moment. A pair has a moment where
//! the key is new and the certificate old; a single file (PEM or PKCS#12) has none — its
//! certificate and key change together in one rename, so it is never half swapped, only its
//! `.cer` may lag. Both cases are [`Stage::HalfSwapped`], which [`finish_swap`] completes on the
//! next run; the credential in use is always a matching certificate and key, or (the pair, for
//! one rename) a new key whose certificate is in `app.crt.next`.
//!
//! Two runs on the same files must not interleave (one could swap while the other stages):
//! [`lock`] takes an advisory lock on `app.crt.rotate.lock` for the whole run.
//!
//! [`run`] makes a new key and certificate, registers it with Graph's `addKey`, waits until it
//! gets a token, swaps the files and removes the old certificate — each step told as an
//! [`Event`]. The caller supplies the credential loading, the Graph session and the token
//! requests through [`Host`]:
//!
//! ```no_run
//! # fn demo(host: &impl certgen::rotate::Host<Error = certgen::Error>) -> certgen::Result<()> {
//! use certgen::rotate::{self, Files, Layout, Policy};
//!
//! let layout = Layout::new(Files::Pair { cert: "app.crt".into(), key: "app.key".into() });
//! let protection = rotate::protection(&layout)?;
//! let outcome = rotate::run(&layout, protection, &Policy::default(), host, &mut |event| {
//!     eprintln!("{event:?}")
//! })?;
//! println!("{}", outcome.action.as_str());
//! # Ok(()) }
//! ```

mod layout;
mod workflow;

pub use layout::{
    finish_swap, lock, protection, removal_done, renew_from, stage, stage_new, swap, Files, Layout,
    Protection, RotateLock, Slot, Stage,
};
pub use workflow::{remove_confirmed, run, Action, Event, Host, KeyRef, Outcome, Policy};
