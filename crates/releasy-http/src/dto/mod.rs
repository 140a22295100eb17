//! Request and response bodies exactly as the contract spells them, and their
//! conversions from domain types. Handlers never serialise domain types directly.

mod artifacts;
mod audit;
mod customers;
mod delivery;
mod downloads;
mod entitlements;
mod error;
mod health;
mod keys;
mod params;
mod products;
mod releases;

pub use artifacts::{
    ArtifactResponse, CompletedPartDto, MultipartDto, PartUrlDto, PresignArtifactRequest,
    PresignArtifactResponse, RegisterArtifactRequest, UploadHeaders, UploadStateResponse,
    UploadedPartDto, VerificationDto,
};
pub use audit::{AuditEventListQuery, AuditEventListResponse, AuditEventResponse};
pub use customers::{
    CreateCustomerRequest, CustomerListQuery, CustomerListResponse, CustomerResponse,
    UpdateCustomerRequest,
};
pub use delivery::{
    CustomerDownloadsQuery, DownloadListQuery, DownloadListResponse, DownloadRecordResponse,
    DownloadStatResponse, DownloadStatsQuery, DownloadStatsResponse,
};
pub use downloads::{DownloadTokenRequest, DownloadTokenResponse};
pub use entitlements::{
    AccessQuery, AccessReasonBody, AccessRelease, AccessResponse, CreateEntitlementRequest,
    DownloadQuotaBody, EntitlementListQuery, EntitlementListResponse, EntitlementResponse,
    UpdateEntitlementRequest,
};
pub use error::{ErrorBody, ErrorDetail};
pub use health::HealthResponse;
pub use keys::{
    CreateKeyRequest, CreateKeyResponse, IntrospectionResponse, KeyListQuery, KeyListResponse,
    KeySummary, RevokeKeyRequest, RevokeKeyResponse, RotateKeyRequest, RotateKeyResponse,
    UpdateKeyRequest,
};
pub(crate) use params::{non_empty, page_request, parse_bool, parse_id, parse_int};
pub use products::{
    ProductListQuery, ProductListResponse, ProductPolicyRequest, ProductPolicyResponse,
    ProductResponse,
};
pub use releases::{
    ArtifactSummary, CreateReleaseRequest, LatestReleaseQuery, ReleaseListQuery,
    ReleaseListResponse, ReleaseResponse, UpdateReleaseRequest, UpgradeQuery, UpgradeResponse,
    YankReleaseRequest,
};
