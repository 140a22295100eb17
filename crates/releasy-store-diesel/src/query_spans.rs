//! A span for each SQL statement, for the traces `RELEASY_OTLP_ENDPOINT` exports:
//! diesel's instrumentation hook opens it when a statement starts and closes it when
//! the statement ends, as a child of the span that ran it (a request's).
//!
//! The span holds the statement's text as diesel wrote it, with placeholders (`$1`,
//! `?`), never the bound values: those carry key hashes and tokens.

use std::collections::VecDeque;

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};

/// Statements a connection may have started and not yet finished (diesel-async runs a
/// few at once on one PostgreSQL connection); past this the oldest span is closed, so
/// that a statement whose caller went away cannot keep spans open.
const OPEN_STATEMENTS_MAX: usize = 16;

/// Why statements cannot be traced.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the statement spans")]
pub struct TraceQueriesError(#[source] diesel::result::Error);

/// From now on, every connection either backend opens gives each statement a span
/// (`otel.name` like `SELECT customers`, `db.system.name`, `db.operation.name`,
/// `db.collection.name`, `db.query.text`; `otel.status_code` `error` and `error.type`
/// when it failed). Call it before [`Database::open`](crate::Database::open).
///
/// # Errors
/// [`TraceQueriesError`] when diesel's default instrumentation cannot be replaced.
pub fn trace_queries() -> Result<(), TraceQueriesError> {
    set_default_instrumentation(|| Some(Box::new(QuerySpans::default()))).map_err(TraceQueriesError)
}

/// The spans of one connection's statements.
#[derive(Debug)]
struct QuerySpans {
    /// `postgresql` or `sqlite`, learnt when the connection is made.
    system: &'static str,
    open: VecDeque<tracing::Span>,
}

impl Default for QuerySpans {
    /// Until the connection says otherwise, PostgreSQL: diesel announces every SQLite
    /// connection it opens, but a PostgreSQL connection is built from the driver's by
    /// `postgres/connector.rs` (for TLS) and announced by no one.
    fn default() -> Self {
        Self {
            system: "postgresql",
            open: VecDeque::new(),
        }
    }
}

impl Instrumentation for QuerySpans {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => {
                self.system = system_of(url);
            }
            InstrumentationEvent::StartQuery { query, .. } => {
                // Statements outside any span (migrations, background sweeps) would
                // each be a trace of its own: a placeholder keeps the pairing.
                if tracing::Span::current().is_none() {
                    self.push(tracing::Span::none());
                    return;
                }
                let written = query.to_string();
                let statement = Statement::of(&written);
                let span = tracing::info_span!(
                    "db.query",
                    otel.name = %statement.span_name(),
                    otel.kind = "client",
                    db.system.name = self.system,
                    db.operation.name = statement.operation,
                    db.collection.name = statement.collection,
                    db.query.text = statement.text,
                    otel.status_code = tracing::field::Empty,
                    error.type = tracing::field::Empty,
                );
                self.push(span);
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                if let Some(span) = self.open.pop_front()
                    && let Some(error) = error
                {
                    span.record("otel.status_code", "error");
                    span.record("error.type", error_type(error));
                }
            }
            _ => {}
        }
    }
}

impl QuerySpans {
    fn push(&mut self, span: tracing::Span) {
        if self.open.len() == OPEN_STATEMENTS_MAX {
            self.open.pop_front();
        }
        self.open.push_back(span);
    }
}

/// The database system of a connection URL (a SQLite one is a path or `file:`).
fn system_of(url: &str) -> &'static str {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        "postgresql"
    } else {
        "sqlite"
    }
}

/// What kind of failure, without its message (which can quote values).
fn error_type(error: &diesel::result::Error) -> String {
    match error {
        diesel::result::Error::DatabaseError(kind, _) => format!("{kind:?}"),
        diesel::result::Error::NotFound => "NotFound".to_owned(),
        diesel::result::Error::RollbackTransaction => "RollbackTransaction".to_owned(),
        _ => "other".to_owned(),
    }
}

/// What a span says of one statement.
#[derive(Debug, PartialEq, Eq)]
struct Statement<'a> {
    /// The SQL with its placeholders, without the bound values diesel appends.
    text: &'a str,
    /// Its first keyword, upper case: `SELECT`, `INSERT`, `BEGIN`, ...
    operation: &'a str,
    /// The table it reads or writes first (`""` when none is named).
    collection: &'a str,
}

impl<'a> Statement<'a> {
    /// `written` is diesel's rendering: the SQL, then ` -- binds: [...]`. The SQL itself
    /// never holds that marker (every value is bound), so the first one ends it.
    fn of(written: &'a str) -> Self {
        let text = written
            .find(" -- binds: ")
            .map_or(written, |end| &written[..end])
            .trim();
        let operation = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with("--"))
            .and_then(|line| line.split_whitespace().next())
            .unwrap_or("");
        let after = match operation.to_ascii_uppercase().as_str() {
            "INSERT" => "INTO",
            "UPDATE" => "UPDATE",
            "SELECT" | "DELETE" | "WITH" => "FROM",
            _ => "",
        };
        let collection = if after.is_empty() {
            ""
        } else {
            table_after(text, after)
        };
        Self {
            text,
            operation,
            collection,
        }
    }

    /// `SELECT customers`, or the operation alone.
    fn span_name(&self) -> String {
        if self.collection.is_empty() {
            self.operation.to_ascii_uppercase()
        } else {
            format!(
                "{} {}",
                self.operation.to_ascii_uppercase(),
                self.collection
            )
        }
    }
}

/// The table named after the first `keyword` of `sql`, unquoted and without a schema.
fn table_after<'a>(sql: &'a str, keyword: &str) -> &'a str {
    let mut words = sql.split_whitespace();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case(keyword) {
            let Some(name) = words.next() else {
                return "";
            };
            let name = name
                .split(['(', ',', ';'])
                .next()
                .unwrap_or("")
                .rsplit('.')
                .next()
                .unwrap_or("");
            return name.trim_matches(['"', '`']);
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::{Statement, system_of};

    #[test]
    fn a_statement_is_named_by_its_operation_and_first_table_without_its_binds() {
        let select = Statement::of(
            r#"SELECT "customers"."id" FROM "customers" WHERE "customers"."id" = $1 -- binds: [secret-looking-value]"#,
        );
        assert_eq!(
            select,
            Statement {
                text: r#"SELECT "customers"."id" FROM "customers" WHERE "customers"."id" = $1"#,
                operation: "SELECT",
                collection: "customers",
            }
        );
        assert_eq!(select.span_name(), "SELECT customers");

        let insert = Statement::of(
            r#"INSERT INTO "audit_events" ("id", "at") VALUES (?, ?) -- binds: [1, 2]"#,
        );
        assert_eq!(insert.collection, "audit_events");
        assert_eq!(insert.span_name(), "INSERT audit_events");

        let update = Statement::of(r#"UPDATE "api_keys" SET "last_used_at" = $1 -- binds: [3]"#);
        assert_eq!(update.span_name(), "UPDATE api_keys");

        let delete = Statement::of(r#"DELETE FROM public."download_tokens" WHERE x -- binds: []"#);
        assert_eq!(delete.span_name(), "DELETE download_tokens");

        assert_eq!(Statement::of("BEGIN").span_name(), "BEGIN");
        assert_eq!(
            Statement::of("-- Your SQL goes here\nCREATE TABLE x (id INT)").span_name(),
            "CREATE"
        );
        assert_eq!(Statement::of("COMMIT -- binds: []").text, "COMMIT");
    }

    #[test]
    fn only_the_first_marker_ends_the_sql_so_a_bound_value_cannot_extend_it() {
        let statement = Statement::of(
            r#"SELECT 1 FROM "products" WHERE "name" = $1 -- binds: ["x -- binds: y"]"#,
        );
        assert_eq!(
            statement.text,
            r#"SELECT 1 FROM "products" WHERE "name" = $1"#
        );
    }

    #[test]
    fn the_system_comes_from_the_url_and_never_keeps_it() {
        assert_eq!(system_of("postgres://u:p@db/releasy"), "postgresql");
        assert_eq!(system_of("postgresql://db/releasy"), "postgresql");
        assert_eq!(system_of("/var/lib/releasy/releasy.db"), "sqlite");
        assert_eq!(system_of("file:releasy.db?mode=rwc"), "sqlite");
    }
}
