//! The repositories on PostgreSQL: what differs from SQLite is named here, and every
//! repository's query code (`customers.rs` ...) is compiled once more with these names.

use diesel::prelude::*;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};

use crate::schema::releases;

/// The store the repositories below are implemented for.
pub(super) type Store = crate::postgres::PgStore;
/// Its connection.
pub(super) type Conn = AsyncPgConnection;
/// What makes an `ORDER BY` of text compare bytes, as SQLite and the domain do.
pub(super) const BYTE_ORDER: &str = "COLLATE \"C\"";
/// Its diesel backend (for boxed queries).
pub(super) type Backend = diesel::pg::Pg;

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

repository_modules!();
