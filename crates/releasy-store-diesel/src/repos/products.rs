//! `ProductRepository` on diesel: the product list is one query over `releases` and
//! `product_policies` (a product exists once it has a release or a policy); a policy
//! is one row per product, written by an upsert.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use releasy_domain::audit::AuditEvent;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ProductRepository, RepoError};
use releasy_domain::product::{ProductPolicy, ProductSummary};
use releasy_domain::release::Product;

use super::{BYTE_ORDER, Store, append_audit};
use crate::error::{corrupt, query_error};
use crate::rows::ts;
use crate::schema::product_policies::dsl;

/// One product of the list, as the query returns it.
#[derive(Debug, QueryableByName)]
struct SummaryRow {
    #[diesel(sql_type = Text)]
    product: String,
    #[diesel(sql_type = BigInt)]
    releases: i64,
    #[diesel(sql_type = BigInt)]
    published: i64,
    #[diesel(sql_type = Nullable<Text>)]
    latest_version: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_release_at: Option<i64>,
    #[diesel(sql_type = Integer)]
    immutable_releases: i32,
}

/// Every product with a release or a policy, by name (bytewise, as [`BYTE_ORDER`] makes
/// PostgreSQL compare); per product, subqueries that
/// the `(product, ...)` indexes of `releases` answer. The latest version is the one
/// `GET /v1/releases/latest` gives by default (published, not yanked, stable, highest
/// first), downloadable or not (see [`ProductSummary::latest_version`]).
const SUMMARIES: &str = "
SELECT p.product AS product,
  (SELECT COUNT(*) FROM releases r WHERE r.product = p.product) AS releases,
  (SELECT COUNT(*) FROM releases r
     WHERE r.product = p.product AND r.status = 'published') AS published,
  (SELECT r.version FROM releases r
     WHERE r.product = p.product AND r.status = 'published' AND r.yanked_at IS NULL
       AND r.channel = 'stable'
     ORDER BY r.version_order DESC, r.created_at DESC, r.id DESC LIMIT 1) AS latest_version,
  (SELECT MAX(r.created_at) FROM releases r WHERE r.product = p.product) AS last_release_at,
  COALESCE((SELECT pp.immutable_releases FROM product_policies pp
     WHERE pp.product = p.product), 0) AS immutable_releases
FROM (SELECT product FROM releases UNION SELECT product FROM product_policies) p
ORDER BY p.product";

/// A row of `product_policies`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::product_policies)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct PolicyRow {
    product: String,
    immutable_releases: i32,
    updated_at: i64,
}

#[async_trait]
impl ProductRepository for Store {
    async fn summaries(&self, page: PageRequest) -> Result<Vec<ProductSummary>, RepoError> {
        // Both numbers are bounded integers: formatted in, not bound (the backends
        // spell placeholders differently).
        let query = format!(
            "{SUMMARIES} {BYTE_ORDER} LIMIT {} OFFSET {}",
            page.limit.get(),
            page.offset.get()
        );
        let mut conn = self.conn().await?;
        let rows: Vec<SummaryRow> = diesel::sql_query(query)
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter()
            .map(|row| {
                let count = |n: i64| u64::try_from(n).map_err(|e| corrupt("releases", e));
                Ok(ProductSummary {
                    product: Product::read_stored(&row.product),
                    releases: count(row.releases)?,
                    published: count(row.published)?,
                    latest_version: row.latest_version,
                    last_release_at: row.last_release_at.map(ts),
                    immutable_releases: row.immutable_releases != 0,
                })
            })
            .collect()
    }

    async fn policy(&self, product: &Product) -> Result<Option<ProductPolicy>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<PolicyRow> = dsl::product_policies
            .find(product.as_str())
            .select(PolicyRow::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(|row| ProductPolicy {
            product: product.clone(),
            immutable_releases: row.immutable_releases != 0,
            updated_at: ts(row.updated_at),
        }))
    }

    async fn set_policy(&self, policy: &ProductPolicy, event: &AuditEvent) -> Result<(), RepoError> {
        let row = PolicyRow {
            product: policy.product.as_str().to_owned(),
            immutable_releases: i32::from(policy.immutable_releases),
            updated_at: policy.updated_at.unix_seconds(),
        };
        self.write(async |conn| {
            diesel::insert_into(dsl::product_policies)
                .values(row)
                .on_conflict(dsl::product)
                .do_update()
                .set((
                    dsl::immutable_releases.eq(excluded(dsl::immutable_releases)),
                    dsl::updated_at.eq(excluded(dsl::updated_at)),
                ))
                .execute(conn)
                .await?;
            Ok(append_audit(conn, std::slice::from_ref(event)).await?)
        })
        .await
    }
}
