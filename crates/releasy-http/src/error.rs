//! The one place where errors become HTTP responses: every domain and extractor error
//! maps to a status and the contract's body `{"error":{"code","message"}}`.

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpResponse, ResponseError};
use releasy_domain::ValidationError;
use releasy_domain::api_key::{
    AuthFailure, CreateKeyError, ListKeysError, MissingScope, RevokeKeyError, RotateKeyError,
    UpdateKeyError,
};
use releasy_domain::artifact::{PresignError, RegisterArtifactError, UploadError};
use releasy_domain::audit::AuthReason;
use releasy_domain::customer::CustomerError;
use releasy_domain::download::{IssueTokenError, ResolveError, ResolveRefusal};
use releasy_domain::entitlement::{EntitlementError, ExplainError};
use releasy_domain::idempotency::IdempotencyError;
use releasy_domain::ports::StoreError;
use releasy_domain::ports::{ErrorChain, HashError, RepoError};
use releasy_domain::product::ProductError;
use releasy_domain::rate_limit::Throttled;
use releasy_domain::release::{
    CreateReleaseError, DeleteReleaseError, ListReleasesError, TransitionError, UpdateReleaseError,
    YankError,
};

use crate::auth::OperatorRefusal;
use crate::dto::ErrorBody;

/// The `Retry-After` of a 503: a database or store that went away is retried for
/// within a few seconds (the pool tries a fresh connection on every request), so a
/// client waiting this long finds it back as soon as it is.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 2;

/// An error answered to the client. 5xx causes are logged here and never sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The contract's error code.
    pub code: &'static str,
    /// A message for people.
    pub message: String,
    /// Seconds the client should wait before trying again (`Retry-After`), when known.
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_seconds: None,
        }
    }

    /// 429 `too_many_requests`, with `Retry-After: retry_after_seconds`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: u64) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            message,
        )
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 408 `request_timeout`: the request body stopped arriving.
    pub fn request_timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", message)
    }

    /// 431 `request_header_fields_too_large`.
    pub fn header_fields_too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request_header_fields_too_large",
            message,
        )
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 503 `service_unavailable` with `Retry-After`, the cause logged.
    pub fn unavailable(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(cause), "dependency unavailable");
        Self {
            retry_after_seconds: Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "service unavailable",
            )
        }
    }

    /// 500 `internal_error`, with the cause logged and never sent.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after_seconds {
            response.insert_header((RETRY_AFTER, seconds));
        }
        response.json(ErrorBody::new(self.code, &self.message))
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        Self::bad_request(err.to_string())
    }
}

impl From<RepoError> for ApiError {
    fn from(err: RepoError) -> Self {
        match &err {
            RepoError::Conflict => Self::conflict("already exists"),
            RepoError::MissingReference => Self::not_found("a referenced resource does not exist"),
            RepoError::Unavailable(_) => Self::unavailable(&err),
            RepoError::Internal(_) => Self::internal(&err),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        Self::internal(&err)
    }
}

impl From<CustomerError> for ApiError {
    fn from(err: CustomerError) -> Self {
        match err {
            CustomerError::NotFound => Self::not_found("customer not found"),
            CustomerError::Repo(repo) => repo.into(),
        }
    }
}

impl From<CreateKeyError> for ApiError {
    fn from(err: CreateKeyError) -> Self {
        match err {
            CreateKeyError::Invalid(invalid) => invalid.into(),
            CreateKeyError::CustomerNotFound => Self::not_found("customer not found"),
            CreateKeyError::Repo(repo) => repo.into(),
            CreateKeyError::Hash(hash) => hash.into(),
        }
    }
}

impl From<UpdateKeyError> for ApiError {
    fn from(err: UpdateKeyError) -> Self {
        match err {
            UpdateKeyError::NotFound => Self::not_found("api key not found"),
            UpdateKeyError::Invalid(invalid) => invalid.into(),
            UpdateKeyError::Repo(repo) => repo.into(),
        }
    }
}

impl From<ListKeysError> for ApiError {
    fn from(err: ListKeysError) -> Self {
        match err {
            ListKeysError::CustomerNotFound => Self::not_found("customer not found"),
            ListKeysError::Repo(repo) => repo.into(),
        }
    }
}

impl From<RotateKeyError> for ApiError {
    fn from(err: RotateKeyError) -> Self {
        match err {
            RotateKeyError::NotFound => Self::not_found("api key not found"),
            RotateKeyError::Refused(refusal) => Self::conflict(refusal.to_string()),
            RotateKeyError::Repo(repo) => repo.into(),
            RotateKeyError::Hash(hash) => hash.into(),
        }
    }
}

impl From<RevokeKeyError> for ApiError {
    fn from(err: RevokeKeyError) -> Self {
        match err {
            RevokeKeyError::NotFound => Self::not_found("api key not found"),
            RevokeKeyError::Repo(repo) => repo.into(),
        }
    }
}

impl From<AuthFailure> for ApiError {
    fn from(err: AuthFailure) -> Self {
        match err {
            AuthFailure::Rejected(AuthReason::AddressNotAllowed) => {
                Self::forbidden("address not allowed")
            }
            AuthFailure::Rejected(reason) => Self::unauthorized(match reason {
                AuthReason::MissingHeader => "missing api key",
                AuthReason::Revoked => "api key revoked",
                AuthReason::Expired => "api key expired",
                AuthReason::Suspended => "customer suspended",
                _ => "invalid api key",
            }),
            AuthFailure::Throttled { throttled, .. } => throttled.into(),
            AuthFailure::OverBudget {
                retry_after_seconds,
                ..
            } => Self::too_many_requests(
                "this key has spent its request budget",
                retry_after_seconds,
            ),
            AuthFailure::Repo(repo) => repo.into(),
            AuthFailure::Hash(hash) => hash.into(),
        }
    }
}

impl From<Throttled> for ApiError {
    fn from(throttled: Throttled) -> Self {
        Self::too_many_requests(throttled.to_string(), throttled.retry_after_seconds)
    }
}

impl From<OperatorRefusal> for ApiError {
    fn from(refusal: OperatorRefusal) -> Self {
        match refusal {
            OperatorRefusal::Unauthorized(reason) => Self::unauthorized(reason),
            OperatorRefusal::NoRole => Self::forbidden(refusal.to_string()),
            OperatorRefusal::Unavailable(cause) => Self::unavailable(&cause),
            OperatorRefusal::Throttled(throttled) => throttled.into(),
        }
    }
}

impl From<MissingScope> for ApiError {
    fn from(_: MissingScope) -> Self {
        Self::forbidden("missing scope")
    }
}

impl From<IdempotencyError> for ApiError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::Conflict => Self::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "Idempotency-Key was already used with a different request",
            ),
            IdempotencyError::InProgress => Self::new(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still in progress",
            ),
            IdempotencyError::Repo(repo) => repo.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::Unavailable(_) => Self::unavailable(&err),
            StoreError::Internal(_) => Self::internal(&err),
        }
    }
}

impl From<CreateReleaseError> for ApiError {
    fn from(err: CreateReleaseError) -> Self {
        match err {
            CreateReleaseError::AlreadyExists => Self::conflict("release already exists"),
            CreateReleaseError::Repo(repo) => repo.into(),
        }
    }
}

impl From<ListReleasesError> for ApiError {
    fn from(err: ListReleasesError) -> Self {
        match err {
            // 400 and these words, as the reference server answers (clients may match).
            ListReleasesError::StatusNotVisible => Self::bad_request("status must be published"),
            ListReleasesError::Repo(repo) => repo.into(),
        }
    }
}

impl From<TransitionError> for ApiError {
    fn from(err: TransitionError) -> Self {
        match err {
            TransitionError::NotFound => Self::not_found("release not found"),
            TransitionError::Lifecycle(rule) => Self::bad_request(rule.to_string()),
            TransitionError::StatusChanged => Self::conflict("release status changed, retry"),
            TransitionError::Seal(seal) => Self::conflict(seal.to_string()),
            TransitionError::Repo(repo) => repo.into(),
        }
    }
}

impl From<UpdateReleaseError> for ApiError {
    fn from(err: UpdateReleaseError) -> Self {
        match err {
            UpdateReleaseError::NotFound => Self::not_found(err.to_string()),
            UpdateReleaseError::NotDraft | UpdateReleaseError::Immutable => {
                Self::conflict(err.to_string())
            }
            UpdateReleaseError::Repo(repo) => repo.into(),
        }
    }
}

impl From<YankError> for ApiError {
    fn from(err: YankError) -> Self {
        match err {
            YankError::NotFound => Self::not_found(err.to_string()),
            // Like publishing a published release.
            YankError::AlreadyYanked | YankError::NotYanked => Self::bad_request(err.to_string()),
            YankError::Repo(repo) => repo.into(),
        }
    }
}

impl From<DeleteReleaseError> for ApiError {
    fn from(err: DeleteReleaseError) -> Self {
        match err {
            DeleteReleaseError::NotFound => Self::not_found("release not found"),
            DeleteReleaseError::Immutable => Self::conflict(err.to_string()),
            DeleteReleaseError::Repo(repo) => repo.into(),
        }
    }
}

impl From<PresignError> for ApiError {
    fn from(err: PresignError) -> Self {
        match err {
            PresignError::ReleaseNotFound => Self::not_found("release not found"),
            PresignError::Immutable => Self::conflict(err.to_string()),
            PresignError::Invalid(invalid) => invalid.into(),
            PresignError::Store(store) => store.into(),
            PresignError::Repo(repo) => repo.into(),
        }
    }
}

impl From<RegisterArtifactError> for ApiError {
    fn from(err: RegisterArtifactError) -> Self {
        match err {
            RegisterArtifactError::ReleaseNotFound => Self::not_found("release not found"),
            RegisterArtifactError::Invalid(invalid) => invalid.into(),
            RegisterArtifactError::ObjectMissing
            | RegisterArtifactError::SizeMismatch { .. }
            | RegisterArtifactError::ChecksumMismatch
            | RegisterArtifactError::NotMultipart
            | RegisterArtifactError::PartsRequired
            | RegisterArtifactError::PartsRejected(_) => Self::bad_request(err.to_string()),
            RegisterArtifactError::AlreadyExists => Self::conflict("artifact already exists"),
            RegisterArtifactError::Immutable => Self::conflict(err.to_string()),
            RegisterArtifactError::UploadGone | RegisterArtifactError::ObjectReplaced => {
                Self::conflict(err.to_string())
            }
            RegisterArtifactError::Store(store) => store.into(),
            RegisterArtifactError::Repo(repo) => repo.into(),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::NotFound => Self::not_found(err.to_string()),
            UploadError::Store(store) => store.into(),
            UploadError::Repo(repo) => repo.into(),
        }
    }
}

impl From<EntitlementError> for ApiError {
    fn from(err: EntitlementError) -> Self {
        match err {
            EntitlementError::CustomerNotFound => Self::not_found("customer not found"),
            EntitlementError::NotFound => Self::not_found("entitlement not found"),
            EntitlementError::Invalid(invalid) => invalid.into(),
            EntitlementError::Contended => {
                Self::conflict("entitlement changed concurrently; try again")
            }
            EntitlementError::Repo(repo) => repo.into(),
        }
    }
}

impl From<ProductError> for ApiError {
    fn from(err: ProductError) -> Self {
        match err {
            ProductError::Repo(repo) => repo.into(),
        }
    }
}

impl From<ExplainError> for ApiError {
    fn from(err: ExplainError) -> Self {
        match err {
            ExplainError::CustomerNotFound => Self::not_found("customer not found"),
            ExplainError::ReleaseNotFound => Self::not_found("release not found"),
            ExplainError::Repo(repo) => repo.into(),
        }
    }
}

impl From<IssueTokenError> for ApiError {
    fn from(err: IssueTokenError) -> Self {
        match err {
            IssueTokenError::ArtifactNotFound => Self::not_found("artifact not found"),
            IssueTokenError::ReleaseNotPublished => Self::forbidden("release not published"),
            IssueTokenError::EntitlementRequired => Self::forbidden("entitlement required"),
            IssueTokenError::NotVerified => Self::forbidden("artifact not verified"),
            IssueTokenError::Yanked => Self::forbidden("release yanked"),
            refused @ IssueTokenError::QuotaExceeded {
                retry_after_seconds,
            } => Self::too_many_requests(refused.to_string(), retry_after_seconds),
            IssueTokenError::Invalid(invalid) => invalid.into(),
            IssueTokenError::Repo(repo) => repo.into(),
        }
    }
}

impl From<ResolveError> for ApiError {
    fn from(err: ResolveError) -> Self {
        match err {
            ResolveError::Refused(
                refusal @ (ResolveRefusal::NotVerified
                | ResolveRefusal::Yanked
                | ResolveRefusal::AddressNotAllowed),
            ) => Self::forbidden(refusal.to_string()),
            ResolveError::Refused(
                refusal @ ResolveRefusal::QuotaExceeded {
                    retry_after_seconds,
                },
            ) => Self::too_many_requests(refusal.to_string(), retry_after_seconds),
            ResolveError::Refused(refusal) => Self::not_found(refusal.to_string()),
            ResolveError::Store(store) => store.into(),
            ResolveError::Repo(repo) => repo.into(),
            ResolveError::Throttled(throttled) => throttled.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn errors_render_in_the_contract_shape() {
        let response = ApiError::bad_request("name must not be empty").error_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = response.into_body().try_into_bytes().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"error": {"code": "bad_request", "message": "name must not be empty"}})
        );
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let err: ApiError = RepoError::internal("password=hunter2 in a query").into();
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.message, "internal error");
    }
}
