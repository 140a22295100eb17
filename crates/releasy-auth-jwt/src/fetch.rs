//! Getting the JWKS document: [`JwksSource`] is what the cache asks for keys;
//! [`HttpJwksSource`] fetches them over HTTP(S) with a timeout per request and one
//! retry, after a short pause, on connection errors and 5xx answers.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::ACCEPT;

use crate::keyset::{KeySet, KeySetError};

/// The largest JWKS document read (a real one is a few kilobytes).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Why the key set could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed: connection refused, DNS, TLS, timeout, a broken body.
    #[error("JWKS request to {url} failed: {source}")]
    Request {
        /// The JWKS URL (without credentials).
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The provider answered with an error status.
    #[error("JWKS request to {url} answered {status}")]
    Status {
        /// The JWKS URL (without credentials).
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The answer was too large to be a key set.
    #[error("JWKS document from {url} is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge {
        /// The JWKS URL (without credentials).
        url: String,
    },
    /// The answer was not a key set.
    #[error("JWKS document from {url} is invalid: {source}")]
    Document {
        /// The JWKS URL (without credentials).
        url: String,
        /// The cause.
        source: KeySetError,
    },
}

impl FetchError {
    /// Whether one more try may help: a connection error (not a timeout) or a 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Request { source, .. } => {
                !source.is_timeout() && (source.is_connect() || source.is_request())
            }
            FetchError::Status { status, .. } => status.is_server_error(),
            FetchError::TooLarge { .. } | FetchError::Document { .. } => false,
        }
    }
}

/// Where the cache gets a fresh key set from.
#[async_trait]
pub trait JwksSource: Send + Sync + std::fmt::Debug {
    /// Fetches the current key set.
    ///
    /// # Errors
    /// [`FetchError`] when the provider cannot be reached or answers no key set.
    async fn fetch(&self) -> Result<KeySet, FetchError>;
}

/// Fetches the JWKS at one URL.
#[derive(Debug, Clone)]
pub struct HttpJwksSource {
    client: reqwest::Client,
    url: reqwest::Url,
    shown_url: String,
    retry_delay: Duration,
}

/// The JWKS URL is unusable or the HTTP client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Not an `http://` or `https://` URL.
    #[error("JWKS URL must be an http:// or https:// URL")]
    Url,
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the JWKS HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

impl HttpJwksSource {
    /// A source for the JWKS at `url`, with `timeout` per request and `retry_delay`
    /// before the one retry.
    ///
    /// # Errors
    /// [`SourceError`] for a URL that is not http(s), or when the client cannot be built.
    pub fn new(url: &str, timeout: Duration, retry_delay: Duration) -> Result<Self, SourceError> {
        let url = reqwest::Url::parse(url).map_err(|_| SourceError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(SourceError::Url);
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("releasy-server/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(
                |attempt| match refused_redirect(attempt.previous(), attempt.url()) {
                    Some(reason) => attempt.error(reason),
                    None => attempt.follow(),
                },
            ))
            .build()
            .map_err(SourceError::Client)?;
        Ok(Self {
            client,
            shown_url: shown(&url),
            url,
            retry_delay,
        })
    }

    /// The URL, without credentials, as it appears in logs and errors.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    async fn fetch_once(&self) -> Result<KeySet, FetchError> {
        let request_error = |source: reqwest::Error| FetchError::Request {
            url: self.shown_url.clone(),
            source: source.without_url(),
        };
        let response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/json, application/jwk-set+json")
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url: self.shown_url.clone(),
                status,
            });
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(FetchError::TooLarge {
                url: self.shown_url.clone(),
            });
        }
        // Read chunk by chunk: a chunked body declares no length, and one past the
        // limit is refused before more of it is held.
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(FetchError::TooLarge {
                    url: self.shown_url.clone(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::parse(&body).map_err(|source| FetchError::Document {
            url: self.shown_url.clone(),
            source,
        })
    }
}

#[async_trait]
impl JwksSource for HttpJwksSource {
    async fn fetch(&self) -> Result<KeySet, FetchError> {
        match self.fetch_once().await {
            Err(err) if err.is_retryable() => {
                tracing::debug!(error = %err, "JWKS fetch failed; retrying once");
                tokio::time::sleep(self.retry_delay).await;
                self.fetch_once().await
            }
            other => other,
        }
    }
}

/// The most redirects a fetch follows.
const MAX_REDIRECTS: usize = 5;

/// Why a redirect to `next` after `previous` is not followed, if it is not: a key set
/// asked for over `https://` is never read over plain HTTP (anyone on the path could
/// then hand the server their keys), and a chain ends after [`MAX_REDIRECTS`].
fn refused_redirect(previous: &[reqwest::Url], next: &reqwest::Url) -> Option<&'static str> {
    if previous.len() > MAX_REDIRECTS {
        return Some("too many redirects");
    }
    let secure_before = previous.iter().any(|url| url.scheme() == "https");
    (secure_before && next.scheme() != "https").then_some("redirected from https to plain http")
}

/// `url` without user name, password, query or fragment.
fn shown(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    // Only fails for URLs that cannot have credentials, which then have none.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_accepted() {
        for bad in ["ftp://idp/jwks", "not a url", "file:///etc/jwks.json"] {
            assert!(
                matches!(
                    HttpJwksSource::new(bad, Duration::from_secs(1), Duration::ZERO),
                    Err(SourceError::Url)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_and_query_never_show() {
        let source = HttpJwksSource::new(
            "https://user:secret@idp.example.com/certs?token=abc#x",
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(source.shown_url(), "https://idp.example.com/certs");
    }

    /// A chunked document declares no length: it is refused once past the limit, not
    /// read to its end first (64 MiB here, which the server never gets to send).
    #[tokio::test]
    async fn a_chunked_document_past_the_limit_is_refused_midway() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent_all, everything_sent) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0_u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                        transfer-encoding: chunked\r\n\r\n";
            let chunk = vec![b' '; 64 * 1024];
            let mut complete = socket.write_all(head.as_bytes()).await.is_ok();
            for _ in 0..1024 {
                let framed = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk.clone(),
                    b"\r\n".to_vec(),
                ]
                .concat();
                if !complete || socket.write_all(&framed).await.is_err() {
                    complete = false;
                    break;
                }
            }
            let _ = sent_all.send(complete);
        });
        let source = HttpJwksSource::new(
            &format!("http://{addr}/jwks"),
            Duration::from_secs(10),
            Duration::ZERO,
        )
        .unwrap();
        let err = source.fetch_once().await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
        drop(source);
        let complete = tokio::time::timeout(Duration::from_secs(10), everything_sent)
            .await
            .expect("the server stops once the client is gone")
            .unwrap();
        assert!(!complete, "the whole 64 MiB was read");
    }

    #[test]
    fn redirects_never_leave_https_and_end_after_five() {
        let url = |raw: &str| reqwest::Url::parse(raw).unwrap();
        let secure = url("https://idp.example.com/certs");
        let plain = url("http://idp.example.com/certs");
        assert_eq!(
            refused_redirect(
                std::slice::from_ref(&secure),
                &url("https://keys.example.com/")
            ),
            None
        );
        assert_eq!(
            refused_redirect(std::slice::from_ref(&plain), &secure),
            None,
            "upgrades are fine"
        );
        assert_eq!(refused_redirect(std::slice::from_ref(&plain), &plain), None);
        assert!(refused_redirect(std::slice::from_ref(&secure), &plain).is_some());
        assert!(
            refused_redirect(&[secure.clone(), secure.clone()], &plain).is_some(),
            "nor after a hop over https"
        );
        assert!(refused_redirect(&[plain.clone(), secure], &plain).is_some());
        assert_eq!(refused_redirect(&vec![plain.clone(); 5], &plain), None);
        assert!(refused_redirect(&vec![plain.clone(); 6], &plain).is_some());
    }

    /// A redirect over plain HTTP is followed (the policy replaces reqwest's default,
    /// which followed them too).
    #[tokio::test]
    async fn a_plain_redirect_is_followed() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for answer in [
                format!("HTTP/1.1 302 Found\r\nlocation: http://{addr}/moved\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"keys\":[]}".to_owned(),
            ] {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = [0_u8; 4096];
                let _ = socket.read(&mut request).await;
                socket.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let source = HttpJwksSource::new(
            &format!("http://{addr}/jwks"),
            Duration::from_secs(10),
            Duration::ZERO,
        )
        .unwrap();
        let set = source.fetch_once().await.unwrap();
        assert!(set.is_empty());
    }

    #[test]
    fn server_errors_are_retried_and_client_errors_not() {
        let status = |code: u16| FetchError::Status {
            url: String::new(),
            status: StatusCode::from_u16(code).unwrap(),
        };
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(!status(401).is_retryable());
    }
}
