//! The large tables' rows as column-by-column values for multi-row `INSERT`s.
//!
//! The rows are given column by column (`(Eq<col, value>, ...)` tuples) rather than
//! as `Insertable` row structs: a row struct with an `Option` column derives a "maybe
//! default" value, for which diesel's SQLite backend falls back to one `INSERT` per
//! row. And diesel builds SQLite's multi-row `INSERT` only with its synchronous API, so
//! on SQLite batches are written on the wrapped connection in `spawn_blocking`.

use diesel::ExpressionMethods;
use diesel::dsl::Eq;
use releasy_domain::audit::{AuditEvent, ChainLink, EncodedEvent};
use releasy_domain::delivery::DownloadRecord;

use crate::rows::{AuditEventRow, DownloadLedgerRow, DownloadTokenRow};
use crate::schema::audit_events as ae;
use crate::schema::download_ledger as dl;
use crate::schema::download_tokens as dt;

/// Rows per `INSERT`: at 8 binds a row this stays far below PostgreSQL's 65,535 and
/// SQLite's 32,766 bind limits.
pub(super) const ROWS_PER_STATEMENT: usize = 1000;

/// Ledger rows per `INSERT`: 15 binds a row, 15,000 a statement, under both limits.
pub(super) const LEDGER_ROWS_PER_STATEMENT: usize = 1000;

/// One ledger row's values, column by column.
pub(super) type LedgerValues = (
    Eq<dl::id, String>,
    Eq<dl::at, i64>,
    Eq<dl::customer_id, String>,
    Eq<dl::api_key_id, Option<String>>,
    Eq<dl::artifact_id, String>,
    Eq<dl::release_id, String>,
    Eq<dl::product, String>,
    Eq<dl::version, String>,
    Eq<dl::platform, String>,
    Eq<dl::bytes, i64>,
    Eq<dl::token_id, String>,
    Eq<dl::purpose, Option<String>>,
    Eq<dl::client_address, Option<String>>,
    Eq<dl::user_agent, Option<String>>,
    Eq<dl::outcome, String>,
);

/// The `INSERT ... ON CONFLICT DO UPDATE` that adds summary rows (one per key) to
/// `download_daily`: a macro, because the statement's type names its backend only
/// once executed.
macro_rules! add_to_daily {
    ($rows:expr) => {{
        use diesel::upsert::excluded;
        use $crate::schema::download_daily as dd;
        let values: Vec<_> = $rows
            .iter()
            .map(|row: &$crate::rows::DailyRow| {
                (
                    dd::day.eq(row.day),
                    dd::artifact_id.eq(row.artifact_id.clone()),
                    dd::customer_id.eq(row.customer_id.clone()),
                    dd::product.eq(row.product.clone()),
                    dd::version.eq(row.version.clone()),
                    dd::platform.eq(row.platform.clone()),
                    dd::downloads.eq(row.downloads),
                    dd::bytes.eq(row.bytes),
                )
            })
            .collect();
        diesel::insert_into(dd::table)
            .values(values)
            .on_conflict((dd::product, dd::day, dd::artifact_id, dd::customer_id))
            .do_update()
            .set((
                dd::downloads.eq(dd::downloads + excluded(dd::downloads)),
                dd::bytes.eq(dd::bytes + excluded(dd::bytes)),
            ))
    }};
}
pub(super) use add_to_daily;

/// The `INSERT ... ON CONFLICT DO NOTHING RETURNING product, day` that marks (product,
/// day, customer) triples in `download_product_customers`: what it returns are the
/// customers new to that product and day, whom `download_product_daily` counts.
macro_rules! mark_product_customers {
    ($marks:expr) => {{
        use $crate::schema::download_product_customers as pc;
        let values: Vec<_> = $marks
            .iter()
            .map(|(product, day, customer): &(String, i64, String)| {
                (
                    pc::product.eq(product.clone()),
                    pc::day.eq(*day),
                    pc::customer_id.eq(customer.clone()),
                )
            })
            .collect();
        diesel::insert_into(pc::table)
            .values(values)
            .on_conflict_do_nothing()
            .returning((pc::product, pc::day))
    }};
}
pub(super) use mark_product_customers;

/// The `INSERT ... ON CONFLICT DO UPDATE` that adds a batch's product days to
/// `download_product_daily`.
macro_rules! add_to_product_daily {
    ($rows:expr) => {{
        use diesel::upsert::excluded;
        use $crate::schema::download_product_daily as pd;
        let values: Vec<_> = $rows
            .iter()
            .map(|row: &$crate::rows::ProductDayRow| {
                (
                    pd::product.eq(row.product.clone()),
                    pd::day.eq(row.day),
                    pd::downloads.eq(row.downloads),
                    pd::bytes.eq(row.bytes),
                    pd::customers.eq(row.customers),
                )
            })
            .collect();
        diesel::insert_into(pd::table)
            .values(values)
            .on_conflict((pd::product, pd::day))
            .do_update()
            .set((
                pd::downloads.eq(pd::downloads + excluded(pd::downloads)),
                pd::bytes.eq(pd::bytes + excluded(pd::bytes)),
                pd::customers.eq(pd::customers + excluded(pd::customers)),
            ))
    }};
}
pub(super) use add_to_product_daily;

/// The rows of `records`.
pub(super) fn ledger_values(records: &[DownloadRecord]) -> Vec<LedgerValues> {
    records
        .iter()
        .map(|record| {
            let row = DownloadLedgerRow::from(record);
            (
                dl::id.eq(row.id),
                dl::at.eq(row.at),
                dl::customer_id.eq(row.customer_id),
                dl::api_key_id.eq(row.api_key_id),
                dl::artifact_id.eq(row.artifact_id),
                dl::release_id.eq(row.release_id),
                dl::product.eq(row.product),
                dl::version.eq(row.version),
                dl::platform.eq(row.platform),
                dl::bytes.eq(row.bytes),
                dl::token_id.eq(row.token_id),
                dl::purpose.eq(row.purpose),
                dl::client_address.eq(row.client_address),
                dl::user_agent.eq(row.user_agent),
                dl::outcome.eq(row.outcome),
            )
        })
        .collect()
}

/// A batch of ledger rows as one array per column: PostgreSQL inserts them with
/// `INSERT ... SELECT FROM UNNEST(...)`, fifteen parameters whatever the batch's size,
/// instead of a statement of fifteen per row that it plans (and copies the plan of)
/// at every execution.
#[derive(Debug, Default)]
pub(super) struct LedgerColumns {
    id: Vec<String>,
    at: Vec<i64>,
    customer_id: Vec<String>,
    api_key_id: Vec<Option<String>>,
    artifact_id: Vec<String>,
    release_id: Vec<String>,
    product: Vec<String>,
    version: Vec<String>,
    platform: Vec<String>,
    bytes: Vec<i64>,
    token_id: Vec<String>,
    purpose: Vec<Option<String>>,
    client_address: Vec<Option<String>>,
    user_agent: Vec<Option<String>>,
    outcome: Vec<String>,
}

impl LedgerColumns {
    /// The columns of `records`.
    pub(super) fn of(records: &[DownloadRecord]) -> Self {
        let mut columns = Self::default();
        for record in records {
            let row = DownloadLedgerRow::from(record);
            columns.id.push(row.id);
            columns.at.push(row.at);
            columns.customer_id.push(row.customer_id);
            columns.api_key_id.push(row.api_key_id);
            columns.artifact_id.push(row.artifact_id);
            columns.release_id.push(row.release_id);
            columns.product.push(row.product);
            columns.version.push(row.version);
            columns.platform.push(row.platform);
            columns.bytes.push(row.bytes);
            columns.token_id.push(row.token_id);
            columns.purpose.push(row.purpose);
            columns.client_address.push(row.client_address);
            columns.user_agent.push(row.user_agent);
            columns.outcome.push(row.outcome);
        }
        columns
    }

    /// The `INSERT` of every row.
    pub(super) fn insert(
        self,
    ) -> diesel::query_builder::BoxedSqlQuery<
        'static,
        diesel::pg::Pg,
        diesel::query_builder::SqlQuery,
    > {
        use diesel::sql_types::{Array, BigInt, Nullable, Text};
        diesel::sql_query(
            "INSERT INTO download_ledger (id, at, customer_id, api_key_id, artifact_id, \
             release_id, product, version, platform, bytes, token_id, purpose, client_address, \
             user_agent, outcome) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[], \
             $12::text[], $13::text[], $14::text[], $15::text[])",
        )
        .into_boxed()
        .bind::<Array<Text>, _>(self.id)
        .bind::<Array<BigInt>, _>(self.at)
        .bind::<Array<Text>, _>(self.customer_id)
        .bind::<Array<Nullable<Text>>, _>(self.api_key_id)
        .bind::<Array<Text>, _>(self.artifact_id)
        .bind::<Array<Text>, _>(self.release_id)
        .bind::<Array<Text>, _>(self.product)
        .bind::<Array<Text>, _>(self.version)
        .bind::<Array<Text>, _>(self.platform)
        .bind::<Array<BigInt>, _>(self.bytes)
        .bind::<Array<Text>, _>(self.token_id)
        .bind::<Array<Nullable<Text>>, _>(self.purpose)
        .bind::<Array<Nullable<Text>>, _>(self.client_address)
        .bind::<Array<Nullable<Text>>, _>(self.user_agent)
        .bind::<Array<Text>, _>(self.outcome)
    }
}

/// One event's values, column by column, without a chain link (the linker adds it).
pub(super) type AuditValues = (
    Eq<ae::id, String>,
    Eq<ae::customer_id, Option<String>>,
    Eq<ae::actor, String>,
    Eq<ae::event, String>,
    Eq<ae::payload, String>,
    Eq<ae::created_at, i64>,
);

/// One event's values with its chain link, column by column.
pub(super) type LinkedAuditValues = (
    Eq<ae::id, String>,
    Eq<ae::customer_id, Option<String>>,
    Eq<ae::actor, String>,
    Eq<ae::event, String>,
    Eq<ae::payload, String>,
    Eq<ae::created_at, i64>,
    Eq<ae::chain_position, Option<i64>>,
    Eq<ae::chain_hash, Option<String>>,
);

/// `events` linked, in order, after `head`: their rows, and the new head.
pub(crate) fn linked_audit_values(
    head: ChainLink,
    events: &[AuditEvent],
) -> (Vec<LinkedAuditValues>, ChainLink) {
    let (rows, new_head) = linked_rows(head, events);
    let values = rows
        .into_iter()
        .map(|row| {
            (
                ae::id.eq(row.id),
                ae::customer_id.eq(row.customer_id),
                ae::actor.eq(row.actor),
                ae::event.eq(row.event),
                ae::payload.eq(row.payload),
                ae::created_at.eq(row.created_at),
                ae::chain_position.eq(row.chain_position),
                ae::chain_hash.eq(row.chain_hash),
            )
        })
        .collect();
    (values, new_head)
}

/// The rows of `events` linked, in order, after `head`, and the new head. Each event
/// is encoded once: the text that is hashed is the text that is stored.
pub(super) fn linked_rows(
    head: ChainLink,
    events: &[AuditEvent],
) -> (Vec<AuditEventRow>, ChainLink) {
    let mut last = head;
    let rows = events
        .iter()
        .map(|event| {
            let encoded = EncodedEvent::of(event);
            last = last.next_encoded(&encoded);
            AuditEventRow::of_encoded(encoded, Some(last))
        })
        .collect();
    (rows, last)
}

/// The rows of `events`, unlinked.
pub(crate) fn audit_values(events: &[AuditEvent]) -> Vec<AuditValues> {
    events
        .iter()
        .map(|event| {
            let row = AuditEventRow::unlinked(event);
            (
                ae::id.eq(row.id),
                ae::customer_id.eq(row.customer_id),
                ae::actor.eq(row.actor),
                ae::event.eq(row.event),
                ae::payload.eq(row.payload),
                ae::created_at.eq(row.created_at),
            )
        })
        .collect()
}

/// One token's values, column by column.
pub(super) type TokenValues = (
    Eq<dt::id, String>,
    Eq<dt::token_hash, String>,
    Eq<dt::artifact_id, String>,
    Eq<dt::customer_id, String>,
    Eq<dt::purpose, Option<String>>,
    Eq<dt::created_at, i64>,
    Eq<dt::expires_at, i64>,
    Eq<dt::allowed_cidrs, Option<String>>,
    Eq<dt::max_uses, Option<i32>>,
    Eq<dt::api_key_id, Option<String>>,
);

pub(super) fn token_values(row: DownloadTokenRow) -> TokenValues {
    (
        dt::id.eq(row.id),
        dt::token_hash.eq(row.token_hash),
        dt::artifact_id.eq(row.artifact_id),
        dt::customer_id.eq(row.customer_id),
        dt::purpose.eq(row.purpose),
        dt::created_at.eq(row.created_at),
        dt::expires_at.eq(row.expires_at),
        dt::allowed_cidrs.eq(row.allowed_cidrs),
        dt::max_uses.eq(row.max_uses),
        dt::api_key_id.eq(row.api_key_id),
    )
}

#[cfg(test)]
mod tests {
    use releasy_domain::download::DownloadToken;
    use releasy_domain::{ArtifactId, CustomerId, DownloadTokenId, Timestamp};

    use super::{dt, token_values};
    use crate::rows::DownloadTokenRow;

    fn token(purpose: Option<&str>) -> DownloadTokenRow {
        DownloadTokenRow::from(&DownloadToken {
            id: DownloadTokenId::generate(),
            token_hash: uuid::Uuid::new_v4().simple().to_string(),
            artifact_id: ArtifactId::generate(),
            customer_id: CustomerId::generate(),
            purpose: purpose.map(str::to_owned),
            created_at: Timestamp::from_unix_seconds(1),
            expires_at: Timestamp::from_unix_seconds(2),
            allowed_networks: None,
            max_uses: None,
            api_key_id: None,
        })
    }

    /// The point of `TokenValues`: on SQLite a batch is one statement, not a
    /// transaction of one `INSERT` per row (which diesel shows as `BEGIN` ... `COMMIT`).
    #[test]
    fn a_batch_is_one_multi_row_insert_on_both_backends() {
        let rows: Vec<_> = [token(Some("mirror")), token(None), token(None)]
            .into_iter()
            .map(token_values)
            .collect();
        let query = diesel::insert_into(dt::table).values(&rows);
        let sqlite = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        let pg = diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string();
        for sql in [sqlite, pg] {
            assert_eq!(sql.matches("INSERT").count(), 1, "{sql}");
            assert!(!sql.contains("BEGIN"), "{sql}");
            assert_eq!(sql.matches("), (").count(), 2, "three rows: {sql}");
        }
    }
}
