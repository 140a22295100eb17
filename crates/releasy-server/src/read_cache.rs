//! The read cache in front of the repositories and, on PostgreSQL, the change feed
//! that keeps it coherent with every other writer of the database.
//!
//! SQLite is written by this process alone (the embedded default), so every write
//! passes through the cache's decorators and it is coherent from the start. A shared
//! PostgreSQL database has other writers: the cache serves nothing from memory until
//! the feed listens, and stops again whenever the feed loses its connection.

use releasy_cache::ReadCache;
use releasy_domain::Ports;
use releasy_store_diesel::{ChangeEvent, ChangeFeedHandle, Database};

/// What keeps the cache running; dropping it stops the change feed.
#[derive(Debug)]
pub struct CacheFeed {
    _feed: Option<ChangeFeedHandle>,
}

/// `ports` behind a read cache of `rows` rows per kind of answer (none when 0).
pub(crate) fn with_read_cache(database: &Database, ports: Ports, rows: u64) -> (Ports, CacheFeed) {
    if rows == 0 {
        tracing::info!("read cache off (RELEASY_CACHE_ROWS=0)");
        return (ports, CacheFeed { _feed: None });
    }
    match database {
        Database::Sqlite(_) => {
            let cache = ReadCache::new(rows);
            (cache.wrap(ports), CacheFeed { _feed: None })
        }
        Database::Postgres(store) => {
            let cache = ReadCache::awaiting_change_feed(rows);
            let invalidator = cache.invalidator();
            let feed = store.watch_changes(move |event| match event {
                ChangeEvent::Listening => invalidator.listening(),
                ChangeEvent::Changed(table) => invalidator.changed_named(&table),
                ChangeEvent::Lost => invalidator.lost(),
            });
            (cache.wrap(ports), CacheFeed { _feed: Some(feed) })
        }
    }
}
