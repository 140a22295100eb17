//! The repositories on SQLite: what differs from PostgreSQL is named here, and every
//! repository's query code (`customers.rs` ...) is compiled once more with these names.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::schema::releases;
use crate::sqlite::SqliteConn;

/// The store the repositories below are implemented for.
pub(super) type Store = crate::sqlite::SqliteStore;
/// Its connection.
pub(super) type Conn = SqliteConn;
/// What makes an `ORDER BY` of text compare bytes: SQLite's default (`BINARY`).
pub(super) const BYTE_ORDER: &str = "";
/// Its diesel backend (for boxed queries).
pub(super) type Backend = diesel::sqlite::Sqlite;

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

repository_modules!();
