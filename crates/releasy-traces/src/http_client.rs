//! The exporter's HTTP client: reqwest, on the server's tokio runtime.
//!
//! The SDK's batch processor exports from a thread of its own, outside any runtime;
//! each request is handed to the server's runtime and awaited from there.

use std::time::Duration;

use async_trait::async_trait;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

use crate::TraceExportError;

/// The most of a collector's answer that is read (its answers are a few bytes).
const RESPONSE_BODY_MAX: usize = 4 * 1024 * 1024;

/// reqwest on a tokio runtime.
#[derive(Debug, Clone)]
pub(crate) struct ReqwestOnTokio {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl ReqwestOnTokio {
    pub(crate) fn new(
        runtime: tokio::runtime::Handle,
        timeout: Duration,
    ) -> Result<Self, TraceExportError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(TraceExportError::Client)?;
        Ok(Self { client, runtime })
    }
}

/// A reqwest error without its URL: the endpoint may carry a password, and the
/// exporter logs what fails.
fn without_url(error: reqwest::Error) -> HttpError {
    Box::new(error.without_url())
}

#[derive(Debug, thiserror::Error)]
#[error("the collector's answer is larger than {RESPONSE_BODY_MAX} bytes")]
struct AnswerTooLarge;

#[async_trait]
impl HttpClient for ReqwestOnTokio {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        self.runtime
            .spawn(async move {
                let request = reqwest::Request::try_from(request).map_err(without_url)?;
                let mut answer = client.execute(request).await.map_err(without_url)?;
                let mut response = Response::builder().status(answer.status());
                if let Some(headers) = response.headers_mut() {
                    *headers = std::mem::take(answer.headers_mut());
                }
                let mut body = Vec::new();
                while let Some(chunk) = answer.chunk().await.map_err(without_url)? {
                    if body.len() + chunk.len() > RESPONSE_BODY_MAX {
                        return Err(Box::new(AnswerTooLarge) as HttpError);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(response.body(Bytes::from(body))?)
            })
            .await?
    }
}
