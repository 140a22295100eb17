//! Object-store call latency, observed through the domain's [`ObservedObjectStore`].
//!
//! [`ObservedObjectStore`]: releasy_domain::ports::ObservedObjectStore

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::{Registry, Unit};
use releasy_domain::ports::StoreCallObserver;

use crate::latency_buckets;
use crate::per_thread::PerThreadHistograms;

#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    /// `ok` or `error`.
    result: &'static str,
}

/// The histogram every timed store records into (per thread: every download resolve
/// presigns through it).
#[derive(Debug, Clone)]
pub(crate) struct StoreCalls(PerThreadHistograms<CallLabels>);

impl StoreCalls {
    pub(crate) fn registered(registry: &mut Registry) -> Self {
        let calls = Self(PerThreadHistograms::new(
            "object_store_call_duration",
            "Object-store calls, by operation and result, and how long each took (presigning \
             is local on both stores; head, sha256 and the multipart calls reach S3)",
            Unit::Seconds,
            latency_buckets(),
        ));
        registry.register_collector(Box::new(calls.0.clone()));
        calls
    }
}

impl StoreCallObserver for StoreCalls {
    type Call = (&'static str, Instant);

    fn started(&self, operation: &'static str) -> Self::Call {
        (operation, Instant::now())
    }

    fn finished(&self, (operation, started): Self::Call, ok: bool) {
        let labels = CallLabels {
            operation,
            result: if ok { "ok" } else { "error" },
        };
        self.0.observe(labels, started.elapsed().as_secs_f64());
    }
}
