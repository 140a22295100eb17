//! Costs measured in pairs: two loads that differ in one thing (metrics recorded, a key
//! budget), driven in short alternating slices and summed.
//!
//! Identical runs of one load on this kind of machine move in blocks (a few runs at
//! ~25 000 req/s, then a few at ~30 000), more than the 3 or 5% a cost must show; runs
//! of a whole scenario one after the other land the two sides in different blocks.
//! Slices of [`SLICE_SECONDS`], switched between the two loads (first, second, second,
//! first, ...), put both sides in every block; rounds, each prepared afresh (a settled
//! database, servers started for it), spread what one process's start weighs.

use crate::Args;
use crate::fail::{Context, Result};
use crate::oha::{self, Load, Measured};
use crate::report::ScenarioResult;
use crate::scenarios::Kind;
use crate::{progress, report_progress};

/// Seconds of one slice: long enough for oha's connections to be a small part of it,
/// short enough that a block of the machine's drift spans slices of both loads.
pub const SLICE_SECONDS: u64 = 2;

/// The two sides in the order they take turn `n` (a round, or a slice within one):
/// first then second on even turns, second then first on odd ones.
pub fn in_turn(n: usize) -> [usize; 2] {
    if n.is_multiple_of(2) { [0, 1] } else { [1, 0] }
}

/// Runs [`Kind::PAIRED_ROUNDS`] rounds of `round` (which prepares the round and measures
/// it with [`alternating_slices`]) and sums each kind's slices of all rounds into one
/// result.
pub async fn summed_rounds(
    kinds: [Kind; 2],
    mut round: impl AsyncFnMut(usize) -> Result<[Vec<Measured>; 2]>,
) -> Result<[ScenarioResult; 2]> {
    let mut slices: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for number in 0..Kind::PAIRED_ROUNDS {
        let [first, second] = round(number).await?;
        progress(format!(
            "  round {} of {}: {} {:.0} req/s, {} {:.0} req/s",
            number + 1,
            Kind::PAIRED_ROUNDS,
            kinds[0].short(),
            summed(&first).map_or(0.0, |m| m.rps),
            kinds[1].short(),
            summed(&second).map_or(0.0, |m| m.rps),
        ));
        slices[0].extend(first);
        slices[1].extend(second);
    }
    let [first, second] = slices.each_ref().map(|slices| summed(slices));
    let results = [
        ScenarioResult {
            kind: kinds[0],
            measured: first.ctx("no paired slice ran")?,
        },
        ScenarioResult {
            kind: kinds[1],
            measured: second.ctx("no paired slice ran")?,
        },
    ];
    for result in &results {
        report_progress(result.kind, &result.measured);
    }
    Ok(results)
}

/// One round: each load warmed up, then `args.seconds` of each in [`slice_lengths`],
/// in turn: first, second, second, first, and so on (in odd rounds second, first, ...;
/// the warm-ups in the same order).
pub async fn alternating_slices(
    args: &Args,
    loads: &[Load; 2],
    round: usize,
) -> Result<[Vec<Measured>; 2]> {
    if args.warmup_seconds > 0 {
        for which in in_turn(round) {
            oha::run(
                &args.oha,
                &loads[which],
                args.warmup_seconds,
                args.connections,
            )
            .await?;
        }
    }
    let mut slices: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for (slice, seconds) in slice_lengths(args.seconds).into_iter().enumerate() {
        for which in in_turn(slice + round) {
            let measured = oha::run(&args.oha, &loads[which], seconds, args.connections).await?;
            slices[which].push(measured);
        }
    }
    Ok(slices)
}

/// `seconds` cut into slices of [`SLICE_SECONDS`], the last one shorter when it does not
/// divide; at least one second.
fn slice_lengths(seconds: u64) -> Vec<u64> {
    let seconds = seconds.max(1);
    let mut lengths = vec![SLICE_SECONDS; (seconds / SLICE_SECONDS) as usize];
    if !seconds.is_multiple_of(SLICE_SECONDS) {
        lengths.push(seconds % SLICE_SECONDS);
    }
    lengths
}

/// `slices` as one run: their requests, statuses and failures summed, the throughput
/// over their summed time, and the median of their latency percentiles (oha's histogram
/// is too coarse to merge); `None` when there are none.
fn summed(slices: &[Measured]) -> Option<Measured> {
    if slices.is_empty() {
        return None;
    }
    let mut total = Measured::default();
    let mut p50s = Vec::with_capacity(slices.len());
    let mut p99s = Vec::with_capacity(slices.len());
    for slice in slices {
        total.requests += slice.requests;
        total.seconds += slice.seconds;
        for (status, count) in &slice.statuses {
            *total.statuses.entry(*status).or_default() += count;
        }
        for (failure, count) in &slice.failures {
            *total.failures.entry(failure.clone()).or_default() += count;
        }
        p50s.push(slice.p50_ms);
        p99s.push(slice.p99_ms);
    }
    total.rps = if total.seconds > 0.0 {
        total.requests as f64 / total.seconds
    } else {
        0.0
    };
    total.p50_ms = median(p50s);
    total.p99_ms = median(p99s);
    Some(total)
}

/// The middle value (the upper one of an even count); 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(requests: u64, seconds: f64, p50_ms: f64, p99_ms: f64) -> Measured {
        Measured {
            rps: requests as f64 / seconds,
            p50_ms,
            p99_ms,
            requests,
            seconds,
            statuses: [(200, requests - 1), (429, 1)].into(),
            failures: [("connection closed".to_owned(), 1)].into(),
        }
    }

    #[test]
    fn slices_sum_into_one_run() {
        let run = summed(&[
            slice(50_000, 2.0, 1.0, 4.0),
            slice(60_000, 2.0, 3.0, 9.0),
            slice(40_000, 1.0, 2.0, 5.0),
        ])
        .unwrap();
        assert_eq!(run.requests, 150_000);
        assert_eq!(run.seconds, 5.0);
        // The throughput over the summed time, not the mean of the slices' rates.
        assert_eq!(run.rps, 30_000.0);
        assert_eq!(run.statuses[&200], 149_997);
        assert_eq!(run.statuses[&429], 3);
        assert_eq!(run.failures["connection closed"], 3);
        assert_eq!((run.p50_ms, run.p99_ms), (2.0, 5.0));
    }

    #[test]
    fn turns_alternate() {
        assert_eq!(in_turn(0), [0, 1]);
        assert_eq!(in_turn(1), [1, 0]);
        assert_eq!(in_turn(6), [0, 1]);
    }

    #[test]
    fn slices_cover_the_seconds() {
        assert_eq!(slice_lengths(10), vec![2, 2, 2, 2, 2]);
        assert_eq!(slice_lengths(3), vec![2, 1]);
        assert_eq!(slice_lengths(1), vec![1]);
        assert_eq!(slice_lengths(0), vec![1]);
    }

    #[test]
    fn titles_name_the_slices_and_rounds() {
        let named = format!("{SLICE_SECONDS} s slices of {} rounds", Kind::PAIRED_ROUNDS);
        for kind in [
            Kind::CustomerReleasesBudgeted,
            Kind::CustomerReleasesUnbudgeted,
            Kind::CustomerReleasesMetered,
            Kind::CustomerReleasesUnmetered,
        ] {
            assert!(kind.label().contains(&named), "{}", kind.label());
        }
    }

    #[test]
    fn no_slices_is_no_run() {
        assert!(summed(&[]).is_none());
        assert_eq!(median(vec![1.0, 4.0]), 4.0);
    }
}
