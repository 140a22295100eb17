//! `ReleaseRepository` on diesel. Status changes are one compare-and-set `UPDATE`;
//! deleting a release is one transaction that takes its artifacts and their download
//! tokens with it.
//!
//! The delete's transaction is opened by `$begin`:
//!
//! * PostgreSQL: `AsyncConnection::transaction`, and the release row is read
//!   `FOR UPDATE` (`$lock`), so an artifact registered concurrently either commits
//!   first (and is deleted and reported) or waits and then fails its foreign key.
//! * SQLite: `SyncConnectionWrapper::immediate_transaction`, whose `BEGIN IMMEDIATE`
//!   takes the write lock up front rather than upgrading a read lock mid-transaction
//!   (an upgrade can fail with `SQLITE_BUSY` at once, without the busy timeout); writers
//!   are serialised as a whole, so no row lock is needed.

macro_rules! release_repository {
    ($store:ty, $backend:ty, $begin:path $(, $lock:ident)?) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::ReleaseRepository for $store {
            async fn insert(
                &self,
                release: &releasy_domain::release::Release,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::insert_into(crate::schema::releases::table)
                    .values(crate::rows::ReleaseRow::from(release))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn get(
                &self,
                id: releasy_domain::ReleaseId,
            ) -> Result<Option<releasy_domain::release::Release>, releasy_domain::ports::RepoError>
            {
                use crate::schema::releases::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let row: Option<crate::rows::ReleaseRow> = dsl::releases
                    .find(id.to_string())
                    .select(crate::rows::ReleaseRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err(crate::error::query_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list(
                &self,
                filter: &releasy_domain::release::ReleaseFilter,
                page: releasy_domain::pagination::PageRequest,
            ) -> Result<Vec<releasy_domain::release::Release>, releasy_domain::ports::RepoError>
            {
                use crate::schema::releases::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                // No product is allowed: nothing to ask the database.
                if filter.products_in.as_ref().is_some_and(Vec::is_empty) {
                    return Ok(Vec::new());
                }
                let mut query = dsl::releases
                    .select(crate::rows::ReleaseRow::as_select())
                    .order_by((dsl::created_at.desc(), dsl::id.desc()))
                    .into_boxed::<$backend>();
                if let Some(product) = &filter.product {
                    query = query.filter(dsl::product.eq(product.clone()));
                }
                if let Some(version) = &filter.version {
                    query = query.filter(dsl::version.eq(version.clone()));
                }
                if let Some(status) = filter.status {
                    query = query.filter(dsl::status.eq(status.as_str()));
                }
                if let Some(products) = &filter.products_in {
                    query = query.filter(dsl::product.eq_any(products.clone()));
                }
                let mut conn = self.conn().await?;
                let rows: Vec<crate::rows::ReleaseRow> = query
                    .offset(page.offset.get() as i64)
                    .limit(i64::from(page.limit.get()))
                    .load(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn transition(
                &self,
                id: releasy_domain::ReleaseId,
                expected: releasy_domain::release::ReleaseStatus,
                status: releasy_domain::release::ReleaseStatus,
                published_at: Option<releasy_domain::Timestamp>,
            ) -> Result<Option<releasy_domain::release::Release>, releasy_domain::ports::RepoError>
            {
                use crate::schema::releases::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                // The status in the WHERE clause makes this a compare-and-set: of
                // concurrent transitions from one status, one matches the row.
                let row: Option<crate::rows::ReleaseRow> = diesel::update(
                    dsl::releases
                        .filter(dsl::id.eq(id.to_string()))
                        .filter(dsl::status.eq(expected.as_str())),
                )
                .set((
                    dsl::status.eq(status.as_str()),
                    dsl::published_at.eq(published_at.map(releasy_domain::Timestamp::unix_seconds)),
                ))
                .returning(crate::rows::ReleaseRow::as_returning())
                .get_result(&mut *conn)
                .await
                .optional()
                .map_err(crate::error::query_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn delete(
                &self,
                id: releasy_domain::ReleaseId,
            ) -> Result<
                Option<Vec<releasy_domain::artifact::ObjectKey>>,
                releasy_domain::ports::RepoError,
            > {
                use crate::schema::{artifacts, download_tokens, releases};
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let id = id.to_string();
                let mut conn = self.conn().await?;
                let keys: Option<Vec<String>> = $begin(&mut *conn, async |conn| {
                    let found: Option<String> = releases::table
                        .find(&id)
                        .select(releases::id)
                        $(.$lock())?
                        .first(conn)
                        .await
                        .optional()?;
                    if found.is_none() {
                        return Ok(None);
                    }
                    let of_release = artifacts::table
                        .filter(artifacts::release_id.eq(&id))
                        .select(artifacts::id);
                    diesel::delete(
                        download_tokens::table
                            .filter(download_tokens::artifact_id.eq_any(of_release)),
                    )
                    .execute(conn)
                    .await?;
                    let keys: Vec<String> = diesel::delete(
                        artifacts::table.filter(artifacts::release_id.eq(&id)),
                    )
                    .returning(artifacts::object_key)
                    .get_results(conn)
                    .await?;
                    diesel::delete(releases::table.find(&id))
                        .execute(conn)
                        .await?;
                    Ok::<_, diesel::result::Error>(Some(keys))
                })
                .await
                .map_err(crate::error::query_error)?;
                Ok(keys.map(|keys| {
                    keys.into_iter()
                        .map(releasy_domain::artifact::ObjectKey::from_stored)
                        .collect()
                }))
            }
        }
    };
}
