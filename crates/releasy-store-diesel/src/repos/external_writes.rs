//! The external-writes counter: a process that writes to the database beside a serving
//! one (`releasy-server verify-artifacts`) bumps it, and the serving process, polling
//! it, drops its read cache. On SQLite this is the only way such writes are reported;
//! on PostgreSQL the change feed reports them as well.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::ports::RepoError;

use super::Store;
use crate::error::query_error;
use crate::schema::external_writes;

impl Store {
    /// The counter's current value.
    ///
    /// # Errors
    /// [`RepoError`] when the database cannot be read.
    pub async fn external_writes_epoch(&self) -> Result<i64, RepoError> {
        let mut conn = self.conn().await?;
        external_writes::table
            .select(external_writes::epoch)
            .first(&mut *conn)
            .await
            .map_err(query_error)
    }

    /// Bumps the counter: call it after writing from outside the serving process.
    ///
    /// # Errors
    /// [`RepoError`] when the database cannot be written.
    pub async fn note_external_write(&self) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::update(external_writes::table)
            .set(external_writes::epoch.eq(external_writes::epoch + 1))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }
}
