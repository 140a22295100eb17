//! What the HTTP layer records: requests and authentication refusals.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use crate::latency_buckets;
use crate::per_thread::PerThreadHistograms;

#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct RequestLabels {
    /// One of a fixed set: a client can send any method token.
    method: &'static str,
    /// The route template (`/v1/downloads/{token}`), never the path, which may carry
    /// secrets and would make one series per token.
    route: String,
    status: u16,
}

/// Who was refused and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRefusal {
    /// `api_key`, `admin_key` or `operator_token`.
    pub credential: &'static str,
    /// The refusal's reason, one of a fixed set (`unknown_key`, `revoked`, ...).
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    credential: &'static str,
    reason: &'static str,
}

/// The HTTP layer's metrics; cheap to clone (each family is shared).
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    /// Recorded per thread: every request records here, from every worker at once.
    requests: PerThreadHistograms<RequestLabels>,
    auth_refusals: Family<RefusalLabels, Counter>,
}

impl HttpMetrics {
    pub(crate) fn registered(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: PerThreadHistograms::new(
                "http_request_duration",
                "Requests answered, by method, route template and status, and how long each took",
                Unit::Seconds,
                latency_buckets(),
            ),
            auth_refusals: Family::default(),
        };
        registry.register_collector(Box::new(metrics.requests.clone()));
        registry.register(
            "auth_refusals",
            "Requests refused for their credential, by credential kind and reason",
            metrics.auth_refusals.clone(),
        );
        metrics
    }

    /// A request answered `status` on `route` after `took` (an owned route is taken
    /// as it is: the request path has it already). `method` is one of a fixed set (the
    /// methods the API answers, `_OTHER` for the rest): every distinct value is a
    /// series kept for the process's life.
    pub fn request(
        &self,
        method: &'static str,
        route: impl Into<String>,
        status: u16,
        took: Duration,
    ) {
        let labels = RequestLabels {
            method,
            route: route.into(),
            status,
        };
        self.requests.observe(labels, took.as_secs_f64());
    }

    /// A credential refused.
    pub fn auth_refused(&self, refusal: AuthRefusal) {
        self.auth_refusals
            .get_or_create(&RefusalLabels {
                credential: refusal.credential,
                reason: refusal.reason,
            })
            .inc();
    }
}
