//! How long audit events are kept, and where the chain may be cut.
//!
//! The chain is only ever cut at its start: the oldest events go first, a batch at a
//! time, and the link of the last one removed becomes the chain's recorded start, from
//! which `audit verify` walks. An event still inside the window stops the cut even when
//! older ones follow it (events are chained as they commit, so times are not strictly
//! in chain order): it and everything after it stay.

use std::num::NonZeroU32;

use crate::Timestamp;
use crate::audit::{ChainBreak, ChainLink, ChainVerifier, ChainedEvent};

/// The days audit events are kept (`RELEASY_AUDIT_RETENTION_DAYS`), or forever.
///
/// ```
/// use releasy_domain::Timestamp;
/// use releasy_domain::audit::AuditRetention;
///
/// let now = Timestamp::from_unix_seconds(1_735_312_000);
/// assert_eq!(AuditRetention::days(400).cutoff(now), Some(now.plus_seconds(-400 * 86_400)));
/// assert_eq!(AuditRetention::days(0).cutoff(now), None, "0 keeps every event");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention(Option<NonZeroU32>);

impl AuditRetention {
    /// The default: 400 days, a year and a month of slack for annual audits.
    pub const DEFAULT_DAYS: u32 = 400;

    /// Events are kept `days` days; 0 keeps them forever.
    pub const fn days(days: u32) -> Self {
        Self(NonZeroU32::new(days))
    }

    /// The days kept; `None` for forever.
    pub fn days_kept(self) -> Option<u32> {
        self.0.map(NonZeroU32::get)
    }

    /// The instant before which events may go, at `now`; `None` when they are kept
    /// forever.
    pub fn cutoff(self, now: Timestamp) -> Option<Timestamp> {
        self.0
            .map(|days| now.plus_seconds(-i64::from(days.get()) * 86_400))
    }
}

impl Default for AuditRetention {
    fn default() -> Self {
        Self::days(Self::DEFAULT_DAYS)
    }
}

/// How much of the chain's oldest events a retention cut may remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prunable {
    /// How many of the leading events may go.
    pub count: usize,
    /// The break that ended the run before its time: retention removes no event it
    /// cannot verify, which would take the evidence with it (and leave a chain that
    /// verifies from the start the cut records).
    pub stopped_by: Option<ChainBreak>,
}

/// Which of `oldest` (the chain's first events after its recorded `start`, by
/// position) may be removed for `cutoff`: the leading run created before it, each
/// event linked, at the next position, with the hash its content and the one before
/// it give. An event inside the window stops the run, and so does the first event that
/// does not verify (or carries a position without a hash), whose break is returned.
///
/// ```
/// use releasy_domain::Timestamp;
/// use releasy_domain::audit::{AuditEvent, AuthReason, ChainLink, ChainedEvent, prunable_prefix};
///
/// let events: Vec<AuditEvent> = [10, 20, 30]
///     .iter()
///     .map(|&t| AuditEvent::api_key_auth(AuthReason::NotFound, None, None, Timestamp::from_unix_seconds(t)))
///     .collect();
/// let mut chained: Vec<ChainedEvent> = events
///     .iter()
///     .zip(ChainLink::START.extend(&events))
///     .map(|(event, link)| ChainedEvent { event: event.clone(), link: Some(link) })
///     .collect();
/// let cutoff = Timestamp::from_unix_seconds(25);
/// assert_eq!(prunable_prefix(ChainLink::START, &chained, cutoff).count, 2);
///
/// // The second event's time edited: it no longer verifies, so it and what follows stay.
/// chained[1].event.created_at = Timestamp::from_unix_seconds(0);
/// let prunable = prunable_prefix(ChainLink::START, &chained, cutoff);
/// assert_eq!(prunable.count, 1);
/// assert!(prunable.stopped_by.is_some());
/// ```
pub fn prunable_prefix(start: ChainLink, oldest: &[ChainedEvent], cutoff: Timestamp) -> Prunable {
    let mut last = start;
    for (count, chained) in oldest.iter().enumerate() {
        if chained.event.created_at >= cutoff {
            return Prunable {
                count,
                stopped_by: None,
            };
        }
        // Among events read by position, one without its link has a position and no
        // hash: the linker writes both at once, so something else wrote it.
        let Some(stored) = chained.link else {
            return Prunable {
                count,
                stopped_by: Some(ChainVerifier::half_linked(&chained.event)),
            };
        };
        if let Err(found) = ChainVerifier::follows(last, &chained.event, stored) {
            return Prunable {
                count,
                stopped_by: Some(found),
            };
        }
        last = stored;
    }
    Prunable {
        count: oldest.len(),
        stopped_by: None,
    }
}

/// What a retention cut reports when the first event after the chain's start does not
/// verify: it removes nothing until the break is looked into.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "retention removes no audit event it cannot verify, and the chain breaks at its start: {0} (run `releasy-server audit verify`)"
)]
pub struct RetentionStopped(pub ChainBreak);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, AuthReason, ChainLink};

    fn chained(times: &[i64]) -> Vec<ChainedEvent> {
        let events: Vec<AuditEvent> = times
            .iter()
            .map(|&t| {
                AuditEvent::api_key_auth(
                    AuthReason::NotFound,
                    None,
                    None,
                    Timestamp::from_unix_seconds(t),
                )
            })
            .collect();
        let links = ChainLink::START.extend(&events);
        events
            .into_iter()
            .zip(links)
            .map(|(event, link)| ChainedEvent {
                event,
                link: Some(link),
            })
            .collect()
    }

    /// How many of `oldest`, chained from the start, may go before `cutoff`.
    fn cut(oldest: &[ChainedEvent], cutoff: i64) -> usize {
        let prunable = prunable_prefix(
            ChainLink::START,
            oldest,
            Timestamp::from_unix_seconds(cutoff),
        );
        assert_eq!(prunable.stopped_by, None);
        prunable.count
    }

    #[test]
    fn only_the_leading_run_before_the_cutoff_goes() {
        assert_eq!(cut(&chained(&[10, 20, 30]), 100), 3);
        assert_eq!(cut(&chained(&[10, 100, 30]), 100), 1);
        assert_eq!(
            cut(&chained(&[150, 20]), 100),
            0,
            "an event inside the window stops the cut"
        );
        assert_eq!(cut(&[], 100), 0);
    }

    #[test]
    fn a_half_linked_event_is_never_cut_and_is_named() {
        let mut events = chained(&[10, 20]);
        events[1].link = None;
        let prunable =
            prunable_prefix(ChainLink::START, &events, Timestamp::from_unix_seconds(100));
        assert_eq!(prunable.count, 1);
        assert_eq!(
            prunable.stopped_by,
            Some(ChainVerifier::half_linked(&events[1].event))
        );
    }

    #[test]
    fn an_event_that_does_not_verify_stops_the_cut_and_is_named() {
        let cutoff = Timestamp::from_unix_seconds(100);
        // Its time moved back into the past to have it removed.
        let mut altered = chained(&[10, 20, 150]);
        altered[2].event.created_at = Timestamp::from_unix_seconds(0);
        let prunable = prunable_prefix(ChainLink::START, &altered, cutoff);
        assert_eq!(prunable.count, 2);
        assert_eq!(
            prunable.stopped_by,
            Some(ChainBreak::Altered {
                event_id: altered[2].event.id.to_string(),
                position: 3
            })
        );
        // Deleted before the sweep came: the gap is kept for `audit verify` to find.
        let mut gapped = chained(&[10, 20, 30]);
        gapped.remove(1);
        let prunable = prunable_prefix(ChainLink::START, &gapped, cutoff);
        assert_eq!(prunable.count, 1);
        assert!(
            matches!(
                prunable.stopped_by,
                Some(ChainBreak::Deleted {
                    first: 2,
                    last: 2,
                    ..
                })
            ),
            "{prunable:?}"
        );
        // A start that is not the link before the first event.
        let events = chained(&[10, 20]);
        let elsewhere = events[0].link.unwrap();
        let prunable = prunable_prefix(elsewhere, &events, cutoff);
        assert_eq!(prunable.count, 0);
        assert!(prunable.stopped_by.is_some());
    }

    #[test]
    fn the_default_keeps_four_hundred_days() {
        let now = Timestamp::from_unix_seconds(1_000_000_000);
        assert_eq!(
            AuditRetention::default().cutoff(now),
            Some(Timestamp::from_unix_seconds(1_000_000_000 - 400 * 86_400))
        );
    }
}
