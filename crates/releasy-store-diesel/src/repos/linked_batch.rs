//! PostgreSQL: a batch of download tokens and audit events written, linked, in one
//! statement that moves the chain's head only from where this instance expects it.
//!
//! Linking a batch needs the head row locked from reading it until the commit. Read
//! with `SELECT ... FOR UPDATE` inside a transaction, the lock spans four round trips
//! (the read, the inserts, the head's move, the `COMMIT`), and under load each of them
//! waits for this server's busy runtime while every other batch waits for the lock.
//! An instance that remembers the head it last wrote ([`KnownHead`]) can instead send
//! one statement that moves the head on condition that it is still there, and inserts
//! the batch only if it moved: the lock is then held only while PostgreSQL runs that
//! statement and flushes its commit. When another writer (another instance, the
//! linker) moved the head meanwhile, the statement writes nothing and the batch is
//! written the locking way.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use releasy_domain::audit::{AuditEvent, ChainLink};

use super::batch_rows::linked_rows;
use crate::rows::{AuditEventRow, DownloadTokenRow, position_column};

/// The head this instance's last batch left, if it knows it, and how its batches were
/// written. Shared by every batch writer of one store; the head is held for the whole
/// write, so this instance's batches take turns in one order and each expects the head
/// the one before it left.
#[derive(Debug, Default)]
pub(crate) struct KnownHead {
    head: tokio::sync::Mutex<Option<ChainLink>>,
    conditional: AtomicU64,
    locking: AtomicU64,
}

impl KnownHead {
    /// The head, held until the guard drops: `None` when not known (at start, or
    /// after a write that failed or found the head moved).
    pub(crate) async fn lock(&self) -> tokio::sync::MutexGuard<'_, Option<ChainLink>> {
        self.head.lock().await
    }

    /// Counts a batch written by the conditional statement.
    pub(crate) fn written_conditionally(&self) {
        self.conditional.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a batch written by the locking transaction.
    pub(crate) fn written_locking(&self) {
        self.locking.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> LinkedBatches {
        LinkedBatches {
            conditional: self.conditional.load(Ordering::Relaxed),
            locking: self.locking.load(Ordering::Relaxed),
        }
    }
}

/// How many batches of audit events this instance has written since it started, by
/// how: many `locking` beside few `conditional` means other instances (or the linker)
/// keep moving the chain's head between this instance's batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkedBatches {
    /// Written in one statement after the head this instance last wrote.
    pub conditional: u64,
    /// Written in a transaction that locked the head first.
    pub locking: u64,
}

/// The conditional statement of one batch: `tokens` and `events` linked after
/// `expected`, and the head it leaves. It reports as many rows as `events` has when it
/// wrote the batch, and none when the head was not at `expected` (nothing written).
pub(super) fn conditional_write<'a>(
    expected: ChainLink,
    tokens: &'a [DownloadTokenRow],
    events: &[AuditEvent],
) -> (BoxedSqlQuery<'a, diesel::pg::Pg, SqlQuery>, ChainLink) {
    let (rows, new_head) = linked_rows(expected, events);
    let events = EventColumns::of(rows);
    let tokens = TokenColumns::of(tokens);
    // `moved` is joined by both inserts, so neither writes a row unless the head moved.
    let query = diesel::sql_query(
        "WITH moved AS (\
           UPDATE audit_chain SET head_position = $1, head_hash = $2 \
           WHERE id = 1 AND head_position = $3 AND head_hash = $4 RETURNING id\
         ), tokens AS (\
           INSERT INTO download_tokens (id, token_hash, artifact_id, customer_id, purpose, \
           created_at, expires_at, allowed_cidrs, max_uses, api_key_id) \
           SELECT t.* FROM UNNEST($5::text[], $6::text[], $7::text[], $8::text[], \
           $9::text[], $10::int8[], $11::int8[], $12::text[], $13::int4[], $14::text[]) AS t, \
           moved\
         ) \
         INSERT INTO audit_events (id, customer_id, actor, event, payload, created_at, \
         chain_position, chain_hash) \
         SELECT e.* FROM UNNEST($15::text[], $16::text[], $17::text[], $18::text[], \
         $19::text[], $20::int8[], $21::int8[], $22::text[]) AS e, moved",
    )
    .into_boxed()
    .bind::<BigInt, _>(position_column(new_head.position))
    .bind::<Text, _>(new_head.hash.to_string())
    .bind::<BigInt, _>(position_column(expected.position))
    .bind::<Text, _>(expected.hash.to_string());
    (events.bind(tokens.bind(query)), new_head)
}

/// Token rows as one array per column, borrowed from the rows.
#[derive(Debug, Default)]
struct TokenColumns<'a> {
    id: Vec<&'a str>,
    token_hash: Vec<&'a str>,
    artifact_id: Vec<&'a str>,
    customer_id: Vec<&'a str>,
    purpose: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    expires_at: Vec<i64>,
    allowed_cidrs: Vec<Option<&'a str>>,
    max_uses: Vec<Option<i32>>,
    api_key_id: Vec<Option<&'a str>>,
}

impl<'a> TokenColumns<'a> {
    fn of(rows: &'a [DownloadTokenRow]) -> Self {
        let mut columns = Self::default();
        for row in rows {
            columns.id.push(&row.id);
            columns.token_hash.push(&row.token_hash);
            columns.artifact_id.push(&row.artifact_id);
            columns.customer_id.push(&row.customer_id);
            columns.purpose.push(row.purpose.as_deref());
            columns.created_at.push(row.created_at);
            columns.expires_at.push(row.expires_at);
            columns.allowed_cidrs.push(row.allowed_cidrs.as_deref());
            columns.max_uses.push(row.max_uses);
            columns.api_key_id.push(row.api_key_id.as_deref());
        }
        columns
    }

    /// Binds the columns as `$5` to `$14`.
    fn bind(
        self,
        query: BoxedSqlQuery<'a, diesel::pg::Pg, SqlQuery>,
    ) -> BoxedSqlQuery<'a, diesel::pg::Pg, SqlQuery> {
        query
            .bind::<Array<Text>, _>(self.id)
            .bind::<Array<Text>, _>(self.token_hash)
            .bind::<Array<Text>, _>(self.artifact_id)
            .bind::<Array<Text>, _>(self.customer_id)
            .bind::<Array<Nullable<Text>>, _>(self.purpose)
            .bind::<Array<BigInt>, _>(self.created_at)
            .bind::<Array<BigInt>, _>(self.expires_at)
            .bind::<Array<Nullable<Text>>, _>(self.allowed_cidrs)
            .bind::<Array<Nullable<Integer>>, _>(self.max_uses)
            .bind::<Array<Nullable<Text>>, _>(self.api_key_id)
    }
}

/// Linked event rows as one array per column.
#[derive(Debug, Default)]
struct EventColumns {
    id: Vec<String>,
    customer_id: Vec<Option<String>>,
    actor: Vec<String>,
    event: Vec<String>,
    payload: Vec<String>,
    created_at: Vec<i64>,
    chain_position: Vec<Option<i64>>,
    chain_hash: Vec<Option<String>>,
}

impl EventColumns {
    fn of(rows: Vec<AuditEventRow>) -> Self {
        let mut columns = Self::default();
        for row in rows {
            columns.id.push(row.id);
            columns.customer_id.push(row.customer_id);
            columns.actor.push(row.actor);
            columns.event.push(row.event);
            columns.payload.push(row.payload);
            columns.created_at.push(row.created_at);
            columns.chain_position.push(row.chain_position);
            columns.chain_hash.push(row.chain_hash);
        }
        columns
    }

    /// Binds the columns as `$15` to `$22`.
    fn bind<'a>(
        self,
        query: BoxedSqlQuery<'a, diesel::pg::Pg, SqlQuery>,
    ) -> BoxedSqlQuery<'a, diesel::pg::Pg, SqlQuery> {
        query
            .bind::<Array<Text>, _>(self.id)
            .bind::<Array<Nullable<Text>>, _>(self.customer_id)
            .bind::<Array<Text>, _>(self.actor)
            .bind::<Array<Text>, _>(self.event)
            .bind::<Array<Text>, _>(self.payload)
            .bind::<Array<BigInt>, _>(self.created_at)
            .bind::<Array<Nullable<BigInt>>, _>(self.chain_position)
            .bind::<Array<Nullable<Text>>, _>(self.chain_hash)
    }
}
