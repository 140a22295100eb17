//! `CustomerRepository` on diesel.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::audit::AuditEvent;
use releasy_domain::customer::{Customer, CustomerFilter, CustomerUpdate};
use releasy_domain::pagination::{Cursor, CursorPage, PageLimit, PageStart};
use releasy_domain::ports::{ChangeEvents, CustomerRepository, RepoError};
use releasy_domain::{CustomerId, Timestamp};

use diesel::sql_types::{Nullable, Text};

use super::{Backend, Store, append_audit, customer_for_update, fold_case};
use crate::error::query_error;
use crate::repos::like_contains;
use crate::rows::CustomerRow;
use crate::schema::customers::dsl;

#[async_trait]
impl CustomerRepository for Store {
    async fn insert(&self, customer: &Customer, event: &AuditEvent) -> Result<(), RepoError> {
        self.write(async |conn| {
            diesel::insert_into(dsl::customers)
                .values(CustomerRow::from(customer))
                .execute(conn)
                .await?;
            Ok(append_audit(conn, std::slice::from_ref(event)).await?)
        })
        .await
    }

    async fn get(&self, id: CustomerId) -> Result<Option<Customer>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<CustomerRow> = dsl::customers
            .find(id.to_string())
            .select(CustomerRow::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list(
        &self,
        filter: &CustomerFilter,
        limit: PageLimit,
        start: &PageStart,
    ) -> Result<CursorPage<Customer>, RepoError> {
        let mut query = dsl::customers
            .select(CustomerRow::as_select())
            .order_by((dsl::created_at.desc(), dsl::id.desc()))
            .into_boxed::<Backend>();
        if let Some(id) = filter.customer_id {
            query = query.filter(dsl::id.eq(id.to_string()));
        }
        if let Some(name) = &filter.name_contains {
            // Both sides folded by the database's one function: Rust's and
            // PostgreSQL's folds differ (a final sigma, a `C` locale's ASCII only).
            query = query.filter(
                fold_case(dsl::name.nullable())
                    .like(fold_case(like_contains(name).into_sql::<Nullable<Text>>()))
                    .escape('\\'),
            );
        }
        if let Some(plan) = &filter.plan {
            query = query.filter(
                fold_case(dsl::plan).eq(fold_case(plan.clone().into_sql::<Nullable<Text>>())),
            );
        }
        match start {
            PageStart::Offset(offset) => {
                query = query.offset(offset.get() as i64);
            }
            PageStart::After(cursor) => {
                let at = cursor.created_at.unix_seconds();
                // `created_at <= at` alone is what lets the (created_at, id) index
                // start the scan at the cursor; the OR then drops the ties already
                // returned. Without it, the planner scans from the newest row.
                query = query.filter(dsl::created_at.le(at)).filter(
                    dsl::created_at
                        .lt(at)
                        .or(dsl::created_at.eq(at).and(dsl::id.lt(cursor.id.clone()))),
                );
            }
        }
        // One row more than asked tells whether another page follows.
        let limit = i64::from(limit.get());
        let mut conn = self.conn().await?;
        let rows: Vec<CustomerRow> = query
            .limit(limit + 1)
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        let has_more = rows.len() as i64 > limit;
        let items = rows
            .into_iter()
            .take(limit as usize)
            .map(TryInto::try_into)
            .collect::<Result<Vec<Customer>, _>>()?;
        let next_cursor = has_more.then(|| items.last()).flatten().map(|last| Cursor {
            created_at: last.created_at,
            id: last.id.to_string(),
        });
        Ok(CursorPage { items, next_cursor })
    }

    async fn update(
        &self,
        id: CustomerId,
        update: &CustomerUpdate,
        events: ChangeEvents<'_, Customer>,
    ) -> Result<Option<Customer>, RepoError> {
        #[derive(AsChangeset)]
        #[diesel(table_name = crate::schema::customers)]
        struct Changes {
            name: Option<String>,
            plan: Option<Option<String>>,
            suspended_at: Option<Option<i64>>,
        }
        let changes = Changes {
            name: update.name.as_ref().map(|n| n.as_str().to_owned()),
            plan: update
                .plan
                .as_ref()
                .map(|p| p.as_ref().map(|p| p.as_str().to_owned())),
            suspended_at: update.suspended_at.map(|s| s.map(Timestamp::unix_seconds)),
        };
        // An update naming no column is no SQL UPDATE at all (diesel rejects an
        // empty changeset): the row as it is, like any other update returns.
        if update.name.is_none() && update.plan.is_none() && update.suspended_at.is_none() {
            return <Self as CustomerRepository>::get(self, id).await;
        }
        let id = id.to_string();
        self.write(async |conn| {
            // Read under the row's lock, so `before` is what this update replaces.
            let Some(before) = customer_for_update(conn, &id).await? else {
                return Ok(None);
            };
            let after: CustomerRow = diesel::update(dsl::customers.find(&id))
                .set(&changes)
                .returning(CustomerRow::as_returning())
                .get_result(conn)
                .await?;
            let (before, after): (Customer, Customer) = (before.try_into()?, after.try_into()?);
            append_audit(conn, &events(&before, &after)).await?;
            Ok(Some(after))
        })
        .await
    }
}
