//! The `QuotaCounter` contract: counts start at zero and read back, charges stop
//! exactly at each limit (a refused charge counts nothing), entitlements and periods
//! count apart, concurrent charges never pass a limit, a refund takes one download
//! back, and pruning removes only the periods that are over.

use std::sync::Arc;

use releasy_domain::EntitlementId;
use releasy_domain::entitlement::{DownloadQuota, QuotaPeriod, QuotaUsage, QuotaWindow};
use releasy_domain::ports::QuotaCounter;

use super::{T0, at, ok, run_check, same};

const DAY: i64 = 86_400;

/// Runs every check that tolerates other checks writing beside it.
pub async fn run_all(counter: Arc<dyn QuotaCounter>) {
    run_check!(counts_start_at_zero_and_read_back(counter.clone()));
    run_check!(charges_stop_exactly_at_each_limit(counter.clone()));
    run_check!(entitlements_and_periods_count_apart(counter.clone()));
    run_check!(concurrent_charges_never_pass_the_limit(counter.clone()));
    run_check!(a_refund_takes_one_download_back(counter));
}

fn quota(downloads: Option<u64>, bytes: Option<u64>, period: QuotaPeriod) -> DownloadQuota {
    DownloadQuota::new(downloads, bytes, period).expect("a valid quota")
}

fn day(n: i64) -> QuotaWindow {
    QuotaPeriod::Day.window_at(at(T0 + n * DAY))
}

async fn usage(
    counter: &Arc<dyn QuotaCounter>,
    id: EntitlementId,
    window: &QuotaWindow,
) -> QuotaUsage {
    ok(counter.usage(id, window).await, "usage")
}

async fn charge(
    counter: &Arc<dyn QuotaCounter>,
    id: EntitlementId,
    window: &QuotaWindow,
    quota: &DownloadQuota,
    bytes: u64,
) -> bool {
    ok(
        counter.try_charge(id, window, quota, bytes).await,
        "try_charge",
    )
}

/// An entitlement nothing was counted for reads zero; a charge reads back as one
/// download of its bytes.
pub async fn counts_start_at_zero_and_read_back(counter: Arc<dyn QuotaCounter>) {
    let id = EntitlementId::generate();
    let today = day(0);
    same(
        &usage(&counter, id, &today).await,
        &QuotaUsage::default(),
        "the usage of an entitlement never charged",
    );
    let limit = quota(Some(5), None, QuotaPeriod::Day);
    assert!(
        charge(&counter, id, &today, &limit, 1_234).await,
        "the first charge counts"
    );
    same(
        &usage(&counter, id, &today).await,
        &QuotaUsage {
            downloads: 1,
            bytes: 1_234,
        },
        "the usage after one charge",
    );
}

/// A download limit admits exactly that many charges; a byte limit admits charges
/// while the sum stays at or under it, whatever their sizes; a refused charge changes
/// nothing.
pub async fn charges_stop_exactly_at_each_limit(counter: Arc<dyn QuotaCounter>) {
    let (downloads, today) = (EntitlementId::generate(), day(0));
    let three = quota(Some(3), None, QuotaPeriod::Day);
    for n in 1..=3 {
        assert!(
            charge(&counter, downloads, &today, &three, 10).await,
            "charge {n} of 3"
        );
    }
    assert!(
        !charge(&counter, downloads, &today, &three, 0).await,
        "a fourth download"
    );
    same(
        &usage(&counter, downloads, &today).await,
        &QuotaUsage {
            downloads: 3,
            bytes: 30,
        },
        "a refused charge counts nothing",
    );

    let bytes = EntitlementId::generate();
    let hundred = quota(None, Some(100), QuotaPeriod::Day);
    let mut admitted = Vec::new();
    for size in [40, 40, 30, 20, 1] {
        admitted.push(charge(&counter, bytes, &today, &hundred, size).await);
    }
    same(
        &admitted,
        &vec![true, true, false, true, false],
        "charges of 40, 40, 30, 20, 1 bytes under a 100-byte limit",
    );
    same(
        &usage(&counter, bytes, &today).await,
        &QuotaUsage {
            downloads: 3,
            bytes: 100,
        },
        "exactly at the byte limit",
    );

    // The first download of a period is held to the limits too: one larger than the
    // byte limit is refused and counts nothing.
    let first = EntitlementId::generate();
    assert!(
        !charge(&counter, first, &today, &hundred, 101).await,
        "a first download past the byte limit"
    );
    same(
        &usage(&counter, first, &today).await,
        &QuotaUsage::default(),
        "a refused first charge counts nothing",
    );
    assert!(charge(&counter, first, &today, &hundred, 100).await);

    // Both limits: the first one reached refuses.
    let both = EntitlementId::generate();
    let limits = quota(Some(2), Some(1_000), QuotaPeriod::Month);
    let month = QuotaPeriod::Month.window_at(at(T0));
    assert!(charge(&counter, both, &month, &limits, 999).await);
    assert!(
        !charge(&counter, both, &month, &limits, 2).await,
        "the byte limit"
    );
    assert!(charge(&counter, both, &month, &limits, 1).await);
    assert!(
        !charge(&counter, both, &month, &limits, 0).await,
        "the download limit"
    );
    // The largest limits are stored and compared without overflow.
    let largest = quota(
        Some(DownloadQuota::MAX_LIMIT),
        Some(DownloadQuota::MAX_LIMIT),
        QuotaPeriod::Day,
    );
    let big = EntitlementId::generate();
    assert!(
        charge(
            &counter,
            big,
            &today,
            &largest,
            DownloadQuota::MAX_LIMIT - 1
        )
        .await
    );
    assert!(charge(&counter, big, &today, &largest, 1).await);
    assert!(
        !charge(&counter, big, &today, &largest, 1).await,
        "past the largest byte limit"
    );
}

/// Each entitlement, each day and each kind of period keeps its own count: a new
/// period starts from zero, and a day and a month starting at the same second are two
/// counts.
pub async fn entitlements_and_periods_count_apart(counter: Arc<dyn QuotaCounter>) {
    let (first, second) = (EntitlementId::generate(), EntitlementId::generate());
    let one = quota(Some(1), None, QuotaPeriod::Day);
    assert!(charge(&counter, first, &day(0), &one, 5).await);
    assert!(
        !charge(&counter, first, &day(0), &one, 5).await,
        "the day is spent"
    );
    assert!(
        charge(&counter, second, &day(0), &one, 5).await,
        "another entitlement"
    );
    assert!(
        charge(&counter, first, &day(1), &one, 5).await,
        "the next day"
    );
    // 2024-12-01T00:00:00Z starts both a day and a month.
    let first_of_month = at(1_733_011_200);
    let (a_day, a_month) = (
        QuotaPeriod::Day.window_at(first_of_month),
        QuotaPeriod::Month.window_at(first_of_month),
    );
    same(
        &a_day.starts_at,
        &a_month.starts_at,
        "both start at midnight",
    );
    let monthly = quota(Some(1), None, QuotaPeriod::Month);
    assert!(charge(&counter, first, &a_day, &one, 7).await);
    assert!(
        charge(&counter, first, &a_month, &monthly, 7).await,
        "the month counts apart"
    );
    same(
        &usage(&counter, first, &day(0)).await.downloads,
        &1,
        "the first day's count after the others",
    );
}

/// Charges racing on one count (as on several instances) admit exactly the limit.
pub async fn concurrent_charges_never_pass_the_limit(counter: Arc<dyn QuotaCounter>) {
    let (id, today) = (EntitlementId::generate(), day(0));
    let seven = quota(Some(7), Some(7_000), QuotaPeriod::Day);
    let racers: Vec<_> = (0..40)
        .map(|_| {
            let counter = counter.clone();
            tokio::spawn(async move { counter.try_charge(id, &today, &seven, 10).await })
        })
        .collect();
    let mut admitted = 0;
    for racer in racers {
        if ok(racer.await.expect("the charge's task"), "try_charge") {
            admitted += 1;
        }
    }
    same(&admitted, &7, "charges admitted out of 40 racing for 7");
    same(
        &usage(&counter, id, &today).await,
        &QuotaUsage {
            downloads: 7,
            bytes: 70,
        },
        "the count after the race",
    );
}

/// A refund takes back one download and its bytes, making room again; a refund of a
/// count that does not exist changes nothing.
pub async fn a_refund_takes_one_download_back(counter: Arc<dyn QuotaCounter>) {
    let (id, today) = (EntitlementId::generate(), day(0));
    let two = quota(Some(2), None, QuotaPeriod::Day);
    assert!(charge(&counter, id, &today, &two, 300).await);
    assert!(charge(&counter, id, &today, &two, 200).await);
    ok(counter.refund(id, &today, 200).await, "refund");
    same(
        &usage(&counter, id, &today).await,
        &QuotaUsage {
            downloads: 1,
            bytes: 300,
        },
        "the count after a refund",
    );
    assert!(charge(&counter, id, &today, &two, 1).await, "room again");
    let unknown = EntitlementId::generate();
    ok(
        counter.refund(unknown, &today, 5).await,
        "refund of nothing",
    );
    same(
        &usage(&counter, unknown, &today).await,
        &QuotaUsage::default(),
        "a refund never makes a count",
    );
}

/// Pruning removes the counts of periods that reset at or before `now`, at most
/// `limit` entitlements' worth a call, and keeps the current ones. (Its cutoff is
/// global: run it where no other suite shares the store.)
pub async fn prune_removes_only_ended_periods(counter: Arc<dyn QuotaCounter>) {
    let id = EntitlementId::generate();
    let one = quota(Some(1), None, QuotaPeriod::Day);
    for n in 0..3 {
        assert!(charge(&counter, id, &day(n), &one, 1).await);
    }
    // At the start of day 2, days 0 and 1 are over.
    let now = day(2).starts_at;
    let mut pruned = 0;
    loop {
        let removed = ok(counter.prune_ended(now, 1).await, "prune_ended");
        if removed == 0 {
            break;
        }
        pruned += removed;
    }
    assert!(
        pruned >= 2,
        "at least this check's two ended days went: {pruned}"
    );
    for n in 0..2 {
        same(
            &usage(&counter, id, &day(n)).await,
            &QuotaUsage::default(),
            &format!("day {n} after the prune"),
        );
    }
    same(
        &usage(&counter, id, &day(2)).await.downloads,
        &1,
        "the current day is kept",
    );
}
