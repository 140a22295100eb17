//! `releasy-server audit verify`: walks the audit trail's hash chain from its recorded
//! start to its head and names the first event altered, deleted or inserted. On
//! success it prints the head, which an operator can keep elsewhere (a ticket, a log
//! store) to detect a later rewrite of the whole tail, and how many events await their
//! link. It only reads: a database with migrations not applied yet is refused.

use std::io::Write;

use releasy_domain::audit::{AWAITING_COUNTED, AuditService, VerifiedChain, VerifyError};
use releasy_store_diesel::{Database, DatabaseUrl, SetupError};

use crate::settings::Settings;

/// Why the command could not run (a broken chain is an answer, not one of these).
#[derive(Debug, thiserror::Error)]
pub enum AuditVerifyError {
    /// The database could not be opened or read.
    #[error(transparent)]
    Database(#[from] SetupError),
    /// The configured SQLite file does not exist.
    #[error(
        "no database at {}: audit verify reads an existing one (is RELEASY_DATABASE_URL the server's?)",
        .0.display()
    )]
    NoDatabase(std::path::PathBuf),
    /// The database's schema is older than this binary's.
    #[error(
        "the database has migrations not applied yet ({}): start releasy-server on it (or run releasy-server migrate) first",
        .0.join(", ")
    )]
    PendingMigrations(Vec<String>),
    /// The database failed while the chain was read.
    #[error("the database failed")]
    Repo(#[source] releasy_domain::ports::RepoError),
    /// The output could not be written.
    #[error("writing the report failed")]
    Output(#[source] std::io::Error),
}

/// What the walk found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every event from the start to the head is linked as it was written.
    Intact(VerifiedChain),
    /// The first break, as the report line names it.
    Broken(String),
}

/// Verifies the chain of the configured database and writes one line about it.
///
/// # Errors
/// [`AuditVerifyError`] when the database cannot be read or the output written.
pub async fn run(
    settings: &Settings,
    out: &mut dyn Write,
) -> Result<AuditVerdict, AuditVerifyError> {
    // A check reads what is there: pointed at a file that does not exist (a wrong
    // working directory), it says so rather than creating an empty database.
    let url = match &settings.database_url {
        DatabaseUrl::SqliteFile(path) | DatabaseUrl::SqliteExistingFile(path)
            if !path.is_file() =>
        {
            return Err(AuditVerifyError::NoDatabase(path.clone()));
        }
        DatabaseUrl::SqliteFile(path) => DatabaseUrl::SqliteExistingFile(path.clone()),
        other => other.clone(),
    };
    let database = Database::open(&url, settings.database_max_connections)?;
    let pending = database.pending_migrations().await?;
    if !pending.is_empty() {
        return Err(AuditVerifyError::PendingMigrations(pending));
    }
    let events = database.repositories().audit;
    let audit = AuditService::new(events.clone());
    let verdict = match audit.verify().await {
        Ok(chain) if chain.awaiting_link > 0 && database.links_audit_events_inline() => {
            // No linker runs on SQLite once the chain has begun: its writes link
            // their own events, so an unlinked one was written by something else.
            let first = events.unchained(1).await.map_err(AuditVerifyError::Repo)?;
            let id = first.first().map_or("?".to_owned(), |e| e.id.to_string());
            AuditVerdict::Broken(format!(
                "audit event {id} was inserted: it carries no chain link, and this database's writes link their own events"
            ))
        }
        Ok(chain) => AuditVerdict::Intact(chain),
        Err(VerifyError::Broken(found)) => AuditVerdict::Broken(found.to_string()),
        Err(VerifyError::Repo(err)) => return Err(AuditVerifyError::Repo(err)),
    };
    let line = match &verdict {
        AuditVerdict::Intact(chain) => format!(
            "audit chain intact: {} events checked (positions {} to {}); head {} {}; {}",
            chain.events,
            chain.bounds.start.position + 1,
            chain.bounds.head.position,
            chain.bounds.head.position,
            chain.bounds.head.hash,
            awaiting(chain),
        ),
        AuditVerdict::Broken(found) => format!("audit chain broken: {found}"),
    };
    writeln!(out, "{line}").map_err(AuditVerifyError::Output)?;
    Ok(verdict)
}

/// How many events await their link, and since when.
fn awaiting(chain: &VerifiedChain) -> String {
    match chain.oldest_awaiting {
        None => "no events await their link".to_owned(),
        Some(oldest) => format!(
            "{}{} events await their link (the oldest created at {}, unix seconds)",
            chain.awaiting_link,
            if chain.awaiting_link >= u64::from(AWAITING_COUNTED) {
                "+"
            } else {
                ""
            },
            oldest.unix_seconds(),
        ),
    }
}
