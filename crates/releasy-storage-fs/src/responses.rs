//! The contract's error shape, `{"error":{"code","message"}}`, for the storage routes.
//! Rendered here so that the crate does not depend on the HTTP adapter.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};

use crate::error::FsStoreError;

/// An error response with `status`, `code` and `message`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .json(body)
}

/// 403: the URL's signature is wrong, or it has expired.
pub(crate) fn forbidden() -> HttpResponse {
    error(
        StatusCode::FORBIDDEN,
        "forbidden",
        "invalid or expired signature",
    )
}

/// 404: nothing is stored under the key.
pub(crate) fn object_not_found() -> HttpResponse {
    error(StatusCode::NOT_FOUND, "not_found", "object not found")
}

/// 400: the upload stopped before its end.
pub(crate) fn upload_interrupted() -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "upload was interrupted before its end",
    )
}

/// 408: the body stopped arriving for longer than the server's body idle limit.
pub(crate) fn upload_stalled() -> HttpResponse {
    error(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "upload stalled: no bytes arrived for too long; nothing was stored",
    )
}

/// 409: an object is stored under the key already, and stored bytes never change.
pub(crate) fn already_stored() -> HttpResponse {
    error(
        StatusCode::CONFLICT,
        "conflict",
        "an object is already stored under this key: its bytes cannot change",
    )
}

/// 404: the upload in parts is not open.
pub(crate) fn upload_not_found() -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no unfinished upload has this id: it was completed, aborted, or never opened",
    )
}

/// 409 `part_busy` with `Retry-After`: the part is being received by another request
/// (or that request's write still lands), or its upload is completing. A code of its
/// own, so that a client can tell "send it again in a moment" from a refusal.
pub(crate) fn part_busy() -> HttpResponse {
    let mut response = error(
        StatusCode::CONFLICT,
        "part_busy",
        "this part is being uploaded by another request, or the upload is completing",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(PART_BUSY_RETRY_AFTER),
    );
    response
}

/// `Retry-After` of a busy part, in seconds: a part's write lands within moments.
const PART_BUSY_RETRY_AFTER: &str = "1";

/// 413: the upload is larger than the store accepts.
pub(crate) fn too_large(limit: u64) -> HttpResponse {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &format!("object is larger than the limit of {limit} bytes"),
    )
}

/// What a store failure answers, its cause logged and never sent: 503
/// `service_unavailable` with `Retry-After` when the store cannot take the request now
/// (a full or read-only disk: the client may try again), 500 otherwise.
pub(crate) fn store_failed(cause: &FsStoreError) -> HttpResponse {
    if !cause.is_unavailable() {
        return internal(cause);
    }
    tracing::error!(error = %cause, "embedded object store unavailable");
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
        "service unavailable",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
    );
    response
}

/// `Retry-After` of a 503, in seconds, as the API's.
const UNAVAILABLE_RETRY_AFTER: &str = "2";

/// 500 `internal_error`, the cause logged and never sent.
pub(crate) fn internal(cause: &dyn std::error::Error) -> HttpResponse {
    tracing::error!(error = %cause, "embedded object store failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal error",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> FsStoreError {
        FsStoreError::io("writing", "/data/objects/x", kind.into())
    }

    #[test]
    fn a_full_or_read_only_disk_is_unavailable_and_other_failures_internal() {
        for kind in [
            std::io::ErrorKind::StorageFull,
            std::io::ErrorKind::ReadOnlyFilesystem,
            std::io::ErrorKind::QuotaExceeded,
        ] {
            let response = store_failed(&io(kind));
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{kind:?}"
            );
            assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "2");
        }
        // As are no file descriptor or memory to spare: they pass as transfers end.
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOMEM] {
            let failed = FsStoreError::io(
                "opening",
                "/data/objects/x",
                std::io::Error::from_raw_os_error(errno),
            );
            let response = store_failed(&failed);
            assert_eq!(
                response.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{errno}"
            );
        }
        let response = store_failed(&io(std::io::ErrorKind::PermissionDenied));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
