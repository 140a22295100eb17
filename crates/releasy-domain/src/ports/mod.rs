//! The ports: what the domain needs from the outside world, as object-safe traits.
//!
//! Adapters implement them (diesel for the repositories, S3 or the filesystem for the
//! object store, Argon2 for key hashing). Services hold them as `Arc<dyn Port>`, so
//! nothing above the domain is generic over a backend.

mod clock;
mod download_ledger;
mod errors;
mod object_store;
mod observed_store;
mod operator_tokens;
mod quota_counter;
mod rate_limiter;
mod repositories;
mod repository_set;
mod secrets;

pub use clock::{Clock, SystemClock};
pub use download_ledger::DownloadLedger;
pub use errors::{ErrorChain, HashError, RepoError};
pub use object_store::{
    CompleteMultipartError, DeclaredObject, ObjectMeta, ObjectStore, PresignedPut, PresignedUrl,
    StoreError,
};
pub use observed_store::{ObservedObjectStore, StoreCallObserver};
pub use operator_tokens::{OperatorTokenError, OperatorTokenVerifier};
pub use quota_counter::QuotaCounter;
pub use rate_limiter::RateLimiter;
pub use repositories::{
    ApiKeyRepository, ArtifactRepository, AuditRepository, ChangeEvent, ChangeEvents, Claim,
    CustomerRepository, DownloadTokenRepository, EntitlementRepository, HealthProbe,
    IdempotencyRepository, ProductRepository, PruneEvent, ReleaseRepository,
};
pub use repository_set::Repositories;
pub use secrets::{KeyHasher, SecretGenerator};
