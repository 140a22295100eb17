//! `AuditRepository` on diesel. `record_many` writes a batch as one multi-row `INSERT`
//! (`multi_row_insert.rs`): one statement and one commit per batch.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::audit::{AuditEvent, AuditFilter};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{AuditRepository, RepoError};

use super::{Backend, Store};
use crate::error::query_error;
use crate::repos::batch_rows::audit_values;
use crate::rows::AuditEventRow;
use crate::schema::audit_events::dsl;

#[async_trait]
impl AuditRepository for Store {
    async fn record(&self, event: &AuditEvent) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(dsl::audit_events)
            .values(AuditEventRow::from(event))
            .execute(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn record_many(&self, events: &[AuditEvent]) -> Result<(), RepoError> {
        if events.is_empty() {
            return Ok(());
        }
        let rows = events.iter().map(audit_values).collect();
        self.insert_audit_rows(rows).await
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        let mut query = dsl::audit_events
            .select(AuditEventRow::as_select())
            .order_by((dsl::created_at.desc(), dsl::id.desc()))
            .into_boxed::<Backend>();
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
        let rows: Vec<AuditEventRow> = query
            .offset(page.offset.get() as i64)
            .limit(i64::from(page.limit.get()))
            .load(&mut *conn)
            .await
            .map_err(query_error)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}
