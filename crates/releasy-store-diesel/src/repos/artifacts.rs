//! `ArtifactRepository` on diesel.

macro_rules! artifact_repository {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::ArtifactRepository for $store {
            async fn insert(
                &self,
                artifact: &releasy_domain::artifact::Artifact,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::insert_into(crate::schema::artifacts::table)
                    .values(crate::rows::ArtifactRow::from(artifact))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn get_with_release(
                &self,
                id: releasy_domain::ArtifactId,
            ) -> Result<
                Option<(
                    releasy_domain::artifact::Artifact,
                    releasy_domain::release::Release,
                )>,
                releasy_domain::ports::RepoError,
            > {
                use crate::schema::{artifacts, releases};
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let row: Option<(crate::rows::ArtifactRow, crate::rows::ReleaseRow)> =
                    artifacts::table
                        .inner_join(releases::table)
                        .filter(artifacts::id.eq(id.to_string()))
                        .select((
                            crate::rows::ArtifactRow::as_select(),
                            crate::rows::ReleaseRow::as_select(),
                        ))
                        .first(&mut *conn)
                        .await
                        .optional()
                        .map_err(crate::error::query_error)?;
                row.map(|(artifact, release)| Ok((artifact.try_into()?, release.try_into()?)))
                    .transpose()
            }

            async fn list_for_releases(
                &self,
                releases: &[releasy_domain::ReleaseId],
            ) -> Result<Vec<releasy_domain::artifact::Artifact>, releasy_domain::ports::RepoError>
            {
                use crate::schema::artifacts::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                if releases.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = releases.iter().map(ToString::to_string).collect();
                let mut conn = self.conn().await?;
                let rows: Vec<crate::rows::ArtifactRow> = dsl::artifacts
                    .filter(dsl::release_id.eq_any(ids))
                    .select(crate::rows::ArtifactRow::as_select())
                    .order_by((dsl::created_at.asc(), dsl::id.asc()))
                    .load(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}
