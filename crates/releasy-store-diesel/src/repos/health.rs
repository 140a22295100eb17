//! `HealthProbe` on diesel: `SELECT 1`.

macro_rules! health_probe {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::HealthProbe for $store {
            async fn ping(&self) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::sql_query("SELECT 1")
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }
        }
    };
}
