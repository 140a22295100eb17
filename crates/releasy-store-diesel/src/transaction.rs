//! The end of a transaction, shared by both backends: each begins its own way
//! (PostgreSQL `BEGIN`, SQLite `BEGIN IMMEDIATE`), then hands over here.

use diesel_async::{AsyncConnection, TransactionManager};

/// Runs `work` inside the transaction just begun on `conn`: commits when it succeeds,
/// rolls back otherwise, through the connection's own transaction manager.
pub(crate) async fn commit_or_roll_back<C, R, E, F>(conn: &mut C, work: F) -> Result<R, E>
where
    C: AsyncConnection,
    F: AsyncFnOnce(&mut C) -> Result<R, E>,
    E: From<diesel::result::Error>,
{
    match work(&mut *conn).await {
        Ok(value) => {
            C::TransactionManager::commit_transaction(conn).await?;
            Ok(value)
        }
        Err(err) => {
            C::TransactionManager::rollback_transaction(conn).await?;
            Err(err)
        }
    }
}
