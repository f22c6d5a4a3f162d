//! One core's RSA-2048 RS256 sign rate through the very path `certgen serve` signs its tokens
//! with (`certgen::jose::SigningKey`, aws-lc-rs `RsaKeyPair`), over a signing input the size of
//! an access token's; and the verify rate of a client assertion's signature, with the public
//! key parsed once and, as a grant did before it was cached, parsed from `n`/`e` each time.
//! Rates are per second of this process's CPU time (as `openssl speed` divides by user CPU
//! time), so other work on a shared machine does not lower them. Run by `bench/grant_cpu.sh`.
//!
//!     cargo bench --bench sign_rate -- [SECONDS]

use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use certgen::jose::{Alg, SigningKey, VerifyingKey};
use certgen::key::{KeyKind, PrivateKey};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(3.0);
    let budget = Duration::from_secs_f64(seconds);

    let pair = KeyPair::generate(KeySize::Rsa2048)?;
    let key = PrivateKey::from_pkcs8_der(pair.as_der()?.as_ref())?;
    let KeyKind::Rsa { n, e, pkcs1 } = key.kind() else {
        return Err("not RSA".into());
    };
    let signer = SigningKey::from_pkcs1_der(pkcs1)?;
    // An app-only v2 access token's `header.payload` is about 700 bytes; SHA-256 over it is
    // noise next to the private-key operation either way.
    let input = vec![b'a'; 700];
    let signature = signer.sign(Alg::Rs256, &input)?;
    let parsed = VerifyingKey::from_rsa_components(n, e)?;

    let sign = per_cpu_second(budget, || signer.sign(Alg::Rs256, &input).is_ok());
    let verify = per_cpu_second(budget / 3, || {
        parsed.verify(Alg::Rs256, &input, &signature).is_ok()
    });
    let verify_parsing = per_cpu_second(budget / 3, || {
        VerifyingKey::from_rsa_components(n, e)
            .and_then(|k| k.verify(Alg::Rs256, &input, &signature))
            .is_ok()
    });
    println!(
        "RESULT sign_per_s={sign:.1} verify_per_s={verify:.1} verify_parsing_key_per_s={verify_parsing:.1}"
    );
    Ok(())
}

/// Calls `op` until `budget` of this process's CPU time has gone; calls per CPU second.
fn per_cpu_second(budget: Duration, mut op: impl FnMut() -> bool) -> f64 {
    let start = cpu_time();
    let mut n = 0u64;
    loop {
        assert!(op(), "the operation failed");
        n += 1;
        let spent = cpu_time() - start;
        if spent >= budget {
            return n as f64 / spent.as_secs_f64();
        }
    }
}

fn cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
