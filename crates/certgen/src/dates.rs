//! Dates as every output writes them (RFC 3339, section 5.6): UTC, whole seconds.

use time::OffsetDateTime;

/// RFC 3339 in UTC with whole seconds, the form used in all outputs.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}
