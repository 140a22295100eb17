//! `EntitlementRepository` on diesel. Every statement is scoped to the customer, so an
//! entitlement id of another customer matches nothing.

macro_rules! entitlement_repository {
    ($store:ty, $backend:ty) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::EntitlementRepository for $store {
            async fn insert(
                &self,
                entitlement: &releasy_domain::entitlement::Entitlement,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::insert_into(crate::schema::entitlements::table)
                    .values(crate::rows::EntitlementRow::from(entitlement))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn get(
                &self,
                customer: releasy_domain::CustomerId,
                id: releasy_domain::EntitlementId,
            ) -> Result<
                Option<releasy_domain::entitlement::Entitlement>,
                releasy_domain::ports::RepoError,
            > {
                use crate::schema::entitlements::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let row: Option<crate::rows::EntitlementRow> = dsl::entitlements
                    .filter(dsl::id.eq(id.to_string()))
                    .filter(dsl::customer_id.eq(customer.to_string()))
                    .select(crate::rows::EntitlementRow::as_select())
                    .first(&mut *conn)
                    .await
                    .optional()
                    .map_err(crate::error::query_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn list(
                &self,
                customer: releasy_domain::CustomerId,
                product: Option<&str>,
                page: releasy_domain::pagination::PageRequest,
            ) -> Result<
                Vec<releasy_domain::entitlement::Entitlement>,
                releasy_domain::ports::RepoError,
            > {
                use crate::schema::entitlements::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut query = dsl::entitlements
                    .filter(dsl::customer_id.eq(customer.to_string()))
                    .select(crate::rows::EntitlementRow::as_select())
                    .order_by((dsl::created_at.desc(), dsl::id.desc()))
                    .into_boxed::<$backend>();
                if let Some(product) = product {
                    query = query.filter(dsl::product.eq(product.to_owned()));
                }
                let mut conn = self.conn().await?;
                let rows: Vec<crate::rows::EntitlementRow> = query
                    .offset(page.offset.get() as i64)
                    .limit(i64::from(page.limit.get()))
                    .load(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn replace(
                &self,
                current: &releasy_domain::entitlement::Entitlement,
                updated: &releasy_domain::entitlement::Entitlement,
            ) -> Result<
                Option<releasy_domain::entitlement::Entitlement>,
                releasy_domain::ports::RepoError,
            > {
                use crate::schema::entitlements::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                // `updated` is written at the revision after the one it was judged on;
                // the WHERE clause makes this a compare-and-set on that revision.
                let replacement = crate::rows::EntitlementReplacement::from(
                    &releasy_domain::entitlement::Entitlement {
                        revision: current.revision,
                        ..updated.clone()
                    },
                );
                let expected = i64::try_from(current.revision)
                    .map_err(|e| crate::error::corrupt("entitlements", e))?;
                let mut conn = self.conn().await?;
                let row: Option<crate::rows::EntitlementRow> = diesel::update(
                    dsl::entitlements
                        .filter(dsl::id.eq(current.id.to_string()))
                        .filter(dsl::customer_id.eq(current.customer_id.to_string()))
                        .filter(dsl::revision.eq(expected)),
                )
                .set(replacement)
                .returning(crate::rows::EntitlementRow::as_returning())
                .get_result(&mut *conn)
                .await
                .optional()
                .map_err(crate::error::query_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn delete(
                &self,
                customer: releasy_domain::CustomerId,
                id: releasy_domain::EntitlementId,
            ) -> Result<bool, releasy_domain::ports::RepoError> {
                use crate::schema::entitlements::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                let matched = diesel::delete(
                    dsl::entitlements
                        .filter(dsl::id.eq(id.to_string()))
                        .filter(dsl::customer_id.eq(customer.to_string())),
                )
                .execute(&mut *conn)
                .await
                .map_err(crate::error::query_error)?;
                Ok(matched > 0)
            }

            async fn active_products(
                &self,
                customer: releasy_domain::CustomerId,
                now: releasy_domain::Timestamp,
            ) -> Result<Vec<String>, releasy_domain::ports::RepoError> {
                use crate::schema::entitlements::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let now = now.unix_seconds();
                let mut conn = self.conn().await?;
                dsl::entitlements
                    .filter(dsl::customer_id.eq(customer.to_string()))
                    .filter(dsl::starts_at.le(now))
                    .filter(dsl::ends_at.is_null().or(dsl::ends_at.gt(now)))
                    .select(dsl::product)
                    .distinct()
                    .order_by(dsl::product.asc())
                    .load(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)
            }
        }
    };
}
