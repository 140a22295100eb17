//! The text a scrape reads: every family named, typed and labelled as
//! docs/deployment.md#metrics lists, with the values recorded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::time::Duration;

use releasy_domain::Timestamp;
use releasy_domain::artifact::ObjectKey;
use releasy_domain::memory::InMemoryObjects;
use releasy_metrics::{AuthRefusal, Metrics, Sample, SampleKind, Sampled};

/// The line of `text` that starts with `series ` (name and labels), its value.
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.split(' ').next().unwrap().parse().unwrap())
}

#[test]
fn requests_are_counted_and_timed_by_route_template_and_status() {
    let metrics = Metrics::new();
    let http = metrics.http();
    for _ in 0..3 {
        http.request("GET", "/v1/releases", 200, Duration::from_millis(2));
    }
    http.request("GET", "/v1/releases", 401, Duration::from_micros(300));
    let text = metrics.encode();
    assert!(
        text.contains("# TYPE releasy_http_request_duration_seconds histogram"),
        "{text}"
    );
    let ok = r#"releasy_http_request_duration_seconds_count{method="GET",route="/v1/releases",status="200"}"#;
    assert_eq!(value_of(&text, ok), Some(3.0), "{text}");
    let refused = r#"releasy_http_request_duration_seconds_count{method="GET",route="/v1/releases",status="401"}"#;
    assert_eq!(value_of(&text, refused), Some(1.0));
    // 2 ms falls in the 2 ms bucket (0.5 ms doubling: 0.0005, 0.001, 0.002, ...).
    let bucket = r#"releasy_http_request_duration_seconds_bucket{le="0.002",method="GET",route="/v1/releases",status="200"}"#;
    let bucket_below = r#"releasy_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/v1/releases",status="200"}"#;
    assert_eq!(value_of(&text, bucket), Some(3.0), "{text}");
    assert_eq!(value_of(&text, bucket_below), Some(0.0));
}

#[test]
fn refusals_are_counted_by_credential_and_reason() {
    let metrics = Metrics::new();
    let http = metrics.http();
    let unknown = AuthRefusal {
        credential: "api_key",
        reason: "unknown_key",
    };
    http.auth_refused(unknown);
    http.auth_refused(unknown);
    let text = metrics.encode();
    assert_eq!(
        value_of(
            &text,
            r#"releasy_auth_refusals_total{credential="api_key",reason="unknown_key"}"#
        ),
        Some(2.0),
        "{text}"
    );
}

#[test]
fn sampled_values_are_read_once_at_each_scrape() {
    use std::sync::atomic::{AtomicU64, Ordering};

    let mut metrics = Metrics::new();
    let depth = Arc::new(AtomicU64::new(4));
    let reads = Arc::new(AtomicU64::new(0));
    let (source, counted) = (depth.clone(), reads.clone());
    metrics.add_sampled(
        Sampled::reading(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            source.load(Ordering::Relaxed) as f64
        })
        .metric(
            "write_behind_queue_depth",
            "Rows queued",
            SampleKind::Gauge,
            |depth| vec![Sample::labelled("queue", "audit", *depth)],
        )
        .metric("cache_hits", "Hits", SampleKind::Counter, |depth| {
            vec![Sample::of(depth + 3.0)]
        }),
    );
    let text = metrics.encode();
    assert_eq!(
        reads.load(Ordering::Relaxed),
        1,
        "one read for both metrics"
    );
    assert_eq!(
        value_of(&text, r#"releasy_write_behind_queue_depth{queue="audit"}"#),
        Some(4.0),
        "{text}"
    );
    assert!(text.contains("# TYPE releasy_write_behind_queue_depth gauge"));
    assert_eq!(
        value_of(&text, "releasy_cache_hits_total"),
        Some(7.0),
        "{text}"
    );
    assert!(text.contains("# TYPE releasy_cache_hits counter"));
    depth.store(9, Ordering::Relaxed);
    assert_eq!(
        value_of(
            &metrics.encode(),
            r#"releasy_write_behind_queue_depth{queue="audit"}"#
        ),
        Some(9.0)
    );
    assert_eq!(
        reads.load(Ordering::Relaxed),
        2,
        "read again at the next scrape"
    );
}

#[tokio::test]
async fn object_store_calls_are_timed_by_operation_and_result() {
    let metrics = Metrics::new();
    let store = metrics.time_object_store(Arc::new(InMemoryObjects::default()));
    let key = ObjectKey::from_stored("releases/p/1.0.0/linux/a/file.tgz".to_owned());
    assert!(store.head(&key).await.unwrap().is_none());
    store
        .presign_get(&key, Timestamp::from_unix_seconds(1_000), 60)
        .await
        .unwrap();
    let text = metrics.encode();
    assert_eq!(
        value_of(
            &text,
            r#"releasy_object_store_call_duration_seconds_count{operation="head",result="ok"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value_of(
            &text,
            r#"releasy_object_store_call_duration_seconds_count{operation="presign_get",result="ok"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn tokens_issued_and_resolves_are_counted_by_outcome() {
    use releasy_domain::delivery::{DownloadFilter, DownloadOutcome};
    use releasy_domain::memory::{InMemoryDownloadLedger, sample_download_record};
    use releasy_domain::ports::DownloadLedger;

    let metrics = Metrics::new();
    let inner = Arc::new(InMemoryDownloadLedger::default());
    let ledger = metrics.count_downloads(inner.clone());
    let issued = sample_download_record(DownloadOutcome::Issued);
    let redirected = [
        sample_download_record(DownloadOutcome::Redirected),
        sample_download_record(DownloadOutcome::Redirected),
    ];
    let used_up = sample_download_record(DownloadOutcome::UsedUp);
    ledger.record(&issued).await.unwrap();
    let [first, second] = redirected;
    ledger.record_many(&[first, second, used_up]).await.unwrap();
    let text = metrics.encode();
    assert_eq!(
        value_of(&text, "releasy_download_tokens_issued_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value_of(
            &text,
            r#"releasy_downloads_resolved_total{outcome="redirected"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        value_of(
            &text,
            r#"releasy_downloads_resolved_total{outcome="used_up"}"#
        ),
        Some(1.0)
    );
    // And the rows reach the ledger it wraps.
    let rows = inner
        .list(&DownloadFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
}

/// A ledger that refuses every record, as one whose queue is full or whose database is
/// down.
#[derive(Debug)]
struct RefusingLedger;

#[async_trait::async_trait]
impl releasy_domain::ports::DownloadLedger for RefusingLedger {
    async fn record_many(
        &self,
        _: &[releasy_domain::delivery::DownloadRecord],
    ) -> Result<(), releasy_domain::ports::RepoError> {
        Err(releasy_domain::ports::RepoError::unavailable("refused"))
    }
    async fn list(
        &self,
        _: &releasy_domain::delivery::DownloadFilter,
        _: Option<&releasy_domain::pagination::Cursor>,
        _: u32,
    ) -> Result<Vec<releasy_domain::delivery::DownloadRecord>, releasy_domain::ports::RepoError>
    {
        Ok(Vec::new())
    }
    async fn stats(
        &self,
        _: &releasy_domain::delivery::StatsQuery,
    ) -> Result<Vec<releasy_domain::delivery::DownloadStat>, releasy_domain::ports::RepoError> {
        Ok(Vec::new())
    }
    async fn prune_before(
        &self,
        _: releasy_domain::Timestamp,
        _: u32,
    ) -> Result<u64, releasy_domain::ports::RepoError> {
        Ok(0)
    }
}

/// A record the ledger refuses is no download (the resolve answers 5xx and hands out no
/// link): nothing is counted.
#[tokio::test]
async fn records_the_ledger_refuses_are_not_counted() {
    use releasy_domain::delivery::DownloadOutcome;
    use releasy_domain::memory::sample_download_record;

    let metrics = Metrics::new();
    let ledger = metrics.count_downloads(Arc::new(RefusingLedger));
    let redirected = sample_download_record(DownloadOutcome::Redirected);
    assert!(ledger.record(&redirected).await.is_err());
    let issued = sample_download_record(DownloadOutcome::Issued);
    assert!(ledger.record_many(&[issued]).await.is_err());
    let text = metrics.encode();
    for counter in [
        r#"releasy_downloads_resolved_total{outcome="redirected"}"#,
        "releasy_download_tokens_issued_total",
    ] {
        assert!(
            value_of(&text, counter).is_none_or(|counted| counted == 0.0),
            "{counter}: {text}"
        );
    }
}
