//! `HealthProbe` on diesel: `SELECT 1`.

use async_trait::async_trait;
use diesel_async::RunQueryDsl;
use releasy_domain::ports::{HealthProbe, RepoError};

use super::Store;
use crate::error::query_error;

#[async_trait]
impl HealthProbe for Store {
    async fn ping(&self) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }
}
