//! Releasy's Prometheus metrics (`GET /metrics`), on
//! [prometheus-client](https://docs.rs/prometheus-client).
//!
//! Three ways in, so that no adapter depends on a metrics library:
//!
//! - **Recorded** as things happen, by the HTTP layer: each request by route template
//!   and status with its latency, and authentication refusals by reason
//!   ([`HttpMetrics`]). Latencies are recorded in each thread's own map and added
//!   together at each scrape, so workers on different cores never wait for one another.
//! - **Decorated**: [`Metrics::time_object_store`] wraps the [`ObjectStore`] port and
//!   times each call by operation; [`CountedLedger`] wraps the [`DownloadLedger`] port
//!   and counts tokens issued and resolves by outcome.
//! - **Sampled** at each scrape from counters the adapters keep anyway ([`Sampled`]):
//!   the database pool, the read cache, the write-behind queues.
//!
//! ```
//! use releasy_metrics::Metrics;
//!
//! let metrics = Metrics::new();
//! metrics.http().request("GET", "/v1/releases", 200, std::time::Duration::from_millis(3));
//! let text = metrics.encode();
//! assert!(text.contains(r#"releasy_http_request_duration_seconds_count{method="GET",route="/v1/releases",status="200"} 1"#));
//! ```
//!
//! [`ObjectStore`]: releasy_domain::ports::ObjectStore
//! [`DownloadLedger`]: releasy_domain::ports::DownloadLedger

mod downloads;
mod http;
mod object_store;
mod per_thread;
mod sampled;

use std::sync::Arc;

use prometheus_client::registry::Registry;
use releasy_domain::ports::{DownloadLedger, ObjectStore, ObservedObjectStore};

pub use downloads::CountedLedger;
pub use http::{AuthRefusal, HttpMetrics};
pub use sampled::{Sample, SampleKind, Sampled};

/// The media type of [`Metrics::encode`]'s text (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every metric of one server: registered once at startup, recorded from any thread,
/// encoded at each scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http: HttpMetrics,
    object_store: object_store::StoreCalls,
    downloads: downloads::DownloadCounts,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics registered, none recorded yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("releasy");
        let http = HttpMetrics::registered(&mut registry);
        let object_store = object_store::StoreCalls::registered(&mut registry);
        let downloads = downloads::DownloadCounts::registered(&mut registry);
        Self {
            registry,
            http,
            object_store,
            downloads,
        }
    }

    /// What the HTTP layer records.
    pub fn http(&self) -> &HttpMetrics {
        &self.http
    }

    /// `store`, with each call's latency recorded by operation.
    pub fn time_object_store(&self, store: Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> {
        Arc::new(ObservedObjectStore::new(store, self.object_store.clone()))
    }

    /// `ledger`, with each token issued and each resolve counted by outcome.
    pub fn count_downloads(&self, ledger: Arc<dyn DownloadLedger>) -> Arc<dyn DownloadLedger> {
        Arc::new(CountedLedger::new(ledger, self.downloads.clone()))
    }

    /// Adds values read at each scrape (register before serving).
    pub fn add_sampled<S: 'static>(&mut self, sampled: Sampled<S>) {
        self.registry.register_collector(Box::new(sampled));
    }

    /// Everything, in the OpenMetrics text format ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Latency buckets from half a millisecond to about 16 s, doubling: requests answered
/// from memory take well under a millisecond, a large upload's registration seconds.
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.000_5, 2.0, 16)
}
