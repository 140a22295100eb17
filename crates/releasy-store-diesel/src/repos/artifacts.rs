//! `ArtifactRepository` on diesel.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::artifact::Artifact;
use releasy_domain::ports::{ArtifactRepository, RepoError};
use releasy_domain::release::Release;
use releasy_domain::{ArtifactId, ReleaseId};

use super::Store;
use crate::error::query_error;
use crate::rows::{ArtifactRow, ReleaseRow};
use crate::schema::artifacts::dsl;
use crate::schema::{artifacts, releases};

#[async_trait]
impl ArtifactRepository for Store {
    async fn insert(&self, artifact: &Artifact) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(dsl::artifacts)
            .values(ArtifactRow::from(artifact))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn get_with_release(
        &self,
        id: ArtifactId,
    ) -> Result<Option<(Artifact, Release)>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<(ArtifactRow, ReleaseRow)> = artifacts::table
            .inner_join(releases::table)
            .filter(artifacts::id.eq(id.to_string()))
            .select((ArtifactRow::as_select(), ReleaseRow::as_select()))
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(|(artifact, release)| Ok((artifact.try_into()?, release.try_into()?)))
            .transpose()
    }

    async fn list_for_releases(&self, releases: &[ReleaseId]) -> Result<Vec<Artifact>, RepoError> {
        if releases.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = releases.iter().map(ToString::to_string).collect();
        let mut conn = self.conn().await?;
        let rows: Vec<ArtifactRow> = dsl::artifacts
            .filter(dsl::release_id.eq_any(ids))
            .select(ArtifactRow::as_select())
            .order_by((dsl::created_at.asc(), dsl::id.asc()))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
