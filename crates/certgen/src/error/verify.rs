//! Why a token was rejected, or why the validator could not be set up.
//!
//! Rejections name the exact rule that failed and the values involved (never the token or its
//! signature), because "invalid token" alone sends people to jwt.io. Setup failures (metadata or
//! keys unreachable or malformed) are separate variants so callers can tell "your token is bad"
//! from "I could not check it".

use thiserror::Error;

/// A typed reason. [`VerifyError::is_rejection`] tells token faults from setup faults.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    // ---- the token itself ----
    /// Not a compact JWS: wrong number of parts, bad base64url, header/payload not JSON objects.
    #[error("not a JWT: {0}")]
    Malformed(String),
    /// Five dot-separated parts: an encrypted token (JWE), which an API cannot validate.
    #[error(
        "an encrypted token (JWE, 5 parts) was given; access tokens are signed JWTs (3 parts)"
    )]
    Encrypted,
    /// `alg: none`: unsigned.
    #[error("alg \"none\": unsigned tokens are never accepted, only RS256")]
    AlgNone,
    /// HS256/384/512: a shared-secret algorithm, the key-confusion attack when the "secret" is
    /// the public key.
    #[error("alg {0} is a shared-secret (HMAC) algorithm; only RS256 is accepted")]
    AlgHmac(String),
    /// Any other algorithm, including the other RSA and EC ones.
    #[error("alg {0:?} is not accepted; only RS256 is")]
    AlgUnsupported(String),
    /// Header has neither `kid` nor `x5t`, so no key can be chosen.
    #[error("the header has no kid (or x5t): cannot choose a signing key")]
    NoKeyId,
    /// No key with this `kid` in the key set, even after any refresh allowed.
    #[error("no key with kid {kid:?} in the key set ({detail})")]
    UnknownKey {
        /// The key id the token names.
        kid: String,
        /// What the key set held.
        detail: String,
    },
    /// The key exists but cannot verify RS256 (wrong `kty`, `use`, `alg`, size, encoding).
    #[error("key {kid:?} cannot verify RS256 signatures: {reason}")]
    KeyUnusable {
        /// The key id.
        kid: String,
        /// Why.
        reason: String,
    },
    /// The RSA signature does not verify with the chosen key.
    #[error(
        "signature does not verify with key {kid:?} (token altered, or signed by another key)"
    )]
    BadSignature {
        /// The key id.
        kid: String,
    },
    /// A claim that must be there is missing.
    #[error("claim {0:?} is missing")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("claim {claim:?} must be {expected}")]
    ClaimType {
        /// The claim.
        claim: &'static str,
        /// The JSON type it must have.
        expected: &'static str,
    },
    /// `iss` differs from the expected issuer.
    #[error("issuer {found:?} is not the expected {expected:?}")]
    Issuer {
        /// The token's `iss`.
        found: String,
        /// The issuer expected.
        expected: String,
    },
    /// `iss` and `tid` name another tenant than the one expected.
    #[error("token is from tenant {tid} (issuer {found:?}), expected issuer {expected:?}")]
    OtherTenant {
        /// The token's `tid`.
        tid: String,
        /// The token's `iss`.
        found: String,
        /// The issuer expected.
        expected: String,
    },
    /// The signing key carries an `issuer` (Entra v2 keys do) that does not match the token.
    #[error("key {kid:?} belongs to issuer {key_issuer:?}, not to the token's issuer {found:?}")]
    KeyIssuer {
        /// The key id.
        kid: String,
        /// The key's `issuer`.
        key_issuer: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` is none of the accepted audiences.
    #[error(
        "audience {found} is not accepted (expected {})",
        quoted_list(expected)
    )]
    Audience {
        /// The token's `aud`.
        found: String,
        /// The audiences accepted.
        expected: Vec<String>,
    },
    /// `exp` is past, beyond the leeway.
    #[error("expired at {at} ({ago} s ago; leeway {leeway} s)")]
    Expired {
        /// The `exp`, RFC 3339.
        at: String,
        /// Seconds since then.
        ago: i64,
        /// The leeway allowed, in seconds.
        leeway: u64,
    },
    /// `nbf` is in the future, beyond the leeway.
    #[error("not valid before {at} (in {in_secs} s; leeway {leeway} s)")]
    NotYetValid {
        /// The `nbf`, RFC 3339.
        at: String,
        /// Seconds until then.
        in_secs: i64,
        /// The leeway allowed, in seconds.
        leeway: u64,
    },
    /// Some required roles are not in `roles`.
    #[error("missing required role{} {} (token has {})", if missing.len() == 1 { "" } else { "s" }, quoted_list(missing), roles_text(has))]
    MissingRoles {
        /// The required roles the token lacks.
        missing: Vec<String>,
        /// The roles it has.
        has: Vec<String>,
    },

    // ---- setting up ----
    /// Options that cannot work (no audience, no issuer for a bare key set, bad URL …).
    #[error("{0}")]
    Config(String),
    /// The metadata or key endpoint could not be reached (DNS, TCP, TLS, timeout).
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The metadata or key endpoint answered, but not with what was needed.
    #[error("{url}: {reason}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// A local file (JWKS, CA certificates) cannot be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A JWKS document (file or URL) is not usable.
    #[error("key set {source_name}: {reason}")]
    KeySet {
        /// The file or URL.
        source_name: String,
        /// What was wrong.
        reason: String,
    },
}

impl VerifyError {
    /// True when the token is at fault (as opposed to the setup or the identity provider).
    pub fn is_rejection(&self) -> bool {
        !matches!(
            self,
            VerifyError::Config(_)
                | VerifyError::Unreachable { .. }
                | VerifyError::BadResponse { .. }
                | VerifyError::KeySet { .. }
                | VerifyError::File { .. }
        )
    }

    /// True when the token is authentic and current but lacks a role: an API answers 403, not 401.
    pub fn is_insufficient_scope(&self) -> bool {
        matches!(self, VerifyError::MissingRoles { .. })
    }
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn roles_text(roles: &[String]) -> String {
    if roles.is_empty() {
        "no roles".to_string()
    } else {
        format!(
            "roles {}",
            roles
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_roles_reads_naturally() {
        let e = VerifyError::MissingRoles {
            missing: vec!["Data.Write".into()],
            has: vec![],
        };
        assert_eq!(
            e.to_string(),
            "missing required role \"Data.Write\" (token has no roles)"
        );
        assert!(e.is_rejection() && e.is_insufficient_scope());
    }
}
