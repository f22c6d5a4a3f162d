//! The request-body limit, refused so that the client can read the refusal.
//!
//! A server that answers 413 and closes while the client is still sending makes the kernel
//! reset the connection (unread data at close), and the client sees a reset or a TLS EOF
//! instead of the 413. So, like nginx's lingering close, the rest of a too-large body is read
//! and thrown away — up to [`MAX_DRAIN_BYTES`] and [`MAX_DRAIN_TIME`], so a client cannot keep
//! the slot forever — before the 413 goes out with `Connection: close`. A client that asked
//! `Expect: 100-continue` has sent nothing yet and is refused at once.

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Most a too-large body is read for nothing before the connection is simply closed.
pub const MAX_DRAIN_BYTES: usize = 16 * 1024 * 1024;

/// Longest a too-large body is read for nothing.
pub const MAX_DRAIN_TIME: Duration = Duration::from_secs(5);

/// Buffers the body (at most `limit` bytes) for the handlers, or answers 413.
pub async fn limit(limit: usize, req: Request, next: Next) -> Response {
    let (parts, mut body) = req.into_parts();
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        let waits_for_continue = parts
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waits_for_continue {
            drain(body).await;
        }
        return too_large(limit);
    }
    let mut buf = Vec::new();
    loop {
        match next_data(&mut body).await {
            Some(Ok(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    drain(body).await;
                    return too_large(limit);
                }
                buf.extend_from_slice(&chunk);
            }
            Some(Err(_)) => {
                return (
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                )
                    .into_response()
            }
            None => break,
        }
    }
    next.run(Request::from_parts(parts, Body::from(buf))).await
}

/// The next data frame of `body` (trailers are skipped); `None` at its end.
async fn next_data(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    loop {
        let frame =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame {
            Ok(f) => match f.into_data() {
                Ok(data) => return Some(Ok(data)),
                Err(_) => continue,
            },
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Reads and discards what is left of `body`, within the drain bounds.
async fn drain(mut body: Body) {
    let read = async {
        let mut total = 0usize;
        while let Some(Ok(chunk)) = next_data(&mut body).await {
            total += chunk.len();
            if total > MAX_DRAIN_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(MAX_DRAIN_TIME, read).await;
}

fn too_large(limit: usize) -> Response {
    let mut resp = (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {limit} bytes, the most certgen serve accepts\n"),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
