//! `DownloadLedger` on diesel: rows are written in multi-row `INSERT`s with their
//! summary's additions in the same transaction; listings walk the `(at, id)` indexes;
//! statistics group `download_daily`, never the ledger.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::RunQueryDsl;
use releasy_domain::Timestamp;
use releasy_domain::artifact::Platform;
use releasy_domain::delivery::{
    DownloadFilter, DownloadRecord, DownloadStat, StatsGroup, StatsKey, StatsQuery, day_of,
};
use releasy_domain::pagination::Cursor;
use releasy_domain::ports::{DownloadLedger, RepoError};
use releasy_domain::release::{Product, Version};

use super::retried_batch::{StoredIds, not_stored};
use super::{Backend, Store, placeholder};
use crate::error::{corrupt, query_error};
use crate::rows::{DownloadLedgerRow, daily_additions};
use crate::schema::download_ledger::dsl;

#[async_trait]
impl DownloadLedger for Store {
    async fn record_many(&self, records: &[DownloadRecord]) -> Result<(), RepoError> {
        if records.is_empty() {
            return Ok(());
        }
        match self
            .write_ledger_batch(records, daily_additions(records))
            .await
        {
            Err(RepoError::Conflict) => {
                let ids = records.iter().map(|r| r.id.to_string());
                let stored = self.stored_ids(ids, StoredIds::DownloadLedger).await?;
                let missing = not_stored(records, |r| r.id.to_string(), &stored)?;
                if missing.is_empty() {
                    return Ok(());
                }
                self.write_ledger_batch(&missing, daily_additions(&missing))
                    .await
            }
            written => written,
        }
    }

    async fn list(
        &self,
        filter: &DownloadFilter,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<DownloadRecord>, RepoError> {
        let mut query = dsl::download_ledger
            .select(DownloadLedgerRow::as_select())
            .order_by((dsl::at.desc(), dsl::id.desc()))
            .into_boxed::<Backend>();
        if let Some(customer) = filter.customer_id {
            query = query.filter(dsl::customer_id.eq(customer.to_string()));
        }
        if let Some(product) = &filter.product {
            query = query.filter(dsl::product.eq(product.as_str().to_owned()));
        }
        if let Some(version) = &filter.version {
            query = query.filter(dsl::version.eq(version.as_str().to_owned()));
        }
        if let Some(artifact) = filter.artifact_id {
            query = query.filter(dsl::artifact_id.eq(artifact.to_string()));
        }
        if let Some(outcome) = filter.outcome {
            query = query.filter(dsl::outcome.eq(outcome.as_str()));
        }
        if let Some(from) = filter.from {
            query = query.filter(dsl::at.ge(from.unix_seconds()));
        }
        if let Some(to) = filter.to {
            query = query.filter(dsl::at.le(to.unix_seconds()));
        }
        if let Some(cursor) = after {
            let at = cursor.created_at.unix_seconds();
            // `at <= cursor` alone lets the index start the scan at the cursor; the OR
            // then drops the ties already returned.
            query = query.filter(dsl::at.le(at)).filter(
                dsl::at
                    .lt(at)
                    .or(dsl::at.eq(at).and(dsl::id.lt(cursor.id.clone()))),
            );
        }
        let mut conn = self.conn().await?;
        let rows: Vec<DownloadLedgerRow> = query
            .limit(i64::from(limit))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn stats(&self, query: &StatsQuery) -> Result<Vec<DownloadStat>, RepoError> {
        let (keys, group) = match query.group_by {
            StatsGroup::Product => ("product, NULL AS version, NULL AS platform, NULL AS artifact_id, NULL AS customer_id, NULL AS day", "product"),
            StatsGroup::Version => ("product, version, NULL AS platform, NULL AS artifact_id, NULL AS customer_id, NULL AS day", "product, version"),
            StatsGroup::Artifact => ("product, version, platform, artifact_id, NULL AS customer_id, NULL AS day", "artifact_id, product, version, platform"),
            StatsGroup::Customer => ("NULL AS product, NULL AS version, NULL AS platform, NULL AS artifact_id, customer_id, NULL AS day", "customer_id"),
            StatsGroup::Day => ("NULL AS product, NULL AS version, NULL AS platform, NULL AS artifact_id, NULL AS customer_id, day", "day"),
        };
        let mut conditions = Vec::new();
        let mut binds = 0;
        let mut next = |condition: &str| {
            binds += 1;
            conditions.push(format!("{condition} {}", placeholder(binds)));
        };
        if query.product.is_some() {
            next("product =");
        }
        if query.customer_id.is_some() {
            next("customer_id =");
        }
        if query.first_day().is_some() {
            next("day >=");
        }
        if query.last_day().is_some() {
            next("day <=");
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        // One product's days, over every customer: one row a day, kept per product.
        let one_product_by_day = query.group_by == StatsGroup::Day
            && query.product.is_some()
            && query.customer_id.is_none();
        let sql = if one_product_by_day {
            format!(
                "SELECT {keys}, downloads, customers, bytes \
                 FROM download_product_daily {filter}"
            )
        } else {
            format!(
                "SELECT {keys}, CAST(SUM(downloads) AS BIGINT) AS downloads, \
                 COUNT(DISTINCT customer_id) AS customers, CAST(SUM(bytes) AS BIGINT) AS bytes \
                 FROM download_daily {filter} GROUP BY {group}"
            )
        };
        let mut statement = diesel::sql_query(sql).into_boxed::<Backend>();
        if let Some(product) = &query.product {
            statement = statement.bind::<Text, _>(product.as_str().to_owned());
        }
        if let Some(customer) = query.customer_id {
            statement = statement.bind::<Text, _>(customer.to_string());
        }
        if let Some(first) = query.first_day() {
            statement = statement.bind::<BigInt, _>(first);
        }
        if let Some(last) = query.last_day() {
            statement = statement.bind::<BigInt, _>(last);
        }
        let mut conn = self.conn().await?;
        let rows: Vec<StatRow> = statement
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter()
            .map(|row| row.into_stat(query.group_by))
            .collect()
    }

    async fn prune_before(&self, cutoff: Timestamp, limit: u32) -> Result<u64, RepoError> {
        let mut conn = self.conn().await?;
        // The oldest rows through the `(at, id)` index, then deleted by id: each
        // statement is short, so the writers behind never wait long.
        let oldest: Vec<String> = dsl::download_ledger
            .filter(dsl::at.lt(cutoff.unix_seconds()))
            .order_by(dsl::at.asc())
            .select(dsl::id)
            .limit(i64::from(limit))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        if !oldest.is_empty() {
            diesel::delete(dsl::download_ledger.filter(dsl::id.eq_any(&oldest)))
                .execute(&mut *conn)
                .await
                .map_err(query_error)?;
        }
        // Asked of the table, not of what this statement deleted: another instance
        // pruning at the same time deletes some of the same rows, and its count (or
        // this one's) says nothing of the rows left.
        let old_rows_left: bool = diesel::select(diesel::dsl::exists(
            dsl::download_ledger.filter(dsl::at.lt(cutoff.unix_seconds())),
        ))
        .get_result(&mut *conn)
        .await
        .map_err(query_error)?;
        if !old_rows_left {
            // No row of those days is left: their summaries go too, `limit` rows per
            // statement found through the day's index, so no statement is long.
            let first_day_kept = day_of(cutoff);
            for (summary, key) in SUMMARY_KEYS {
                loop {
                    let deleted = diesel::sql_query(format!(
                        "DELETE FROM {summary} WHERE ({key}) IN \
                         (SELECT {key} FROM {summary} WHERE day < {} LIMIT {})",
                        placeholder(1),
                        placeholder(2)
                    ))
                    .bind::<BigInt, _>(first_day_kept)
                    .bind::<BigInt, _>(i64::from(limit))
                    .execute(&mut *conn)
                    .await
                    .map_err(query_error)?;
                    if deleted < limit as usize {
                        break;
                    }
                }
            }
        }
        // The rows this batch found: a full batch means more may be left, whoever
        // deleted them.
        Ok(oldest.len() as u64)
    }
}

/// The statistics' summaries, each with its key's columns.
const SUMMARY_KEYS: [(&str, &str); 3] = [
    ("download_daily", "product, day, artifact_id, customer_id"),
    ("download_product_daily", "product, day"),
    ("download_product_customers", "product, day, customer_id"),
];

/// One group of a statistics query: its key columns (the others `NULL`) and counts.
#[derive(Debug, QueryableByName)]
struct StatRow {
    #[diesel(sql_type = Nullable<Text>)]
    product: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    version: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    platform: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    artifact_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    customer_id: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    day: Option<i64>,
    #[diesel(sql_type = BigInt)]
    downloads: i64,
    #[diesel(sql_type = BigInt)]
    customers: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

impl StatRow {
    fn into_stat(self, group_by: StatsGroup) -> Result<DownloadStat, RepoError> {
        const TABLE: &str = "download_daily";
        let missing = || corrupt(TABLE, "a group's key is missing");
        let text = |value: Option<String>| value.ok_or_else(missing);
        let product = |value: Option<String>| text(value).map(|v| Product::read_stored(&v));
        let version = |value: Option<String>| text(value).map(|v| Version::read_stored(&v));
        fn id<T: std::str::FromStr>(value: Option<String>) -> Result<T, RepoError> {
            let raw = value.ok_or_else(|| corrupt(TABLE, "a group's key is missing"))?;
            raw.parse()
                .map_err(|_| corrupt(TABLE, format_args!("bad id `{raw}`")))
        }
        let key = match group_by {
            StatsGroup::Product => StatsKey::Product(product(self.product)?),
            StatsGroup::Version => StatsKey::Version(product(self.product)?, version(self.version)?),
            StatsGroup::Artifact => StatsKey::Artifact {
                artifact_id: id(self.artifact_id)?,
                product: product(self.product)?,
                version: version(self.version)?,
                platform: Platform::read_stored(&text(self.platform)?),
            },
            StatsGroup::Customer => StatsKey::Customer(id(self.customer_id)?),
            StatsGroup::Day => StatsKey::Day(self.day.ok_or_else(missing)?),
        };
        let count = |n: i64| u64::try_from(n).map_err(|_| corrupt(TABLE, "negative count"));
        Ok(DownloadStat {
            key,
            downloads: count(self.downloads)?,
            customers: count(self.customers)?,
            bytes: count(self.bytes)?,
        })
    }
}
