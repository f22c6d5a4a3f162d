//! The whole renewal, step by step, as a scheduled job runs it: (1) a new key and
//! certificate beside the current files, (2) `addKey` with a proof signed by the current
//! certificate, (3) wait until the new certificate gets a token, (4) swap the files, (5)
//! `removeKey` the old certificate. Where a rotation stands is read from the files
//! ([`stage`](super::stage)) and from the keys registered on the app, so a run killed at any
//! point is completed by the next one.
//!
//! What talks to the outside world (loading a credential with its password, the app's Graph
//! calls, a token request) is the caller's, through [`Host`]; what happens is told as
//! [`Event`]s, so a command line can print it and a service can log it.
//! The proof of possession that `addKey`/`removeKey` need is described at
//! <https://learn.microsoft.com/en-us/graph/application-rollkey-prooftoken>.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::layout::{self, Layout, Protection, Slot, Stage};
use crate::credential::Credential;
use crate::error::{Error, Result, RotateError};
use crate::generate::{self, KeySize, NewCertificate, Profile, Subject};
use crate::graph::app_keys::{AppKeys, Application};
use crate::secret::Secret;

/// What a rotation is asked to do.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Policy {
    /// Renew when the certificate has at most this many days left (default 30).
    pub renew_within_days: u32,
    /// Validity of the new certificate, in days (default 365).
    pub days: u32,
    /// Key size of the new key (default RSA 2048).
    pub key_size: KeySize,
    /// Leave the old certificate registered (default false: it is removed).
    pub keep_old: bool,
    /// How long the new certificate may take to get a token (default 300 s): a real tenant
    /// takes seconds to a minute to accept a new key.
    pub wait: Duration,
    /// Say what would be done; change nothing (default false).
    pub dry_run: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            renew_within_days: 30,
            days: 365,
            key_size: KeySize::Rsa2048,
            keep_old: false,
            wait: Duration::from_secs(300),
            dry_run: false,
        }
    }
}

/// What the workflow needs from its caller. Its errors are the caller's own type, so what the
/// caller knows about a failure (a token refusal explained, say) reaches it unchanged; the
/// workflow's own failures come as [`Error`]s converted into it.
pub trait Host {
    /// The caller's error type.
    type Error: From<Error> + std::fmt::Display;
    /// Loads the credential in the files of `slot` (with the password read once, if any).
    fn load(&self, slot: Slot) -> std::result::Result<Credential, Self::Error>;
    /// Opens the app's Graph session, authenticated with the current credential.
    #[allow(clippy::type_complexity)]
    fn graph(&self)
        -> std::result::Result<Box<dyn AppKeys<Error = Self::Error> + '_>, Self::Error>;
    /// Asks for a token with the credential in `slot`, bypassing any cache.
    fn token(&self, slot: Slot) -> std::result::Result<(), Self::Error>;
    /// The password the current files are protected with, for the new ones.
    fn password(&self) -> Option<&Secret>;
}

/// A step of the renewal, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A run killed between the renames of the swap left it half done; it is finished now
    /// (`done: false` on a dry run: it would be).
    HalfSwapFinished {
        /// Whether it was done (not a dry run).
        done: bool,
    },
    /// A dry run found the certificate due: what would be done.
    Plan {
        /// The current certificate's SHA-1 thumbprint.
        thumbprint: String,
        /// When it is due for renewal.
        renew_from: OffsetDateTime,
        /// The new key's size.
        key_size: KeySize,
        /// The new certificate's validity in days.
        days: u32,
        /// The files the new credential goes to first.
        next_names: String,
        /// How long to wait for the new certificate to get a token.
        wait: Duration,
        /// Where the old files are kept.
        previous_names: String,
        /// Whether the old certificate stays registered.
        keep_old: bool,
    },
    /// A dry run found a rotation under way.
    WouldResume {
        /// Where the rotation stands.
        stage: Stage,
    },
    /// Step 1: the new key and certificate are written beside the current files.
    Staged {
        /// The new certificate's SHA-1 thumbprint.
        thumbprint: String,
        /// Its expiry.
        not_after: OffsetDateTime,
        /// The files written.
        names: String,
    },
    /// Step 2: the new certificate is registered (`already`: it was, by a killed run).
    Registered {
        /// The new certificate's SHA-1 thumbprint.
        thumbprint: String,
        /// Graph's `keyId` of it.
        key_id: String,
        /// Whether a killed run had registered it already.
        already: bool,
    },
    /// Step 3: no token yet with the new certificate.
    Waiting {
        /// How long it has waited.
        waited: Duration,
        /// How long it waits at most.
        limit: Duration,
    },
    /// Step 3: the new certificate gets a token.
    TokenWorks {
        /// The new certificate's SHA-1 thumbprint.
        thumbprint: String,
        /// How long it took.
        after: Duration,
    },
    /// Step 4, after the `n`th rename of the swap (1: the key of a pair, or the single file).
    Renamed {
        /// Which rename, from 1.
        n: usize,
    },
    /// Step 4: the files hold the new credential; the old ones are kept as `previous`.
    Swapped {
        /// The files that hold the new credential.
        names: String,
        /// The new certificate's SHA-1 thumbprint.
        thumbprint: String,
        /// Where the old files are kept.
        previous_names: String,
    },
    /// Step 5: the old certificate is removed from the app.
    OldRemoved {
        /// The old certificate's SHA-1 thumbprint.
        thumbprint: String,
        /// Graph's `keyId` of it.
        key_id: String,
    },
    /// Step 5: the old certificate was no longer registered.
    OldNotRegistered {
        /// The old certificate's SHA-1 thumbprint.
        thumbprint: String,
    },
    /// Step 5: the old certificate stays registered, as asked.
    OldKept,
}

/// What a run did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Outcome {
    /// What the run did.
    pub action: Action,
    /// A dry run that found work to do (the plan was told as [`Event::Plan`] or
    /// [`Event::WouldResume`]).
    pub planned: bool,
    /// When the certificate now in use is due for renewal.
    pub renew_from: OffsetDateTime,
    /// The validity end of the certificate now in use.
    pub valid_until: Option<OffsetDateTime>,
    /// The certificate replaced (or, when nothing was done, the one in use).
    pub old: Option<KeyRef>,
    /// The new certificate, when there is one.
    pub new: Option<KeyRef>,
    /// Whether the old certificate was removed from the app.
    pub old_removed: bool,
}

/// What a run did, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Nothing was due (or it was a dry run).
    None,
    /// A rotation was made from start to end.
    Rotated,
    /// A rotation that a killed run had begun was completed.
    Resumed,
}

impl Action {
    /// `none`, `rotated` or `resumed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Rotated => "rotated",
            Action::Resumed => "resumed",
        }
    }
}

/// A certificate as the app registration knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// The portal's thumbprint (SHA-1, upper-case hex).
    pub thumbprint: String,
    /// The key credential's id on the app, when known.
    pub key_id: Option<String>,
}

impl KeyRef {
    fn of(c: &Credential, key_id: Option<String>) -> KeyRef {
        KeyRef {
            thumbprint: c.leaf().thumbprints.thumbprint(),
            key_id,
        }
    }
}

/// Renews the certificate in `layout`'s files when it is due, or completes a rotation a
/// killed run left, telling each step to `on_event`. Takes the layout's lock for the whole run:
/// a second run on the same files gets [`RotateError::Locked`].
pub fn run<H: Host>(
    layout: &Layout,
    protection: Protection,
    policy: &Policy,
    host: &H,
    on_event: &mut dyn FnMut(Event),
) -> std::result::Result<Outcome, H::Error> {
    let run = Run {
        layout,
        protection,
        policy,
        host,
        on_event,
    };
    // A run that changes nothing leaves the folder as it found it: no lock file either.
    if policy.dry_run {
        return run.go();
    }
    if let Some(outcome) = run.nothing_due_yet()? {
        return Ok(outcome);
    }
    let Some(_lock) = layout::lock(layout)? else {
        return Err(Error::from(RotateError::Locked {
            names: layout.credential_names(Slot::Current),
            lock_file: layout.lock_file(),
        })
        .into());
    };
    // Under the lock, where the rotation stands is read again: another run may have moved it.
    run.go()
}

/// How a run with nothing under way began.
enum Begun {
    /// Step 1 is done: the new credential is staged.
    Staged,
    /// Nothing more to do (nothing due, or a dry run's plan).
    Done(Outcome),
}

struct Run<'a, H: Host> {
    layout: &'a Layout,
    protection: Protection,
    policy: &'a Policy,
    host: &'a H,
    on_event: &'a mut dyn FnMut(Event),
}

impl<H: Host> Run<'_, H> {
    fn tell(&mut self, event: Event) {
        (self.on_event)(event);
    }

    fn renew_from(&self, c: &Credential) -> OffsetDateTime {
        layout::renew_from(c.leaf(), self.policy.renew_within_days)
    }

    fn go(mut self) -> std::result::Result<Outcome, H::Error> {
        let mut stage = layout::stage(self.layout);
        let resumed = stage != Stage::Idle;
        if stage == Stage::HalfSwapped {
            if !self.policy.dry_run {
                layout::finish_swap(self.layout)?;
                stage = layout::stage(self.layout);
            }
            self.tell(Event::HalfSwapFinished {
                done: !self.policy.dry_run,
            });
        }
        if stage == Stage::Idle {
            match self.begin()? {
                Begun::Staged => stage = Stage::Staged,
                Begun::Done(outcome) => return Ok(outcome),
            }
        } else if self.policy.dry_run {
            return Ok(self.would_resume(stage));
        }
        self.complete(stage, resumed)
    }

    /// With nothing under way: nothing due, refused (expired), planned (a dry run), or step 1.
    fn begin(&mut self) -> std::result::Result<Begun, H::Error> {
        let now = OffsetDateTime::now_utc();
        let current = self.host.load(Slot::Current)?;
        let renew_from = self.renew_from(&current);
        if now < renew_from {
            return Ok(Begun::Done(self.nothing_due(&current, renew_from, false)));
        }
        if current.leaf().not_after <= now {
            return Err(Error::from(RotateError::Expired {
                not_after: current.leaf().not_after,
            })
            .into());
        }
        if self.policy.dry_run {
            self.tell(Event::Plan {
                thumbprint: current.leaf().thumbprints.thumbprint(),
                renew_from,
                key_size: self.policy.key_size,
                days: self.policy.days,
                next_names: self.layout.credential_names(Slot::Next),
                wait: self.policy.wait,
                previous_names: self.layout.names(Slot::Previous),
                keep_old: self.policy.keep_old,
            });
            return Ok(Begun::Done(self.nothing_due(&current, renew_from, true)));
        }
        self.stage_new(&current)?;
        Ok(Begun::Staged)
    }

    /// A dry run that finds a rotation under way: what it would resume.
    fn would_resume(&mut self, stage: Stage) -> Outcome {
        self.tell(Event::WouldResume { stage });
        let current = self.host.load(Slot::Current).ok();
        Outcome {
            action: Action::None,
            planned: true,
            renew_from: current
                .as_ref()
                .map(|c| self.renew_from(c))
                .unwrap_or_else(OffsetDateTime::now_utc),
            valid_until: current.as_ref().map(|c| c.leaf().not_after),
            old: current.as_ref().map(|c| KeyRef::of(c, None)),
            new: None,
            old_removed: false,
        }
    }

    /// Steps 2 to 5 from `stage` (staged, or swapped with the old key still to remove).
    fn complete(mut self, stage: Stage, resumed: bool) -> std::result::Result<Outcome, H::Error> {
        let graph = self.host.graph()?;
        let (old, new, new_key_id) = if stage == Stage::Staged {
            let current = self.host.load(Slot::Current)?;
            let next = self.host.load(Slot::Next)?;
            let key_id = self.register(graph.as_ref(), &current, &next)?;
            self.wait_for_token(&next)?;
            self.swap(&next)?;
            (current, next, Some(key_id))
        } else {
            let current = self.host.load(Slot::Current)?;
            let previous = self.host.load(Slot::Previous)?;
            (previous, current, None)
        };
        let (old_removed, old_key_id) = self.remove_old(graph.as_ref(), &old, &new)?;
        let new_key_id = match new_key_id {
            Some(id) => Some(id),
            None => graph
                .application()?
                .key_for(&new.leaf().thumbprints.thumbprint())
                .map(|k| k.key_id.clone()),
        };
        Ok(Outcome {
            action: if resumed {
                Action::Resumed
            } else {
                Action::Rotated
            },
            planned: false,
            renew_from: self.renew_from(&new),
            valid_until: Some(new.leaf().not_after),
            old: Some(KeyRef::of(&old, old_key_id)),
            new: Some(KeyRef::of(&new, new_key_id)),
            old_removed,
        })
    }

    /// The outcome of a run with nothing under way and nothing due, read without the lock.
    fn nothing_due_yet(&self) -> std::result::Result<Option<Outcome>, H::Error> {
        if layout::stage(self.layout) != Stage::Idle {
            return Ok(None);
        }
        let current = self.host.load(Slot::Current)?;
        let renew_from = self.renew_from(&current);
        Ok((OffsetDateTime::now_utc() < renew_from)
            .then(|| self.nothing_due(&current, renew_from, false)))
    }

    fn nothing_due(
        &self,
        current: &Credential,
        renew_from: OffsetDateTime,
        planned: bool,
    ) -> Outcome {
        Outcome {
            action: Action::None,
            planned,
            renew_from,
            valid_until: Some(current.leaf().not_after),
            old: Some(KeyRef::of(current, None)),
            new: None,
            old_removed: false,
        }
    }

    /// Step 1: a new key and certificate with the current subject, the profile of a new
    /// client-authentication certificate.
    fn stage_new(&mut self, current: &Credential) -> Result<()> {
        let subject =
            Subject::parse(&current.leaf().subject).or_else(|_| Subject::common_name("certgen"))?;
        let generated = generate::generate(&NewCertificate {
            subject,
            sans: Vec::new(),
            days: self.policy.days,
            key_size: self.policy.key_size,
            profile: Profile::ClientAuth,
        })?;
        layout::stage_new(
            self.layout,
            &generated.cert,
            &generated.key,
            self.protection,
            self.host.password(),
        )?;
        self.tell(Event::Staged {
            thumbprint: generated.cert.thumbprints.thumbprint(),
            not_after: generated.cert.not_after,
            names: self.layout.credential_names(Slot::Next),
        });
        Ok(())
    }

    /// Step 2: addKey, unless the new certificate is registered already (a resumed run).
    fn register(
        &mut self,
        graph: &dyn AppKeys<Error = H::Error>,
        current: &Credential,
        next: &Credential,
    ) -> std::result::Result<String, H::Error> {
        let app = graph.application()?;
        let thumbprint = next.leaf().thumbprints.thumbprint();
        if let Some(k) = app.key_for(&thumbprint) {
            let key_id = k.key_id.clone();
            self.tell(Event::Registered {
                thumbprint,
                key_id: key_id.clone(),
                already: true,
            });
            return Ok(key_id);
        }
        let key_id = graph.add_key(&app, next.leaf(), None, current)?;
        self.tell(Event::Registered {
            thumbprint,
            key_id: key_id.clone(),
            already: false,
        });
        Ok(key_id)
    }

    /// Step 3: asks for a token with the new certificate until one comes or the wait runs out.
    fn wait_for_token(&mut self, next: &Credential) -> std::result::Result<(), H::Error> {
        let start = Instant::now();
        let limit = self.policy.wait;
        let thumbprint = next.leaf().thumbprints.thumbprint();
        loop {
            match self.host.token(Slot::Next) {
                Ok(()) => {
                    self.tell(Event::TokenWorks {
                        thumbprint,
                        after: start.elapsed(),
                    });
                    return Ok(());
                }
                Err(e) => {
                    let waited = start.elapsed();
                    if waited >= limit {
                        return Err(Error::from(RotateError::NoToken {
                            thumbprint,
                            wait: limit,
                            current_names: self.layout.credential_names(Slot::Current),
                            last: e.to_string(),
                        })
                        .into());
                    }
                    self.tell(Event::Waiting { waited, limit });
                    std::thread::sleep(
                        Duration::from_secs(2)
                            .min(limit.saturating_sub(waited))
                            .max(Duration::from_millis(200)),
                    );
                }
            }
        }
    }

    /// Step 4: the swap, told rename by rename.
    fn swap(&mut self, next: &Credential) -> Result<()> {
        let on_event = &mut *self.on_event;
        layout::swap(self.layout, next.leaf(), self.policy.keep_old, &mut |n| {
            on_event(Event::Renamed { n })
        })?;
        self.tell(Event::Swapped {
            names: self.layout.names(Slot::Current),
            thumbprint: next.leaf().thumbprints.thumbprint(),
            previous_names: self.layout.names(Slot::Previous),
        });
        Ok(())
    }

    /// Step 5: removeKey the old certificate, unless it is to be kept; the old key's id when
    /// it was removed.
    fn remove_old(
        &mut self,
        graph: &dyn AppKeys<Error = H::Error>,
        old: &Credential,
        new: &Credential,
    ) -> std::result::Result<(bool, Option<String>), H::Error> {
        if self.policy.keep_old {
            self.tell(Event::OldKept);
            layout::removal_done(self.layout)?;
            return Ok((false, None));
        }
        let app = graph.application()?;
        let thumbprint = old.leaf().thumbprints.thumbprint();
        let removed = match app.key_for(&thumbprint).cloned() {
            Some(k) => {
                remove_confirmed(graph, &app, &k.key_id, new)?;
                self.tell(Event::OldRemoved {
                    thumbprint,
                    key_id: k.key_id.clone(),
                });
                (true, Some(k.key_id))
            }
            None => {
                self.tell(Event::OldNotRegistered { thumbprint });
                (false, None)
            }
        };
        layout::removal_done(self.layout)?;
        Ok(removed)
    }
}

/// removeKey, trusting a re-read over the answer: a live tenant can answer "No credentials
/// found to be removed." and remove the key all the same.
pub fn remove_confirmed<K: AppKeys + ?Sized>(
    graph: &K,
    app: &Application,
    key_id: &str,
    signer: &Credential,
) -> std::result::Result<(), K::Error> {
    match graph.remove_key(app, key_id, signer) {
        Ok(()) => Ok(()),
        Err(e) => {
            let gone = graph
                .application()
                .is_ok_and(|now| !now.keys.iter().any(|k| k.key_id == key_id));
            if gone {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}
