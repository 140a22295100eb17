//! What can go wrong talking to the server or to a storage URL, and how an error
//! response is read.

use crate::dto::ErrorBody;
use crate::exit::Exit;

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    /// The command's credential is not configured.
    #[error("{0}")]
    MissingCredentials(String),
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{code}: {message} (HTTP {status})")]
    Status {
        /// HTTP status.
        status: u16,
        /// The error code from the body, or `http_<status>` when it has none.
        code: String,
        /// The message from the body.
        message: String,
    },
    /// The request could not be sent or the response could not be read.
    #[error("network error talking to {host}: {detail}")]
    Network {
        /// The host (never the full URL: presigned URLs and tokens are secrets).
        host: String,
        /// Why, with every cause (and no URL).
        detail: String,
    },
    /// A success status with a body that is not what the contract says.
    #[error("unexpected response from the server (HTTP {status}): {detail}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        detail: String,
    },
}

impl ApiError {
    /// A network error for `url`, keeping only its host.
    pub fn network(url: &reqwest::Url, source: reqwest::Error) -> Self {
        Self::network_host(url.host_str().unwrap_or("the server"), source)
    }

    /// A network error talking to `host`, with the causes of `source` spelled out.
    pub fn network_host(host: &str, source: reqwest::Error) -> Self {
        let source = source.without_url();
        let mut detail = source.to_string();
        let mut cause = std::error::Error::source(&source);
        while let Some(err) = cause {
            let text = err.to_string();
            if !detail.contains(&text) {
                detail.push_str(": ");
                detail.push_str(&text);
            }
            cause = err.source();
        }
        Self::Network {
            host: host.to_owned(),
            detail,
        }
    }

    /// Reads an error response: the contract's error body when there is one, an S3
    /// error document's code and message (a storage URL's answer: `RequestTimeTooSkewed`
    /// says more than `403`), otherwise the status alone.
    pub async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        Self::from_body(status, &text)
    }

    fn from_body(status: reqwest::StatusCode, text: &str) -> Self {
        if let Ok(body) = serde_json::from_str::<ErrorBody>(text) {
            return Self::Status {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message,
            };
        }
        if let Some(code) = s3_error_field(text, "Code") {
            return Self::Status {
                status: status.as_u16(),
                code,
                message: s3_error_field(text, "Message").unwrap_or_default(),
            };
        }
        Self::Status {
            status: status.as_u16(),
            code: format!("http_{}", status.as_u16()),
            message: status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase(),
        }
    }

    /// Whether the answer was lost on the way rather than given: a network error, or a
    /// proxy's `502`/`503`/`504` (the server behind it down, restarting or slow). Asking
    /// again may succeed; the server may also have acted on the request already.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Network { .. } => true,
            Self::Status { status, .. } => matches!(status, 502..=504),
            Self::Unexpected { .. } => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Unexpected { status, .. } => Some(*status),
            Self::Network { .. } => None,
        }
    }

    /// The error code (the server's, or the CLI's own).
    pub fn code(&self) -> &str {
        match self {
            Self::Status { code, .. } => code,
            Self::Network { .. } => "network_error",
            Self::Unexpected { .. } => "unexpected_response",
        }
    }

    /// The server's message, when it sent one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Self::Status { message, .. } => Some(message),
            _ => None,
        }
    }

    /// The exit code this error ends the run with.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Status { status, .. } => match status {
                401 | 403 => Exit::Auth,
                404 => Exit::NotFound,
                409 => Exit::Conflict,
                // Too many requests: worth trying again later, like a 5xx.
                429 => Exit::Server,
                400..=499 => Exit::Usage,
                _ => Exit::Server,
            },
            Self::Network { .. } | Self::Unexpected { .. } => Exit::Server,
        }
    }
}

/// The text of `<{field}>` in an S3 error document (`<Error><Code>…</Code>
/// <Message>…</Message>…</Error>`), its XML escapes undone; `None` for any other body.
fn s3_error_field(body: &str, field: &str) -> Option<String> {
    let error = body.trim_start();
    let error = error
        .strip_prefix("<?xml")
        .and_then(|rest| rest.split_once("?>"))
        .map_or(error, |(_, rest)| rest)
        .trim_start()
        .strip_prefix("<Error>")?;
    let (_, after_open) = error.split_once(&format!("<{field}>"))?;
    let (value, _) = after_open.split_once(&format!("</{field}>"))?;
    let value = value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    (!value.trim().is_empty()).then(|| value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_error_document_gives_its_code_and_message() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time &amp; the server&apos;s is too large.</Message><RequestId>1</RequestId></Error>";
        let err = ApiError::from_body(reqwest::StatusCode::FORBIDDEN, body);
        assert_eq!(err.code(), "RequestTimeTooSkewed");
        assert_eq!(
            err.server_message(),
            Some("The difference between the request time & the server's is too large.")
        );
        assert_eq!(err.exit(), Exit::Auth, "the status decides the exit code");
        let other =
            ApiError::from_body(reqwest::StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
        assert_eq!(other.code(), "http_502");
        let json = ApiError::from_body(
            reqwest::StatusCode::NOT_FOUND,
            r#"{"error":{"code":"not_found","message":"no such release"}}"#,
        );
        assert_eq!(json.code(), "not_found");
    }

    fn status(status: u16) -> ApiError {
        ApiError::Status {
            status,
            code: "x".into(),
            message: "y".into(),
        }
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        assert_eq!(status(400).exit(), Exit::Usage);
        assert_eq!(status(401).exit(), Exit::Auth);
        assert_eq!(status(403).exit(), Exit::Auth);
        assert_eq!(status(404).exit(), Exit::NotFound);
        assert_eq!(status(409).exit(), Exit::Conflict);
        assert_eq!(status(413).exit(), Exit::Usage);
        assert_eq!(
            status(429).exit(),
            Exit::Server,
            "too many requests: try again later"
        );
        assert_eq!(status(500).exit(), Exit::Server);
        assert_eq!(status(503).exit(), Exit::Server);
    }
}
