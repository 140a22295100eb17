//! `DownloadTokenRepository` on diesel: tokens are found by their hash (a unique
//! index), joined in the same query to their artifact, release and customer.

macro_rules! download_token_repository {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::DownloadTokenRepository for $store {
            async fn insert(
                &self,
                token: &releasy_domain::download::DownloadToken,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::insert_into(crate::schema::download_tokens::table)
                    .values(crate::rows::DownloadTokenRow::from(token))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn find_grant(
                &self,
                token_hash: &str,
            ) -> Result<
                Option<releasy_domain::download::DownloadGrant>,
                releasy_domain::ports::RepoError,
            > {
                use crate::schema::{artifacts, customers, download_tokens, releases};
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let row: Option<crate::rows::GrantRow> = download_tokens::table
                    .inner_join(artifacts::table.inner_join(releases::table))
                    .inner_join(customers::table.on(customers::id.eq(download_tokens::customer_id)))
                    .filter(download_tokens::token_hash.eq(token_hash))
                    .select((
                        crate::rows::DownloadTokenRow::as_select(),
                        artifacts::object_key,
                        releases::product,
                        releases::status,
                        customers::suspended_at,
                    ))
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err(crate::error::query_error)?;
                row.map(crate::rows::grant).transpose()
            }
        }
    };
}
