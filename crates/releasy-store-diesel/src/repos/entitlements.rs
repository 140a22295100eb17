//! `EntitlementRepository` on diesel. Every statement is scoped to the customer, so an
//! entitlement id of another customer matches nothing.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::audit::AuditEvent;
use releasy_domain::entitlement::{CustomerAccess, Entitlement, ProductGrant};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ChangeEvent, EntitlementRepository, RepoError};
use releasy_domain::{CustomerId, EntitlementId};

use super::{Backend, Store, append_audit};
use crate::error::{corrupt, query_error};
use crate::rows::{EntitlementReplacement, EntitlementRow, AccessRow};
use crate::schema::entitlements::dsl;

#[async_trait]
impl EntitlementRepository for Store {
    async fn insert(
        &self,
        entitlement: &Entitlement,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        self.write(async |conn| {
            diesel::insert_into(dsl::entitlements)
                .values(EntitlementRow::from(entitlement))
                .execute(conn)
                .await?;
            Ok(append_audit(conn, std::slice::from_ref(event)).await?)
        })
        .await
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
        event: &AuditEvent,
    ) -> Result<Option<Entitlement>, RepoError> {
        // `updated` is written at the revision after the one it was judged on; the
        // WHERE clause makes this a compare-and-set on that revision.
        let expected = i64::try_from(current.revision).map_err(|e| corrupt("entitlements", e))?;
        let replacement = EntitlementReplacement::new(updated, expected.saturating_add(1));
        self.write(async |conn| {
            let row: Option<EntitlementRow> = diesel::update(
                dsl::entitlements
                    .filter(dsl::id.eq(current.id.to_string()))
                    .filter(dsl::customer_id.eq(current.customer_id.to_string()))
                    .filter(dsl::revision.eq(expected)),
            )
            .set(replacement)
            .returning(EntitlementRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(row) = row else {
                return Ok(None);
            };
            append_audit(conn, std::slice::from_ref(event)).await?;
            Ok(Some(row.try_into()?))
        })
        .await
    }

    async fn delete(
        &self,
        customer: CustomerId,
        id: EntitlementId,
        event: ChangeEvent<'_, Entitlement>,
    ) -> Result<bool, RepoError> {
        self.write(async |conn| {
            let deleted: Option<EntitlementRow> = diesel::delete(
                dsl::entitlements
                    .filter(dsl::id.eq(id.to_string()))
                    .filter(dsl::customer_id.eq(customer.to_string())),
            )
            .returning(EntitlementRow::as_returning())
            .get_result(conn)
            .await
            .optional()?;
            let Some(row) = deleted else {
                return Ok(false);
            };
            let deleted: Entitlement = row.try_into()?;
            append_audit(conn, &[event(&deleted)]).await?;
            Ok(true)
        })
        .await
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
