//! `AuditRepository` in memory: every event is linked to the one before it as it is
//! appended (one lock orders the appends, so nothing waits for a linker).

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::audit::{
    AuditEvent, AuditFilter, ChainBounds, ChainLink, ChainedEvent, RetentionStopped,
    prunable_prefix,
};
use crate::pagination::PageRequest;
use crate::ports::{AuditRepository, PruneEvent, RepoError};
use crate::{AuditEventId, Timestamp};

/// Audit events kept in memory, in the order they were appended, each with its link.
/// Other in-memory repositories append the events of their changes here while they
/// hold their own lock, so no reader sees a change without its event.
#[derive(Debug, Default)]
pub struct InMemoryAudit {
    chain: Mutex<Chain>,
}

#[derive(Debug, Default)]
struct Chain {
    /// Kept events, by position.
    events: Vec<ChainedEvent>,
    /// The link before the first kept event, once retention has cut the chain.
    start: Option<ChainLink>,
    head: Option<ChainLink>,
}

impl InMemoryAudit {
    /// Appends `events`, chained after the newest one.
    pub fn append(&self, events: &[AuditEvent]) {
        link_after_head(&mut lock(&self.chain), events);
    }
}

/// Appends `events` to `chain`, linked after its head.
fn link_after_head(chain: &mut Chain, events: &[AuditEvent]) {
    // Stored (or given) once: a queue writes a batch again after an unacknowledged commit.
    let mut stored: HashSet<AuditEventId> = chain.events.iter().map(|c| c.event.id).collect();
    let events: Vec<AuditEvent> = events
        .iter()
        .filter(|event| stored.insert(event.id))
        .cloned()
        .collect();
    let head = chain.head.unwrap_or(ChainLink::START);
    let links = head.extend(&events);
    chain.head = links.last().copied().or(chain.head);
    chain
        .events
        .extend(events.iter().zip(links).map(|(event, link)| ChainedEvent {
            event: event.clone(),
            link: Some(link),
        }));
}

#[async_trait]
impl AuditRepository for InMemoryAudit {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
        self.append(std::slice::from_ref(event));
        Ok(())
    }

    async fn record_many(&self, events: &[AuditEvent]) -> Result<(), RepoError> {
        self.append(events);
        Ok(())
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        let mut rows: Vec<AuditEvent> = lock(&self.chain)
            .events
            .iter()
            .map(|chained| &chained.event)
            .filter(|e| filter.matches(e))
            .cloned()
            .collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.to_string())));
        Ok(rows
            .into_iter()
            .skip(page.offset.get() as usize)
            .take(page.limit.get() as usize)
            .collect())
    }

    async fn chain_bounds(&self) -> Result<ChainBounds, RepoError> {
        let chain = lock(&self.chain);
        Ok(ChainBounds {
            start: chain.start.unwrap_or(ChainLink::START),
            head: chain.head.unwrap_or(ChainLink::START),
        })
    }

    async fn chained_after(&self, after: u64, limit: u32) -> Result<Vec<ChainedEvent>, RepoError> {
        Ok(lock(&self.chain)
            .events
            .iter()
            .filter(|e| e.link.is_some_and(|link| link.position > after))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn chained_at_or_below(&self, position: u64) -> Result<Option<String>, RepoError> {
        Ok(lock(&self.chain)
            .events
            .iter()
            .find(|e| e.link.is_some_and(|link| link.position <= position))
            .map(|e| e.event.id.to_string()))
    }

    async fn unchained(&self, _limit: u32) -> Result<Vec<AuditEvent>, RepoError> {
        // Every event is appended through `append`, which links it.
        Ok(Vec::new())
    }

    async fn link_pending(&self, _limit: u32) -> Result<u64, RepoError> {
        Ok(0)
    }

    async fn prune_before(
        &self,
        cutoff: Timestamp,
        limit: u32,
        record: PruneEvent<'_>,
    ) -> Result<u64, RepoError> {
        let mut chain = lock(&self.chain);
        let oldest = &chain.events[..chain.events.len().min(limit as usize)];
        let prunable = prunable_prefix(chain.start.unwrap_or(ChainLink::START), oldest, cutoff);
        let cut = prunable.count;
        let Some(start) = cut.checked_sub(1).and_then(|last| oldest[last].link) else {
            return match prunable.stopped_by {
                Some(found) => Err(RepoError::internal(RetentionStopped(found))),
                None => Ok(0),
            };
        };
        chain.events.drain(..cut);
        chain.start = Some(start);
        let event = record(cut as u64, start);
        link_after_head(&mut chain, std::slice::from_ref(&event));
        Ok(cut as u64)
    }
}
