//! `AuditRepository` on diesel. Every event is written in the transaction of its
//! change (`append_audit` of each backend): linked there on SQLite, unlinked on
//! PostgreSQL, where `link_pending` chains committed events after the head, in a
//! transaction that holds the head row, so linkers of several processes take turns and
//! changes never wait on the head. `record_many` writes a batch with one commit, its
//! events linked as they are written on both backends (multi-row `INSERT`s; on
//! PostgreSQL usually one statement conditional on the head, `linked_batch.rs`).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::Timestamp;
use releasy_domain::audit::{
    AuditEvent, AuditFilter, ChainBounds, ChainLink, ChainedEvent, RetentionStopped,
    prunable_prefix,
};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{AuditRepository, PruneEvent, RepoError};

use super::retried_batch::{StoredIds, not_stored};
use super::{
    Backend, Conn, Store, WRITES_LINK_THEIR_EVENTS, append_audit, chain_head, set_chain_head,
    set_links, take_prune_turn,
};
use crate::error::{TxError, corrupt, query_error};
use crate::rows::{AuditChainRow, AuditEventRow, link_of, position_column};
use crate::schema::audit_chain;
use crate::schema::audit_events::dsl;

#[async_trait]
impl AuditRepository for Store {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
        self.record_many(std::slice::from_ref(event)).await
    }

    async fn record_many(&self, events: &[AuditEvent]) -> Result<(), RepoError> {
        if events.is_empty() {
            return Ok(());
        }
        match self.write_batch(Vec::new(), events).await {
            Err(RepoError::Conflict) => {
                let ids = events.iter().map(|e| e.id.to_string());
                let stored = self.stored_ids(ids, StoredIds::AuditEvents).await?;
                let missing = not_stored(events, |e| e.id.to_string(), &stored)?;
                if missing.is_empty() {
                    return Ok(());
                }
                self.write_batch(Vec::new(), &missing).await
            }
            written => written,
        }
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        let mut query = dsl::audit_events
            .select(AuditEventRow::as_select())
            .order_by((dsl::created_at.desc(), dsl::id.desc()))
            .into_boxed::<Backend>();
        if let Some(customer) = filter.customer_id {
            query = query.filter(dsl::customer_id.eq(customer.to_string()));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(dsl::actor.eq(actor.clone()));
        }
        if let Some(event) = &filter.event {
            query = query.filter(dsl::event.eq(event.clone()));
            if event != AuditEvent::API_KEY_AUTH {
                query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    crate::repos::NOT_KEY_AUTH,
                ));
            }
        }
        if let Some(from) = filter.created_from {
            query = query.filter(dsl::created_at.ge(from.unix_seconds()));
        }
        if let Some(to) = filter.created_to {
            query = query.filter(dsl::created_at.le(to.unix_seconds()));
        }
        let mut conn = self.conn().await?;
        let rows: Vec<AuditEventRow> = query
            .offset(page.offset.get() as i64)
            .limit(i64::from(page.limit.get()))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        // As the chain's walk reads them: an altered row (which `audit verify` names)
        // can be looked at, instead of failing every page it falls in.
        rows.into_iter()
            .map(|row| row.into_chained_as_stored().map(|chained| chained.event))
            .collect()
    }

    async fn chain_bounds(&self) -> Result<ChainBounds, RepoError> {
        let mut conn = self.conn().await?;
        let row: AuditChainRow = audit_chain::table
            .find(1)
            .select(AuditChainRow::as_select())
            .first(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(ChainBounds {
            start: link_of("audit_chain", row.start_position, &row.start_hash)?,
            head: link_of("audit_chain", row.head_position, &row.head_hash)?,
        })
    }

    async fn chained_after(&self, after: u64, limit: u32) -> Result<Vec<ChainedEvent>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<AuditEventRow> = dsl::audit_events
            .select(AuditEventRow::as_select())
            .filter(dsl::chain_position.gt(position_column(after)))
            .order_by(dsl::chain_position.asc())
            .limit(i64::from(limit))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter()
            .map(AuditEventRow::into_chained_as_stored)
            .collect()
    }

    async fn chained_at_or_below(&self, position: u64) -> Result<Option<String>, RepoError> {
        let mut conn = self.conn().await?;
        dsl::audit_events
            .select(dsl::id)
            .filter(dsl::chain_position.le(position_column(position)))
            .order_by(dsl::chain_position.asc())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)
    }

    async fn unchained(&self, limit: u32) -> Result<Vec<AuditEvent>, RepoError> {
        let mut conn = self.conn().await?;
        let rows = awaiting_link(&mut conn, limit, Awaiting::Any)
            .await
            .map_err(query_error)?;
        rows.into_iter()
            .map(|row| row.into_chained_as_stored().map(|chained| chained.event))
            .collect()
    }

    async fn link_pending(&self, limit: u32) -> Result<u64, RepoError> {
        // Looked for outside a transaction first: most calls find nothing.
        let mut conn = self.conn().await?;
        let waiting = awaiting_link(&mut conn, 1, Awaiting::Linkable)
            .await
            .map_err(query_error)?;
        drop(conn);
        if waiting.is_empty() {
            return Ok(0);
        }
        self.write(async |conn| link_batch(conn, limit).await).await
    }

    async fn prune_before(
        &self,
        cutoff: Timestamp,
        limit: u32,
        record: PruneEvent<'_>,
    ) -> Result<u64, RepoError> {
        self.write(async |conn| {
            // Cuts take turns; the head stays free while this one reads and deletes.
            take_prune_turn(conn).await?;
            let start = chain_start(conn).await?;
            let rows: Vec<AuditEventRow> = dsl::audit_events
                .select(AuditEventRow::as_select())
                .filter(dsl::chain_position.gt(position_column(start.position)))
                .order_by(dsl::chain_position.asc())
                .limit(i64::from(limit))
                .load(conn)
                .await?;
            let oldest = rows
                .into_iter()
                .map(AuditEventRow::into_chained_as_stored)
                .collect::<Result<Vec<_>, _>>()?;
            let prunable = prunable_prefix(start, &oldest, cutoff);
            let cut = prunable.count;
            let Some(new_start) = cut.checked_sub(1).and_then(|last| oldest[last].link) else {
                return match prunable.stopped_by {
                    Some(found) => Err(RepoError::internal(RetentionStopped(found)).into()),
                    None => Ok(0),
                };
            };
            let deleted = diesel::delete(
                dsl::audit_events
                    .filter(dsl::chain_position.gt(position_column(start.position)))
                    .filter(dsl::chain_position.le(position_column(new_start.position))),
            )
            .execute(conn)
            .await?;
            // Held from here to the commit, as writers and the linker hold it: the
            // start moves and the cut's event joins the chain at once.
            let head = chain_head(conn).await?;
            // A cut that did not take its turn (a server of an earlier version, during
            // a rolling upgrade, holds the head instead) may have moved the start or
            // removed these rows meanwhile: this cut is then undone, not recorded over
            // a start it did not read. (Had this one locked rows that one goes on to
            // delete, PostgreSQL ends one of the two as a deadlock, undone as well; the
            // next sweep cuts again.)
            if deleted != cut || chain_start(conn).await? != start {
                return Err(RepoError::Conflict.into());
            }
            diesel::update(audit_chain::table.find(1))
                .set((
                    audit_chain::start_position.eq(position_column(new_start.position)),
                    audit_chain::start_hash.eq(new_start.hash.to_string()),
                ))
                .execute(conn)
                .await?;
            let recorded = record(cut as u64, new_start);
            append_audit(conn, std::slice::from_ref(&recorded)).await?;
            if !WRITES_LINK_THEIR_EVENTS {
                // Linked with the cut, where the head is held: the linker links no
                // `audit.pruned` event, so one slipped in by hand to name a start moved
                // over deleted events stays out of the chain, and `audit verify` finds
                // the start named by none. (`append_audit` left the head where it was.)
                let Some(&link) = head.extend(std::slice::from_ref(&recorded)).last() else {
                    return Err(corrupt("audit_chain", "no link for the cut's event").into());
                };
                if set_links(conn, &[(recorded.id.to_string(), link)]).await? != 1 {
                    return Err(corrupt("audit_events", "the cut's event was not stored").into());
                }
                set_chain_head(conn, link).await?;
            }
            Ok(cut as u64)
        })
        .await
    }
}

/// The link before the first event the chain keeps, as recorded.
async fn chain_start(conn: &mut Conn) -> Result<ChainLink, TxError> {
    let (position, hash): (i64, String) = audit_chain::table
        .find(1)
        .select((audit_chain::start_position, audit_chain::start_hash))
        .first(conn)
        .await?;
    Ok(link_of("audit_chain", position, &hash)?)
}

/// Links up to `limit` events awaiting their link after the head, in the caller's
/// transaction; returns how many.
async fn link_batch(conn: &mut Conn, limit: u32) -> Result<u64, TxError> {
    let head = chain_head(conn).await?;
    // Read after the head is held: another linker's links are committed.
    let rows = awaiting_link(conn, limit, Awaiting::Linkable).await?;
    // Linked by the id as stored: a row whose id is not in canonical form (upper
    // case, say) would be missed by the id written back from its UUID.
    let stored_ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
    let events = rows
        .into_iter()
        .map(|row| row.into_chained_as_stored().map(|chained| chained.event))
        .collect::<Result<Vec<_>, _>>()?;
    let links = head.extend(&events);
    let Some(&new_head) = links.last() else {
        return Ok(0);
    };
    let linked: Vec<(String, ChainLink)> = stored_ids.into_iter().zip(links).collect();
    if set_links(conn, &linked).await? != linked.len() {
        // The head must not move past links that were not stored.
        return Err(corrupt(
            "audit_events",
            "an event awaiting its link was not found by its id",
        )
        .into());
    }
    set_chain_head(conn, new_head).await?;
    Ok(linked.len() as u64)
}

impl Store {
    /// Links the events stored before the chain existed (the migration that added it
    /// left them unlinked), once: only while the chain is still empty, in
    /// `(created_at, id)` order, before the server serves, all in one transaction (in
    /// batches of [`LEGACY_BATCH`] read within it), so that a start stopped midway
    /// leaves none of them linked and the next start does it all. Returns how many.
    /// (Not whatever awaits a link at every start: on SQLite, where Releasy links each
    /// event as it writes it, an unlinked row once the chain has begun is one slipped
    /// in by hand, which `audit verify` must keep reporting. Servers of the version
    /// before the chain, still running during the upgrade, never take the head, so the
    /// one transaction holds nobody up.)
    pub(crate) async fn link_events_stored_before_the_chain(&self) -> Result<u64, RepoError> {
        if self.chain_bounds().await?.head.position != 0 {
            return Ok(0);
        }
        if self.unchained(1).await?.is_empty() {
            return Ok(0);
        }
        self.write(async |conn| {
            let mut linked = 0;
            loop {
                let batch = link_batch(conn, LEGACY_BATCH).await?;
                linked += batch;
                if batch < u64::from(LEGACY_BATCH) {
                    return Ok(linked);
                }
            }
        })
        .await
    }
}

/// Events read and linked at a time when linking those stored before the chain.
const LEGACY_BATCH: u32 = 10_000;

/// Which events not linked yet a read wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// Every one (what `audit verify` counts).
    Any,
    /// Those the linker links: not `audit.pruned` events, which their cut links (an
    /// unlinked one was slipped in by hand, or written by a server of an older version
    /// during an upgrade, docs/security.md).
    Linkable,
}

/// Up to `limit` events not linked yet, oldest first (the order the linker links
/// them in; an index covers exactly these rows).
async fn awaiting_link(
    conn: &mut Conn,
    limit: u32,
    which: Awaiting,
) -> Result<Vec<AuditEventRow>, diesel::result::Error> {
    let mut query = dsl::audit_events
        .select(AuditEventRow::as_select())
        .filter(dsl::chain_position.is_null())
        .order_by((dsl::created_at.asc(), dsl::id.asc()))
        .limit(i64::from(limit))
        .into_boxed::<Backend>();
    if which == Awaiting::Linkable {
        query = query.filter(dsl::event.ne(AuditEvent::AUDIT_PRUNED));
    }
    query.load(conn).await
}
