//! `releasy-server audit verify`: walks the audit trail's hash chain from its recorded
//! start to its head and names the first event altered, deleted or inserted. On
//! success it prints the head, which an operator can keep elsewhere (a ticket, a log
//! store) to detect a later rewrite of the whole tail, and how many events await their
//! link. It only reads, the database as it is ([`crate::existing_database`]).

use std::io::Write;

use releasy_domain::audit::{AWAITING_COUNTED, AuditService, VerifiedChain, VerifyError};

use crate::existing_database::{self, ExistingDatabaseError};
use crate::settings::Settings;

/// Why the command could not run (a broken chain is an answer, not one of these).
#[derive(Debug, thiserror::Error)]
pub enum AuditVerifyError {
    /// The database could not be opened as it is.
    #[error(transparent)]
    Database(#[from] ExistingDatabaseError),
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
    let database = existing_database::open(settings).await?;
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
