//! `EntitlementRepository` on diesel. Every statement is scoped to the customer, so an
//! entitlement id of another customer matches nothing.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::entitlement::{CustomerAccess, Entitlement, ProductGrant};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{EntitlementRepository, RepoError};
use releasy_domain::{CustomerId, EntitlementId};

use super::{Backend, Store};
use crate::error::{corrupt, query_error};
use crate::rows::{EntitlementReplacement, EntitlementRow, AccessRow};
use crate::schema::entitlements::dsl;

#[async_trait]
impl EntitlementRepository for Store {
    async fn insert(&self, entitlement: &Entitlement) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(dsl::entitlements)
            .values(EntitlementRow::from(entitlement))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn get(
        &self,
        customer: CustomerId,
        id: EntitlementId,
    ) -> Result<Option<Entitlement>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<EntitlementRow> = dsl::entitlements
            .filter(dsl::id.eq(id.to_string()))
            .filter(dsl::customer_id.eq(customer.to_string()))
            .select(EntitlementRow::as_select())
            .first(&mut *conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn list(
        &self,
        customer: CustomerId,
        product: Option<&str>,
        page: PageRequest,
    ) -> Result<Vec<Entitlement>, RepoError> {
        let mut query = dsl::entitlements
            .filter(dsl::customer_id.eq(customer.to_string()))
            .select(EntitlementRow::as_select())
            .order_by((dsl::created_at.desc(), dsl::id.desc()))
            .into_boxed::<Backend>();
        if let Some(product) = product {
            query = query.filter(dsl::product.eq(product.to_owned()));
        }
        let mut conn = self.conn().await?;
        let rows: Vec<EntitlementRow> = query
            .offset(page.offset.get() as i64)
            .limit(i64::from(page.limit.get()))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn replace(
        &self,
        current: &Entitlement,
        updated: &Entitlement,
    ) -> Result<Option<Entitlement>, RepoError> {
        // `updated` is written at the revision after the one it was judged on; the
        // WHERE clause makes this a compare-and-set on that revision.
        let expected = i64::try_from(current.revision).map_err(|e| corrupt("entitlements", e))?;
        let replacement = EntitlementReplacement::new(updated, expected.saturating_add(1));
        let mut conn = self.conn().await?;
        let row: Option<EntitlementRow> = diesel::update(
            dsl::entitlements
                .filter(dsl::id.eq(current.id.to_string()))
                .filter(dsl::customer_id.eq(current.customer_id.to_string()))
                .filter(dsl::revision.eq(expected)),
        )
        .set(replacement)
        .returning(EntitlementRow::as_returning())
        .get_result(&mut *conn)
        .await
        .optional()
        .map_err(query_error)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn delete(&self, customer: CustomerId, id: EntitlementId) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let matched = diesel::delete(
            dsl::entitlements
                .filter(dsl::id.eq(id.to_string()))
                .filter(dsl::customer_id.eq(customer.to_string())),
        )
        .execute(&mut *conn)
        .await
        .map_err(query_error)?;
        Ok(matched > 0)
    }

    async fn customer_access(&self, customer: CustomerId) -> Result<CustomerAccess, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<AccessRow> = dsl::entitlements
            .filter(dsl::customer_id.eq(customer.to_string()))
            .order_by((dsl::created_at.asc(), dsl::id.asc()))
            .select(AccessRow::as_select())
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter()
            .map(ProductGrant::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map(CustomerAccess::new)
    }
}
