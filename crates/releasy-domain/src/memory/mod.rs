//! In-memory implementations of the ports, for tests and for services that embed the
//! domain without a database. They follow the same contracts as the real adapters
//! (the repository contract suite runs against them too).

mod api_keys;
mod artifacts;
mod audit;
mod clock;
mod customers;
mod download_ledger;
mod download_tokens;
mod entitlements;
mod fixtures;
mod health;
mod idempotency;
mod objects;
mod quota_counter;
mod rate_limits;
mod releases;
mod secrets;

pub use api_keys::InMemoryApiKeys;
pub use audit::InMemoryAudit;
pub use clock::FixedClock;
pub use customers::InMemoryCustomers;
pub use download_ledger::InMemoryDownloadLedger;
pub use entitlements::InMemoryEntitlements;
pub use fixtures::{sample_artifact, sample_download_record};
pub use health::AlwaysHealthy;
pub use idempotency::InMemoryIdempotency;
pub use objects::InMemoryObjects;
pub use quota_counter::InMemoryQuotaCounter;
pub use rate_limits::NoRateLimits;
pub use releases::InMemoryReleases;
pub use secrets::{InsecureTestHasher, RandomSecrets};

use std::sync::{Mutex, MutexGuard};

/// Locks a fake's state; a poisoned lock only means another test thread panicked, and the
/// data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
