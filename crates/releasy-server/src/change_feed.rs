//! On a shared PostgreSQL database, the change feed that keeps the read cache coherent
//! with every other writer (other instances, SQL run by hand): it reports each change
//! to the cache's [`Invalidator`], and whether it is listening at all.

use releasy_store_diesel::{ChangeEvent, ChangeFeedHandle, Database};
use releasy_throughput::read_cache::Invalidator;

/// What keeps the change feed running; dropping it stops the feed.
#[derive(Debug)]
pub struct CacheFeed {
    _feed: Option<ChangeFeedHandle>,
}

/// Starts the feed of `database` into `invalidator`; nothing to do without one (the
/// cache is off, or only this process writes to the database).
pub(crate) fn feed_cache(database: &Database, invalidator: Option<Invalidator>) -> CacheFeed {
    let feed = match (database, invalidator) {
        (Database::Postgres(store), Some(invalidator)) => {
            Some(store.watch_changes(move |event| match event {
                ChangeEvent::Listening => invalidator.listening(),
                ChangeEvent::Changed(table) => invalidator.changed_named(&table),
                ChangeEvent::Lost => invalidator.lost(),
            }))
        }
        _ => None,
    };
    CacheFeed { _feed: feed }
}
