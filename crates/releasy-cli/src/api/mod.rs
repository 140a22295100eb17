//! The HTTP client for the Releasy API: base URL, credentials, JSON in and out, error
//! bodies read into [`ApiError`]. Storage URLs (presigned uploads and downloads) go
//! through [`ApiClient::storage`], which never carries credentials.

mod credential;
mod error;
mod until_answered;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use credential::{Credential, Role};
pub use error::{ApiError, ClientSetupError};

use crate::config::Settings;

/// `raw` (trimmed) as one path segment of an API path: every byte but RFC 3986's
/// unreserved characters percent-encoded, so that no argument can reach another path
/// than the one meant.
///
/// # Errors
/// [`CliError::Usage`](crate::error::CliError::Usage) for an empty argument, `.` or
/// `..`: URLs resolve those two, encoded or not, as steps through the path.
pub fn segment(raw: &str) -> Result<String, crate::error::CliError> {
    let raw = raw.trim();
    if matches!(raw, "" | "." | "..") {
        return Err(crate::error::CliError::Usage(format!(
            "`{raw}` is empty or a path step (`.`, `..`), not an id or a name"
        )));
    }
    Ok(raw
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect())
}

/// The header that makes create-style requests safe to retry.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// Set by the server on a response replayed for a repeated idempotency key.
const REPLAYED: &str = "Idempotent-Replayed";
/// How long one API call (not a transfer) may take.
pub const API_TIMEOUT: Duration = Duration::from_secs(60);

/// A JSON response and whether the server replayed it for an idempotency key.
#[derive(Debug)]
pub struct Answer<T> {
    /// The body.
    pub body: T,
    /// `true` when the server answered from an earlier request with the same key.
    pub replayed: bool,
}

/// A client for one server, acting with one credential.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: reqwest::Url,
    credential: Credential,
}

impl ApiClient {
    /// A client for `settings`' server acting as `role`.
    ///
    /// # Errors
    /// A message naming the missing credential, or the HTTP client's setup error.
    pub fn new(settings: &Settings, role: Role) -> Result<Self, ClientSetupError> {
        let credential =
            Credential::for_role(settings, role).map_err(ClientSetupError::MissingCredentials)?;
        Ok(Self {
            http: http_client()?,
            base_url: settings.url.value.clone(),
            credential,
        })
    }

    /// The client for storage URLs: no credentials, no redirects followed.
    pub fn storage(&self) -> &reqwest::Client {
        &self.http
    }

    /// The server's URL for `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base_url.clone();
        let joined = format!("{}{path}", self.base_url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> (reqwest::Url, reqwest::RequestBuilder) {
        let url = self.url(path);
        let request = self
            .http
            .request(method, url.clone())
            .timeout(API_TIMEOUT)
            .header(reqwest::header::ACCEPT, "application/json");
        (url, self.credential.apply(request))
    }

    /// `GET path?query`.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let (url, request) = self.request(reqwest::Method::GET, path);
        Ok(send(&url, request.query(query)).await?.body)
    }

    /// `GET path?query` asking for `accept`, answered as a stream: the response, its
    /// status checked, for the caller to read chunk by chunk. No overall timeout (an
    /// export may take minutes); a stalled read still fails.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn get_stream(
        &self,
        path: &str,
        query: &[(&str, String)],
        accept: &str,
    ) -> Result<reqwest::Response, ApiError> {
        let url = self.url(path);
        let request = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, accept)
            .query(query);
        let response = self
            .credential
            .apply(request)
            .send()
            .await
            .map_err(|e| ApiError::network(&url, e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(ApiError::from_response(response).await)
        }
    }

    /// `GET path?query` on an endpoint that answers `204 No Content` when there is
    /// nothing to say: `None` then.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn get_if_any<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<T>, ApiError> {
        let (url, request) = self.request(reqwest::Method::GET, path);
        let response = request
            .query(query)
            .send()
            .await
            .map_err(|e| ApiError::network(&url, e))?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        Ok(Some(read_answer(&url, response).await?.body))
    }

    /// `POST path` with a JSON body and an optional idempotency key.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency_key: Option<&str>,
    ) -> Result<Answer<T>, ApiError> {
        self.post_within(path, body, idempotency_key, API_TIMEOUT)
            .await
    }

    /// As [`Self::post`], for a call that may take up to `timeout` (the registration of
    /// a large artifact, which the server verifies by reading it).
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn post_within<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotency_key: Option<&str>,
        timeout: Duration,
    ) -> Result<Answer<T>, ApiError> {
        let (url, mut request) = self.request(reqwest::Method::POST, path);
        request = request.timeout(timeout);
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        send(&url, request.json(body)).await
    }

    /// `POST path` without a body (publish, unpublish).
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let (url, request) = self.request(reqwest::Method::POST, path);
        Ok(send(&url, request).await?.body)
    }

    /// `PATCH path` with a JSON body.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let (url, request) = self.request(reqwest::Method::PUT, path);
        Ok(send(&url, request.json(body)).await?.body)
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        let (url, request) = self.request(reqwest::Method::PATCH, path);
        Ok(send(&url, request.json(body)).await?.body)
    }

    /// `DELETE path`, expecting an empty success.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        let (url, request) = self.request(reqwest::Method::DELETE, path);
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::network(&url, e))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ApiError::from_response(response).await)
        }
    }
}

fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("releasy-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        // Per read, not per transfer: a stalled connection fails, a long download does not.
        .read_timeout(Duration::from_secs(120))
        // Redirects are followed by hand where the API has them (downloads), so that
        // credentials never travel to another host.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

async fn send<T: DeserializeOwned>(
    url: &reqwest::Url,
    request: reqwest::RequestBuilder,
) -> Result<Answer<T>, ApiError> {
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::network(url, e))?;
    read_answer(url, response).await
}

async fn read_answer<T: DeserializeOwned>(
    url: &reqwest::Url,
    response: reqwest::Response,
) -> Result<Answer<T>, ApiError> {
    let status = response.status();
    if !status.is_success() {
        return Err(ApiError::from_response(response).await);
    }
    let replayed = response
        .headers()
        .get(REPLAYED)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ApiError::network(url, e))?;
    let body = serde_json::from_slice(&bytes).map_err(|e| ApiError::Unexpected {
        status: status.as_u16(),
        detail: e.to_string(),
    })?;
    Ok(Answer { body, replayed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FlagValues;

    #[test]
    fn an_argument_is_one_path_segment() {
        let ok = |raw| segment(raw).unwrap();
        assert_eq!(ok(" 0193f4c2-7a1b "), "0193f4c2-7a1b");
        assert_eq!(ok("agent-2.x_~"), "agent-2.x_~");
        assert_eq!(ok("My App/é"), "My%20App%2F%C3%A9");
        assert_eq!(ok("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        // Three dots are a name, not a step.
        assert_eq!(ok("..."), "...");
    }

    #[test]
    fn nothing_and_path_steps_are_refused() {
        for raw in ["", " ", ".", ".."] {
            assert!(segment(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn paths_join_onto_a_base_with_a_prefix() {
        let flags = FlagValues {
            url: Some("https://example.com/releasy/".into()),
            admin_key: Some("k".into()),
            ..FlagValues::default()
        };
        let settings = Settings::resolve(&flags, &|_| None).unwrap();
        let client = ApiClient::new(&settings, Role::Operator).unwrap();
        assert_eq!(
            client.url("/v1/releases").as_str(),
            "https://example.com/releasy/v1/releases"
        );
        assert!(ApiClient::new(&settings, Role::Customer).is_err());
    }
}
