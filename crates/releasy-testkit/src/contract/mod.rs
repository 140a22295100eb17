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
//! use releasy_domain::ports::Repositories;
//! use releasy_testkit::contract::run_all;
//!
//! run_all(Repositories::in_memory()).await;
//! # }
//! ```

pub mod api_keys;
pub mod artifacts;
pub mod audit;
pub mod audit_chain;
pub mod customers;
pub mod download_ledger;
pub mod downloads;
pub mod entitlements;
pub mod idempotency;
pub mod products;
pub mod quota_counter;
pub mod release_model;
pub mod releases;
pub mod uploads;
pub mod verification;

use std::fmt::Debug;
use std::sync::Arc;

use releasy_domain::audit::{AuditEvent, Origin};
use releasy_domain::customer::{Customer, CustomerName, Plan};
use releasy_domain::download::DownloadToken;
use releasy_domain::ports::{CustomerRepository, RepoError, Repositories};
use releasy_domain::{CustomerId, Timestamp};

/// An audit event to store with a change whose event the check does not look at (the
/// audit checks look at the events of every write).
pub fn change_event() -> AuditEvent {
    let customer = new_customer("event target", None, 1);
    AuditEvent::customer_created(&Origin::system(), &customer)
}

/// `tokens`, each with its `download_token.issued` event, as
/// [`DownloadTokenRepository::insert_many`](releasy_domain::ports::DownloadTokenRepository::insert_many)
/// takes them.
pub fn with_events(tokens: &[DownloadToken]) -> Vec<(DownloadToken, AuditEvent)> {
    tokens
        .iter()
        .map(|token| {
            let event = AuditEvent::download_token_issued(&Origin::system(), token);
            (token.clone(), event)
        })
        .collect()
}

/// Runs every check of the suite against `ports`, the repositories of one store.
///
/// # Panics
/// On the first check that fails, with a message naming the broken promise.
pub async fn run_all(ports: Repositories) {
    use downloads::purge_removes_only_tokens_expired_before_the_cutoff;
    use idempotency::purge_removes_only_older_records;
    run_all_beside_another_suite(ports.clone()).await;
    run_check!(purge_removes_only_older_records(ports.idempotency));
    {
        use download_ledger::prune_removes_whole_days_before_the_cutoff;
        run_check!(prune_removes_whole_days_before_the_cutoff(
            ports.download_ledger.clone()
        ));
    }
    {
        use quota_counter::prune_removes_only_ended_periods;
        run_check!(prune_removes_only_ended_periods(
            ports.quota_counter.clone()
        ));
    }
    run_check!(purge_removes_only_tokens_expired_before_the_cutoff(
        ports.download_tokens,
        ports.releases,
        ports.artifacts,
        ports.customers
    ));
}

/// Runs every check that holds while another copy of the suite runs against the same
/// database at the same time (two server instances, say): all of [`run_all`] but the
/// purges of idempotency records and expired tokens, whose cutoffs are global (see
/// [`idempotency::run_all_but_the_purge`]).
///
/// # Panics
/// On the first check that fails, with a message naming the broken promise.
pub async fn run_all_beside_another_suite(ports: Repositories) {
    customers::run_all(ports.customers.clone()).await;
    api_keys::run_all(ports.api_keys.clone(), ports.customers.clone()).await;
    audit::run_all(ports.audit.clone()).await;
    audit_chain::run_all(ports.clone()).await;
    idempotency::run_all_but_the_purge(ports.idempotency.clone()).await;
    releases::run_all(
        ports.releases.clone(),
        ports.artifacts.clone(),
        ports.download_tokens.clone(),
        ports.customers.clone(),
    )
    .await;
    release_model::run_all(
        ports.releases.clone(),
        ports.artifacts.clone(),
        ports.download_tokens.clone(),
        ports.customers.clone(),
    )
    .await;
    artifacts::run_all(ports.releases.clone(), ports.artifacts.clone()).await;
    products::run_all(
        ports.releases.clone(),
        ports.artifacts.clone(),
        ports.products.clone(),
    )
    .await;
    uploads::run_all(ports.releases.clone(), ports.artifacts.clone()).await;
    verification::run_all(ports.releases.clone(), ports.artifacts.clone()).await;
    entitlements::run_all(ports.entitlements.clone(), ports.customers.clone()).await;
    downloads::run_all(
        ports.download_tokens.clone(),
        ports.releases.clone(),
        ports.artifacts.clone(),
        ports.customers.clone(),
    )
    .await;
    download_ledger::run_all(ports.download_ledger.clone()).await;
    quota_counter::run_all(ports.quota_counter.clone()).await;
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
        customers.insert(customer, &change_event()).await,
        "CustomerRepository::insert",
    );
}
