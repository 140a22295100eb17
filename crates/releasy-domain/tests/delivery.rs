//! Reading the download ledger through `DeliveryService`: pages that end where the rows
//! do, an export that walks batch after batch, a customer's own history, retention by
//! whole days.
#![allow(clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use releasy_domain::artifact::Platform;
use releasy_domain::delivery::{
    DeliveryService, DownloadFilter, DownloadOutcome, DownloadRecord, DownloadSubject,
    EXPORT_BATCH, LedgerRetention, Requester, SECONDS_PER_DAY,
};
use releasy_domain::memory::{FixedClock, InMemoryDownloadLedger};
use releasy_domain::pagination::{Cursor, PageLimit};
use releasy_domain::ports::DownloadLedger;
use releasy_domain::release::{Product, Version};
use releasy_domain::{
    ArtifactId, CustomerId, DownloadRecordId, DownloadTokenId, ReleaseId, Timestamp,
};

/// 2026-12-04, midnight UTC.
const TODAY: i64 = 1_796_342_400;

fn row(customer: CustomerId, at: i64) -> DownloadRecord {
    DownloadRecord {
        id: DownloadRecordId::generate(),
        at: Timestamp::from_unix_seconds(at),
        customer_id: customer,
        api_key_id: None,
        subject: DownloadSubject {
            artifact_id: ArtifactId::generate(),
            release_id: ReleaseId::generate(),
            product: Product::parse("agent").expect("product"),
            version: Version::parse("1.0.0").expect("version"),
            platform: Platform::parse("linux").expect("platform"),
            bytes: 1,
        },
        token_id: DownloadTokenId::generate(),
        purpose: None,
        requester: Requester::default(),
        outcome: DownloadOutcome::Redirected,
    }
}

async fn ledger_with(rows: &[DownloadRecord]) -> (DeliveryService, Arc<InMemoryDownloadLedger>) {
    let ledger = Arc::new(InMemoryDownloadLedger::default());
    ledger.record_many(rows).await.expect("recorded");
    let clock = Arc::new(FixedClock::at(Timestamp::from_unix_seconds(TODAY + 3_600)));
    (DeliveryService::new(ledger.clone(), clock), ledger)
}

fn limit(n: i64) -> PageLimit {
    PageLimit::parse(Some(n)).expect("limit")
}

#[tokio::test]
async fn pages_end_exactly_where_the_rows_do() {
    let customer = CustomerId::generate();
    for (count, expected_pages) in [(5, vec![2, 2, 1]), (4, vec![2, 2]), (0, vec![0])] {
        let rows: Vec<_> = (0..count).map(|i| row(customer, TODAY + i)).collect();
        let (delivery, _) = ledger_with(&rows).await;
        let mut sizes = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let page = delivery
                .page(&DownloadFilter::default(), limit(2), after.as_ref())
                .await
                .expect("page");
            sizes.push(page.items.len());
            match page.next_cursor {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(sizes, expected_pages, "{count} rows");
    }
}

#[tokio::test]
async fn an_export_walks_every_row_once_batch_after_batch() {
    let customer = CustomerId::generate();
    let batch = EXPORT_BATCH as i64;
    for count in [2 * batch + 100, 2 * batch] {
        let rows: Vec<_> = (0..count).map(|i| row(customer, TODAY + i / 7)).collect();
        let (delivery, _) = ledger_with(&rows).await;
        let mut seen = std::collections::BTreeSet::new();
        let mut after = None;
        let mut batches = 0;
        loop {
            let (rows, next) = delivery
                .export_batch(&DownloadFilter::default(), after.as_ref())
                .await
                .expect("batch");
            batches += 1;
            for row in rows {
                assert!(seen.insert(row.id), "a row came twice");
            }
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len() as i64, count);
        assert_eq!(batches, 3, "{count} rows: two full batches, then the rest");
    }
}

#[tokio::test]
async fn a_customer_sees_only_their_own_rows() {
    let (acme, globex) = (CustomerId::generate(), CustomerId::generate());
    let (delivery, _) = ledger_with(&[row(acme, TODAY), row(globex, TODAY + 1)]).await;
    let page = delivery
        .customer_history(acme, limit(50), None)
        .await
        .expect("history");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].customer_id, acme);
}

#[tokio::test]
async fn retention_removes_whole_days_and_keeps_the_rest() {
    let customer = CustomerId::generate();
    let first_kept = TODAY - 2 * SECONDS_PER_DAY;
    let rows = [
        row(customer, first_kept - 1),
        row(customer, first_kept - SECONDS_PER_DAY),
        row(customer, first_kept),
        row(customer, TODAY),
    ];
    let (delivery, ledger) = ledger_with(&rows).await;
    assert_eq!(
        delivery
            .prune(LedgerRetention::days(0), u64::MAX)
            .await
            .expect("prune"),
        0,
        "0 keeps every row"
    );
    assert_eq!(
        delivery
            .prune(LedgerRetention::days(2), u64::MAX)
            .await
            .expect("prune"),
        2
    );
    let left = ledger
        .list(&DownloadFilter::default(), None, 10)
        .await
        .expect("list");
    let times: Vec<i64> = left.iter().map(|r| r.at.unix_seconds()).collect();
    assert_eq!(times, [TODAY, first_kept]);
}
