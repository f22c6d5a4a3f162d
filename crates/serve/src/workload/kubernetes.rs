//! The Kubernetes service-account token file: written at start, then rewritten before 80 % of
//! the token's life as the kubelet does for a projected token
//! (<https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken>),
//! atomically (a reader sees the old token or the new one, never a partial file).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certgen::files::{self, OutputFile};

use super::{claims, Running, Workloads};
use crate::config::{Platform, TokenVersion};
use crate::error::Result;

/// The file name the workload-identity webhook mounts (`azure-identity-token`), in a folder of
/// the state folder per workload.
pub fn token_file(state_dir: &Path, name: &str) -> PathBuf {
    state_dir
        .join("workloads")
        .join(name)
        .join("azure-identity-token")
}

/// Signs a new token and replaces the file with it (0600).
pub fn write(r: &Running, file: &Path, now: i64) -> Result<()> {
    if let Some(dir) = file.parent() {
        certgen::paths::ensure_private_dir(dir)?;
    }
    let jwt = r
        .key
        .sign(TokenVersion::V2, claims::kubernetes(&r.workload, now))
        .map_err(|_| certgen::Error::failure("cannot sign a workload token"))?;
    files::replace(&OutputFile::private(file.to_path_buf(), jwt))?;
    Ok(())
}

/// When the next rewrite is due: at 80 % of the lifetime, as the kubelet refreshes.
fn refresh_after(lifetime_secs: u64) -> Duration {
    Duration::from_millis(lifetime_secs.saturating_mul(800))
}

/// Rewrites workload `i`'s file for the life of the process. A failed write is reported and
/// retried at the next period: the old token stays valid until its own expiry.
pub async fn rewrite_loop(workloads: Arc<Workloads>, i: usize) {
    let r = &workloads.running[i];
    let (Platform::Kubernetes { lifetime_secs, .. }, Some(file)) =
        (&r.workload.platform, &r.token_file)
    else {
        return;
    };
    let period = refresh_after(*lifetime_secs);
    loop {
        tokio::time::sleep(period).await;
        // One signature and a small file: short enough to run on the runtime's thread.
        if let Err(e) = write(r, file, claims::now()) {
            eprintln!(
                "warning: workload '{}': cannot rewrite {}: {e}",
                r.workload.name,
                file.display()
            );
        }
    }
}
