//! The upkeep a database's writes leave for later, done before a measurement instead of
//! during it.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use releasy_store_diesel::DatabaseUrl;

/// Why a database could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error("connecting to settle the database failed")]
    Connect(#[from] diesel::ConnectionError),
    #[error("settling the database failed")]
    Query(#[from] diesel::result::Error),
    #[error("the task settling the database failed: {0}")]
    Task(String),
}

/// Does now, while nothing is measured, the upkeep that the writes so far left for
/// later: on PostgreSQL a `VACUUM (ANALYZE)` and a `CHECKPOINT` (else the checkpoint
/// that a few hundred thousand new rows' log makes due, and autovacuum where it runs,
/// fall in the middle of whichever measurement comes next); on SQLite a passive WAL
/// checkpoint (a server may have the file open).
///
/// # Errors
/// [`SettleError`] when the database cannot be reached or vacuumed.
pub async fn settle(url: &DatabaseUrl) -> Result<(), SettleError> {
    match url {
        DatabaseUrl::Postgres(url) => {
            let mut conn = AsyncPgConnection::establish(url).await?;
            Ok(settle_postgres(&mut conn).await?)
        }
        DatabaseUrl::SqliteFile(path) | DatabaseUrl::SqliteExistingFile(path) => {
            let path = path.to_string_lossy().into_owned();
            tokio::task::spawn_blocking(move || -> Result<(), SettleError> {
                let mut conn = SqliteConnection::establish(&path)?;
                conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);")?;
                Ok(())
            })
            .await
            .map_err(|e| SettleError::Task(e.to_string()))?
        }
        DatabaseUrl::SqliteMemory => Ok(()),
    }
}

/// PostgreSQL's part of [`settle`], on `conn`.
pub async fn settle_postgres(conn: &mut AsyncPgConnection) -> Result<(), diesel::result::Error> {
    // Separate statements: VACUUM refuses to run inside a multi-statement string.
    conn.batch_execute("VACUUM (ANALYZE)").await?;
    // CHECKPOINT needs a superuser or `pg_checkpoint`; without either the dirty pages
    // are simply written later, as they would be anyway.
    let _ = conn.batch_execute("CHECKPOINT").await;
    Ok(())
}
