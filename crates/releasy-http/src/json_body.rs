//! The JSON body extractor: like `web::Json`, but a deserialisation error names the
//! field it is about (`scopes[1]: invalid type ...`), as the contract requires, and every
//! failure is an [`ApiError`] in the contract's shape.

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::request_limits::is_body_timeout;

/// The largest JSON body accepted by default (the contract's bodies are small).
pub const JSON_LIMIT_BYTES: usize = 64 * 1024;

/// The largest body of a release (`POST /v1/releases`, `PATCH /v1/releases/{id}`):
/// 64 KiB of notes, which JSON escaping lengthens (markdown rarely by a third; only
/// control characters by six times), and 16 KiB of metadata.
pub const RELEASE_JSON_LIMIT_BYTES: usize = 256 * 1024;

/// The most any body is read before it is refused: the largest of the limits above.
pub const PAYLOAD_LIMIT_BYTES: usize = RELEASE_JSON_LIMIT_BYTES;

/// A JSON request body of type `T`, at most `LIMIT` bytes (413 above).
#[derive(Debug)]
pub struct Json<T, const LIMIT: usize = JSON_LIMIT_BYTES>(pub T);

/// A release's request body, allowed up to [`RELEASE_JSON_LIMIT_BYTES`] (the
/// `release_json` module renders releases; this reads them).
pub type ReleaseBody<T> = Json<T, RELEASE_JSON_LIMIT_BYTES>;

impl<T, const LIMIT: usize> Json<T, LIMIT> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T, const LIMIT: usize> std::ops::Deref for Json<T, LIMIT> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for Json<T, LIMIT> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json =
            req.mime_type().ok().flatten().is_some_and(|mime| {
                mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON)
            });
        if !is_json {
            return Box::pin(async {
                Err(ApiError::bad_request(
                    "content-type must be application/json",
                ))
            });
        }
        let body = web::Bytes::from_request(req, payload);
        let too_large =
            || ApiError::payload_too_large(format!("request body is larger than {LIMIT} bytes"));
        Box::pin(async move {
            let bytes = body
                .await
                .map_err(|err| match err.as_error::<PayloadError>() {
                    Some(PayloadError::Overflow) => too_large(),
                    Some(err) if is_body_timeout(err) => ApiError::request_timeout(err.to_string()),
                    _ => ApiError::bad_request("could not read the request body"),
                })?;
            if bytes.len() > LIMIT {
                return Err(too_large());
            }
            not_an_object(&bytes).map_or(Ok(()), Err)?;
            let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
            let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
                let path = err.path().to_string();
                let inner = err.into_inner();
                if path == "." || inner.is_syntax() || inner.is_eof() {
                    ApiError::bad_request(format!("invalid JSON body: {inner}"))
                } else {
                    ApiError::bad_request(format!("{path}: {inner}"))
                }
            })?;
            // One value and nothing after it but whitespace (as `serde_json::from_slice`
            // requires): `{...}garbage` or two objects are not a JSON body.
            deserializer
                .end()
                .map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?;
            Ok(Json(value))
        })
    }
}

/// Every body of the contract is a JSON object; serde would also read a struct from an
/// array of its fields in order (`["Renamed", null, true]` renaming and suspending a
/// customer), so anything else is refused before it is read: a JSON value of another
/// kind by name, text that is no JSON at all with the parser's complaint.
fn not_an_object(bytes: &[u8]) -> Option<ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return None;
    }
    Some(match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => ApiError::bad_request(format!(
            "request body must be a JSON object, not {}",
            json_kind(&value)
        )),
        Err(err) => ApiError::bad_request(format!("invalid JSON body: {err}")),
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        scopes: Option<Vec<String>>,
    }

    async fn extract(content_type: &str, body: &'static str) -> Result<Json<Body>, ApiError> {
        let (req, mut payload) = TestRequest::post()
            .insert_header(("content-type", content_type))
            .set_payload(body)
            .to_http_parts();
        Json::<Body>::from_request(&req, &mut payload).await
    }

    #[actix_web::test]
    async fn only_an_object_is_a_body() {
        for (body, kind) in [
            (r#"["a", ["x"]]"#, "an array"),
            ("null", "null"),
            (r#""a""#, "a string"),
            (" 5", "a number"),
        ] {
            let err = extract("application/json", body).await.unwrap_err();
            assert_eq!(err.status, 400);
            assert_eq!(
                err.message,
                format!("request body must be a JSON object, not {kind}"),
                "{body}"
            );
        }
        let garbage = extract("application/json", "nonsense").await.unwrap_err();
        assert!(
            garbage.message.starts_with("invalid JSON body"),
            "{}",
            garbage.message
        );
        let empty = extract("application/json", "").await.unwrap_err();
        assert!(
            empty.message.starts_with("invalid JSON body"),
            "{}",
            empty.message
        );
        assert!(
            extract("application/json", " \n{\"name\":\"a\"}")
                .await
                .is_ok()
        );
    }

    #[actix_web::test]
    async fn errors_name_the_field() {
        let err = extract("application/json", r#"{"name":"a","scopes":["x",5]}"#)
            .await
            .unwrap_err();
        assert!(
            err.message.starts_with("scopes[1]: invalid type"),
            "{}",
            err.message
        );
        let err = extract("application/json", r#"{"scopes":[]}"#)
            .await
            .unwrap_err();
        assert!(
            err.message.contains("missing field `name`"),
            "{}",
            err.message
        );
        let err = extract("application/json", r#"{"name": "#)
            .await
            .unwrap_err();
        assert!(
            err.message.starts_with("invalid JSON body"),
            "{}",
            err.message
        );
    }

    #[actix_web::test]
    async fn json_content_types_are_required() {
        assert!(
            extract("application/json; charset=utf-8", r#"{"name":"a"}"#)
                .await
                .is_ok()
        );
        assert!(
            extract("application/merge-patch+json", r#"{"name":"a"}"#)
                .await
                .is_ok()
        );
        let err = extract("text/plain", r#"{"name":"a"}"#).await.unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (400, "bad_request"));
    }
}
