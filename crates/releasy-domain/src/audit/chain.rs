//! The hash chain that makes the audit trail tamper-evident: every event stores a
//! SHA-256 over its own content and the previous event's hash, so altering, removing or
//! slipping in an event breaks every link after it. A change writes its event in its
//! own transaction; where writes run side by side (PostgreSQL) it is written unlinked,
//! and a linker (`AuditService::link_pending`, run by the server every 250 ms) links
//! committed events after the head, one transaction at a time, so no write waits on
//! another's commit. [`ChainVerifier`] walks the chain.
//!
//! A plain hash chain cannot tell a rewrite of the whole tail from the truth: whoever
//! can rewrite every later event and the head can forge it. Anchoring the head
//! elsewhere (`releasy-server audit verify` prints it) closes that gap.

use sha2::{Digest, Sha256};

use crate::audit::AuditEvent;

/// A SHA-256 link of the chain, shown as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The hash the first event links to: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Reads 64 hex digits.
    ///
    /// # Errors
    /// [`crate::ValidationError`] when `text` is not 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, crate::ValidationError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes)
            .map_err(|_| crate::ValidationError::new("chain_hash", "must be 64 hex digits"))?;
        Ok(Self(bytes))
    }
}

impl std::fmt::Display for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Where an event sits in the chain: its position (1 for the first event ever
/// chained, then one more per event) and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainLink {
    /// Its position.
    pub position: u64,
    /// The hash over its content and the previous link's hash.
    pub hash: ChainHash,
}

impl ChainLink {
    /// The link before the first event: position 0, the genesis hash.
    pub const START: ChainLink = ChainLink {
        position: 0,
        hash: ChainHash::GENESIS,
    };

    /// The link of `event` chained right after `self`.
    pub fn next(&self, event: &AuditEvent) -> ChainLink {
        self.next_encoded(&EncodedEvent::of(event))
    }

    /// [`Self::next`] of an event already encoded as stored: a writer that stores the
    /// text anyway encodes each event once.
    ///
    /// ```
    /// use releasy_domain::Timestamp;
    /// use releasy_domain::audit::{AuditEvent, AuthReason, ChainLink, EncodedEvent};
    ///
    /// let event = AuditEvent::api_key_auth(AuthReason::Ok, None, None, Timestamp::from_unix_seconds(1));
    /// let encoded = EncodedEvent::of(&event);
    /// assert_eq!(ChainLink::START.next_encoded(&encoded), ChainLink::START.next(&event));
    /// ```
    pub fn next_encoded(&self, event: &EncodedEvent) -> ChainLink {
        let position = self.position + 1;
        ChainLink {
            position,
            hash: event_hash(position, &self.hash, event),
        }
    }

    /// Links `events`, in order, after `self`; returns each event's link (the last one
    /// is the new head).
    pub fn extend<'a>(&self, events: impl IntoIterator<Item = &'a AuditEvent>) -> Vec<ChainLink> {
        let mut head = *self;
        events
            .into_iter()
            .map(|event| {
                head = head.next(event);
                head
            })
            .collect()
    }
}

/// An event's fields as they are stored and hashed: text, and the time in seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// The event's id.
    pub id: String,
    /// Its customer's id, if any.
    pub customer_id: Option<String>,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub event: String,
    /// The payload's compact JSON text.
    pub payload: String,
    /// When, in Unix seconds.
    pub created_at: i64,
}

impl EncodedEvent {
    /// `event`'s fields as text.
    pub fn of(event: &AuditEvent) -> Self {
        Self {
            id: event.id.to_string(),
            customer_id: event.customer_id.map(|id| id.to_string()),
            actor: event.actor.clone(),
            event: event.event.clone(),
            payload: event.payload.to_string(),
            created_at: event.created_at.unix_seconds(),
        }
    }
}

/// The hash of `event` at `position` after `previous`. Every field goes in with its
/// length first, so no two different events share an encoding; the payload is its
/// compact JSON text, as stored.
fn event_hash(position: u64, previous: &ChainHash, event: &EncodedEvent) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(b"releasy-audit-chain-v1");
    hasher.update(position.to_be_bytes());
    hasher.update(previous.0);
    let created_at = event.created_at.to_be_bytes();
    for field in [
        event.id.as_bytes(),
        event.customer_id.as_deref().unwrap_or("").as_bytes(),
        event.actor.as_bytes(),
        event.event.as_bytes(),
        event.payload.as_bytes(),
        &created_at,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    ChainHash(hasher.finalize().into())
}

/// An event as stored, with the link it was stored with (`None`: it never was
/// chained, so it was written by something other than Releasy).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedEvent {
    /// The event.
    pub event: AuditEvent,
    /// Its stored link.
    pub link: Option<ChainLink>,
}

/// Where the stored chain begins and ends: `start` is the link before the oldest event
/// kept (the [`ChainLink::START`] until retention cuts the chain), `head` the newest
/// link written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainBounds {
    /// The link before the first event kept.
    pub start: ChainLink,
    /// The last link written.
    pub head: ChainLink,
}

/// Why a chain does not verify: the first event found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The event's content or stored hash is not what was chained.
    #[error(
        "audit event {event_id} at position {position} was altered: its hash does not match its content and the event before it"
    )]
    Altered {
        /// The event.
        event_id: String,
        /// Its position.
        position: u64,
    },
    /// Events are missing between two positions.
    #[error(
        "audit events at positions {first}..={last} were deleted (the event after them is {next_event_id})"
    )]
    Deleted {
        /// The first missing position.
        first: u64,
        /// The last missing position.
        last: u64,
        /// The first event found after the gap, or `head` when the tail is missing.
        next_event_id: String,
    },
    /// The chain's recorded start moved where no retention sweep moved it: no
    /// `audit.pruned` event names it, so the events before it were deleted some
    /// other way (and the start moved over them to hide it).
    #[error(
        "the chain's recorded start (position {position}) is named by no audit.pruned event: the events before it were deleted outside retention"
    )]
    StartNotPruned {
        /// The recorded start's position.
        position: u64,
    },
    /// An event that Releasy never chained, or chained past the recorded head or at
    /// or below the recorded start.
    #[error("audit event {event_id} was inserted: {why}")]
    Inserted {
        /// The event.
        event_id: String,
        /// What gives it away.
        why: &'static str,
    },
}

/// Walks a stored chain from `bounds.start`, one event at a time in position order,
/// and reports the first break. Feed it the chained events page by page with
/// [`ChainVerifier::check`], then call [`ChainVerifier::finish`].
///
/// ```
/// use releasy_domain::audit::{AuditEvent, AuthReason, ChainBounds, ChainLink, ChainVerifier};
/// use releasy_domain::Timestamp;
///
/// let events: Vec<AuditEvent> = (0..3)
///     .map(|s| AuditEvent::api_key_auth(AuthReason::NotFound, None, None, Timestamp::from_unix_seconds(s)))
///     .collect();
/// let links = ChainLink::START.extend(&events);
/// let bounds = ChainBounds { start: ChainLink::START, head: links[2] };
///
/// let mut verifier = ChainVerifier::new(bounds);
/// for (event, link) in events.iter().zip(&links) {
///     verifier.check(event, *link).unwrap();
/// }
/// assert_eq!(verifier.finish().unwrap(), 3);
///
/// // Skipping the middle event is found.
/// let mut verifier = ChainVerifier::new(bounds);
/// verifier.check(&events[0], links[0]).unwrap();
/// assert!(verifier.check(&events[2], links[2]).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    bounds: ChainBounds,
    last: ChainLink,
    checked: u64,
}

impl ChainVerifier {
    /// A walk starting at `bounds.start`.
    pub fn new(bounds: ChainBounds) -> Self {
        Self {
            bounds,
            last: bounds.start,
            checked: 0,
        }
    }

    /// Checks the next stored event (the one with the lowest position not yet checked)
    /// against the link before it.
    ///
    /// # Errors
    /// The [`ChainBreak`] it shows.
    pub fn check(&mut self, event: &AuditEvent, stored: ChainLink) -> Result<(), ChainBreak> {
        if stored.position > self.bounds.head.position {
            return Err(ChainBreak::Inserted {
                event_id: event.id.to_string(),
                why: "its position is past the chain's recorded head",
            });
        }
        Self::follows(self.last, event, stored)?;
        self.last = stored;
        self.checked += 1;
        Ok(())
    }

    /// Whether `event`, stored with `stored`, is the one chained right after `last`:
    /// at the next position (a higher one means events were deleted), with the hash
    /// its content and `last` give (another means it was altered).
    pub(crate) fn follows(
        last: ChainLink,
        event: &AuditEvent,
        stored: ChainLink,
    ) -> Result<(), ChainBreak> {
        let expected_position = last.position + 1;
        if stored.position > expected_position {
            return Err(ChainBreak::Deleted {
                first: expected_position,
                last: stored.position - 1,
                next_event_id: event.id.to_string(),
            });
        }
        if stored.position < expected_position || last.next(event) != stored {
            return Err(ChainBreak::Altered {
                event_id: event.id.to_string(),
                position: stored.position,
            });
        }
        Ok(())
    }

    /// Ends the walk: every position up to the head was seen, and the last link is the
    /// recorded head. Returns how many events were checked.
    ///
    /// # Errors
    /// [`ChainBreak::Deleted`] when the newest events are missing,
    /// [`ChainBreak::Altered`] when the last one is not the recorded head.
    pub fn finish(self) -> Result<u64, ChainBreak> {
        let head = self.bounds.head;
        if self.last.position < head.position {
            return Err(ChainBreak::Deleted {
                first: self.last.position + 1,
                last: head.position,
                next_event_id: "head".to_owned(),
            });
        }
        if self.last != head {
            return Err(ChainBreak::Altered {
                event_id: "head".to_owned(),
                position: head.position,
            });
        }
        Ok(self.checked)
    }

    /// The break an event with a stored position but no hash shows: the linker writes
    /// both at once, so something other than Releasy wrote it.
    pub fn half_linked(event: &AuditEvent) -> ChainBreak {
        ChainBreak::Inserted {
            event_id: event.id.to_string(),
            why: "it carries a chain position without a hash",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Timestamp;
    use crate::audit::AuthReason;

    fn events(n: i64) -> Vec<AuditEvent> {
        (0..n)
            .map(|s| {
                AuditEvent::api_key_auth(
                    AuthReason::NotFound,
                    None,
                    None,
                    Timestamp::from_unix_seconds(s),
                )
            })
            .collect()
    }

    fn walk(bounds: ChainBounds, stored: &[(AuditEvent, ChainLink)]) -> Result<u64, ChainBreak> {
        let mut verifier = ChainVerifier::new(bounds);
        for (event, link) in stored {
            verifier.check(event, *link)?;
        }
        verifier.finish()
    }

    fn chain(n: i64) -> (ChainBounds, Vec<(AuditEvent, ChainLink)>) {
        let events = events(n);
        let links = ChainLink::START.extend(&events);
        let bounds = ChainBounds {
            start: ChainLink::START,
            head: *links.last().unwrap(),
        };
        (bounds, events.into_iter().zip(links).collect())
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (bounds, stored) = chain(5);
        assert_eq!(walk(bounds, &stored), Ok(5));
    }

    #[test]
    fn an_altered_payload_is_named() {
        let (bounds, mut stored) = chain(5);
        stored[2].0.payload = json!({"outcome": "accept"});
        let id = stored[2].0.id.to_string();
        assert_eq!(
            walk(bounds, &stored),
            Err(ChainBreak::Altered {
                event_id: id,
                position: 3
            })
        );
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let (_, stored) = chain(1);
        let (event, link) = &stored[0];
        let mut changes: Vec<AuditEvent> = Vec::new();
        let mut changed = event.clone();
        changed.actor = "operator".into();
        changes.push(changed);
        let mut changed = event.clone();
        changed.event = "customer.created".into();
        changes.push(changed);
        let mut changed = event.clone();
        changed.created_at = Timestamp::from_unix_seconds(99);
        changes.push(changed);
        let mut changed = event.clone();
        changed.customer_id = Some(crate::CustomerId::generate());
        changes.push(changed);
        let mut changed = event.clone();
        changed.id = crate::AuditEventId::generate();
        changes.push(changed);
        for changed in changes {
            assert_ne!(ChainLink::START.next(&changed), *link, "{changed:?}");
        }
    }

    #[test]
    fn a_deleted_event_is_found_as_a_gap() {
        let (bounds, mut stored) = chain(5);
        stored.remove(1);
        let next = stored[1].0.id.to_string();
        assert_eq!(
            walk(bounds, &stored),
            Err(ChainBreak::Deleted {
                first: 2,
                last: 2,
                next_event_id: next
            })
        );
    }

    #[test]
    fn a_deleted_tail_is_found_against_the_head() {
        let (bounds, mut stored) = chain(5);
        stored.truncate(3);
        assert_eq!(
            walk(bounds, &stored),
            Err(ChainBreak::Deleted {
                first: 4,
                last: 5,
                next_event_id: "head".into()
            })
        );
    }

    #[test]
    fn an_event_slipped_in_with_a_taken_position_breaks_the_link() {
        let (bounds, mut stored) = chain(3);
        let forged = events(1).remove(0);
        let link = stored[0].1.next(&forged);
        // Renumbering the rest would need every later hash recomputed; an inserted
        // event with the next position fails the event after it.
        stored.insert(1, (forged, link));
        let (_, second_link) = stored[2].clone();
        assert!(matches!(
            walk(bounds, &stored),
            Err(ChainBreak::Altered { position, .. }) if position == second_link.position
        ));
    }

    #[test]
    fn an_event_past_the_head_is_inserted() {
        let (bounds, mut stored) = chain(2);
        let extra = events(1).remove(0);
        let link = stored[1].1.next(&extra);
        stored.push((extra.clone(), link));
        assert_eq!(
            walk(bounds, &stored),
            Err(ChainBreak::Inserted {
                event_id: extra.id.to_string(),
                why: "its position is past the chain's recorded head"
            })
        );
    }

    #[test]
    fn a_chain_cut_by_retention_verifies_from_its_recorded_start() {
        let (_, stored) = chain(6);
        let bounds = ChainBounds {
            start: stored[2].1,
            head: stored[5].1,
        };
        assert_eq!(walk(bounds, &stored[3..]), Ok(3));
    }

    #[test]
    fn hashes_print_and_parse_as_hex() {
        let (_, stored) = chain(1);
        let hash = stored[0].1.hash;
        let text = hash.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(ChainHash::parse(&text).unwrap(), hash);
        assert!(ChainHash::parse("zz").is_err());
    }
}
