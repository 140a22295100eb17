//! The repository contract suite: what every implementation of the repository ports
//! (the diesel adapters on PostgreSQL and SQLite, and the in-memory fakes) must do, as
//! written in the ports' doc comments.
//!
//! Each check is its own `pub async fn`, named after the promise it checks, so a
//! failure points at one rule. Every check makes its own data (fresh ids, and names,
//! actors or scopes carrying a fresh token it filters on), so all checks can share one
//! database, in any order. [`run_all`] runs every check in turn and logs each name
//! first (shown by the test harness when a check fails).
//!
//! Some checks spawn tasks with `tokio::spawn`: run the suite on a multi-thread tokio
//! runtime (`#[tokio::test(flavor = "multi_thread")]`) so they really race.
//!
//! ```no_run
//! # async fn demo() {
//! use releasy_testkit::contract::{ContractPorts, run_all};
//!
//! run_all(ContractPorts::in_memory()).await;
//! # }
//! ```

pub mod api_keys;
pub mod artifacts;
pub mod audit;
pub mod customers;
pub mod downloads;
pub mod entitlements;
pub mod idempotency;
pub mod releases;

use std::fmt::Debug;
use std::sync::Arc;

use releasy_domain::customer::{Customer, CustomerName, Plan};
use releasy_domain::memory::{
    InMemoryApiKeys, InMemoryAudit, InMemoryCustomers, InMemoryEntitlements, InMemoryIdempotency,
    InMemoryReleases,
};
use releasy_domain::ports::{
    ApiKeyRepository, ArtifactRepository, AuditRepository, CustomerRepository,
    DownloadTokenRepository, EntitlementRepository, IdempotencyRepository, ReleaseRepository,
    RepoError,
};
use releasy_domain::{CustomerId, Timestamp};

/// The ports the contract suite checks, all over one store.
#[derive(Debug, Clone)]
pub struct ContractPorts {
    /// Customers (also used to create the owners of API keys, entitlements and download
    /// tokens).
    pub customers: Arc<dyn CustomerRepository>,
    /// API keys; must see the customers of `customers`.
    pub api_keys: Arc<dyn ApiKeyRepository>,
    /// The audit trail.
    pub audit: Arc<dyn AuditRepository>,
    /// Idempotency records.
    pub idempotency: Arc<dyn IdempotencyRepository>,
    /// Releases.
    pub releases: Arc<dyn ReleaseRepository>,
    /// Artifacts; must be over the store of `releases`.
    pub artifacts: Arc<dyn ArtifactRepository>,
    /// Entitlements; must see the customers of `customers`.
    pub entitlements: Arc<dyn EntitlementRepository>,
    /// Download tokens; must join to `artifacts`, `releases` and `customers`.
    pub download_tokens: Arc<dyn DownloadTokenRepository>,
}

impl ContractPorts {
    /// The in-memory fakes of `releasy_domain::memory`, wired together.
    pub fn in_memory() -> Self {
        let customers = Arc::new(InMemoryCustomers::default());
        let releases = Arc::new(InMemoryReleases::new(customers.clone()));
        Self {
            api_keys: Arc::new(InMemoryApiKeys::new(customers.clone())),
            customers,
            audit: Arc::new(InMemoryAudit::default()),
            idempotency: Arc::new(InMemoryIdempotency::default()),
            artifacts: releases.clone(),
            download_tokens: releases.clone(),
            releases,
            entitlements: Arc::new(InMemoryEntitlements::default()),
        }
    }
}

/// Runs every check of the suite against `ports`.
///
/// # Panics
/// On the first check that fails, with a message naming the broken promise.
pub async fn run_all(ports: ContractPorts) {
    customers::run_all(ports.customers.clone()).await;
    api_keys::run_all(ports.api_keys.clone(), ports.customers.clone()).await;
    audit::run_all(ports.audit.clone()).await;
    idempotency::run_all(ports.idempotency.clone()).await;
    releases::run_all(
        ports.releases.clone(),
        ports.artifacts.clone(),
        ports.download_tokens.clone(),
        ports.customers.clone(),
    )
    .await;
    artifacts::run_all(ports.releases.clone(), ports.artifacts.clone()).await;
    entitlements::run_all(ports.entitlements.clone(), ports.customers.clone()).await;
    downloads::run_all(
        ports.download_tokens.clone(),
        ports.releases.clone(),
        ports.artifacts.clone(),
        ports.customers.clone(),
    )
    .await;
}

/// Logs a check's name, then runs it.
macro_rules! run_check {
    ($check:ident($($arg:expr),* $(,)?)) => {{
        eprintln!("contract check: {}::{}", module_path!(), stringify!($check));
        $check($($arg),*).await;
    }};
}
pub(crate) use run_check;

/// A fresh token (32 lowercase hex digits) that tags one check's data.
pub(crate) fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Shorthand for a timestamp.
pub(crate) const fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds)
}

/// A point in time the checks build on (2024-12-27T15:06:40Z).
pub(crate) const T0: i64 = 1_735_312_000;

/// Unwraps a repository result, or panics naming the operation.
pub(crate) fn ok<T>(result: Result<T, RepoError>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("{what} failed: {err} ({err:?})"),
    }
}

/// Panics when `actual != expected`, showing both and what was checked.
#[track_caller]
pub(crate) fn same<T: PartialEq + Debug>(actual: &T, expected: &T, what: &str) {
    assert!(
        actual == expected,
        "{what}\n  expected: {expected:?}\n    actual: {actual:?}"
    );
}

/// A customer value (not stored) with a fresh id.
pub(crate) fn new_customer(name: &str, plan: Option<&str>, created_at: i64) -> Customer {
    Customer {
        id: CustomerId::generate(),
        name: CustomerName::parse(name).expect("a valid customer name"),
        plan: plan.map(|p| Plan::parse(p).expect("a valid plan")),
        created_at: at(created_at),
        suspended_at: None,
    }
}

/// Stores `customer`.
pub(crate) async fn store_customer(customers: &Arc<dyn CustomerRepository>, customer: &Customer) {
    ok(
        customers.insert(customer).await,
        "CustomerRepository::insert",
    );
}
