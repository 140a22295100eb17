//! The API's request and response bodies, as the contract spells them. The CLI keeps
//! its own copies (it speaks HTTP only), and `--json` prints these shapes.

mod artifacts;
mod audit;
mod customers;
mod downloads;
mod entitlements;
mod error;
mod keys;
mod ledger;
mod products;
mod releases;

pub use artifacts::{
    Artifact, CompletedPart, Multipart, PresignRequest, PresignResponse, RegisterRequest,
    UploadState,
};
pub use audit::AuditEventList;
pub use customers::{CreateCustomer, Customer, CustomerList, UpdateCustomer};
pub use downloads::{TokenRequest, TokenResponse};
pub use entitlements::{
    Access, CreateEntitlement, DownloadQuota, Entitlement, EntitlementList, UpdateEntitlement,
};
pub use error::ErrorBody;
pub use keys::{
    CreateKey, CreatedKey, KeyList, KeySummary, RevokeKey, RevokedKey, RotateKey, RotatedKey,
    UpdateKey,
};
pub use ledger::{LedgerPage, Stats};
pub use products::{Policy, ProductList, SetPolicy};
pub use releases::{
    ArtifactSummary, CreateRelease, Release, ReleaseList, UpdateRelease, Upgrade, YankRelease,
};
