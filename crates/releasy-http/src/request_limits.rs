//! Limits on what one request may take from the server, against hostile or broken
//! clients. The connection-level ones (how long the request head may take, how many
//! connections) are the HTTP server's settings (`releasy-server`); these two need the
//! request:
//!
//! - **Header size.** The request line and headers together may hold at most
//!   [`RequestLimits::max_header_bytes`]; above, `431` in the error shape. (The HTTP
//!   server itself refuses heads over 128 KiB, with an empty `431`.)
//! - **Body idle time.** A body that sends nothing for [`RequestLimits::body_idle`]
//!   (a slow-body attack, or a client that died without closing) is cut off: reading
//!   it fails with a timed-out error, which JSON endpoints and uploads answer `408`.
//!   Idle time, not total time, so a multi-GiB upload on a slow line is never cut off
//!   while bytes arrive.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::error::ApiError;

/// The limits, configured once (`RELEASY_MAX_HEADER_BYTES`,
/// `RELEASY_BODY_IDLE_TIMEOUT_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// The most bytes the request line and headers may hold.
    pub max_header_bytes: usize,
    /// The longest a request body may send nothing.
    pub body_idle: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            body_idle: Duration::from_secs(30),
        }
    }
}

/// The middleware function (wrap it with `actix_web::middleware::from_fn`); the limits
/// come from the app's data ([`RequestLimits::default`] when none is set).
///
/// # Errors
/// Whatever the wrapped service returns.
pub async fn limit_requests<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let limits = req.app_data::<RequestLimits>().copied().unwrap_or_default();
    let size = header_bytes(&req);
    if size > limits.max_header_bytes {
        let refusal = ApiError::header_fields_too_large(format!(
            "request headers are larger than {} bytes",
            limits.max_header_bytes
        ));
        return Ok(req.error_response(refusal).map_into_right_body());
    }
    if has_body(&req) {
        let payload = req.take_payload();
        req.set_payload(Payload::Stream {
            payload: Box::pin(IdleTimeout::new(payload, limits.body_idle)),
        });
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The request line and headers as sent: `METHOD target HTTP/x.y\r\n` and
/// `name: value\r\n` for each header.
fn header_bytes(req: &ServiceRequest) -> usize {
    let uri = req.uri();
    let target = uri.path().len() + uri.query().map_or(0, |query| query.len() + 1);
    let line = req.method().as_str().len() + target + 12;
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + line
}

/// Whether the request announces a body (most requests, `GET`s, have none and are
/// left as they are).
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}

/// Whether a body read failed because the body went idle (see [`limit_requests`]).
pub fn is_body_timeout(err: &PayloadError) -> bool {
    matches!(err, PayloadError::Io(io) if io.kind() == io::ErrorKind::TimedOut)
}

/// A body stream that fails with [`io::ErrorKind::TimedOut`] once no chunk has come
/// for `idle`. The clock starts when the body is first read, not when the request
/// arrived: a handler may authenticate or wait for a database connection first.
struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            deadline: None,
        }
    }
}

impl<S> Stream for IdleTimeout<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let idle = this.idle;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                deadline.as_mut().reset(Instant::now() + idle);
                Poll::Ready(item)
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no request body bytes for {} s", this.idle.as_secs()),
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_goes_idle_fails_timed_out_and_a_flowing_one_never_does() {
        let chunks = futures_util::stream::unfold(0, |sent| async move {
            match sent {
                0..3 => {
                    tokio::time::sleep(Duration::from_secs(20)).await;
                    Some((Ok(Bytes::from_static(b"data")), sent + 1))
                }
                _ => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                }
            }
        });
        let mut body = IdleTimeout::new(Box::pin(chunks), Duration::from_secs(30));
        for _ in 0..3 {
            // 20 s apart: 60 s in all, never 30 s without a byte.
            assert_eq!(
                body.next().await.unwrap().unwrap(),
                Bytes::from_static(b"data")
            );
        }
        let started = Instant::now();
        let err = body.next().await.unwrap().unwrap_err();
        assert!(is_body_timeout(&err), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }
}
