//! JWS / JWT in one place: base64url, the compact form taken apart (one parser, two policies),
//! NumericDate rules, the `Bearer` scheme, and RS256/PS256 signing and verification with keys
//! parsed once.
//!
//! Every module that reads or writes a JWT goes through here: `decode` and `verify` read with
//! [`Policy::Strict`] (RFC 7515 as written), `serve` reads client assertions with
//! [`Policy::Lenient`] (what Entra accepts from shipping clients) unless asked to be strict.
//!
//! One crypto path: aws-lc-rs directly. Keys are parsed once into an [`SigningKey`] /
//! [`VerifyingKey`]; `jsonwebtoken` re-parses and re-validates the RSA key on every call
//! (measured 672 µs against 247 µs per signature on the 2-core bench machine), and it would
//! be a second RSA implementation beside the one rcgen and rustls already use.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ParsedPublicKey, RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256, RSA_PSS_2048_8192_SHA256, RSA_PSS_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::rsa::{rsa_bits, strip_leading_zeros};

/// The smallest RSA modulus accepted for RS256/PS256: RFC 7518 §3.3 and §3.5 ask for 2048 bits,
/// and Entra refuses smaller credentials (AADSTS50032).
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus verified; aws-lc-rs refuses more, and no issuer uses more.
pub const MAX_RSA_BITS: usize = 8192;

/// How forgiving reading a compact JWS is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// RFC 7515 as written: base64url alphabet, no `=` padding.
    Strict,
    /// What Entra evidently accepts (observed of Entra, UNCONFIRMED by its documentation): trailing `=` padding and the
    /// standard base64 alphabet (`+`, `/`) too, even mixed, as .NET's Base64UrlEncoder does.
    Lenient,
}

/// Which of the three parts of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The first part.
    Header,
    /// The second part (the claims of a JWT).
    Claims,
    /// The third part.
    Signature,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Claims => "claims",
            Part::Signature => "signature",
        })
    }
}

/// Why a base64url text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum B64Error {
    /// A character outside the alphabet the policy allows (1-based position).
    #[error(
        "character '{}' at position {position}{}",
        character.escape_default(),
        character_hint(*character)
    )]
    Character {
        /// The character.
        character: char,
        /// Its position, from 1.
        position: usize,
    },
    /// The characters are right but do not form base64 (length, trailing bits).
    #[error("{0}")]
    Encoding(String),
}

fn character_hint(c: char) -> &'static str {
    match c {
        '+' | '/' => " (standard base64; a JWT uses base64url)",
        '=' => " (padding; a JWT leaves it out)",
        _ => "",
    }
}

/// A JOSE failure: which part is wrong and how, or which key or algorithm is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no token: the input is empty")]
    /// The input is empty.
    Empty,
    #[error(
        "this is an encrypted token (JWE, 5 parts): it cannot be read without the recipient's key"
    )]
    /// A JWE (five parts), not a JWS.
    Encrypted,
    #[error("not a JWT: expected 3 parts separated by '.', found {0}")]
    /// Not three parts.
    PartCount(usize),
    #[error("the JWT {0} is empty")]
    /// A part is empty.
    EmptyPart(Part),
    /// A part is not base64url.
    #[error("the JWT {part} is {}", base64_reason(source))]
    Base64 {
        /// The part.
        part: Part,
        /// Why.
        source: B64Error,
    },
    /// A part is not JSON.
    #[error("the JWT {part} is not JSON ({reason})")]
    Json {
        /// The part.
        part: Part,
        /// The parser's reason.
        reason: String,
    },
    #[error("the JWT {0} is JSON but not an object")]
    /// A part is JSON but not an object.
    NotObject(Part),
    /// An `alg` other than RS256/PS256 (or none at all).
    #[error("alg {0:?} is not supported; only RS256 and PS256 are")]
    UnsupportedAlg(String),
    #[error("the signature does not verify")]
    /// The signature does not verify.
    BadSignature,
    /// A key that cannot sign or verify: not RSA, too small or large, not parseable.
    #[error("{0}")]
    BadKey(String),
    #[error("signing failed")]
    /// Signing failed.
    Signing,
}

fn base64_reason(e: &B64Error) -> String {
    match e {
        B64Error::Character { .. } => format!("not base64url: {e}"),
        // The right characters in a wrong length: most often a token cut short when copied.
        B64Error::Encoding(reason) => {
            format!("not valid base64url ({reason}); the token may be truncated")
        }
    }
}

/// base64url as JOSE uses it.
pub mod b64 {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::{B64Error, Policy};

    /// base64url without padding (RFC 7515 §2).
    pub fn encode(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes under `policy` (see [`Policy`]); whitespace is refused under both.
    pub fn decode(text: &str, policy: Policy) -> Result<Vec<u8>, B64Error> {
        let body = match policy {
            Policy::Strict => text,
            Policy::Lenient => text.trim_end_matches('='),
        };
        for (i, c) in body.char_indices() {
            let ok = c.is_ascii_alphanumeric() || c == '-' || c == '_';
            let standard = c == '+' || c == '/';
            if ok || (standard && policy == Policy::Lenient) {
                continue;
            }
            return Err(B64Error::Character {
                character: c,
                position: body[..i].chars().count() + 1,
            });
        }
        let mapped = body
            .contains(['+', '/'])
            .then(|| body.replace('+', "-").replace('/', "_"));
        URL_SAFE_NO_PAD
            .decode(mapped.as_deref().unwrap_or(body))
            .map_err(|e| B64Error::Encoding(e.to_string()))
    }
}

/// A compact JWS taken apart; nothing in it has been verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws<'a> {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// `header "." payload` exactly as received: the bytes the signature covers.
    pub signing_input: &'a str,
    /// Empty for an unsecured JWT (whose `alg` then decides its fate).
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS under `policy`. The token is taken as given: strip a
/// `Bearer` prefix or surrounding whitespace first with [`strip_bearer`] where that is wanted.
pub fn parse(token: &str, policy: Policy) -> Result<Jws<'_>, Error> {
    if token.is_empty() {
        return Err(Error::Empty);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(match parts.len() {
            5 => Error::Encrypted,
            n => Error::PartCount(n),
        });
    };
    let signature = if signature.is_empty() {
        Vec::new()
    } else {
        b64::decode(signature, policy).map_err(|source| Error::Base64 {
            part: Part::Signature,
            source,
        })?
    };
    Ok(Jws {
        header: json_part(header, Part::Header, policy)?,
        claims: json_part(claims, Part::Claims, policy)?,
        signing_input: &token[..header.len() + 1 + claims.len()],
        signature,
    })
}

fn json_part(text: &str, part: Part, policy: Policy) -> Result<Map<String, Value>, Error> {
    if text.is_empty() {
        return Err(Error::EmptyPart(part));
    }
    let bytes = b64::decode(text, policy).map_err(|source| Error::Base64 { part, source })?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::NotObject(part)),
        Err(e) => Err(Error::Json {
            part,
            reason: e.to_string(),
        }),
    }
}

impl Jws<'_> {
    /// A header parameter, when it is a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A claim, when it is a string.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// The header's `alg` as one this module signs and verifies.
    pub fn alg(&self) -> Result<Alg, Error> {
        match self.header.get("alg") {
            Some(Value::String(name)) => {
                Alg::from_name(name).ok_or_else(|| Error::UnsupportedAlg(name.clone()))
            }
            Some(other) => Err(Error::UnsupportedAlg(other.to_string())),
            None => Err(Error::UnsupportedAlg("(none)".into())),
        }
    }
}

/// The claims that hold NumericDate times (RFC 7519 §2).
pub const TIME_CLAIMS: [&str; 4] = ["exp", "nbf", "iat", "auth_time"];

/// Which JSON forms count as a NumericDate (RFC 7519 §2: seconds since 1970, "can represent
/// non-integer values"). Every rule gives whole seconds, fractions floored, and refuses values
/// beyond ±9·10^15 s (nonsense as dates, and the float-to-integer step stays exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateRule {
    /// A JSON integer only: what RFC-conforming issuers write (`serve --strict`).
    Integer,
    /// Any JSON number (`verify`: NumericDate may carry fractions).
    Number,
    /// A number or a numeric string: Entra accepts both (MSAL Python sends floats, MSAL.NET
    /// strings; observed, UNCONFIRMED by documentation). `serve` and `decode`.
    Lenient,
}

/// Why a value is not a NumericDate under a [`DateRule`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// A number with a fraction (or beyond i64) where [`DateRule::Integer`] wants an integer.
    #[error("must be an integer NumericDate (RFC 7519), got {0}")]
    NotInteger(String),
    /// A string where the rule wants a JSON number.
    #[error("must be a JSON number, got the string \"{0}\"")]
    String(String),
    /// Not a number at all, a non-numeric string, or out of range.
    #[error("is not a NumericDate")]
    Invalid,
}

/// Dates beyond ±9·10^15 s (about ±2^53, 285 million years) are nonsense; refusing them keeps
/// the float cast exact and panic-free, and leaves every sum or difference of two dates and a
/// skew far inside `i64`, so no time computation on a token from outside can overflow.
const MAX_DATE_MAGNITUDE: f64 = 9.0e15;
const MAX_DATE_SECS: u64 = 9_000_000_000_000_000;

/// A NumericDate as whole seconds since 1970, by `rule`.
pub fn numeric_date(value: &Value, rule: DateRule) -> Result<i64, DateError> {
    let float = |f: f64| {
        (f.is_finite() && f.abs() < MAX_DATE_MAGNITUDE)
            .then(|| f.floor() as i64)
            .ok_or(DateError::Invalid)
    };
    match value {
        Value::Number(n) => match (n.as_i64(), rule) {
            (Some(i), _) if i.unsigned_abs() < MAX_DATE_SECS => Ok(i),
            (Some(_), _) => Err(DateError::Invalid),
            (None, DateRule::Integer) => Err(DateError::NotInteger(n.to_string())),
            (None, _) => float(n.as_f64().ok_or(DateError::Invalid)?),
        },
        Value::String(s) if rule == DateRule::Lenient => {
            let s = s.trim();
            match s.parse::<i64>() {
                Ok(i) if i.unsigned_abs() < MAX_DATE_SECS => Ok(i),
                Ok(_) => Err(DateError::Invalid),
                Err(_) => float(s.parse::<f64>().map_err(|_| DateError::Invalid)?),
            }
        }
        Value::String(s) => Err(DateError::String(s.clone())),
        _ => Err(DateError::Invalid),
    }
}

/// The token of an `Authorization` value `Bearer <token>` (scheme case-insensitive, spaces
/// around the token ignored); `None` for another scheme or no token.
pub fn bearer_token(value: &str) -> Option<&str> {
    let t = value.trim();
    let scheme = t.get(..7)?;
    let token = t[7..].trim();
    (scheme.eq_ignore_ascii_case("bearer ") && !token.is_empty()).then_some(token)
}

/// A token as people paste it: surrounding whitespace, an `Authorization` value's `Bearer `
/// prefix, and the double quotes of a JSON string are removed; anything else is left as is.
pub fn strip_bearer(text: &str) -> &str {
    let t = text.trim();
    bearer_token(t).unwrap_or(t).trim_matches('"').trim()
}

/// The two JWS algorithms Entra uses for certificates and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alg {
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt: what current MSAL sends to Entra,
    /// hence the default for new assertions.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: Entra's access tokens, ADFS and older stacks.
    Rs256,
}

impl Alg {
    /// The JOSE name (`PS256`, `RS256`).
    pub fn name(self) -> &'static str {
        match self {
            Alg::Ps256 => "PS256",
            Alg::Rs256 => "RS256",
        }
    }

    /// From a header's `alg`; exact, case-sensitive (RFC 7515 §4.1.1).
    pub fn from_name(name: &str) -> Option<Alg> {
        match name {
            "PS256" => Some(Alg::Ps256),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }
}

/// An RSA private key parsed once, signing compact JWS.
pub struct SigningKey {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningKey(RSA {}, redacted)",
            self.key.public_modulus_len() * 8
        )
    }
}

impl SigningKey {
    /// From a PKCS#1 `RSAPrivateKey` DER.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<SigningKey, Error> {
        let key = RsaKeyPair::from_der(der)
            .map_err(|e| Error::BadKey(format!("not a valid RSA private key ({e})")))?;
        Ok(SigningKey {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// Signs `signing_input` (`header.payload`) and returns the raw signature.
    pub fn sign(&self, alg: Alg, signing_input: &[u8]) -> Result<Vec<u8>, Error> {
        let encoding = match alg {
            Alg::Rs256 => &RSA_PKCS1_SHA256,
            Alg::Ps256 => &RSA_PSS_SHA256,
        };
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(encoding, &self.rng, signing_input, &mut sig)
            .map_err(|_| Error::Signing)?;
        Ok(sig)
    }

    /// The compact JWS of `header` and `claims` (serialised as given, key order kept). The
    /// header's `alg` is the caller's to set: it must name `alg`.
    pub fn sign_compact(&self, alg: Alg, header: &Value, claims: &Value) -> Result<String, Error> {
        self.sign_compact_encoded(alg, &b64::encode(json_bytes(header)), claims)
    }

    /// [`Self::sign_compact`] with the header already in its base64url form: a signer whose
    /// header never changes encodes it once, not per token.
    pub fn sign_compact_encoded(
        &self,
        alg: Alg,
        header_b64: &str,
        claims: &Value,
    ) -> Result<String, Error> {
        let claims = json_bytes(claims);
        let sig_len = self.key.public_modulus_len().div_ceil(3) * 4;
        // One buffer for the whole token: `header.claims`, then `.signature` appended.
        let mut token =
            String::with_capacity(header_b64.len() + claims.len().div_ceil(3) * 4 + sig_len + 2);
        token.push_str(header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let sig = self.sign(alg, token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut token);
        Ok(token)
    }
}

fn json_bytes(v: &Value) -> String {
    // Serialising a Value cannot fail (its map keys are strings).
    v.to_string()
}

/// An RSA public key parsed once, verifying RS256 and PS256.
pub struct VerifyingKey {
    rs256: ParsedPublicKey,
    ps256: ParsedPublicKey,
    bits: usize,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyingKey(RSA {})", self.bits)
    }
}

impl VerifyingKey {
    /// From the modulus and exponent (big-endian; a JWK's `n`/`e` decoded). Leading zero octets
    /// are dropped: RFC 7518 forbids them, but publishers add one to keep the integer positive.
    /// Sizes outside [`MIN_RSA_BITS`]..=[`MAX_RSA_BITS`] are refused.
    pub fn from_rsa_components(n: &[u8], e: &[u8]) -> Result<VerifyingKey, Error> {
        let (n, e) = (strip_leading_zeros(n), strip_leading_zeros(e));
        let bits = rsa_bits(n);
        if bits < MIN_RSA_BITS {
            return Err(Error::BadKey(format!(
                "RSA {bits}-bit key; at least {MIN_RSA_BITS} bits are required"
            )));
        }
        if bits > MAX_RSA_BITS {
            return Err(Error::BadKey(format!(
                "RSA {bits}-bit key; at most {MAX_RSA_BITS} bits are supported"
            )));
        }
        let parse = |params| {
            RsaPublicKeyComponents { n, e }
                .to_parsed_public_key(params)
                .map_err(|e| Error::BadKey(format!("not a valid RSA public key ({e})")))
        };
        Ok(VerifyingKey {
            rs256: parse(&RSA_PKCS1_2048_8192_SHA256)?,
            ps256: parse(&RSA_PSS_2048_8192_SHA256)?,
            bits,
        })
    }

    /// The modulus size.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Checks `signature` over `signing_input` with `alg`, which the caller has decided (never
    /// the token header alone).
    pub fn verify(&self, alg: Alg, signing_input: &[u8], signature: &[u8]) -> Result<(), Error> {
        let key = match alg {
            Alg::Rs256 => &self.rs256,
            Alg::Ps256 => &self.ps256,
        };
        key.verify_sig(signing_input, signature)
            .map_err(|_| Error::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: &Value) -> String {
        b64::encode(v.to_string())
    }

    #[test]
    fn strict_and_lenient_base64url() {
        // 0xfb 0xff: "-_8" in base64url, "+/8=" in standard base64.
        let bytes = vec![0xfb, 0xff];
        assert_eq!(b64::encode(&bytes), "-_8");
        for policy in [Policy::Strict, Policy::Lenient] {
            assert_eq!(b64::decode("-_8", policy).unwrap(), bytes);
        }
        assert_eq!(b64::decode("+/8=", Policy::Lenient).unwrap(), bytes);
        assert_eq!(b64::decode("-/8", Policy::Lenient).unwrap(), bytes);
        assert_eq!(
            b64::decode("+/8", Policy::Strict).unwrap_err().to_string(),
            "character '+' at position 1 (standard base64; a JWT uses base64url)"
        );
        assert_eq!(
            b64::decode("-_8=", Policy::Strict).unwrap_err().to_string(),
            "character '=' at position 4 (padding; a JWT leaves it out)"
        );
        for policy in [Policy::Strict, Policy::Lenient] {
            assert!(matches!(
                b64::decode("-_ 8", policy),
                Err(B64Error::Character { character: ' ', .. })
            ));
            // One character left over is no whole byte.
            assert!(matches!(
                b64::decode("-_8AB", policy),
                Err(B64Error::Encoding(_))
            ));
        }
    }

    #[test]
    fn one_parser_two_policies() {
        let h = enc(&json!({"alg": "RS256"}));
        let c = enc(&json!({"sub": "x"}));
        let token = format!("{h}.{c}.c2ln");
        for policy in [Policy::Strict, Policy::Lenient] {
            let jws = parse(&token, policy).unwrap();
            assert_eq!(jws.header_str("alg"), Some("RS256"));
            assert_eq!(jws.claim_str("sub"), Some("x"));
            assert_eq!(jws.signature, b"sig");
            assert_eq!(jws.signing_input, format!("{h}.{c}"));
            assert_eq!(jws.alg(), Ok(Alg::Rs256));
        }
        // {"a":1} encodes with padding "eyJhIjoxfQ==".
        let padded = format!("{h}.eyJhIjoxfQ==.c2ln");
        assert_eq!(
            parse(&padded, Policy::Lenient).unwrap().claims["a"],
            json!(1)
        );
        assert!(matches!(
            parse(&padded, Policy::Strict),
            Err(Error::Base64 {
                part: Part::Claims,
                ..
            })
        ));
        // {"a":"~~~"} has '+' in standard base64 and '-' in base64url.
        let url = enc(&json!({"a": "~~~"}));
        let standard = url.replace('-', "+").replace('_', "/");
        assert_ne!(url, standard);
        let with_standard = format!("{h}.{standard}.c2ln");
        assert_eq!(
            parse(&with_standard, Policy::Lenient).unwrap().claims["a"],
            json!("~~~")
        );
        let e = parse(&with_standard, Policy::Strict)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("claims is not base64url") && e.contains("standard base64"),
            "{e}"
        );
        // Whitespace is refused by both: strip it first with strip_bearer.
        for policy in [Policy::Strict, Policy::Lenient] {
            assert!(parse(&format!(" {token}"), policy).is_err());
            assert!(parse(&format!("{h}.{c} .c2ln"), policy).is_err());
            assert_eq!(parse("", policy), Err(Error::Empty));
            assert_eq!(parse("a.b", policy), Err(Error::PartCount(2)));
            assert_eq!(parse("a.b.c.d", policy), Err(Error::PartCount(4)));
            assert_eq!(parse("a.b.c.d.e", policy), Err(Error::Encrypted));
        }
    }

    #[test]
    fn parse_errors_name_the_part() {
        let h = enc(&json!({"alg": "none"}));
        let msg = |t: &str| parse(t, Policy::Strict).unwrap_err().to_string();
        assert_eq!(
            msg("abc.def"),
            "not a JWT: expected 3 parts separated by '.', found 2"
        );
        assert!(msg("a.b.c.d.e").contains("JWE"));
        assert_eq!(msg(&format!(".{h}.")), "the JWT header is empty");
        assert!(msg(&format!("{h}.bm90IGpzb24.")).starts_with("the JWT claims is not JSON ("));
        assert_eq!(
            msg(&format!("{h}.WzFd.")),
            "the JWT claims is JSON but not an object"
        );
        assert_eq!(
            msg(&format!("{h}.e30.a")),
            "the JWT signature is not valid base64url (Invalid input length: 1); the token may \
             be truncated"
        );
        let unsigned = parse("e30.e30.", Policy::Strict).unwrap();
        assert!(unsigned.signature.is_empty());
        assert_eq!(unsigned.signing_input, "e30.e30");
        assert_eq!(unsigned.alg(), Err(Error::UnsupportedAlg("(none)".into())));
        let rs = format!("{}.e30.", enc(&json!({"alg": "rs256"})));
        assert_eq!(
            parse(&rs, Policy::Strict).unwrap().alg(),
            Err(Error::UnsupportedAlg("rs256".into()))
        );
    }

    #[test]
    fn numeric_date_rules() {
        use DateRule::*;
        let date = |v: Value, rule| numeric_date(&v, rule);
        for rule in [Integer, Number, Lenient] {
            assert_eq!(date(json!(1484593341), rule), Ok(1484593341));
            assert_eq!(date(json!(-5), rule), Ok(-5));
            assert_eq!(date(json!(true), rule), Err(DateError::Invalid));
            assert_eq!(date(json!(null), rule), Err(DateError::Invalid));
            assert_eq!(date(json!([1]), rule), Err(DateError::Invalid));
        }
        assert_eq!(
            date(json!(1484593341.7), Integer),
            Err(DateError::NotInteger("1484593341.7".into()))
        );
        for rule in [Number, Lenient] {
            assert_eq!(date(json!(1484593341.7), rule), Ok(1484593341));
            assert_eq!(date(json!(-1.5), rule), Ok(-2), "floored, not truncated");
            assert_eq!(date(json!(1e300), rule), Err(DateError::Invalid));
            // Beyond i64 as an integer: a float to serde_json, and far out of range.
            assert_eq!(date(json!(u64::MAX), rule), Err(DateError::Invalid));
        }
        assert_eq!(
            date(json!(u64::MAX), Integer),
            Err(DateError::NotInteger(u64::MAX.to_string()))
        );
        assert_eq!(date(json!(" 1484593341 "), Lenient), Ok(1484593341));
        assert_eq!(date(json!("12.5"), Lenient), Ok(12));
        assert_eq!(date(json!("-3"), Lenient), Ok(-3));
        assert_eq!(date(json!("soon"), Lenient), Err(DateError::Invalid));
        assert_eq!(date(json!("1e300"), Lenient), Err(DateError::Invalid));
        assert_eq!(date(json!("NaN"), Lenient), Err(DateError::Invalid));
        for rule in [Integer, Number] {
            assert_eq!(date(json!("11"), rule), Err(DateError::String("11".into())));
        }
    }

    #[test]
    fn bearer_scheme() {
        assert_eq!(strip_bearer("  Bearer abc.def.ghi \n"), "abc.def.ghi");
        assert_eq!(strip_bearer("bearer   x"), "x");
        assert_eq!(strip_bearer("BEARER x"), "x");
        assert_eq!(strip_bearer("x.y.z"), "x.y.z");
        assert_eq!(strip_bearer("\"x.y.z\"\n"), "x.y.z");
        assert_eq!(strip_bearer("Bearer"), "Bearer");
        assert_eq!(strip_bearer("Bearerx"), "Bearerx");
        assert_eq!(bearer_token("Bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("bEaReR abc"), Some("abc"));
        assert_eq!(bearer_token("Basic dXNlcjpwdw=="), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer   "), None);
        assert_eq!(bearer_token("abc"), None);
    }

    fn key_pair() -> (SigningKey, VerifyingKey) {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = pair.as_der().unwrap();
        let key = crate::key::PrivateKey::from_pkcs8_der(der.as_ref()).unwrap();
        let crate::key::KeyKind::Rsa { n, e, .. } = key.kind() else {
            panic!("not RSA")
        };
        let verifying = VerifyingKey::from_rsa_components(n, e).unwrap();
        let signing = SigningKey::from_pkcs1_der(key.rsa_pkcs1_der().unwrap()).unwrap();
        (signing, verifying)
    }

    #[test]
    fn sign_then_verify_both_algorithms() {
        let (signing, verifying) = key_pair();
        assert_eq!(verifying.bits(), 2048);
        for alg in [Alg::Rs256, Alg::Ps256] {
            let header = json!({"alg": alg.name(), "typ": "JWT"});
            let jwt = signing
                .sign_compact(alg, &header, &json!({"sub": "s", "n": 1}))
                .unwrap();
            let jws = parse(&jwt, Policy::Strict).unwrap();
            assert_eq!(jws.alg(), Ok(alg));
            assert_eq!(jws.signature.len(), 256);
            verifying
                .verify(alg, jws.signing_input.as_bytes(), &jws.signature)
                .unwrap();
            let other = if alg == Alg::Rs256 {
                Alg::Ps256
            } else {
                Alg::Rs256
            };
            assert_eq!(
                verifying.verify(other, jws.signing_input.as_bytes(), &jws.signature),
                Err(Error::BadSignature),
                "an {alg:?} signature must not pass as {other:?}"
            );
            let mut altered = jws.signing_input.as_bytes().to_vec();
            altered[0] ^= 1;
            assert_eq!(
                verifying.verify(alg, &altered, &jws.signature),
                Err(Error::BadSignature)
            );
        }
    }

    #[test]
    fn key_sizes_are_bounded() {
        let e = [1, 0, 1];
        let small = VerifyingKey::from_rsa_components(&[0xff; 128], &e).unwrap_err();
        assert_eq!(
            small.to_string(),
            "RSA 1024-bit key; at least 2048 bits are required"
        );
        let large = VerifyingKey::from_rsa_components(&[0xff; 1025], &e).unwrap_err();
        assert!(
            large.to_string().contains("8200-bit key; at most 8192"),
            "{large}"
        );
        // A leading zero octet does not count and does not make the key unusable.
        let mut n = vec![0u8];
        n.extend([0xc7; 256]);
        n[256] |= 1;
        assert_eq!(
            VerifyingKey::from_rsa_components(&n, &e).unwrap().bits(),
            2048
        );
    }

    /// RFC 7515 Appendix A.2: the RS256 example, verified with its published key.
    #[test]
    fn rfc7515_appendix_a2() {
        let n = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
        let e = "AQAB";
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
        let key = VerifyingKey::from_rsa_components(
            &b64::decode(n, Policy::Strict).unwrap(),
            &b64::decode(e, Policy::Strict).unwrap(),
        )
        .unwrap();
        let jws = parse(token, Policy::Strict).unwrap();
        assert_eq!(jws.alg(), Ok(Alg::Rs256));
        assert_eq!(jws.claim_str("iss"), Some("joe"));
        assert_eq!(
            numeric_date(&jws.claims["exp"], DateRule::Integer),
            Ok(1300819380)
        );
        key.verify(Alg::Rs256, jws.signing_input.as_bytes(), &jws.signature)
            .unwrap();
        assert_eq!(
            key.verify(Alg::Ps256, jws.signing_input.as_bytes(), &jws.signature),
            Err(Error::BadSignature)
        );
    }
}
