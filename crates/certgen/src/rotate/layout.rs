//! The files of a rotation and the stage they show: where the new credential is staged, the old
//! one kept, the lock taken; each step of the swap as a rename.

use std::path::{Path, PathBuf};

use time::{Duration, OffsetDateTime};

use crate::certificate::Certificate;
use crate::credential::CredentialSource;
use crate::error::{Error, Result};
use crate::files::{self, OutputFile};
use crate::input;
use crate::key::PrivateKey;
use crate::pkcs12::{self, Pkcs12Error, Pkcs12Flavor};
use crate::secret::Secret;

/// How the credential is stored; the new one is stored the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Files {
    /// A certificate file and a key file.
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// One PEM file holding the certificate and the key.
    CombinedPem(PathBuf),
    /// One PKCS#12 file.
    Pkcs12(PathBuf),
}

impl Files {
    /// A single file holding certificate and key, PEM or PKCS#12 by its content.
    pub fn single(path: &Path) -> Result<Files> {
        let bytes = input::read_input(path)?;
        Ok(if input::is_pem(&bytes) {
            Files::CombinedPem(path.to_path_buf())
        } else {
            Files::Pkcs12(path.to_path_buf())
        })
    }
}

/// Which generation of the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The credential in use.
    Current,
    /// The staged new one (`*.next`).
    Next,
    /// The one replaced (`*.previous`).
    Previous,
}

impl Slot {
    fn of(self, path: &Path) -> PathBuf {
        match self {
            Slot::Current => path.to_path_buf(),
            Slot::Next => with_suffix(path, ".next"),
            Slot::Previous => with_suffix(path, ".previous"),
        }
    }
}

/// The files of one credential and its rotation.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Where the credential is.
    pub files: Files,
    /// The DER copy of the certificate beside it (`BASE.cer`), when there is one.
    pub der: Option<PathBuf>,
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl Layout {
    /// The layout of `files`, with the `.cer` beside the certificate if it exists. A file
    /// given through a symbolic link is renewed where the link points: the link stays a link
    /// and the file it names gets the new credential.
    pub fn new(files: Files) -> Layout {
        let files = match files {
            Files::Pair { cert, key } => Files::Pair {
                cert: resolve_link(cert),
                key: resolve_link(key),
            },
            Files::CombinedPem(f) => Files::CombinedPem(resolve_link(f)),
            Files::Pkcs12(f) => Files::Pkcs12(resolve_link(f)),
        };
        let mut layout = Layout { files, der: None };
        let primary = layout.primary();
        let der = primary.with_extension("cer");
        // `--cert app.cer` (a DER certificate with its key): that file is the certificate.
        if der != primary && der.is_file() {
            layout.der = Some(der);
        }
        layout
    }

    /// The file the certificate is in: the marker and the lock are named after it.
    pub fn primary(&self) -> &Path {
        match &self.files {
            Files::Pair { cert, .. } => cert,
            Files::CombinedPem(f) | Files::Pkcs12(f) => f,
        }
    }

    /// The credential's files in swap order: a key before its certificate.
    pub fn credential_files(&self) -> Vec<&Path> {
        match &self.files {
            Files::Pair { cert, key } => vec![key, cert],
            Files::CombinedPem(f) | Files::Pkcs12(f) => vec![f],
        }
    }

    /// Every file the swap replaces, in order: the credential's, then the `.cer`.
    fn targets(&self) -> Vec<&Path> {
        let mut t = self.credential_files();
        t.extend(self.der.as_deref());
        t
    }

    /// Whether `path` (one of the targets) holds a private key.
    fn holds_key(&self, path: &Path) -> bool {
        match &self.files {
            Files::Pair { key, .. } => path == key,
            Files::CombinedPem(f) | Files::Pkcs12(f) => path == f,
        }
    }

    /// The credential of `slot`, to load.
    pub fn source(&self, slot: Slot) -> CredentialSource {
        match &self.files {
            Files::Pair { cert, key } => CredentialSource {
                cert: Some(slot.of(cert)),
                key: Some(slot.of(key)),
                pfx: None,
            },
            Files::CombinedPem(f) => CredentialSource {
                cert: Some(slot.of(f)),
                key: None,
                pfx: None,
            },
            Files::Pkcs12(f) => CredentialSource {
                cert: None,
                key: None,
                pfx: Some(slot.of(f)),
            },
        }
    }

    /// Every file of `slot` the swap replaces, for messages: "app.crt, app.key and app.cer".
    pub fn names(&self, slot: Slot) -> String {
        self.list(slot, self.der.as_deref())
    }

    /// The credential's files of `slot`, for messages: "app.crt and app.key", "app.pfx".
    pub fn credential_names(&self, slot: Slot) -> String {
        self.list(slot, None)
    }

    fn list(&self, slot: Slot, der: Option<&Path>) -> String {
        let mut names: Vec<String> = match &self.files {
            Files::Pair { cert, key } => vec![cert.as_path(), key],
            Files::CombinedPem(f) | Files::Pkcs12(f) => vec![f.as_path()],
        }
        .into_iter()
        .chain(der)
        .map(|p| slot.of(p).display().to_string())
        .collect();
        let last = names.pop().unwrap_or_default();
        if names.is_empty() {
            last
        } else {
            format!("{} and {last}", names.join(", "))
        }
    }

    /// The marker file saying the old certificate is still to be removed from the app.
    pub fn removal_marker(&self) -> PathBuf {
        with_suffix(self.primary(), ".remove-pending")
    }

    /// Named after the certificate's real path, so two runs naming the same files by
    /// different paths (a relative and an absolute one, a linked folder) exclude each other.
    pub fn lock_file(&self) -> PathBuf {
        let primary = self
            .primary()
            .canonicalize()
            .unwrap_or_else(|_| self.primary().to_path_buf());
        with_suffix(&primary, ".rotate.lock")
    }
}

/// The file a symbolic link points to (followed to the end); any other path as given.
fn resolve_link(path: PathBuf) -> PathBuf {
    match path.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => path.canonicalize().unwrap_or(path),
        _ => path,
    }
}

/// Held for a whole run (on drop, or when the process dies, the lock goes).
pub type RotateLock = crate::files::FileLock;

/// Takes the run's exclusive lock without waiting: `None` when another process holds it.
pub fn lock(layout: &Layout) -> Result<Option<RotateLock>> {
    RotateLock::acquire(&layout.lock_file(), false)
}

/// Where a rotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing under way (a lone `*.key.next` included: step 1 is made again).
    Idle,
    /// The new credential is staged (steps 2–4 to do).
    Staged,
    /// Part of the swap is done: a pair's key but not its certificate, or the credential but
    /// not the `.cer`.
    HalfSwapped,
    /// Swapped; the old certificate is still to be removed from the app.
    RemovalPending,
}

/// Reads the stage from the files.
pub fn stage(layout: &Layout) -> Stage {
    let staged: Vec<bool> = layout
        .credential_files()
        .iter()
        .map(|p| Slot::Next.of(p).exists())
        .collect();
    if staged.iter().all(|s| *s) {
        return Stage::Staged;
    }
    // The certificate (or single file) is renamed after the key and before the `.cer`.
    let certificate_waits = staged.last() == Some(&true);
    let der_waits = layout
        .der
        .as_deref()
        .is_some_and(|d| Slot::Next.of(d).exists());
    if certificate_waits || der_waits {
        Stage::HalfSwapped
    } else if layout.removal_marker().exists() {
        Stage::RemovalPending
    } else {
        Stage::Idle
    }
}

/// The moment from which `cert` is due for renewal.
pub fn renew_from(cert: &Certificate, within_days: u32) -> OffsetDateTime {
    cert.not_after - Duration::days(i64::from(within_days))
}

/// How the current files are protected; the new ones are protected the same way, so whatever
/// reads them (the daemon, a Windows or Java 8 importer) reads the new ones as it read the old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// Opening them takes a password: an encrypted PKCS#8 key, or a PKCS#12 file that the
    /// empty password does not open.
    pub password: bool,
    /// The flavour a PKCS#12 layout is written in.
    pub flavor: Pkcs12Flavor,
}

/// Reads how the current files are protected, without a password.
pub fn protection(layout: &Layout) -> Result<Protection> {
    match &layout.files {
        Files::Pkcs12(f) => {
            let bytes = input::read_input(f)?;
            Ok(Protection {
                password: matches!(pkcs12::read(&bytes, ""), Err(Pkcs12Error::WrongPassword)),
                flavor: pkcs12::flavor_of(&bytes),
            })
        }
        Files::Pair { .. } | Files::CombinedPem(_) => {
            let mut password = false;
            for f in layout.credential_files() {
                password |= input::has_encrypted_key(&input::read_input(f)?);
            }
            Ok(Protection {
                password,
                flavor: Pkcs12Flavor::Modern,
            })
        }
    }
}

/// Step 1: writes the new credential beside the current one, each file atomically (of a pair,
/// the key first, and the certificate DER if the current one is), protected as `protection`
/// says with `password`, the current one's.
pub fn stage_new(
    layout: &Layout,
    cert: &Certificate,
    key: &PrivateKey,
    protection: Protection,
    password: Option<&Secret>,
) -> Result<()> {
    let password = match (protection.password, password) {
        (false, _) => None,
        (true, Some(p)) => Some(p),
        (true, None) => {
            return Err(Error::failure(
                "the new files need the password of the current ones, and none was given",
            ))
        }
    };
    let key_pem = || match password {
        Some(p) => key.to_encrypted_pkcs8_pem(p),
        None => Ok(key.to_pkcs8_pem()),
    };
    let written = match &layout.files {
        Files::Pair { cert: c, key: k } => encoded_like(c, cert).and_then(|cert_bytes| {
            files::replace(&OutputFile::private(Slot::Next.of(k), key_pem()?).like(k)?)?;
            files::replace(&OutputFile::public(Slot::Next.of(c), cert_bytes).like(c)?)
        }),
        Files::CombinedPem(f) => key_pem().and_then(|key_pem| {
            files::replace(
                &OutputFile::private(Slot::Next.of(f), cert.to_pem() + &key_pem).like(f)?,
            )
        }),
        Files::Pkcs12(f) => {
            let name = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            pkcs12::write(cert, &[], key, password, protection.flavor, &name).and_then(|bytes| {
                files::replace(&OutputFile::private(Slot::Next.of(f), bytes).like(f)?)
            })
        }
    };
    if written.is_err() {
        // Nothing half made stays behind: a file that cannot get its owner is no change.
        for f in layout.credential_files() {
            let _ = std::fs::remove_file(Slot::Next.of(f));
        }
    }
    written
}

/// `cert` encoded as the certificate file `like` is: PEM, or DER (a `.cer`).
fn encoded_like(like: &Path, cert: &Certificate) -> Result<Vec<u8>> {
    Ok(if input::is_pem(&input::read_input(like)?) {
        cert.to_pem().into_bytes()
    } else {
        cert.der().to_vec()
    })
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|e| Error::io("rename", from, e))?;
    sync_dir(to);
    Ok(())
}

/// Makes a rename durable (the directory entry), where the platform allows.
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Step 4: keeps the current files as `*.previous`, marks the old certificate for removal
/// unless `keep_old`, writes the `.cer` of `new` (in the encoding the current `.cer` has), and
/// renames the staged files into place. `between(n)` runs after the n-th rename of several
/// (a test's kill points).
pub fn swap(
    layout: &Layout,
    new: &Certificate,
    keep_old: bool,
    between: &mut dyn FnMut(usize),
) -> Result<()> {
    if !keep_old {
        files::replace(&OutputFile::public(layout.removal_marker(), Vec::new()))?;
    }
    let read = |p: &Path| std::fs::read(p).map_err(|e| Error::io("read", p, e));
    for target in layout.targets() {
        let previous = Slot::Previous.of(target);
        let old = read(target)?;
        files::replace(
            &if layout.holds_key(target) {
                OutputFile::private(previous, old)
            } else {
                OutputFile::public(previous, old)
            }
            .like(target)?,
        )?;
    }
    if let Some(der) = &layout.der {
        files::replace(
            &OutputFile::public(Slot::Next.of(der), encoded_like(der, new)?).like(der)?,
        )?;
    }
    let targets = layout.targets();
    for (n, target) in targets.iter().enumerate() {
        rename(&Slot::Next.of(target), target)?;
        if n + 1 < targets.len() {
            between(n + 1);
        }
    }
    Ok(())
}

/// Completes a swap cut short: renames whatever is still staged, in the swap's order.
pub fn finish_swap(layout: &Layout) -> Result<()> {
    for target in layout.targets() {
        let next = Slot::Next.of(target);
        if next.exists() {
            rename(&next, target)?;
        }
    }
    Ok(())
}

/// Step 5 done (or not wanted): the marker goes.
pub fn removal_done(layout: &Layout) -> Result<()> {
    match std::fs::remove_file(layout.removal_marker()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", &layout.removal_marker(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{self, KeySize, NewCertificate, Profile, Subject};

    fn generated() -> generate::Generated {
        generate::generate(&NewCertificate {
            subject: Subject::common_name("rotate-unit").unwrap(),
            sans: Vec::new(),
            days: 30,
            key_size: KeySize::from_bits(2048).unwrap(),
            profile: Profile::ClientAuth,
        })
        .unwrap()
    }

    #[test]
    fn the_stage_is_read_from_the_files_and_the_swap_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("app.crt"), dir.path().join("app.key"));
        let der = dir.path().join("app.cer");
        std::fs::write(&cert, "-----BEGIN CERTIFICATE----- (old)").unwrap();
        std::fs::write(&key, "old key").unwrap();
        std::fs::write(&der, [0x30, 0x00]).unwrap();
        let layout = Layout::new(Files::Pair {
            cert: cert.clone(),
            key: key.clone(),
        });
        assert_eq!(layout.der.as_deref(), Some(der.as_path()));
        assert_eq!(stage(&layout), Stage::Idle);
        std::fs::write(Slot::Next.of(&key), "half").unwrap();
        assert_eq!(stage(&layout), Stage::Idle);
        let new = generated();
        stage_new(
            &layout,
            &new.cert,
            &new.key,
            protection(&layout).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(stage(&layout), Stage::Staged);
        let seen = std::cell::RefCell::new(Vec::new());
        swap(&layout, &new.cert, false, &mut |n| {
            seen.borrow_mut().push((n, stage(&layout)))
        })
        .unwrap();
        assert_eq!(
            *seen.borrow(),
            [(1, Stage::HalfSwapped), (2, Stage::HalfSwapped)]
        );
        assert_eq!(stage(&layout), Stage::RemovalPending);
        assert_eq!(std::fs::read_to_string(&cert).unwrap(), new.cert.to_pem());
        assert_eq!(std::fs::read(&der).unwrap(), new.cert.der());
        assert_eq!(
            std::fs::read_to_string(Slot::Previous.of(&key)).unwrap(),
            "old key"
        );
        assert_eq!(
            std::fs::read(Slot::Previous.of(&der)).unwrap(),
            [0x30, 0x00]
        );
        removal_done(&layout).unwrap();
        assert_eq!(stage(&layout), Stage::Idle);
    }

    #[test]
    fn a_single_file_is_swapped_whole_and_only_its_cer_can_lag() {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("app.pem");
        let old = generated();
        std::fs::write(&pem, old.cert.to_pem() + &old.key.to_pkcs8_pem()).unwrap();
        std::fs::write(dir.path().join("app.cer"), old.cert.to_pem()).unwrap();
        let layout = Layout::new(Files::single(&pem).unwrap());
        assert_eq!(layout.files, Files::CombinedPem(pem.clone()));
        assert_eq!(layout.names(Slot::Next), {
            let d = dir.path().display();
            format!("{d}/app.pem.next and {d}/app.cer.next")
        });
        let new = generated();
        stage_new(
            &layout,
            &new.cert,
            &new.key,
            protection(&layout).unwrap(),
            None,
        )
        .unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        swap(&layout, &new.cert, true, &mut |n| {
            seen.borrow_mut().push((n, stage(&layout)))
        })
        .unwrap();
        // One rename for the credential, then the .cer (kept PEM, as it was).
        assert_eq!(*seen.borrow(), [(1, Stage::HalfSwapped)]);
        assert_eq!(stage(&layout), Stage::Idle);
        let cer = std::fs::read_to_string(dir.path().join("app.cer")).unwrap();
        assert_eq!(cer, new.cert.to_pem());
    }

    #[test]
    fn a_der_certificate_file_stays_der() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("app.cer"), dir.path().join("app.key"));
        let old = generated();
        std::fs::write(&cert, old.cert.der()).unwrap();
        std::fs::write(&key, old.key.to_pkcs8_pem()).unwrap();
        let layout = Layout::new(Files::Pair { cert, key });
        // The certificate is the .cer itself: no second copy to refresh.
        assert_eq!(layout.der, None);
        let new = generated();
        let p = protection(&layout).unwrap();
        stage_new(&layout, &new.cert, &new.key, p, None).unwrap();
        let staged = layout.source(Slot::Next).cert.unwrap();
        assert_eq!(std::fs::read(staged).unwrap(), new.cert.der());
    }

    #[test]
    fn an_encrypted_key_stays_encrypted_with_the_same_password() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("app.crt"), dir.path().join("app.key"));
        let old = generated();
        let password = Secret::new("rotate-pw");
        std::fs::write(&cert, old.cert.to_pem()).unwrap();
        std::fs::write(&key, old.key.to_encrypted_pkcs8_pem(&password).unwrap()).unwrap();
        let layout = Layout::new(Files::Pair { cert, key });
        let p = protection(&layout).unwrap();
        assert!(p.password);
        let new = generated();
        assert!(stage_new(&layout, &new.cert, &new.key, p, None).is_err());
        stage_new(&layout, &new.cert, &new.key, p, Some(&password)).unwrap();
        let staged = std::fs::read(layout.source(Slot::Next).key.unwrap()).unwrap();
        assert!(input::has_encrypted_key(&staged));
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_is_exclusive_until_dropped_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(Files::Pair {
            cert: dir.path().join("app.crt"),
            key: dir.path().join("app.key"),
        });
        let held = lock(&layout).unwrap().expect("free at first");
        // flock locks belong to the open file description: a second open conflicts, even here.
        assert!(lock(&layout).unwrap().is_none());
        let mode = std::fs::metadata(layout.lock_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(held);
        assert!(lock(&layout).unwrap().is_some());
    }

    /// Two runs naming the same files by different paths (here through a linked folder) take
    /// the same lock; a file given as a link is renewed where it points.
    #[test]
    fn the_lock_and_the_files_follow_links_to_the_real_files() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("app.crt"), "c").unwrap();
        std::fs::write(real.join("app.key"), "k").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("via")).unwrap();
        std::os::unix::fs::symlink(real.join("app.key"), dir.path().join("link.key")).unwrap();
        let direct = Layout::new(Files::Pair {
            cert: real.join("app.crt"),
            key: real.join("app.key"),
        });
        let linked = Layout::new(Files::Pair {
            cert: dir.path().join("via/app.crt"),
            key: dir.path().join("link.key"),
        });
        assert_eq!(direct.lock_file(), linked.lock_file());
        let Files::Pair { key, .. } = &linked.files else {
            panic!("a pair")
        };
        assert_eq!(key, &real.join("app.key").canonicalize().unwrap());
    }
}
