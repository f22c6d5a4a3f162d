//! One log line per request on stderr: method, path, status, client id, AADSTS code and
//! duration. Never a secret, an assertion or a token: the line is built only from these
//! fields, and the path is logged without its query string.

use std::io::Write;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use time::OffsetDateTime;

use super::face::Face;
use certgen::certificate::rfc3339;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// What a handler tells the log about its request (a response extension).
#[derive(Debug, Clone, Default)]
pub struct LogNote {
    pub client_id: Option<String>,
    pub aadsts: Option<u32>,
}

/// The middleware: times the request and writes its line.
pub async fn log_request(State(format): State<LogFormat>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    // Reached by a Microsoft name (proxy, SNI route), the line says which.
    let path = match Face::of(req.uri(), req.headers()) {
        Face::Microsoft(h) => format!("https://{}{}", h.name, req.uri().path()),
        Face::Direct => req.uri().path().to_string(),
    };
    let resp = next.run(req).await;
    let note = resp
        .extensions()
        .get::<LogNote>()
        .cloned()
        .unwrap_or_default();
    write(
        format,
        &method,
        &path,
        resp.status().as_u16(),
        &note,
        start.elapsed().as_secs_f64() * 1000.0,
    );
    resp
}

/// Writes one line (the proxy's `CONNECT` lines use it too).
pub fn write(format: LogFormat, method: &str, path: &str, status: u16, note: &LogNote, ms: f64) {
    let line = line(
        format,
        OffsetDateTime::now_utc(),
        method,
        path,
        status,
        note,
        ms,
    );
    // One write per line, so lines of concurrent requests never interleave; a closed stderr is
    // no reason to fail the request.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The line for a tunnel whose TLS handshake failed after its `CONNECT … 200`: the proxy's
/// only view of a client that does not trust the local CA, which otherwise just sees an error.
pub fn tunnel_failed(format: LogFormat, target: &str, reason: &str) {
    let line = tunnel_failed_line(format, OffsetDateTime::now_utc(), target, reason);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

fn tunnel_failed_line(
    format: LogFormat,
    now: OffsetDateTime,
    target: &str,
    reason: &str,
) -> String {
    let clean = |s: &str, n: usize| -> String {
        s.chars()
            .take(n)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    };
    let (target, reason) = (clean(target, 200), clean(reason, 300));
    match format {
        LogFormat::Json => format!(
            "{}\n",
            json!({
                "time": rfc3339(now),
                "method": "CONNECT",
                "path": target,
                "event": "tls-failed",
                "reason": reason,
            })
        ),
        LogFormat::Text => format!("{} CONNECT {target} tls-failed: {reason}\n", rfc3339(now)),
    }
}

fn line(
    format: LogFormat,
    now: OffsetDateTime,
    method: &str,
    path: &str,
    status: u16,
    note: &LogNote,
    ms: f64,
) -> String {
    // Paths are client input: keep the line one line and printable.
    let path: String = path
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let client: Option<String> = note.client_id.as_ref().map(|c| {
        c.chars()
            .take(64)
            .map(|c| if c.is_control() { '?' } else { c })
            .collect()
    });
    match format {
        LogFormat::Json => format!(
            "{}\n",
            json!({
                "time": rfc3339(now),
                "method": method,
                "path": path,
                "status": status,
                "client_id": client,
                "aadsts": note.aadsts,
                "duration_ms": (ms * 1000.0).round() / 1000.0,
            })
        ),
        LogFormat::Text => {
            let mut s = format!("{} {method} {path} {status}", rfc3339(now));
            if let Some(c) = client {
                s.push_str(&format!(" client={c}"));
            }
            if let Some(code) = note.aadsts {
                s.push_str(&format!(" AADSTS{code}"));
            }
            s.push_str(&format!(" {ms:.1}ms\n"));
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn text_and_json_lines() {
        let note = LogNote {
            client_id: Some("abc\nforged".into()),
            aadsts: Some(700027),
        };
        let t = datetime!(2026-01-01 00:00:00 UTC);
        let text = line(
            LogFormat::Text,
            t,
            "POST",
            "/t/oauth2/v2.0/token",
            401,
            &note,
            1.25,
        );
        assert_eq!(
            text,
            "2026-01-01T00:00:00Z POST /t/oauth2/v2.0/token 401 client=abc?forged AADSTS700027 1.2ms\n"
        );
        let j: serde_json::Value = serde_json::from_str(&line(
            LogFormat::Json,
            t,
            "GET",
            "/health",
            200,
            &LogNote::default(),
            0.5,
        ))
        .unwrap();
        assert_eq!(j["status"], 200);
        assert!(j["client_id"].is_null());
    }
}
