//! actix's own extractor and routing errors, answered in the contract's error shape.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

/// The largest JSON body accepted (the contract's bodies are small).
pub const JSON_LIMIT_BYTES: usize = 64 * 1024;

/// JSON bodies: 400 for malformed JSON, wrong types or missing fields (the message
/// names the field), 413 over the limit, 415 without a JSON content type.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT_BYTES)
        .error_handler(|err, _req| {
            let api = match &err {
                JsonPayloadError::Overflow { limit }
                | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                    ApiError::payload_too_large(format!(
                        "request body is larger than {limit} bytes"
                    ))
                }
                JsonPayloadError::ContentType => {
                    ApiError::unsupported_media_type("content-type must be application/json")
                }
                JsonPayloadError::Deserialize(e) => {
                    ApiError::bad_request(format!("invalid JSON body: {e}"))
                }
                _ => ApiError::bad_request("invalid JSON body"),
            };
            actix_web::error::InternalError::from_response(err, api.into_response()).into()
        })
}

/// Query strings: 400 naming the parameter.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match &err {
            QueryPayloadError::Deserialize(e) => format!("invalid query: {e}"),
            _ => "invalid query".to_owned(),
        };
        actix_web::error::InternalError::from_response(
            err,
            ApiError::bad_request(message).into_response(),
        )
        .into()
    })
}

/// Path segments: 400.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let message = match &err {
            PathError::Deserialize(e) => format!("invalid path: {e}"),
            _ => "invalid path".to_owned(),
        };
        actix_web::error::InternalError::from_response(
            err,
            ApiError::bad_request(message).into_response(),
        )
        .into()
    })
}

/// Unknown routes: 404 in the error shape.
pub async fn route_not_found(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(format!("no route for {} {}", req.method(), req.path())).into_response()
}

impl ApiError {
    /// The response this error renders to.
    pub fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
