//! `ArtifactRepository` on diesel: artifacts, and the records of their unregistered
//! uploads (`artifact_uploads`).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::artifact::{Artifact, PendingUpload, Verification};
use releasy_domain::audit::AuditEvent;
use releasy_domain::ports::{ArtifactRepository, ObjectMeta, RepoError};
use releasy_domain::release::Release;
use releasy_domain::{ArtifactId, ReleaseId, Timestamp};

use super::{Conn, Store, append_audit, lock_release, write_transaction};
use crate::error::query_error;
use crate::rows::{ArtifactRow, ArtifactUploadRow, ReleaseRow};
use crate::schema::artifacts::dsl;
use crate::schema::{artifact_uploads, artifacts, releases};

/// Why an artifact insert wrote nothing.
#[derive(Debug)]
enum InsertRefused {
    /// Its release is gone or sealed.
    ReleaseClosed,
    /// The database refused.
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for InsertRefused {
    fn from(err: diesel::result::Error) -> Self {
        Self::Query(err)
    }
}

impl InsertRefused {
    fn into_repo_error(self) -> RepoError {
        match self {
            Self::ReleaseClosed => RepoError::MissingReference,
            Self::Query(err) => query_error(err),
        }
    }
}

/// Whether the release takes artifacts (it exists and is not sealed), its row locked
/// until the transaction ends: a publication sealing it waits for this insert, or
/// committed before and is seen here.
async fn open_for_artifacts(
    conn: &mut Conn,
    release_id: &str,
) -> Result<bool, diesel::result::Error> {
    Ok(lock_release(conn, release_id)
        .await?
        .is_some_and(|locked| !locked.sealed))
}

#[async_trait]
impl ArtifactRepository for Store {
    async fn insert(&self, artifact: &Artifact, event: &AuditEvent) -> Result<(), RepoError> {
        let release_id = artifact.release_id.to_string();
        let row = ArtifactRow::from(artifact);
        let mut conn = self.conn().await?;
        write_transaction(&mut conn, async |conn| {
            if !open_for_artifacts(conn, &release_id).await? {
                return Err(InsertRefused::ReleaseClosed);
            }
            diesel::insert_into(dsl::artifacts)
                .values(row)
                .execute(conn)
                .await?;
            append_audit(conn, std::slice::from_ref(event)).await?;
            Ok(())
        })
        .await
        .map_err(InsertRefused::into_repo_error)
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

    async fn insert_upload(&self, upload: &PendingUpload) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(artifact_uploads::table)
            .values(ArtifactUploadRow::from(upload))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn get_upload(&self, id: ArtifactId) -> Result<Option<PendingUpload>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<ArtifactUploadRow> = artifact_uploads::table
            .find(id.to_string())
            .select(ArtifactUploadRow::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn delete_upload(&self, id: ArtifactId) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let deleted = diesel::delete(artifact_uploads::table.find(id.to_string()))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(deleted > 0)
    }

    async fn end_upload(
        &self,
        id: ArtifactId,
        at: Timestamp,
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError> {
        self.write(async |conn| {
            let ended = diesel::update(
                artifact_uploads::table
                    .find(id.to_string())
                    .filter(artifact_uploads::ended_at.is_null()),
            )
            .set(artifact_uploads::ended_at.eq(at.unix_seconds()))
            .execute(conn)
            .await?;
            if ended > 0
                && let Some(event) = event
            {
                append_audit(conn, std::slice::from_ref(event)).await?;
            }
            Ok(ended > 0)
        })
        .await
    }

    async fn uploads_created_before(
        &self,
        cutoff: Timestamp,
        after: Option<(Timestamp, ArtifactId)>,
        limit: u32,
    ) -> Result<Vec<PendingUpload>, RepoError> {
        let mut conn = self.conn().await?;
        let mut query = artifact_uploads::table
            .filter(artifact_uploads::created_at.lt(cutoff.unix_seconds()))
            .into_boxed();
        if let Some((at, id)) = after {
            let at = at.unix_seconds();
            // Both filters are needed: the second alone admits older rows with a greater
            // id; the first also lets the index on `created_at` start at the cursor.
            query = query.filter(artifact_uploads::created_at.ge(at)).filter(
                artifact_uploads::created_at
                    .gt(at)
                    .or(artifact_uploads::artifact_id.gt(id.to_string())),
            );
        }
        let rows: Vec<ArtifactUploadRow> = query
            .order_by((
                artifact_uploads::created_at.asc(),
                artifact_uploads::artifact_id.asc(),
            ))
            .limit(i64::from(limit))
            .select(ArtifactUploadRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn insert_completing_upload(
        &self,
        artifact: &Artifact,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let id = artifact.id.to_string();
        let release_id = artifact.release_id.to_string();
        let row = ArtifactRow::from(artifact);
        let mut conn = self.conn().await?;
        write_transaction(&mut conn, async |conn| {
            if !open_for_artifacts(conn, &release_id).await? {
                return Err(InsertRefused::ReleaseClosed);
            }
            // Whoever removes or ends the record owns the upload: a sweeper or an abort
            // that came first has its bytes, and nothing is registered.
            let claimed = diesel::delete(
                artifact_uploads::table
                    .find(&id)
                    .filter(artifact_uploads::ended_at.is_null()),
            )
            .execute(conn)
            .await?;
            if claimed == 0 {
                return Ok(false);
            }
            diesel::insert_into(dsl::artifacts)
                .values(row)
                .execute(conn)
                .await?;
            append_audit(conn, std::slice::from_ref(event)).await?;
            Ok(true)
        })
        .await
        .map_err(InsertRefused::into_repo_error)
    }

    async fn list_by_verification(
        &self,
        verification: Verification,
        after: Option<ArtifactId>,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        let mut conn = self.conn().await?;
        let mut query = dsl::artifacts
            .filter(dsl::verification.eq(verification.as_str()))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(dsl::id.gt(after.to_string()));
        }
        let rows: Vec<ArtifactRow> = query
            .order_by(dsl::id.asc())
            .limit(i64::from(limit))
            .select(ArtifactRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn unclaimed_pending(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Artifact>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ArtifactRow> = dsl::artifacts
            .filter(dsl::verification.eq(Verification::Pending.as_str()))
            .filter(unclaimed_at(now))
            .order_by((dsl::created_at.asc(), dsl::id.asc()))
            .limit(i64::from(limit))
            .select(ArtifactRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn claim_verification(
        &self,
        id: ArtifactId,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        // One conditional UPDATE: of racing claimants, the first to write makes the
        // condition false for the others.
        let claimed = diesel::update(
            dsl::artifacts
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::verification.eq(Verification::Pending.as_str()))
                .filter(unclaimed_at(now)),
        )
        .set(dsl::verification_claimed_until.eq(Some(until.unix_seconds())))
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(claimed == 1)
    }

    async fn shorten_verification_claim(
        &self,
        id: ArtifactId,
        held_until: Timestamp,
        retry_at: Timestamp,
    ) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let shortened = diesel::update(
            dsl::artifacts
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::verification.eq(Verification::Pending.as_str()))
                .filter(dsl::verification_claimed_until.eq(held_until.unix_seconds())),
        )
        .set(dsl::verification_claimed_until.eq(Some(retry_at.unix_seconds())))
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(shortened == 1)
    }

    async fn set_verification(
        &self,
        id: ArtifactId,
        from: Verification,
        to: Verification,
        object: Option<&ObjectMeta>,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        self.write(async |conn| {
            let artifact = dsl::artifacts
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::verification.eq(from.as_str()));
            let verdict = (
                dsl::verification.eq(to.as_str()),
                dsl::verification_claimed_until.eq(None::<i64>),
            );
            let updated = match object {
                Some(object) => {
                    diesel::update(artifact)
                        .set((
                            verdict,
                            dsl::object_etag.eq(object.etag.as_deref()),
                            dsl::object_version.eq(object.version_id.as_deref()),
                        ))
                        .execute(conn)
                        .await?
                }
                None => diesel::update(artifact).set(verdict).execute(conn).await?,
            };
            if updated == 1 {
                append_audit(conn, std::slice::from_ref(event)).await?;
            }
            Ok(updated == 1)
        })
        .await
    }
}

/// No verifier holds the artifact at `now`: never claimed, or the claim lapsed.
fn unclaimed_at(
    now: Timestamp,
) -> diesel::dsl::Or<
    diesel::dsl::IsNull<dsl::verification_claimed_until>,
    diesel::dsl::LtEq<dsl::verification_claimed_until, i64>,
> {
    dsl::verification_claimed_until
        .is_null()
        .or(dsl::verification_claimed_until.le(now.unix_seconds()))
}
