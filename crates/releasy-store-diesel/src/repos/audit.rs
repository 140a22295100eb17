//! `AuditRepository` on diesel. `record_many` writes a batch as one multi-row `INSERT`
//! (`multi_row_insert.rs`): one statement and one commit per batch.

use diesel::ExpressionMethods;
use diesel::dsl::Eq;
use releasy_domain::audit::AuditEvent;

use crate::schema::audit_events as ae;

/// One event's values, column by column (see `multi_row_insert.rs` for why).
pub(super) type AuditValues = (
    Eq<ae::id, String>,
    Eq<ae::customer_id, Option<String>>,
    Eq<ae::actor, String>,
    Eq<ae::event, String>,
    Eq<ae::payload, String>,
    Eq<ae::created_at, i64>,
);

pub(super) fn audit_values(event: &AuditEvent) -> AuditValues {
    let row = crate::rows::AuditEventRow::from(event);
    (
        ae::id.eq(row.id),
        ae::customer_id.eq(row.customer_id),
        ae::actor.eq(row.actor),
        ae::event.eq(row.event),
        ae::payload.eq(row.payload),
        ae::created_at.eq(row.created_at),
    )
}

multi_row_insert!(insert_audit_rows, crate::schema::audit_events, AuditValues);

macro_rules! audit_repository {
    ($store:ty, $backend:ty) => {
        #[async_trait::async_trait]
        impl releasy_domain::ports::AuditRepository for $store {
            async fn record(
                &self,
                event: &releasy_domain::audit::AuditEvent,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::RunQueryDsl;
                let mut conn = self.conn().await?;
                diesel::insert_into(crate::schema::audit_events::table)
                    .values(crate::rows::AuditEventRow::from(event))
                    .execute(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                Ok(())
            }

            async fn record_many(
                &self,
                events: &[releasy_domain::audit::AuditEvent],
            ) -> Result<(), releasy_domain::ports::RepoError> {
                if events.is_empty() {
                    return Ok(());
                }
                let rows = events
                    .iter()
                    .map(crate::repos::audit::audit_values)
                    .collect();
                self.insert_audit_rows(rows).await
            }

            async fn list(
                &self,
                filter: &releasy_domain::audit::AuditFilter,
                page: releasy_domain::pagination::PageRequest,
            ) -> Result<Vec<releasy_domain::audit::AuditEvent>, releasy_domain::ports::RepoError>
            {
                use crate::schema::audit_events::dsl;
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                let mut query = dsl::audit_events
                    .select(crate::rows::AuditEventRow::as_select())
                    .order_by((dsl::created_at.desc(), dsl::id.desc()))
                    .into_boxed::<$backend>();
                if let Some(customer) = filter.customer_id {
                    query = query.filter(dsl::customer_id.eq(customer.to_string()));
                }
                if let Some(actor) = &filter.actor {
                    query = query.filter(dsl::actor.eq(actor.clone()));
                }
                if let Some(event) = &filter.event {
                    query = query.filter(dsl::event.eq(event.clone()));
                }
                if let Some(from) = filter.created_from {
                    query = query.filter(dsl::created_at.ge(from.unix_seconds()));
                }
                if let Some(to) = filter.created_to {
                    query = query.filter(dsl::created_at.le(to.unix_seconds()));
                }
                let mut conn = self.conn().await?;
                let rows: Vec<crate::rows::AuditEventRow> = query
                    .offset(page.offset.get() as i64)
                    .limit(i64::from(page.limit.get()))
                    .load(&mut *conn)
                    .await
                    .map_err(crate::error::query_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}
