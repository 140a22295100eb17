//! actix's own extractor and routing errors, answered in the contract's error shape.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

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
