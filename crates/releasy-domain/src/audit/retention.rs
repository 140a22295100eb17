//! How long audit events are kept, and where the chain may be cut.
//!
//! The chain is only ever cut at its start: the oldest events go first, a batch at a
//! time, and the link of the last one removed becomes the chain's recorded start, from
//! which `audit verify` walks. An event still inside the window stops the cut even when
//! older ones follow it (events are chained as they commit, so times are not strictly
//! in chain order): it and everything after it stay.

use std::num::NonZeroU32;

use crate::Timestamp;
use crate::audit::ChainedEvent;

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

/// How many of `oldest` (the chain's first events after its start, by position) may be
/// removed for `cutoff`: the leading run created before it.
pub fn prunable_prefix(oldest: &[ChainedEvent], cutoff: Timestamp) -> usize {
    oldest
        .iter()
        .take_while(|chained| chained.link.is_some() && chained.event.created_at < cutoff)
        .count()
}

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

    #[test]
    fn only_the_leading_run_before_the_cutoff_goes() {
        let cutoff = Timestamp::from_unix_seconds(100);
        assert_eq!(prunable_prefix(&chained(&[10, 20, 30]), cutoff), 3);
        assert_eq!(prunable_prefix(&chained(&[10, 100, 30]), cutoff), 1);
        assert_eq!(
            prunable_prefix(&chained(&[150, 20]), cutoff),
            0,
            "an event inside the window stops the cut"
        );
        assert_eq!(prunable_prefix(&[], cutoff), 0);
    }

    #[test]
    fn an_unlinked_event_is_never_cut() {
        let mut events = chained(&[10, 20]);
        events[1].link = None;
        assert_eq!(
            prunable_prefix(&events, Timestamp::from_unix_seconds(100)),
            1
        );
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
