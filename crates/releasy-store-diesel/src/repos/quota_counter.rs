//! `QuotaCounter` on diesel: one row per entitlement and period in
//! `download_quota_counts`, charged by a single conditional upsert.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::RunQueryDsl;
use releasy_domain::entitlement::{DownloadQuota, QuotaUsage, QuotaWindow};
use releasy_domain::ports::{QuotaCounter, RepoError};
use releasy_domain::{EntitlementId, Timestamp};

use super::{Store, placeholder};
use crate::error::{corrupt, query_error};
use crate::rows::bigint;
use crate::schema::download_quota_counts::dsl;

/// The row of `entitlement`'s count in `window`.
macro_rules! count_of {
    ($entitlement:expr, $window:expr) => {
        dsl::download_quota_counts
            .filter(dsl::entitlement_id.eq($entitlement.to_string()))
            .filter(dsl::period.eq($window.period.as_str()))
            .filter(dsl::period_start.eq($window.starts_at.unix_seconds()))
    };
}

/// The charge: the first download of a period inserts its row when it fits an empty
/// count; later ones add to it only while both limits hold. The byte limit is compared
/// as `bytes <= limit - size`, which cannot overflow. (SQLite needs the `WHERE` of the
/// `SELECT` to read `ON CONFLICT` as the upsert's.)
fn charge_statement() -> String {
    let [
        entitlement_id,
        period,
        period_start,
        resets_at,
        size,
        max_downloads,
        max_bytes,
    ] = [1, 2, 3, 4, 5, 6, 7].map(placeholder);
    format!(
        "INSERT INTO download_quota_counts \
         (entitlement_id, period, period_start, resets_at, downloads, bytes) \
         SELECT {entitlement_id}, {period}, {period_start}, {resets_at}, 1, {size} \
         WHERE ({max_downloads} IS NULL OR {max_downloads} >= 1) \
           AND ({max_bytes} IS NULL OR {size} <= {max_bytes}) \
         ON CONFLICT (entitlement_id, period, period_start) DO UPDATE \
         SET downloads = download_quota_counts.downloads + 1, \
             bytes = download_quota_counts.bytes + excluded.bytes \
         WHERE ({max_downloads} IS NULL OR download_quota_counts.downloads < {max_downloads}) \
           AND ({max_bytes} IS NULL OR download_quota_counts.bytes <= {max_bytes} - excluded.bytes)"
    )
}

#[async_trait]
impl QuotaCounter for Store {
    async fn usage(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
    ) -> Result<QuotaUsage, RepoError> {
        let mut conn = self.conn().await?;
        let counted: Option<(i64, i64)> = count_of!(entitlement, window)
            .select((dsl::downloads, dsl::bytes))
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        let Some((downloads, bytes)) = counted else {
            return Ok(QuotaUsage::default());
        };
        let count = |n: i64| u64::try_from(n).map_err(|e| corrupt("download_quota_counts", e));
        Ok(QuotaUsage {
            downloads: count(downloads)?,
            bytes: count(bytes)?,
        })
    }

    async fn try_charge(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        quota: &DownloadQuota,
        bytes: u64,
    ) -> Result<bool, RepoError> {
        // One statement, so the row lock (PostgreSQL) or the write lock (SQLite) makes
        // the check and the count one step whatever other instances do.
        let mut conn = self.conn().await?;
        let counted = diesel::sql_query(charge_statement())
            .bind::<Text, _>(entitlement.to_string())
            .bind::<Text, _>(window.period.as_str())
            .bind::<BigInt, _>(window.starts_at.unix_seconds())
            .bind::<BigInt, _>(window.resets_at.unix_seconds())
            .bind::<BigInt, _>(bigint(bytes))
            .bind::<Nullable<BigInt>, _>(quota.downloads().map(bigint))
            .bind::<Nullable<BigInt>, _>(quota.bytes().map(bigint))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(counted == 1)
    }

    async fn refund(
        &self,
        entitlement: EntitlementId,
        window: &QuotaWindow,
        bytes: u64,
    ) -> Result<(), RepoError> {
        let bytes = bigint(bytes);
        let mut conn = self.conn().await?;
        diesel::update(
            count_of!(entitlement, window)
                .filter(dsl::downloads.gt(0))
                .filter(dsl::bytes.ge(bytes)),
        )
        .set((
            dsl::downloads.eq(dsl::downloads - 1),
            dsl::bytes.eq(dsl::bytes - bytes),
        ))
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(())
    }

    async fn prune_ended(&self, reset_by: Timestamp, limit: u32) -> Result<u64, RepoError> {
        let reset_by = reset_by.unix_seconds();
        let mut conn = self.conn().await?;
        // A batch of entitlements with ended periods (each has only a few rows), then
        // their ended rows: short statements, through the `resets_at` index.
        let entitlements: Vec<String> = dsl::download_quota_counts
            .filter(dsl::resets_at.le(reset_by))
            .select(dsl::entitlement_id)
            .distinct()
            .limit(i64::from(limit))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        if entitlements.is_empty() {
            return Ok(0);
        }
        let removed = diesel::delete(
            dsl::download_quota_counts
                .filter(dsl::entitlement_id.eq_any(&entitlements))
                .filter(dsl::resets_at.le(reset_by)),
        )
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(removed as u64)
    }
}
