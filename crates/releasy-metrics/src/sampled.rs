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

/// Takes one metric's samples from a snapshot.
type SamplesOf<S> = Box<dyn Fn(&S) -> Vec<Sample> + Send + Sync>;

struct SampledMetric<S> {
    name: &'static str,
    help: &'static str,
    kind: SampleKind,
    samples: SamplesOf<S>,
}

/// Metrics whose values come from one snapshot of a source, read once at each scrape
/// (so that every series of a scrape agrees, and a source is asked once, not once per
/// metric).
///
/// ```
/// use releasy_metrics::{Metrics, Sample, SampleKind, Sampled};
///
/// struct Pool { max: usize, open: usize }
///
/// let mut metrics = Metrics::new();
/// metrics.add_sampled(
///     Sampled::reading(|| Pool { max: 10, open: 3 })
///         .metric(
///             "db_pool_connections_max",
///             "Connections the pool may hold",
///             SampleKind::Gauge,
///             |pool| vec![Sample::of(pool.max as f64)],
///         )
///         .metric(
///             "db_pool_connections_open",
///             "Connections the pool holds",
///             SampleKind::Gauge,
///             |pool| vec![Sample::of(pool.open as f64)],
///         ),
/// );
/// let text = metrics.encode();
/// assert!(text.contains("releasy_db_pool_connections_max 10"));
/// assert!(text.contains("releasy_db_pool_connections_open 3"));
/// ```
pub struct Sampled<S> {
    read: Box<dyn Fn() -> S + Send + Sync>,
    metrics: Vec<SampledMetric<S>>,
}

impl<S> std::fmt::Debug for Sampled<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.metrics.iter().map(|m| m.name))
            .finish()
    }
}

impl<S> Sampled<S> {
    /// No metric yet; `read` takes the snapshot at each scrape.
    pub fn reading(read: impl Fn() -> S + Send + Sync + 'static) -> Self {
        Self {
            read: Box::new(read),
            metrics: Vec::new(),
        }
    }

    /// Adds the metric `name` (under the `releasy_` prefix; a counter gains `_total`)
    /// whose samples `samples` takes from each scrape's snapshot.
    #[must_use]
    pub fn metric(
        mut self,
        name: &'static str,
        help: &'static str,
        kind: SampleKind,
        samples: impl Fn(&S) -> Vec<Sample> + Send + Sync + 'static,
    ) -> Self {
        self.metrics.push(SampledMetric {
            name,
            help,
            kind,
            samples: Box::new(samples),
        });
        self
    }
}

impl<S: 'static> Collector for Sampled<S> {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snapshot = (self.read)();
        for metric in &self.metrics {
            let metric_type = match metric.kind {
                SampleKind::Counter => <ConstCounter<f64> as TypedMetric>::TYPE,
                SampleKind::Gauge => <ConstGauge<f64> as TypedMetric>::TYPE,
            };
            // The registry adds the `releasy_` prefix.
            let mut family =
                encoder.encode_descriptor(metric.name, metric.help, None, metric_type)?;
            for sample in (metric.samples)(&snapshot) {
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
