//! `DownloadTokenRepository` on diesel: tokens are found by their hash (a unique
//! index), joined in the same query to their artifact, release and customer.
//! `insert_many` writes a batch as one multi-row `INSERT` (`multi_row_insert.rs`).

use diesel::ExpressionMethods;
use diesel::dsl::Eq;
use releasy_domain::download::DownloadToken;

use crate::schema::download_tokens as dt;

/// One token's values, column by column (see `multi_row_insert.rs` for why).
pub(super) type TokenValues = (
    Eq<dt::id, String>,
    Eq<dt::token_hash, String>,
    Eq<dt::artifact_id, String>,
    Eq<dt::customer_id, String>,
    Eq<dt::purpose, Option<String>>,
    Eq<dt::created_at, i64>,
    Eq<dt::expires_at, i64>,
);

pub(super) fn token_values(token: &DownloadToken) -> TokenValues {
    let row = crate::rows::DownloadTokenRow::from(token);
    (
        dt::id.eq(row.id),
        dt::token_hash.eq(row.token_hash),
        dt::artifact_id.eq(row.artifact_id),
        dt::customer_id.eq(row.customer_id),
        dt::purpose.eq(row.purpose),
        dt::created_at.eq(row.created_at),
        dt::expires_at.eq(row.expires_at),
    )
}

multi_row_insert!(
    insert_token_rows,
    crate::schema::download_tokens,
    TokenValues
);

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

            async fn insert_many(
                &self,
                tokens: &[releasy_domain::download::DownloadToken],
            ) -> Result<(), releasy_domain::ports::RepoError> {
                if tokens.is_empty() {
                    return Ok(());
                }
                let rows = tokens
                    .iter()
                    .map(crate::repos::download_tokens::token_values)
                    .collect();
                self.insert_token_rows(rows).await
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

#[cfg(test)]
mod tests {
    use releasy_domain::download::DownloadToken;
    use releasy_domain::{ArtifactId, CustomerId, DownloadTokenId, Timestamp};

    use super::{dt, token_values};

    fn token(purpose: Option<&str>) -> DownloadToken {
        DownloadToken {
            id: DownloadTokenId::generate(),
            token_hash: uuid::Uuid::new_v4().simple().to_string(),
            artifact_id: ArtifactId::generate(),
            customer_id: CustomerId::generate(),
            purpose: purpose.map(str::to_owned),
            created_at: Timestamp::from_unix_seconds(1),
            expires_at: Timestamp::from_unix_seconds(2),
        }
    }

    /// The point of `TokenValues`: on SQLite a batch is one statement, not a
    /// transaction of one `INSERT` per row (which diesel shows as `BEGIN` ... `COMMIT`).
    #[test]
    fn a_batch_is_one_multi_row_insert_on_both_backends() {
        let rows: Vec<_> = [token(Some("mirror")), token(None), token(None)]
            .iter()
            .map(token_values)
            .collect();
        let query = diesel::insert_into(dt::table).values(&rows);
        let sqlite = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        let pg = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
        for sql in [sqlite, pg] {
            assert_eq!(sql.matches("INSERT").count(), 1, "{sql}");
            assert!(!sql.contains("BEGIN"), "{sql}");
            assert_eq!(sql.matches("), (").count(), 2, "three rows: {sql}");
        }
    }
}
