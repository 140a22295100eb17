//! `CustomerRepository` on diesel.

macro_rules! customer_repository {
    ($store:ty, $backend:ty) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::CustomerRepository for $store {
            async fn insert(
                &self,
                customer: &releasy_domain::customer::Customer,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::insert_into(crate::schema::customers::table)
                    .values(crate::rows::CustomerRow::from(customer))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn get(
                &self,
                id: releasy_domain::CustomerId,
            ) -> Result<Option<releasy_domain::customer::Customer>, releasy_domain::ports::RepoError> {
                use crate::schema::customers::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let row: Option<crate::rows::CustomerRow> = dsl::customers
                    .find(id.to_string())
                    .select(crate::rows::CustomerRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err(crate::error::query_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list(
                &self,
                filter: &releasy_domain::customer::CustomerFilter,
                limit: releasy_domain::pagination::PageLimit,
                start: &releasy_domain::pagination::PageStart,
            ) -> Result<
                releasy_domain::pagination::CursorPage<releasy_domain::customer::Customer>,
                releasy_domain::ports::RepoError,
            > {
                use crate::schema::customers::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                use releasy_domain::pagination::{Cursor, CursorPage, PageStart};

                let mut query = dsl::customers
                    .select(crate::rows::CustomerRow::as_select())
                    .order_by((dsl::created_at.desc(), dsl::id.desc()))
                    .into_boxed::<$backend>();
                if let Some(id) = filter.customer_id {
                    query = query.filter(dsl::id.eq(id.to_string()));
                }
                if let Some(name) = &filter.name_contains {
                    query = query.filter(
                        crate::repos::lower(dsl::name)
                            .like(crate::repos::like_contains(name))
                            .escape('\\'),
                    );
                }
                if let Some(plan) = &filter.plan {
                    query = query.filter(
                        crate::repos::lower(dsl::plan.assume_not_null()).eq(plan.to_lowercase()),
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
                let rows: Vec<crate::rows::CustomerRow> = query
                    .limit(limit + 1)
                    .load(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                let has_more = rows.len() as i64 > limit;
                let items = rows
                    .into_iter()
                    .take(limit as usize)
                    .map(TryInto::try_into)
                    .collect::<Result<Vec<releasy_domain::customer::Customer>, _>>()?;
                let next_cursor = has_more.then(|| items.last()).flatten().map(|last| Cursor {
                    created_at: last.created_at,
                    id: last.id.to_string(),
                });
                Ok(CursorPage { items, next_cursor })
            }

            async fn update(
                &self,
                id: releasy_domain::CustomerId,
                update: &releasy_domain::customer::CustomerUpdate,
            ) -> Result<Option<releasy_domain::customer::Customer>, releasy_domain::ports::RepoError> {
                use crate::schema::customers::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;

                #[derive(AsChangeset)]
                #[diesel(table_name = crate::schema::customers)]
                struct Changes {
                    name: Option<String>,
                    plan: Option<Option<String>>,
                    suspended_at: Option<Option<i64>>,
                }
                let changes = Changes {
                    name: update.name.as_ref().map(|n| n.as_str().to_owned()),
                    plan: update.plan.as_ref().map(|p| p.as_ref().map(|p| p.as_str().to_owned())),
                    suspended_at: update
                        .suspended_at
                        .map(|s| s.map(releasy_domain::Timestamp::unix_seconds)),
                };
                // An update naming no column is no SQL UPDATE at all (diesel rejects an
                // empty changeset): the row as it is, like any other update returns.
                if update.name.is_none() && update.plan.is_none() && update.suspended_at.is_none() {
                    return <Self as releasy_domain::ports::CustomerRepository>::get(self, id).await;
                }
                let mut conn = self.conn().await?;
                let row: Option<crate::rows::CustomerRow> =
                    diesel::update(dsl::customers.find(id.to_string()))
                        .set(&changes)
                        .returning(crate::rows::CustomerRow::as_returning())
                        .get_result(&mut *conn)
                        .await
                        .optional()
                        .map_err(crate::error::query_error)?;
                row.map(TryInto::try_into).transpose()
            }
        }
    };
}
