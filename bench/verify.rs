//! Validations per second with a warm key set, one core, next to the raw RSA-2048 verify rate of
//! the same library in the same run. Run by `bench/verify.sh` (which adds `openssl speed`).
//!
//!     cargo bench --bench verify -- [ITERATIONS]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use certgen::key::{KeyKind, PrivateKey};
use certgen::verify::{KeySet, Validator, ValidatorOptions};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

const ISSUER: &str = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0";
const API: &str = "33333333-3333-3333-3333-333333333333";

const ROUNDS: u32 = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: u32 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);

    let pair = KeyPair::generate(KeySize::Rsa2048)?;
    let key = PrivateKey::from_pkcs8_der(pair.as_der()?.as_ref())?;
    let KeyKind::Rsa { n, e, pkcs1 } = key.kind() else {
        return Err("not RSA".into());
    };
    let jwks = json!({"keys": [{"kty": "RSA", "use": "sig", "kid": "k1",
        "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)}]});
    let token = sign(&EncodingKey::from_rsa_der(pkcs1), &entra_like_claims())?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let options = ValidatorOptions::new([API])
        .issuer(ISSUER)
        .require_role("Data.Read");

    // Raw RSA verify of the same signature: the floor any validator pays.
    let (input, sig) = token.rsplit_once('.').ok_or("token")?;
    let sig = URL_SAFE_NO_PAD.decode(sig)?;
    let spki = pair.public_key().as_der()?;
    let raw = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki.as_ref()).parse()?;
    let raw = || raw.verify_sig(input.as_bytes(), &sig).is_ok();

    // Keys in memory (from_key_set / --jwks-file).
    let file = Validator::from_key_set(
        KeySet::from_json(jwks.to_string().as_bytes(), "bench")?,
        options.clone(),
    );
    let file = || runtime.block_on(file.validate(&token)).is_ok();

    // Keys fetched over HTTP from a local JWKS endpoint, then warm (the authority path).
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let url = format!("http://{}/keys", listener.local_addr()?);
    let doc = jwks.clone();
    let app = Router::new().route("/keys", get(move || async move { Json::<Value>(doc) }));
    runtime.spawn(async move { axum::serve(listener, app).await });
    let remote = runtime.block_on(Validator::from_jwks_uri(&url, options))?;
    let remote = || runtime.block_on(remote.validate(&token)).is_ok();

    // The machine is shared: the three are measured in interleaved rounds and each reported
    // as its best round (the least disturbed) and its median.
    let per_round = (iterations / ROUNDS).max(1);
    let mut rates: [Vec<f64>; 3] = Default::default();
    for _ in 0..ROUNDS {
        rates[0].push(rate(per_round, raw));
        rates[1].push(rate(per_round, file));
        rates[2].push(rate(per_round, remote));
    }
    let [raw_r, file_r, uri_r] = rates.map(|mut r| {
        r.sort_by(f64::total_cmp);
        (r[r.len() - 1], r[r.len() / 2])
    });
    println!(
        "iterations            {} ({ROUNDS} interleaved rounds of {per_round})",
        per_round * ROUNDS
    );
    println!("                      best/s   median/s");
    println!("raw_rsa2048_verify/s  {:<8.0} {:.0}", raw_r.0, raw_r.1);
    println!(
        "validate_file/s       {:<8.0} {:.0}   best {:.0}% of raw",
        file_r.0,
        file_r.1,
        100.0 * file_r.0 / raw_r.0
    );
    println!(
        "validate_jwks_uri/s   {:<8.0} {:.0}   best {:.0}% of raw",
        uri_r.0,
        uri_r.1,
        100.0 * uri_r.0 / raw_r.0
    );
    Ok(())
}

/// Calls `f` `n` times (after a 1/10 warm-up) and returns calls per second; every call must succeed.
fn rate(n: u32, f: impl Fn() -> bool) -> f64 {
    for _ in 0..n / 10 {
        assert!(f(), "warm-up call failed");
    }
    let start = Instant::now();
    for _ in 0..n {
        assert!(f(), "call failed");
    }
    let elapsed = start.elapsed().max(Duration::from_nanos(1));
    f64::from(n) / elapsed.as_secs_f64()
}

fn entra_like_claims() -> Value {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json!({
        "aud": API, "iss": ISSUER, "iat": t, "nbf": t, "exp": t + 3600,
        "aio": "k2BgYGhW3X1pFWu7x3e2zzQ+AAA=", "azp": "44444444-4444-4444-4444-444444444444",
        "azpacr": "2", "idtyp": "app", "oid": "55555555-5555-5555-5555-555555555555",
        "rh": "1.AAAAERERERERERERERERERERETMzMzMzMzMzMzMzMzMzMzMAAAA.", "roles": ["Data.Read"],
        "sub": "55555555-5555-5555-5555-555555555555", "tid": "11111111-1111-1111-1111-111111111111",
        "uti": "Ab1c2D3e4F5g6H7i8J9k0A", "ver": "2.0",
    })
}

fn sign(key: &EncodingKey, claims: &Value) -> Result<String, Box<dyn std::error::Error>> {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"typ": "JWT", "alg": "RS256", "kid": "k1"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, Algorithm::RS256)?;
    Ok(format!("{input}.{sig}"))
}
