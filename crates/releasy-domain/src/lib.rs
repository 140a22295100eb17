//! # releasy-domain
//!
//! The heart of Releasy, a server for controlled software releases: validated value
//! types, the rules of the contract (release lifecycle, entitlement activity, API-key
//! scopes, operator roles, object-key naming, pagination), the use-case services, and
//! the ports those services need. It has no web framework, database or storage client
//! in it: adapters implement [`ports`], and any Rust service can embed the domain.
//!
//! ## Embedding
//!
//! With the `in-memory` feature, every port has an in-memory implementation:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use releasy_domain::api_key::{KeyType, NewApiKeyRequest, Scope, ScopeSet};
//! use releasy_domain::audit::Origin;
//! use releasy_domain::customer::{CustomerName, Plan};
//! use releasy_domain::memory::FixedClock;
//! use releasy_domain::{Ports, Services, Timestamp};
//!
//! let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(1_735_312_000)));
//! let releasy = Services::new(Ports::in_memory(clock));
//!
//! // Every change names who made it; it is recorded with the change.
//! let admin = Origin::admin_key();
//! let acme = releasy
//!     .customers
//!     .create(&admin, CustomerName::parse("Acme").unwrap(), Some(Plan::parse("core").unwrap()))
//!     .await
//!     .unwrap();
//! let issued = releasy
//!     .api_keys
//!     .create(&admin, NewApiKeyRequest {
//!         customer_id: acme.id,
//!         name: None,
//!         key_type: KeyType::Ci,
//!         scopes: ScopeSet::parse(&["releases:read"]).unwrap(),
//!         expires_at: None,
//!         allowed_networks: None,
//!     })
//!     .await
//!     .unwrap();
//!
//! // The raw key authenticates; the audit trail records the accept.
//! let key = releasy
//!     .authenticator
//!     .authenticate(Some(issued.secret.expose()))
//!     .await
//!     .unwrap();
//! assert_eq!(key.customer_id, acme.id);
//! assert!(key.require(Scope::ReleasesRead).is_ok());
//! assert!(key.require(Scope::AuditRead).is_err());
//! # }
//! ```
//!
//! A whole small service built on the domain alone is in `examples/release_desk.rs`
//! (`cargo run -p releasy-domain --example release_desk`); every service and every port
//! below carries a runnable example of its own.
//!
//! ## Map
//!
//! | module | holds |
//! |---|---|
//! | [`customer`], [`api_key`], [`release`], [`artifact`], [`entitlement`], [`download`], [`audit`], [`idempotency`] | one aggregate each: its values, rules and use cases |
//! | [`access`] | operator roles and the role matrix |
//! | [`pagination`] | page sizes, offsets and cursors |
//! | [`ports`] | the traits adapters implement, and [`ports::Repositories`], one store's set |
//! | `memory` (feature `in-memory`) | in-memory adapters |
//! | [`Services`], [`Ports`] | every use case, wired to one set of adapters |

#![warn(missing_docs)]

pub mod access;
pub mod api_key;
pub mod artifact;
pub mod audit;
mod batches;
pub mod calendar;
pub mod customer;
pub mod delivery;
pub mod download;
pub mod entitlement;
mod error;
pub mod idempotency;
mod ids;
mod limits;
#[cfg(feature = "in-memory")]
pub mod memory;
mod network;
pub mod pagination;
pub mod ports;
pub mod product;
pub mod rate_limit;
pub mod release;
mod services;
mod text;
mod time;

pub use error::ValidationError;
pub use ids::{
    ApiKeyId, ArtifactId, AuditEventId, CustomerId, DownloadRecordId, DownloadTokenId,
    EntitlementId, NewId, ReleaseId,
};
pub use limits::Limits;
/// The semver crate, whose versions [`release::Version::semver`] returns.
pub use semver;
pub use services::{Ports, Services};
pub use time::Timestamp;
