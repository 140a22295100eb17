//! The `DownloadLedger` contract: rows read back exactly as recorded, newest first with
//! a cursor that neither repeats nor skips, filters that narrow, statistics that equal
//! the counts computed from the rows, and retention that removes whole days.

use std::sync::Arc;

use releasy_domain::artifact::Platform;
use releasy_domain::delivery::{
    DownloadFilter, DownloadOutcome, DownloadRecord, DownloadSubject, Requester, StatsGroup,
    StatsQuery, UserAgent, stats_of,
};
use releasy_domain::pagination::Cursor;
use releasy_domain::ports::DownloadLedger;
use releasy_domain::release::{Product, Version};
use releasy_domain::{
    ApiKeyId, ArtifactId, CustomerId, DownloadRecordId, DownloadTokenId, ReleaseId,
};

use super::releases::fresh_product;
use super::{T0, at, ok, run_check, same};

const DAY: i64 = 86_400;

/// Runs every check that tolerates other checks writing beside it.
pub async fn run_all(ledger: Arc<dyn DownloadLedger>) {
    run_check!(every_field_reads_back_as_recorded(ledger.clone()));
    run_check!(listing_is_newest_first_and_cursors_neither_repeat_nor_skip(
        ledger.clone()
    ));
    run_check!(filters_narrow_the_listing(ledger.clone()));
    run_check!(stats_equal_the_counts_computed_from_the_rows(
        ledger.clone()
    ));
    run_check!(stats_stay_exact_when_batches_commit_at_once(ledger.clone()));
    run_check!(a_batch_written_again_counts_once(ledger));
}

/// A subject of `product` (artifact and release fresh).
fn subject(product: &str, version: &str, platform: &str, bytes: u64) -> DownloadSubject {
    DownloadSubject {
        artifact_id: ArtifactId::generate(),
        release_id: ReleaseId::generate(),
        product: Product::parse(product).expect("a valid product"),
        version: Version::parse(version).expect("a valid version"),
        platform: Platform::parse(platform).expect("a valid platform"),
        bytes,
    }
}

/// A row of `customer` about `subject`, at `seconds`, ending in `outcome`.
fn row(
    customer: CustomerId,
    subject: &DownloadSubject,
    seconds: i64,
    outcome: DownloadOutcome,
) -> DownloadRecord {
    DownloadRecord {
        id: DownloadRecordId::generate(),
        at: at(seconds),
        customer_id: customer,
        api_key_id: None,
        subject: subject.clone(),
        token_id: DownloadTokenId::generate(),
        purpose: None,
        requester: Requester::default(),
        outcome,
    }
}

async fn record(ledger: &Arc<dyn DownloadLedger>, rows: &[DownloadRecord]) {
    ok(
        ledger.record_many(rows).await,
        "DownloadLedger::record_many",
    );
}

/// Every row of `filter`, walked a page of `page` at a time.
async fn walk(
    ledger: &Arc<dyn DownloadLedger>,
    filter: &DownloadFilter,
    page: u32,
) -> Vec<DownloadRecord> {
    let mut rows: Vec<DownloadRecord> = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let batch = ok(
            ledger.list(filter, after.as_ref(), page).await,
            "DownloadLedger::list",
        );
        let done = batch.len() < page as usize;
        after = batch.last().map(|last| Cursor {
            created_at: last.at,
            id: last.id.to_string(),
        });
        rows.extend(batch);
        if done {
            return rows;
        }
    }
}

/// Sorts `rows` as the ledger lists them: newest first by `(at, id)`.
fn newest_first(rows: &mut [DownloadRecord]) {
    rows.sort_by_key(|row| std::cmp::Reverse((row.at, row.id.to_string())));
}

fn customer_rows(customer: CustomerId) -> DownloadFilter {
    DownloadFilter {
        customer_id: Some(customer),
        ..DownloadFilter::default()
    }
}

/// Every column reads back as recorded, set or not: IPv4 and IPv6 addresses, a
/// non-ASCII user agent and purpose, the key.
pub async fn every_field_reads_back_as_recorded(ledger: Arc<dyn DownloadLedger>) {
    let customer = CustomerId::generate();
    let product = fresh_product();
    let full = DownloadRecord {
        api_key_id: Some(ApiKeyId::generate()),
        purpose: Some("nightly mirror ✓".to_owned()),
        requester: Requester {
            address: Some("2001:db8::7".parse().expect("an address")),
            user_agent: UserAgent::keep("releasy-cli/1.0 (ünïcode)"),
        },
        ..row(
            customer,
            &subject(&product, "2.4.0-rc.1", "linux-x86_64", 5_368_709_120),
            T0 + 2,
            DownloadOutcome::Redirected,
        )
    };
    let bare = row(
        customer,
        &subject(&product, "1.0.0", "macos", 0),
        T0 + 1,
        DownloadOutcome::Issued,
    );
    let ipv4 = DownloadRecord {
        requester: Requester::at(Some("203.0.113.9".parse().expect("an address"))),
        ..row(
            customer,
            &subject(&product, "1.0.0", "windows", 7),
            T0,
            DownloadOutcome::AddressNotAllowed,
        )
    };
    record(&ledger, &[bare.clone(), full.clone(), ipv4.clone()]).await;
    same(
        &walk(&ledger, &customer_rows(customer), 10).await,
        &vec![full, bare, ipv4],
        "a customer's rows read back exactly, newest first",
    );
}

/// Rows come newest first by `(at, id)`; walking with cursors, even through ties on
/// `at` and across separate batches, returns each row exactly once.
pub async fn listing_is_newest_first_and_cursors_neither_repeat_nor_skip(
    ledger: Arc<dyn DownloadLedger>,
) {
    let customer = CustomerId::generate();
    let about = subject(&fresh_product(), "1.0.0", "linux", 10);
    let mut rows: Vec<DownloadRecord> = [0, 5, 5, 5, 9, 9, 12]
        .into_iter()
        .map(|offset| row(customer, &about, T0 + offset, DownloadOutcome::Redirected))
        .collect();
    record(&ledger, &rows[..3]).await;
    record(&ledger, &rows[3..]).await;
    newest_first(&mut rows);
    for page in [1, 2, 3, 7, 50] {
        same(
            &walk(&ledger, &customer_rows(customer), page).await,
            &rows,
            &format!("walking pages of {page}"),
        );
    }
}

/// Each filter keeps exactly the rows it names; `from` and `to` are inclusive.
pub async fn filters_narrow_the_listing(ledger: Arc<dyn DownloadLedger>) {
    let customer = CustomerId::generate();
    let product = fresh_product();
    let old = subject(&product, "1.0.0", "linux", 10);
    let new = subject(&product, "2.0.0", "linux", 20);
    let rows = vec![
        row(customer, &old, T0, DownloadOutcome::Issued),
        row(customer, &old, T0 + 10, DownloadOutcome::Redirected),
        row(customer, &new, T0 + 20, DownloadOutcome::Redirected),
        row(customer, &new, T0 + 30, DownloadOutcome::Expired),
    ];
    record(&ledger, &rows).await;
    let other_customer = row(
        CustomerId::generate(),
        &new,
        T0 + 15,
        DownloadOutcome::Redirected,
    );
    record(&ledger, std::slice::from_ref(&other_customer)).await;
    let pick = |indexes: &[usize]| -> Vec<DownloadRecord> {
        let mut picked: Vec<DownloadRecord> = indexes.iter().map(|&i| rows[i].clone()).collect();
        picked.reverse();
        picked
    };
    let base = customer_rows(customer);
    let cases = [
        (
            DownloadFilter {
                version: Some(old.version.clone()),
                ..base.clone()
            },
            pick(&[0, 1]),
            "version",
        ),
        (
            DownloadFilter {
                artifact_id: Some(new.artifact_id),
                ..base.clone()
            },
            pick(&[2, 3]),
            "artifact",
        ),
        (
            DownloadFilter {
                outcome: Some(DownloadOutcome::Redirected),
                ..base.clone()
            },
            pick(&[1, 2]),
            "outcome",
        ),
        (
            DownloadFilter {
                from: Some(at(T0 + 10)),
                to: Some(at(T0 + 20)),
                ..base.clone()
            },
            pick(&[1, 2]),
            "from and to, inclusive",
        ),
    ];
    for (filter, expected, what) in cases {
        same(&walk(&ledger, &filter, 10).await, &expected, what);
    }
    let by_product = DownloadFilter {
        product: Some(old.product.clone()),
        ..DownloadFilter::default()
    };
    let mut expected = rows.clone();
    expected.push(other_customer);
    newest_first(&mut expected);
    same(
        &walk(&ledger, &by_product, 10).await,
        &expected,
        "product, every customer",
    );
}

/// Statistics of every grouping, filtered by product, customer and days, equal the
/// counts computed from the ledger's own rows, whatever the batches were.
pub async fn stats_equal_the_counts_computed_from_the_rows(ledger: Arc<dyn DownloadLedger>) {
    let product = fresh_product();
    let (acme, globex) = (CustomerId::generate(), CustomerId::generate());
    let linux = subject(&product, "1.0.0", "linux", 1_000);
    let mac = subject(&product, "1.0.0", "macos", 3_000);
    let next = subject(&product, "1.1.0", "linux", 5_000);
    let mut rows = Vec::new();
    for (customer, about, seconds, outcome) in [
        (acme, &linux, T0, DownloadOutcome::Issued),
        (acme, &linux, T0 + 1, DownloadOutcome::Redirected),
        (acme, &linux, T0 + 2, DownloadOutcome::Redirected),
        (acme, &mac, T0 + 3, DownloadOutcome::Redirected),
        (globex, &linux, T0 + 4, DownloadOutcome::Redirected),
        (globex, &linux, T0 + 5, DownloadOutcome::Expired),
        (globex, &next, T0 + DAY, DownloadOutcome::Redirected),
        (acme, &next, T0 + DAY + 1, DownloadOutcome::UsedUp),
        (acme, &next, T0 + 2 * DAY, DownloadOutcome::Redirected),
    ] {
        rows.push(row(customer, about, seconds, outcome));
    }
    // Two batches, one repeating a key the other holds.
    record(&ledger, &rows[..3]).await;
    record(&ledger, &rows[3..]).await;
    let all_rows = walk(
        &ledger,
        &DownloadFilter {
            product: Some(linux.product.clone()),
            ..DownloadFilter::default()
        },
        100,
    )
    .await;
    same(&all_rows.len(), &rows.len(), "the ledger holds every row");
    for group_by in StatsGroup::ALL {
        let windows = [
            (None, None, None),
            (Some(acme), None, None),
            (None, Some(at(T0 + DAY + 10)), None),
            (None, None, Some(at(T0 + DAY - 1))),
            (Some(globex), Some(at(T0)), Some(at(T0 + DAY))),
        ];
        for (customer_id, from, to) in windows {
            let query = StatsQuery {
                group_by,
                product: Some(linux.product.clone()),
                customer_id,
                from,
                to,
            };
            let mut stats = ok(ledger.stats(&query).await, "DownloadLedger::stats");
            releasy_domain::delivery::sort_stats(group_by, &mut stats);
            same(
                &stats,
                &stats_of(&query, &all_rows),
                &format!("stats of {query:?}"),
            );
        }
    }
}

/// Batches recorded at the same time (several writers, several instances) that name
/// the same customers, artifacts and days still sum to the counts computed from the
/// rows: every download once, every customer once a day.
pub async fn stats_stay_exact_when_batches_commit_at_once(ledger: Arc<dyn DownloadLedger>) {
    let product = fresh_product();
    let artifacts = [
        subject(&product, "2.0.0", "linux", 700),
        subject(&product, "2.0.0", "macos", 900),
    ];
    let customers: Vec<CustomerId> = (0..5).map(|_| CustomerId::generate()).collect();
    let writers: Vec<_> = (0..8_i64)
        .map(|writer| {
            let ledger = ledger.clone();
            let batches: Vec<Vec<DownloadRecord>> = (0..6_i64)
                .map(|batch| {
                    (0..10_i64)
                        .map(|n| {
                            let i = (writer + batch + n) as usize;
                            let seconds = T0 + (n % 2) * DAY + writer * 60 + batch;
                            row(
                                customers[i % customers.len()],
                                &artifacts[i % 2],
                                seconds,
                                DownloadOutcome::Redirected,
                            )
                        })
                        .collect()
                })
                .collect();
            tokio::spawn(async move {
                for batch in batches {
                    record(&ledger, &batch).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer's task");
    }
    let filter = DownloadFilter {
        product: Some(Product::parse(&product).expect("a valid product")),
        ..DownloadFilter::default()
    };
    let all_rows = walk(&ledger, &filter, 200).await;
    same(&all_rows.len(), &480, "every row of every writer");
    for group_by in StatsGroup::ALL {
        let query = StatsQuery {
            group_by,
            product: filter.product.clone(),
            customer_id: None,
            from: None,
            to: None,
        };
        let mut stats = ok(ledger.stats(&query).await, "DownloadLedger::stats");
        releasy_domain::delivery::sort_stats(group_by, &mut stats);
        same(
            &stats,
            &stats_of(&query, &all_rows),
            &format!("stats of {query:?} after concurrent batches"),
        );
    }
}

/// A write-behind queue writes a batch again when its commit went unacknowledged,
/// with newer rows beside it: the write succeeds, and every row is listed and counted
/// once.
pub async fn a_batch_written_again_counts_once(ledger: Arc<dyn DownloadLedger>) {
    let product = fresh_product();
    let artifact = subject(&product, "3.0.0", "linux", 1_000);
    let customer = CustomerId::generate();
    let first: Vec<DownloadRecord> = (0..3)
        .map(|n| row(customer, &artifact, T0 + n, DownloadOutcome::Redirected))
        .collect();
    record(&ledger, &first).await;
    let mut again = first.clone();
    again.extend((3..5).map(|n| row(customer, &artifact, T0 + n, DownloadOutcome::Redirected)));
    record(&ledger, &again).await;
    record(&ledger, &again).await;
    let filter = DownloadFilter {
        product: Some(Product::parse(&product).expect("a valid product")),
        ..DownloadFilter::default()
    };
    let rows = walk(&ledger, &filter, 100).await;
    let mut listed: Vec<_> = rows.iter().map(|r| r.id).collect();
    listed.sort();
    let mut expected: Vec<_> = again.iter().map(|r| r.id).collect();
    expected.sort();
    same(&listed, &expected, "every row of the batches, once");
    let query = StatsQuery {
        group_by: StatsGroup::Product,
        product: filter.product.clone(),
        customer_id: None,
        from: None,
        to: None,
    };
    let stats = ok(ledger.stats(&query).await, "DownloadLedger::stats");
    same(
        &stats,
        &stats_of(&query, &again),
        "the batches' downloads, counted once",
    );
    same(&stats[0].downloads, &5, "five downloads");
}

/// Pruning removes the rows before the cutoff, oldest first, `limit` at a time, and
/// with the last of them the summary's days before it; rows from the cutoff on stay.
/// (Global: run it where no other suite writes rows before 1990.)
pub async fn prune_removes_whole_days_before_the_cutoff(ledger: Arc<dyn DownloadLedger>) {
    // 1989: older than any other check's rows.
    let base = 600_000_000 - 600_000_000 % DAY;
    let product = fresh_product();
    let about = subject(&product, "1.0.0", "linux", 100);
    let customer = CustomerId::generate();
    // The pruned day has three customers: more summary rows than one statement of
    // `limit` 2 deletes.
    let (second_customer, third_customer) = (CustomerId::generate(), CustomerId::generate());
    let rows: Vec<DownloadRecord> = [
        (customer, 0),
        (second_customer, 1),
        (third_customer, 2),
        (customer, DAY),
        (customer, DAY + 5),
        (customer, 2 * DAY),
    ]
    .into_iter()
    .map(|(who, offset)| row(who, &about, base + offset, DownloadOutcome::Redirected))
    .collect();
    record(&ledger, &rows).await;
    let cutoff = at(base + DAY);
    let first = ok(
        ledger.prune_before(cutoff, 2).await,
        "DownloadLedger::prune_before",
    );
    same(&first, &2, "a batch removes at most `limit` rows");
    let by_day = StatsQuery {
        group_by: StatsGroup::Day,
        product: Some(about.product.clone()),
        customer_id: None,
        from: None,
        to: None,
    };
    let days = ok(ledger.stats(&by_day).await, "DownloadLedger::stats").len();
    same(&days, &3, "a day's summary stays while a row of it is left");
    let second = ok(
        ledger.prune_before(cutoff, 2).await,
        "DownloadLedger::prune_before",
    );
    same(
        &second,
        &1,
        "the last batch removes what is left before the cutoff",
    );
    let kept = walk(&ledger, &customer_rows(customer), 10).await;
    same(
        &kept.iter().map(|r| r.at).collect::<Vec<_>>(),
        &vec![at(base + 2 * DAY), at(base + DAY + 5), at(base + DAY)],
        "rows from the cutoff on stay",
    );
    for group_by in [StatsGroup::Day, StatsGroup::Customer] {
        let query = StatsQuery {
            group_by,
            product: Some(about.product.clone()),
            customer_id: None,
            from: None,
            to: None,
        };
        let mut stats = ok(ledger.stats(&query).await, "DownloadLedger::stats");
        releasy_domain::delivery::sort_stats(group_by, &mut stats);
        same(
            &stats,
            &stats_of(&query, &kept),
            &format!("the summary lost the pruned day too ({group_by:?})"),
        );
    }

    // A full batch that takes the last rows before the cutoff takes their days'
    // summary with it: a sweep may end on that batch and ask no more.
    let later_cutoff = at(base + 2 * DAY);
    let full = ok(
        ledger.prune_before(later_cutoff, 2).await,
        "DownloadLedger::prune_before",
    );
    same(
        &full,
        &2,
        "the two rows left before the later cutoff, in one batch",
    );
    let kept = walk(&ledger, &customer_rows(customer), 10).await;
    same(
        &kept.iter().map(|r| r.at).collect::<Vec<_>>(),
        &vec![at(base + 2 * DAY)],
        "one row from the later cutoff on",
    );
    let query = StatsQuery {
        group_by: StatsGroup::Day,
        product: Some(about.product.clone()),
        customer_id: None,
        from: None,
        to: None,
    };
    same(
        &ok(ledger.stats(&query).await, "DownloadLedger::stats"),
        &stats_of(&query, &kept),
        "the days of a full last batch leave the summary with it",
    );
}
