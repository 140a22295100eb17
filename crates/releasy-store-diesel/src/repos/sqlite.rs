//! The repositories on SQLite: what differs from PostgreSQL is named here, and every
//! repository's query code (`customers.rs` ...) is compiled once more with these names.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::audit::AuditEvent;
use releasy_domain::delivery::DownloadRecord;
use releasy_domain::ports::RepoError;

use super::batch_rows::{
    LEDGER_ROWS_PER_STATEMENT, LedgerValues, ROWS_PER_STATEMENT, TokenValues, add_to_daily,
    add_to_product_daily, ledger_values, mark_product_customers, token_values,
};
use crate::error::{TxError, query_error};
use crate::rows::{
    ApiKeyRow, CustomerRow, DailyRow, DownloadTokenRow, ReleaseRow, product_customers, product_days,
};

use crate::schema::download_ledger as ledger_rows;
use crate::schema::{api_keys as key_rows, releases};
use crate::schema::{customers as customer_rows, download_tokens as token_rows};
use crate::sqlite::SqliteConn;

/// The store the repositories below are implemented for.
pub(super) type Store = crate::sqlite::SqliteStore;
/// Its connection.
pub(super) type Conn = SqliteConn;
/// What makes an `ORDER BY` of text compare bytes: SQLite's default (`BINARY`).
pub(super) const BYTE_ORDER: &str = "";
/// The `n`th (from 1) bind parameter of a hand-written statement.
pub(super) fn placeholder(n: usize) -> String {
    format!("?{n}")
}
/// Whether `append_audit` links the events it writes: yes, under the write lock every
/// write already holds.
pub(super) const WRITES_LINK_THEIR_EVENTS: bool = true;
/// Its diesel backend (for boxed queries).
pub(super) type Backend = diesel::sqlite::Sqlite;

diesel::define_sql_function! {
    /// Lower-cases text for a case-insensitive match, character by character as the
    /// domain's `customer::fold_case` does: SQLite's own `lower` folds ASCII letters
    /// only (`Ö` stays `Ö`). Every connection registers it ([`register_fold_case`]).
    #[sql_name = "releasy_fold_case"]
    fn fold_case(
        x: diesel::sql_types::Nullable<diesel::sql_types::Text>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// An artifact's platform and a bound value (between the two parts of
/// [`ASCII_LOWER_VALUE`]), each with its ASCII letters in lower case, as the domain
/// compares platforms: SQLite's own `lower` folds ASCII letters only.
pub(super) const ASCII_LOWER_PLATFORM: &str = "lower(artifacts.platform)";
/// See [`ASCII_LOWER_PLATFORM`].
pub(super) const ASCII_LOWER_VALUE: (&str, &str) = ("lower(", ")");

/// Registers [`fold_case`] on `conn`.
///
/// # Errors
/// SQLite's, when it refuses the function.
pub(crate) fn register_fold_case(conn: &mut diesel::SqliteConnection) -> QueryResult<()> {
    fold_case_utils::register_impl(conn, |text: Option<String>| {
        text.map(|text| releasy_domain::customer::fold_case(&text))
    })
}

/// Runs `work` in one `BEGIN IMMEDIATE` transaction, which takes the write lock up
/// front rather than upgrading a read lock mid-transaction (an upgrade can fail with
/// `SQLITE_BUSY` at once, without the busy timeout).
pub(super) use crate::sqlite::immediate_transaction as write_transaction;

/// The release `id`: `None` when it does not exist, else whether it is sealed. SQLite
/// has no row locks: the immediate transaction holds the database's write lock until
/// it ends.
pub(super) async fn lock_release(
    conn: &mut SqliteConn,
    id: &str,
) -> Result<Option<super::LockedRelease>, diesel::result::Error> {
    let found: Option<Option<i64>> = releases::table
        .find(id)
        .select(releases::sealed_at)
        .first(conn)
        .await
        .optional()?;
    Ok(found.map(|sealed_at| super::LockedRelease {
        sealed: sealed_at.is_some(),
    }))
}

/// The audit writes on the synchronous API (SQLite's multi-row `INSERT` needs it),
/// kept apart from the async `RunQueryDsl` the rest of this file uses.
mod blocking {
    use diesel::prelude::*;
    use diesel::sqlite::SqliteConnection;
    use releasy_domain::audit::{AuditEvent, ChainLink};

    use crate::repos::batch_rows::{ROWS_PER_STATEMENT, linked_audit_values};
    use crate::schema::{audit_chain, audit_events};

    /// Writes `events` inside the transaction `conn` is in, linked after the chain's
    /// head, and moves the head (many rows per statement, which diesel builds for
    /// SQLite only on its synchronous API). SQLite's write lock already runs writes one
    /// at a time, so linking here waits for nothing and leaves the linker nothing to
    /// do; on PostgreSQL the head row would serialise every commit, and the linker links.
    pub(crate) fn append_audit_blocking(
        conn: &mut SqliteConnection,
        events: &[AuditEvent],
    ) -> Result<(), diesel::result::Error> {
        if events.is_empty() {
            return Ok(());
        }
        let (rows, new_head) = linked_audit_values(chain_head(conn)?, events);
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            diesel::insert_into(audit_events::table)
                .values(chunk)
                .execute(conn)?;
        }
        set_chain_head(conn, new_head)
    }

    /// The chain's head (the immediate transaction holds the database's write lock).
    pub(super) fn chain_head(
        conn: &mut SqliteConnection,
    ) -> Result<ChainLink, diesel::result::Error> {
        let (position, hash): (i64, String) = audit_chain::table
            .find(1)
            .select((audit_chain::head_position, audit_chain::head_hash))
            .first(conn)?;
        crate::repos::audit_chain::head_link(position, &hash)
    }

    /// Moves the chain's head to `head`.
    pub(super) fn set_chain_head(
        conn: &mut SqliteConnection,
        head: ChainLink,
    ) -> Result<(), diesel::result::Error> {
        diesel::update(audit_chain::table.find(1))
            .set((
                audit_chain::head_position.eq(crate::rows::position_column(head.position)),
                audit_chain::head_hash.eq(head.hash.to_string()),
            ))
            .execute(conn)
            .map(|_| ())
    }

    /// Stores each event's link (one prepared statement, run per event in process).
    pub(super) fn set_links_blocking(
        conn: &mut SqliteConnection,
        links: &[(String, ChainLink)],
    ) -> Result<usize, diesel::result::Error> {
        let mut updated = 0;
        for (id, link) in links {
            updated += diesel::update(audit_events::table.find(id))
                .set((
                    audit_events::chain_position.eq(crate::rows::position_column(link.position)),
                    audit_events::chain_hash.eq(link.hash.to_string()),
                ))
                .execute(conn)?;
        }
        Ok(updated)
    }
}

pub(crate) use blocking::append_audit_blocking;

/// [`append_audit_blocking`] from async code, inside the caller's transaction.
pub(super) async fn append_audit(
    conn: &mut SqliteConn,
    events: &[AuditEvent],
) -> Result<(), diesel::result::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let events = events.to_vec();
    conn.spawn_blocking(move |conn| append_audit_blocking(conn, &events))
        .await
}

/// Stores each event's link inside the caller's transaction, in one hop to the
/// blocking pool.
pub(super) async fn set_links(
    conn: &mut SqliteConn,
    links: &[(String, releasy_domain::audit::ChainLink)],
) -> Result<usize, diesel::result::Error> {
    let links = links.to_vec();
    conn.spawn_blocking(move |conn| blocking::set_links_blocking(conn, &links))
        .await
}

/// The chain's head, through the synchronous API the chain's writes use.
pub(super) async fn chain_head(
    conn: &mut SqliteConn,
) -> Result<releasy_domain::audit::ChainLink, diesel::result::Error> {
    conn.spawn_blocking(blocking::chain_head).await
}

/// Retention cuts take turns already: the immediate transaction holds the database's
/// write lock.
pub(super) async fn take_prune_turn(_conn: &mut SqliteConn) -> Result<(), diesel::result::Error> {
    Ok(())
}

/// Moves the chain's head to `head`.
pub(super) async fn set_chain_head(
    conn: &mut SqliteConn,
    head: releasy_domain::audit::ChainLink,
) -> Result<(), diesel::result::Error> {
    conn.spawn_blocking(move |conn| blocking::set_chain_head(conn, head))
        .await
}

impl Store {
    /// Writes `tokens` and `events` in one transaction on the batch writers' own
    /// connection: many rows per statement, one commit.
    pub(super) async fn write_batch(
        &self,
        tokens: Vec<DownloadTokenRow>,
        events: &[AuditEvent],
    ) -> Result<(), RepoError> {
        let tokens: Vec<TokenValues> = tokens.into_iter().map(token_values).collect();
        let events = events.to_vec();
        let mut conn = self.batch_writer_conn().await?;
        conn.spawn_blocking(move |conn| {
            conn.immediate_transaction(|conn| {
                for chunk in tokens.chunks(ROWS_PER_STATEMENT) {
                    diesel::RunQueryDsl::execute(
                        diesel::insert_into(token_rows::table).values(chunk),
                        conn,
                    )?;
                }
                append_audit_blocking(conn, &events)
            })
        })
        .await
        .map_err(query_error)
    }
}

impl Store {
    /// Writes ledger rows and adds their successful downloads to the daily summary, in
    /// one transaction on the batch writers' own connection.
    pub(super) async fn write_ledger_batch(
        &self,
        records: &[DownloadRecord],
        daily: Vec<DailyRow>,
    ) -> Result<(), RepoError> {
        let rows: Vec<LedgerValues> = ledger_values(records);
        let marks = product_customers(&daily);
        let mut conn = self.batch_writer_conn().await?;
        conn.spawn_blocking(move |conn| {
            conn.immediate_transaction(|conn| {
                for chunk in rows.chunks(LEDGER_ROWS_PER_STATEMENT) {
                    diesel::RunQueryDsl::execute(
                        diesel::insert_into(ledger_rows::table).values(chunk),
                        conn,
                    )?;
                }
                for chunk in daily.chunks(ROWS_PER_STATEMENT) {
                    diesel::RunQueryDsl::execute(add_to_daily!(chunk), conn)?;
                }
                let mut first_seen: Vec<(String, i64)> = Vec::new();
                for chunk in marks.chunks(ROWS_PER_STATEMENT) {
                    first_seen.extend(diesel::RunQueryDsl::get_results::<(String, i64)>(
                        mark_product_customers!(chunk),
                        conn,
                    )?);
                }
                for chunk in product_days(&daily, &first_seen).chunks(ROWS_PER_STATEMENT) {
                    diesel::RunQueryDsl::execute(add_to_product_daily!(chunk), conn)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
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
        F: AsyncFnOnce(&mut SqliteConn) -> Result<R, TxError>,
    {
        let mut conn = self.conn().await?;
        write_transaction(&mut conn, work)
            .await
            .map_err(RepoError::from)
    }
}

/// The customer `id` as stored (the immediate transaction holds the database's write lock).
pub(super) async fn customer_for_update(
    conn: &mut SqliteConn,
    id: &str,
) -> Result<Option<CustomerRow>, diesel::result::Error> {
    customer_rows::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The release `id` as stored (the immediate transaction holds the database's write lock).
pub(super) async fn release_for_update(
    conn: &mut SqliteConn,
    id: &str,
) -> Result<Option<ReleaseRow>, diesel::result::Error> {
    releases::table
        .find(id)
        .select(ReleaseRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The API key `id` as stored (the immediate transaction holds the database's write lock).
pub(super) async fn api_key_for_update(
    conn: &mut SqliteConn,
    id: &str,
) -> Result<Option<ApiKeyRow>, diesel::result::Error> {
    key_rows::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)
        .await
        .optional()
}

repository_modules!();
