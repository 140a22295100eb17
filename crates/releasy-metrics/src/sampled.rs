//! Values read at each scrape from counters and gauges the adapters keep anyway (the
//! database pool, the read cache, the write-behind queues), so that recording them
//! costs the request path nothing beyond what the adapters already do.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Whether a sampled value only grows (a counter: named `..._total`) or goes up and
/// down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    /// Only grows, from the process's start.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One value and its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `(name, value)` label pairs.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A value with no labels.
    pub fn of(value: f64) -> Self {
        Self {
            labels: Vec::new(),
            value,
        }
    }

    /// A value with one label.
    pub fn labelled(name: &'static str, label: impl Into<String>, value: f64) -> Self {
        Self {
            labels: vec![(name, label.into())],
            value,
        }
    }
}

type Reader = Box<dyn Fn() -> Vec<Sample> + Send + Sync>;

struct SampledMetric {
    name: &'static str,
    help: &'static str,
    kind: SampleKind,
    read: Reader,
}

/// A set of metrics whose values are read at each scrape.
///
/// ```
/// use releasy_metrics::{Metrics, Sample, SampleKind, Sampled};
///
/// let mut metrics = Metrics::new();
/// metrics.add_sampled(Sampled::new().metric(
///     "db_pool_connections_max",
///     "Connections the pool may hold",
///     SampleKind::Gauge,
///     || vec![Sample::of(10.0)],
/// ));
/// assert!(metrics.encode().contains("releasy_db_pool_connections_max 10"));
/// ```
#[derive(Default)]
pub struct Sampled {
    metrics: Vec<SampledMetric>,
}

impl std::fmt::Debug for Sampled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.metrics.iter().map(|m| m.name))
            .finish()
    }
}

impl Sampled {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the metric `name` (under the `releasy_` prefix; a counter gains `_total`)
    /// whose samples `read` gives at each scrape.
    #[must_use]
    pub fn metric(
        mut self,
        name: &'static str,
        help: &'static str,
        kind: SampleKind,
        read: impl Fn() -> Vec<Sample> + Send + Sync + 'static,
    ) -> Self {
        self.metrics.push(SampledMetric {
            name,
            help,
            kind,
            read: Box::new(read),
        });
        self
    }
}

impl Collector for Sampled {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for metric in &self.metrics {
            let metric_type = match metric.kind {
                SampleKind::Counter => <ConstCounter<f64> as TypedMetric>::TYPE,
                SampleKind::Gauge => <ConstGauge<f64> as TypedMetric>::TYPE,
            };
            // The registry adds the `releasy_` prefix.
            let mut family =
                encoder.encode_descriptor(metric.name, metric.help, None, metric_type)?;
            for sample in (metric.read)() {
                let labels = sample.labels;
                let encoder = family.encode_family(&labels)?;
                match metric.kind {
                    SampleKind::Counter => ConstCounter::new(sample.value).encode(encoder)?,
                    SampleKind::Gauge => ConstGauge::new(sample.value).encode(encoder)?,
                }
            }
        }
        Ok(())
    }
}
