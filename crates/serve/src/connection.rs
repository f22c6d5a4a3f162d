//! What every connection gets, on the main listener and inside a proxy tunnel alike.

use std::time::Duration;

/// How long clients get to send their request headers (slow-header clients are cut off); the
/// TLS handshake has its own limit, axum-server's default of 10 s.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
