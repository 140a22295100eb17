//! The repositories on PostgreSQL: what differs from SQLite is named here, and every
//! repository's query code (`customers.rs` ...) is compiled once more with these names.

use diesel::prelude::*;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};
use releasy_domain::audit::{AuditEvent, ChainLink};
use releasy_domain::delivery::DownloadRecord;
use releasy_domain::ports::RepoError;

use super::batch_rows::{
    LedgerColumns, ROWS_PER_STATEMENT, TokenValues, add_to_daily, add_to_product_daily,
    audit_values, linked_audit_values, mark_product_customers, token_values,
};
use super::linked_batch;
use crate::error::{TxError, query_error};
use crate::rows::{
    ApiKeyRow, CustomerRow, DailyRow, DownloadTokenRow, ReleaseRow, product_customers, product_days,
};

use crate::schema::{api_keys as key_rows, audit_chain, audit_events, releases};
use crate::schema::{customers as customer_rows, download_tokens as token_rows};

/// The store the repositories below are implemented for.
pub(super) type Store = crate::postgres::PgStore;
/// Its connection.
pub(super) type Conn = AsyncPgConnection;
/// What makes an `ORDER BY` of text compare bytes, as SQLite and the domain do.
pub(super) const BYTE_ORDER: &str = "COLLATE \"C\"";
/// The `n`th (from 1) bind parameter of a hand-written statement.
pub(super) fn placeholder(n: usize) -> String {
    format!("${n}")
}
/// Whether `append_audit` links the events it writes: no, the linker does after the
/// commit, so that changes never wait on the chain's head.
pub(super) const WRITES_LINK_THEIR_EVENTS: bool = false;
/// Its diesel backend (for boxed queries).
pub(super) type Backend = diesel::pg::Pg;

diesel::define_sql_function! {
    /// Lower-cases text for a case-insensitive match: `lower`, which folds every
    /// letter its UTF-8 locale knows.
    #[sql_name = "lower"]
    fn fold_case(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// An artifact's platform and a bound value (between the two parts of
/// [`ASCII_LOWER_VALUE`]), each with its ASCII letters in lower case, as the domain
/// compares platforms: `lower` under the `C` collation folds ASCII letters only,
/// whatever the database's locale (under a Turkish one, `lower('I')` is `ı`).
pub(super) const ASCII_LOWER_PLATFORM: &str = r#"lower(artifacts.platform COLLATE "C")"#;
/// See [`ASCII_LOWER_PLATFORM`].
pub(super) const ASCII_LOWER_VALUE: (&str, &str) = ("lower(", r#" COLLATE "C")"#);

/// Runs `work` in one transaction: commits when it succeeds, rolls back otherwise.
pub(super) async fn write_transaction<R, E, F>(
    conn: &mut AsyncPgConnection,
    work: F,
) -> Result<R, E>
where
    F: AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, E>,
    E: From<diesel::result::Error>,
{
    AnsiTransactionManager::begin_transaction(conn).await?;
    crate::transaction::commit_or_roll_back(conn, work).await
}

/// The release `id`, its row locked (`FOR UPDATE`) until the transaction ends:
/// `None` when it does not exist, else whether it is sealed.
pub(super) async fn lock_release(
    conn: &mut AsyncPgConnection,
    id: &str,
) -> Result<Option<super::LockedRelease>, diesel::result::Error> {
    let found: Option<Option<i64>> = releases::table
        .find(id)
        .select(releases::sealed_at)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|sealed_at| super::LockedRelease {
        sealed: sealed_at.is_some(),
    }))
}

/// Writes `events`, unlinked, inside the transaction `conn` is in: the linker chains
/// them once committed, so a write never waits for another's commit.
pub(super) async fn append_audit(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
) -> Result<(), diesel::result::Error> {
    for chunk in audit_values(events).chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(audit_events::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Stores each event's link, in one statement: the linker links a thousand events at a
/// time.
pub(super) async fn set_links(
    conn: &mut AsyncPgConnection,
    links: &[(String, ChainLink)],
) -> Result<usize, diesel::result::Error> {
    use diesel::sql_types::{Array, BigInt, Text};
    let ids: Vec<&str> = links.iter().map(|(id, _)| id.as_str()).collect();
    let positions: Vec<i64> = links
        .iter()
        .map(|(_, link)| crate::rows::position_column(link.position))
        .collect();
    let hashes: Vec<String> = links
        .iter()
        .map(|(_, link)| link.hash.to_string())
        .collect();
    diesel::sql_query(
        "UPDATE audit_events AS e SET chain_position = v.position, chain_hash = v.hash \
         FROM unnest($1::text[], $2::int8[], $3::text[]) AS v(id, position, hash) \
         WHERE e.id = v.id",
    )
    .bind::<Array<Text>, _>(ids)
    .bind::<Array<BigInt>, _>(positions)
    .bind::<Array<Text>, _>(hashes)
    .execute(conn)
    .await
}

/// The chain's head, its row locked (`FOR UPDATE`) until the transaction ends.
pub(super) async fn chain_head(
    conn: &mut AsyncPgConnection,
) -> Result<ChainLink, diesel::result::Error> {
    let (position, hash): (i64, String) = audit_chain::table
        .find(1)
        .select((audit_chain::head_position, audit_chain::head_hash))
        .for_update()
        .first(conn)
        .await?;
    super::audit_chain::head_link(position, &hash)
}

/// Any constant works; it only has to be the same for every Releasy instance.
const PRUNE_LOCK_ID: i64 = 0x0052_454c_5052_554e;

/// Makes the retention cuts of every instance take turns until the transaction ends
/// (a transaction-level advisory lock), without holding the chain's head: a cut reads
/// and deletes its batch while writers go on linking theirs.
pub(super) async fn take_prune_turn(
    conn: &mut AsyncPgConnection,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({PRUNE_LOCK_ID})"))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Moves the chain's head to `head`.
pub(super) async fn set_chain_head(
    conn: &mut AsyncPgConnection,
    head: ChainLink,
) -> Result<(), diesel::result::Error> {
    diesel::update(audit_chain::table.find(1))
        .set((
            audit_chain::head_position.eq(crate::rows::position_column(head.position)),
            audit_chain::head_hash.eq(head.hash.to_string()),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Writes `events` linked after the chain's head, and moves the head, inside the
/// transaction `conn` is in; the head stays locked until it ends. Returns the new head.
async fn append_linked_audit(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
) -> Result<ChainLink, diesel::result::Error> {
    let (rows, new_head) = linked_audit_values(chain_head(conn).await?, events);
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(audit_events::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    set_chain_head(conn, new_head).await?;
    Ok(new_head)
}

impl Store {
    /// Writes `tokens` and `events`, the events linked as they are written (a batch
    /// carries hundreds or thousands of events, so batches taking turns on the head
    /// cost little, while writing them unlinked and linking them afterwards writes every
    /// row twice, which at full load left the linker ever further behind).
    ///
    /// When this instance knows where its last batch left the head, the batch is one
    /// statement conditional on the head still being there (`linked_batch`); otherwise,
    /// or when another writer moved the head, one transaction that locks the head.
    pub(super) async fn write_batch(
        &self,
        tokens: Vec<DownloadTokenRow>,
        events: &[AuditEvent],
    ) -> Result<(), RepoError> {
        if events.is_empty() {
            let mut conn = self.conn().await?;
            return write_transaction(&mut conn, async |conn| insert_tokens(conn, tokens).await)
                .await
                .map_err(query_error);
        }
        // A connection first, then the head: taken the other way round, a turn on the
        // head also waits for a connection from the pool the requests share (measured:
        // 6 200 to 7 300 tokens a second this way, 5 400 to 5 500 the other). A batch
        // waiting for its turn holds its connection meanwhile, as it did while waiting
        // for the head row's lock before.
        let mut conn = self.conn().await?;
        let known = self.known_head();
        let mut head = known.lock().await;
        if let Some(expected) = head.take() {
            let (statement, new_head) = linked_batch::conditional_write(expected, &tokens, events);
            let written = statement.execute(&mut conn).await.map_err(query_error)?;
            if written == events.len() {
                *head = Some(new_head);
                known.written_conditionally();
                return Ok(());
            }
            // Another writer moved the head: nothing was written.
            tracing::debug!(
                events = events.len(),
                "audit chain head moved by another writer; batch written the locking way"
            );
        }
        let new_head = write_transaction(&mut conn, async |conn| {
            insert_tokens(conn, tokens).await?;
            append_linked_audit(conn, events).await
        })
        .await
        .map_err(query_error)?;
        *head = Some(new_head);
        known.written_locking();
        Ok(())
    }
}

/// Inserts `tokens`, many rows per statement.
async fn insert_tokens(
    conn: &mut AsyncPgConnection,
    tokens: Vec<DownloadTokenRow>,
) -> Result<(), diesel::result::Error> {
    let rows: Vec<TokenValues> = tokens.into_iter().map(token_values).collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(token_rows::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Writes ledger rows and adds their successful downloads to the daily summary, in
    /// one transaction.
    pub(super) async fn write_ledger_batch(
        &self,
        records: &[DownloadRecord],
        daily: Vec<DailyRow>,
    ) -> Result<(), RepoError> {
        let columns = LedgerColumns::of(records);
        let marks = product_customers(&daily);
        let mut conn = self.conn().await?;
        // Each summary in key order, one after the other: concurrent batches lock
        // their rows in one order, so they wait for each other but never deadlock.
        write_transaction(&mut conn, async |conn| {
            columns.insert().execute(conn).await?;
            for chunk in daily.chunks(ROWS_PER_STATEMENT) {
                add_to_daily!(chunk).execute(conn).await?;
            }
            let mut first_seen: Vec<(String, i64)> = Vec::new();
            for chunk in marks.chunks(ROWS_PER_STATEMENT) {
                first_seen.extend(
                    mark_product_customers!(chunk)
                        .get_results::<(String, i64)>(conn)
                        .await?,
                );
            }
            for chunk in product_days(&daily, &first_seen).chunks(ROWS_PER_STATEMENT) {
                add_to_product_daily!(chunk).execute(conn).await?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .await
        .map_err(query_error)
    }
}

impl Store {
    /// Runs `work` in one write transaction on a pooled connection: commits when it
    /// succeeds, rolls back otherwise.
    pub(super) async fn write<R, F>(&self, work: F) -> Result<R, RepoError>
    where
        F: AsyncFnOnce(&mut AsyncPgConnection) -> Result<R, TxError>,
    {
        let mut conn = self.conn().await?;
        write_transaction(&mut conn, work)
            .await
            .map_err(RepoError::from)
    }
}

/// The customer `id` as stored, read `FOR UPDATE`: locked until the transaction ends.
pub(super) async fn customer_for_update(
    conn: &mut AsyncPgConnection,
    id: &str,
) -> Result<Option<CustomerRow>, diesel::result::Error> {
    customer_rows::table
        .find(id)
        .select(CustomerRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The release `id` as stored, read `FOR UPDATE`: locked until the transaction ends.
pub(super) async fn release_for_update(
    conn: &mut AsyncPgConnection,
    id: &str,
) -> Result<Option<ReleaseRow>, diesel::result::Error> {
    releases::table
        .find(id)
        .select(ReleaseRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The API key `id` as stored, read `FOR UPDATE`: locked until the transaction ends.
pub(super) async fn api_key_for_update(
    conn: &mut AsyncPgConnection,
    id: &str,
) -> Result<Option<ApiKeyRow>, diesel::result::Error> {
    key_rows::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

repository_modules!();
