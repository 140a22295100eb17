//! `ReleaseRepository` on diesel. Status changes are one compare-and-set `UPDATE`;
//! deleting a release is one transaction that takes its artifacts and their download
//! tokens with it.
//!
//! The delete runs in one write transaction and starts with the backend's
//! `release_for_update` (see `postgres.rs` and `sqlite.rs`): on PostgreSQL the release
//! row is read `FOR UPDATE`, so an artifact registered concurrently either commits first (and
//! is deleted and reported) or waits and then fails its foreign key; SQLite's
//! `BEGIN IMMEDIATE` holds the write lock for the whole transaction. A sealed release
//! is neither deleted nor edited, and takes no artifact (`artifacts.rs`).

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::artifact::{ObjectKey, Verification};
use releasy_domain::audit::AuditEvent;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ChangeEvent, ChangeEvents, ReleaseRepository, RepoError};
use releasy_domain::release::{
    Channel, Release, ReleaseChanges, ReleaseFilter, ReleaseOrder, ReleaseStatus, SealBasis,
    SealOutcome, Version, Yank,
};
use releasy_domain::{ReleaseId, Timestamp};

use super::{
    ASCII_LOWER_PLATFORM, ASCII_LOWER_VALUE, Backend, Store, append_audit, release_for_update,
    write_transaction,
};
use crate::error::{TxError, query_error};
use crate::repos::coalesce;
use crate::rows::{DraftChanges, ReleaseRow, YankColumns, artifact_verification};
use crate::schema::releases::dsl;
use crate::schema::{artifacts, download_tokens, releases};

#[async_trait]
impl ReleaseRepository for Store {
    async fn insert(&self, release: &Release, event: &AuditEvent) -> Result<(), RepoError> {
        self.write(async |conn| {
            diesel::insert_into(dsl::releases)
                .values(ReleaseRow::from(release))
                .execute(conn)
                .await?;
            Ok(append_audit(conn, std::slice::from_ref(event)).await?)
        })
        .await
    }

    async fn get(&self, id: ReleaseId) -> Result<Option<Release>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<ReleaseRow> = dsl::releases
            .find(id.to_string())
            .select(ReleaseRow::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list(
        &self,
        filter: &ReleaseFilter,
        page: PageRequest,
    ) -> Result<Vec<Release>, RepoError> {
        // No product or no channel is allowed: nothing to ask the database.
        if filter.products_in.as_ref().is_some_and(Vec::is_empty)
            || filter.channels_in.as_ref().is_some_and(Vec::is_empty)
        {
            return Ok(Vec::new());
        }
        let mut query = dsl::releases
            .select(ReleaseRow::as_select())
            .into_boxed::<Backend>();
        query = match filter.order {
            ReleaseOrder::Newest => query.order_by((dsl::created_at.desc(), dsl::id.desc())),
            ReleaseOrder::Version => query.order_by((
                dsl::version_order.desc(),
                dsl::created_at.desc(),
                dsl::id.desc(),
            )),
        };
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
        if let Some(channels) = &filter.channels_in {
            let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
            query = query.filter(dsl::channel.eq_any(names));
        }
        if filter.exclude_yanked {
            query = query.filter(dsl::yanked_at.is_null());
        }
        match &filter.order_key_min {
            Some(min) if min.inclusive => {
                query = query.filter(dsl::version_order.ge(min.key.clone()))
            }
            Some(min) => query = query.filter(dsl::version_order.gt(min.key.clone())),
            None => {}
        }
        match &filter.order_key_max {
            Some(max) if max.inclusive => {
                query = query.filter(dsl::version_order.le(max.key.clone()))
            }
            Some(max) => query = query.filter(dsl::version_order.lt(max.key.clone())),
            None => {}
        }
        if let Some(platform) = &filter.downloadable_on {
            // Written out: the platform's comparison is the backend's own SQL. The
            // verification names are the domain's constants, never input.
            let downloadable: Vec<String> = Verification::DOWNLOADABLE
                .iter()
                .map(|v| format!("'{}'", v.as_str()))
                .collect();
            let (open, close) = ASCII_LOWER_VALUE;
            let exists = diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                "EXISTS (SELECT 1 FROM artifacts WHERE artifacts.release_id = releases.id \
                 AND artifacts.verification IN ({}) AND {ASCII_LOWER_PLATFORM} = {open}",
                downloadable.join(", ")
            ))
            .bind::<diesel::sql_types::Text, _>(platform.clone())
            .sql(&format!("{close})"));
            query = query.filter(exists);
        }
        if let Some(after) = &filter.after {
            let (key, created_at, id) = (
                after.order_key.clone(),
                after.created_at.unix_seconds(),
                after.id.to_string(),
            );
            query = match filter.order {
                // Below it in (created_at, id).
                ReleaseOrder::Newest => query.filter(
                    dsl::created_at.le(created_at).and(
                        dsl::created_at
                            .lt(created_at)
                            .or(dsl::created_at.eq(created_at).and(dsl::id.lt(id))),
                    ),
                ),
                // Below it in (version_order, created_at, id).
                ReleaseOrder::Version => query.filter(
                    dsl::version_order.le(key.clone()).and(
                        dsl::version_order
                            .lt(key.clone())
                            .or(dsl::version_order.eq(key).and(
                                dsl::created_at
                                    .lt(created_at)
                                    .or(dsl::created_at.eq(created_at).and(dsl::id.lt(id))),
                            )),
                    ),
                ),
            };
        }
        let mut conn = self.conn().await?;
        let rows: Vec<ReleaseRow> = query
            .offset(page.offset.get() as i64)
            .limit(i64::from(page.limit.get()))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn transition(
        &self,
        id: ReleaseId,
        expected: ReleaseStatus,
        status: ReleaseStatus,
        published_at: Option<Timestamp>,
        event: &AuditEvent,
    ) -> Result<Option<Release>, RepoError> {
        // The status in the WHERE clause makes this a compare-and-set: of
        // concurrent transitions from one status, one matches the row.
        let update = diesel::update(
            dsl::releases
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::status.eq(expected.as_str())),
        )
        .set((
            dsl::status.eq(status.as_str()),
            dsl::published_at.eq(published_at.map(Timestamp::unix_seconds)),
            // The first publication stays: unpublishing does not clear it. A row
            // published without it (by an older server during an upgrade) takes its
            // current publication (the right side reads the row before the update).
            dsl::first_published_at.eq(coalesce(
                dsl::first_published_at,
                coalesce(dsl::published_at, published_at.map(Timestamp::unix_seconds)),
            )),
        ));
        self.write(async |conn| {
            let row: Option<ReleaseRow> = update
                .returning(ReleaseRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            recorded(conn, row, event).await
        })
        .await
    }

    async fn publish_sealed(
        &self,
        id: ReleaseId,
        published_at: Timestamp,
        sealed_at: Timestamp,
        basis: &SealBasis,
        event: &AuditEvent,
    ) -> Result<SealOutcome, RepoError> {
        let id = id.to_string();
        // Compare-and-set on the status, like `transition`, under the release's lock,
        // which an artifact insert takes first (`lock_release`): the artifacts read
        // here are final until this commits; one registered after is refused.
        let update = diesel::update(
            dsl::releases
                .filter(dsl::id.eq(&id))
                .filter(dsl::status.eq(ReleaseStatus::Draft.as_str())),
        )
        .set((
            dsl::status.eq(ReleaseStatus::Published.as_str()),
            dsl::published_at.eq(published_at.unix_seconds()),
            dsl::first_published_at.eq(coalesce(
                dsl::first_published_at,
                coalesce(dsl::published_at, Some(published_at.unix_seconds())),
            )),
            // A seal is never moved, even by a publication judged on an older read.
            dsl::sealed_at.eq(coalesce(dsl::sealed_at, Some(sealed_at.unix_seconds()))),
        ));
        self.write(async |conn| {
            if release_for_update(conn, &id).await?.is_none() {
                return Ok(SealOutcome::NotADraft);
            }
            let stored: Vec<(String, String)> = artifacts::table
                .filter(artifacts::release_id.eq(&id))
                .select((artifacts::id, artifacts::verification))
                .load(conn)
                .await?;
            let stored = SealBasis::from_stored(
                stored
                    .iter()
                    .map(|(id, verification)| artifact_verification(id, verification))
                    .collect::<Result<Vec<_>, _>>()?,
            );
            if stored != *basis {
                return Ok(SealOutcome::ArtifactsChanged(stored));
            }
            let row: Option<ReleaseRow> = update
                .returning(ReleaseRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            Ok(match recorded(conn, row, event).await? {
                Some(published) => SealOutcome::Sealed(published),
                None => SealOutcome::NotADraft,
            })
        })
        .await
    }

    async fn update_draft(
        &self,
        id: ReleaseId,
        changes: &ReleaseChanges,
        events: ChangeEvents<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        if changes.is_empty() {
            // Nothing to write; still only a draft answers.
            return Ok(self
                .get(id)
                .await?
                .filter(|r| r.status == ReleaseStatus::Draft && !r.is_sealed()));
        }
        let id = id.to_string();
        self.write(async |conn| {
            // Read under the row's lock, so `before` is what this change replaces.
            let Some(before) = release_for_update(conn, &id).await? else {
                return Ok(None);
            };
            // The status in the WHERE clause makes this a compare-and-set, like
            // `transition`: a release published meanwhile is not edited.
            let row: Option<ReleaseRow> = diesel::update(
                dsl::releases
                    .filter(dsl::id.eq(&id))
                    .filter(dsl::status.eq(ReleaseStatus::Draft.as_str()))
                    .filter(dsl::sealed_at.is_null()),
            )
            .set(DraftChanges::from(changes))
            .returning(ReleaseRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(after) = row else {
                return Ok(None);
            };
            // A row an older server stored has no order key yet, and the fill-in that
            // gives it one sets the channel its version implies: a channel set here
            // first would be overwritten. Its key is given here instead.
            if changes.channel.is_some() && after.version_order.is_empty() {
                diesel::update(dsl::releases.filter(dsl::id.eq(&id)))
                    .set(dsl::version_order.eq(Version::read_stored(&after.version).order_key()))
                    .execute(conn)
                    .await?;
            }
            let (before, after): (Release, Release) = (before.try_into()?, after.try_into()?);
            append_audit(conn, &events(&before, &after)).await?;
            Ok(Some(after))
        })
        .await
    }

    async fn set_yank(
        &self,
        id: ReleaseId,
        yank: Option<&Yank>,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Release>, RepoError> {
        // Applies only while the release is not yet in the state asked for (yanked_at
        // NULL for a yank, set for an unyank): a compare-and-set, like `transition`.
        let update = diesel::update(
            dsl::releases
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::yanked_at.is_null().eq(yank.is_some())),
        )
        .set(YankColumns::from(yank));
        self.write(async |conn| {
            let row: Option<ReleaseRow> = update
                .returning(ReleaseRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Ok(None);
            };
            let after: Release = row.try_into()?;
            append_audit(conn, &[event(&after)]).await?;
            Ok(Some(after))
        })
        .await
    }

    async fn delete(
        &self,
        id: ReleaseId,
        event: ChangeEvent<'_, Release>,
    ) -> Result<Option<Vec<ObjectKey>>, RepoError> {
        let id = id.to_string();
        let keys: Option<Vec<String>> = self
            .write(async |conn| {
                // Read once, locked; a sealed release is never deleted: it is reported like
                // a missing one, and the caller tells which it was.
                let Some(deleted) = release_for_update(conn, &id).await? else {
                    return Ok(None);
                };
                if deleted.sealed_at.is_some() {
                    return Ok(None);
                }
                let deleted: Release = deleted.try_into()?;
                let of_release = artifacts::table
                    .filter(artifacts::release_id.eq(&id))
                    .select(artifacts::id);
                diesel::delete(
                    download_tokens::table.filter(download_tokens::artifact_id.eq_any(of_release)),
                )
                .execute(conn)
                .await?;
                let keys: Vec<String> =
                    diesel::delete(artifacts::table.filter(artifacts::release_id.eq(&id)))
                        .returning(artifacts::object_key)
                        .get_results(conn)
                        .await?;
                diesel::delete(releases::table.find(&id))
                    .execute(conn)
                    .await?;
                append_audit(conn, &[event(&deleted)]).await?;
                Ok(Some(keys))
            })
            .await?;
        Ok(keys.map(|keys| keys.into_iter().map(ObjectKey::from_stored).collect()))
    }
}

/// The release a compare-and-set left (`None` when it did not apply), with `event`
/// recorded when it did.
async fn recorded(
    conn: &mut super::Conn,
    row: Option<ReleaseRow>,
    event: &AuditEvent,
) -> Result<Option<Release>, TxError> {
    let Some(row) = row else {
        return Ok(None);
    };
    append_audit(conn, std::slice::from_ref(event)).await?;
    Ok(Some(row.try_into()?))
}

impl Store {
    /// Fills in the version order key, and the channel its version implies, of every
    /// release that has none: those that existed before the release model's migration
    /// (SQL cannot parse semver), and any an older server inserted since. Returns how
    /// many it filled in (another instance may fill some of them first).
    pub(crate) async fn fill_in_version_order(&self) -> Result<usize, RepoError> {
        let mut conn = self.conn().await?;
        // Read outside a transaction: at nearly every start there is nothing to fill in,
        // and the write lock (SQLite) is then not taken at all.
        let missing: Vec<(String, String)> = dsl::releases
            .filter(dsl::version_order.eq(""))
            // One order for every instance: two filling the same rows at once update
            // them in turn, never crosswise into a deadlock.
            .order_by(dsl::id)
            .select((dsl::id, dsl::version))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        if missing.is_empty() {
            return Ok(0);
        }
        // One transaction for all the updates (one commit, not one per row); each
        // still applies only to a row without a key, so instances starting together
        // fill each row once.
        write_transaction(&mut conn, async |conn| {
            let mut filled = 0;
            for (id, version) in &missing {
                // Read as the rules read it (trimmed), or as stored when they refuse
                // what an earlier server let through.
                let version = Version::read_stored(version);
                let (key, channel) = (version.order_key(), Channel::of_version(&version));
                filled += diesel::update(
                    dsl::releases
                        .filter(dsl::id.eq(id))
                        .filter(dsl::version_order.eq("")),
                )
                .set((
                    dsl::version_order.eq(key),
                    dsl::channel.eq(channel.as_str()),
                ))
                .execute(conn)
                .await?;
            }
            Ok::<_, diesel::result::Error>(filled)
        })
        .await
        .map_err(query_error)
    }
}
