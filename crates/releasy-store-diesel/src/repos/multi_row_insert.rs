//! Many rows in one `INSERT` statement, on both backends: one statement is all or
//! none, and one commit (one disk sync) per batch. Batches larger than one statement
//! allows are split inside one transaction.
//!
//! The rows are given column by column (`(Eq<col, value>, ...)` tuples) rather than
//! as `Insertable` row structs: a row struct with an `Option` column derives a "maybe
//! default" value, for which diesel's SQLite backend falls back to one `INSERT` per
//! row. And diesel builds SQLite's multi-row `INSERT` only with its synchronous API, so
//! on SQLite the write runs on the wrapped connection in `spawn_blocking`, as the
//! migrations do.

/// Rows per `INSERT`: at 7 binds a row this stays far below PostgreSQL's 65,535 and
/// SQLite's 32,766 bind limits.
pub(super) const ROWS_PER_STATEMENT: usize = 1000;

/// Defines `async fn $name(&self, rows: Vec<$values>) -> Result<(), RepoError>` on
/// `PgStore` and `SqliteStore`, inserting `rows` into `$table`.
macro_rules! multi_row_insert {
    ($name:ident, $table:path, $values:ty) => {
        impl crate::postgres::PgStore {
            pub(super) async fn $name(
                &self,
                rows: Vec<$values>,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use diesel_async::{AsyncConnection, RunQueryDsl};
                use $table as table;
                let mut conn = self.conn().await?;
                if rows.len() <= crate::repos::multi_row_insert::ROWS_PER_STATEMENT {
                    diesel::insert_into(table::table)
                        .values(&rows)
                        .execute(&mut *conn)
                        .await
                        .map_err(crate::error::query_error)?;
                    return Ok(());
                }
                conn.transaction(async |conn| {
                    for chunk in rows.chunks(crate::repos::multi_row_insert::ROWS_PER_STATEMENT) {
                        diesel::insert_into(table::table)
                            .values(chunk)
                            .execute(conn)
                            .await?;
                    }
                    Ok::<(), diesel::result::Error>(())
                })
                .await
                .map_err(crate::error::query_error)
            }
        }

        impl crate::sqlite::SqliteStore {
            pub(super) async fn $name(
                &self,
                rows: Vec<$values>,
            ) -> Result<(), releasy_domain::ports::RepoError> {
                use $table as table;
                let mut conn = self.batch_writer_conn().await?;
                conn.spawn_blocking(move |conn| {
                    use diesel::RunQueryDsl;
                    if rows.len() <= crate::repos::multi_row_insert::ROWS_PER_STATEMENT {
                        return diesel::insert_into(table::table)
                            .values(&rows)
                            .execute(conn)
                            .map(|_| ());
                    }
                    conn.immediate_transaction(|conn| {
                        for chunk in rows.chunks(crate::repos::multi_row_insert::ROWS_PER_STATEMENT)
                        {
                            diesel::insert_into(table::table)
                                .values(chunk)
                                .execute(conn)?;
                        }
                        Ok(())
                    })
                })
                .await
                .map_err(crate::error::query_error)
            }
        }
    };
}
