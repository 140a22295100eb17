//! A batch its write-behind queue writes again after the commit went unacknowledged
//! (the connection dropped after `COMMIT` reached the database): its rows are stored,
//! and writing them again is refused for their ids, every time, so the queue behind
//! it would never move again. Such a batch is written without the rows already stored
//! (the queue may have put newer rows beside them), each row once. Only a refused
//! batch pays for the lookup.

use std::collections::HashSet;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use releasy_domain::ports::RepoError;

use super::Store;
use crate::error::query_error;
use crate::schema::{audit_events, download_ledger};

/// Ids looked up per statement: well under SQLite's 32 766 bound parameters.
const IDS_PER_QUERY: usize = 1_000;

/// The table whose ids are looked up.
#[derive(Debug, Clone, Copy)]
pub(super) enum StoredIds {
    AuditEvents,
    DownloadLedger,
}

impl Store {
    /// Of `ids`, those stored in `table`.
    pub(super) async fn stored_ids(
        &self,
        ids: impl Iterator<Item = String>,
        table: StoredIds,
    ) -> Result<HashSet<String>, RepoError> {
        let ids: Vec<String> = ids.collect();
        let mut conn = self.conn().await?;
        let mut stored = HashSet::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let found: Vec<String> = match table {
                StoredIds::AuditEvents => {
                    audit_events::table
                        .select(audit_events::id)
                        .filter(audit_events::id.eq_any(chunk))
                        .load(&mut *conn)
                        .await
                }
                StoredIds::DownloadLedger => {
                    download_ledger::table
                        .select(download_ledger::id)
                        .filter(download_ledger::id.eq_any(chunk))
                        .load(&mut *conn)
                        .await
                }
            }
            .map_err(query_error)?;
            stored.extend(found);
        }
        Ok(stored)
    }
}

/// The rows of a batch refused for a duplicate id that are to be written: those not
/// `stored` yet, each once (a queue that wrote a batch again may hold a row twice).
/// When there is nothing to leave out, the refusal was not a retry's, and it stays an
/// error.
pub(super) fn not_stored<T: Clone>(
    rows: &[T],
    id: impl Fn(&T) -> String,
    stored: &HashSet<String>,
) -> Result<Vec<T>, RepoError> {
    let mut seen = HashSet::with_capacity(rows.len());
    let left: Vec<T> = rows
        .iter()
        .filter(|row| {
            let id = id(row);
            !stored.contains(&id) && seen.insert(id)
        })
        .cloned()
        .collect();
    if left.len() == rows.len() {
        return Err(RepoError::Conflict);
    }
    Ok(left)
}
