//! `AuditRepository` on diesel. `record_many` writes a batch in one transaction opened
//! by `$begin` (as in `releases.rs`): one commit, and so one disk sync, per batch.

macro_rules! audit_repository {
    ($store:ty, $backend:ty, $begin:path) => {
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
                use diesel_async::RunQueryDsl;
                if events.is_empty() {
                    return Ok(());
                }
                let rows: Vec<crate::rows::AuditEventRow> = events
                    .iter()
                    .map(crate::rows::AuditEventRow::from)
                    .collect();
                let mut conn = self.conn().await?;
                $begin(&mut *conn, async |conn| {
                    for row in rows {
                        diesel::insert_into(crate::schema::audit_events::table)
                            .values(row)
                            .execute(conn)
                            .await?;
                    }
                    Ok::<(), diesel::result::Error>(())
                })
                .await
                .map_err(crate::error::query_error)
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
