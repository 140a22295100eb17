//! What keeps the read cache coherent with writes from outside this process. On a
//! shared PostgreSQL database, the change feed reports every other writer's changes
//! (other instances, SQL run by hand) to the cache's [`Invalidator`], and whether it is
//! listening at all. On SQLite, whose file one server serves, the only other writers
//! are this binary's commands (`verify-artifacts`): they bump the external-writes
//! counter, which is polled here.
//!
//! On PostgreSQL the feed also answers barriers: a write that withdraws access waits,
//! through `FeedBarrier`, until every other instance's feed has relayed it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use releasy_domain::ports::ErrorChain;
use releasy_store_diesel::{
    BarrierOutcome, ChangeBarrier, ChangeEvent, ChangeFeedHandle, Database, LOSS_NOTICED_WITHIN,
};
use releasy_throughput::read_cache::{Invalidator, PeerCaches};

/// What keeps the change feed (or the counter's poller) running; dropping it stops it.
#[derive(Debug)]
pub struct CacheFeed {
    _feed: Option<ChangeFeedHandle>,
    poller: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for CacheFeed {
    fn drop(&mut self) {
        if let Some(poller) = &self.poller {
            poller.abort();
        }
    }
}

/// How often a SQLite server looks at the external-writes counter: a command's verdict
/// reaches downloads within a second.
const EXTERNAL_WRITES_PERIOD: Duration = Duration::from_secs(1);

/// How long a write that withdraws access waits for the other instances' caches. An
/// instance that has not answered by then is stuck or cut off from the database (one
/// that died is not waited for); the write is answered anyway, with a warning.
const PEER_CATCH_UP_BOUND: Duration = Duration::from_secs(2);

// An instance cut off without a word must have stopped serving from memory by the time
// a withdrawal stops waiting for it.
const _: () = assert!(LOSS_NOTICED_WITHIN.as_millis() < PEER_CATCH_UP_BOUND.as_millis());

/// The other instances' caches, reached through the change feed's barriers.
#[derive(Debug)]
struct FeedBarrier(ChangeBarrier);

#[async_trait]
impl PeerCaches for FeedBarrier {
    async fn catch_up(&self) {
        match self.0.confirm(PEER_CATCH_UP_BOUND).await {
            Ok(BarrierOutcome::Confirmed { .. } | BarrierOutcome::NotListening { others: 0 }) => {}
            Ok(BarrierOutcome::NotListening { others }) => tracing::warn!(
                others,
                bound = ?PEER_CATCH_UP_BOUND,
                "this instance's change feed is not listening, so no other instance could confirm a withdrawal of access; it was answered after the bound, by which the others drop what it changed"
            ),
            Ok(BarrierOutcome::Unconfirmed { missing }) => tracing::warn!(
                missing,
                bound = ?PEER_CATCH_UP_BOUND,
                "instances did not confirm a withdrawal of access in time; they may serve the old answer until their change feed catches up"
            ),
            Err(err) => tracing::warn!(
                error = %ErrorChain(&err),
                "could not confirm a withdrawal of access with the other instances"
            ),
        }
    }
}

/// Starts reporting `database`'s outside writes into `invalidator`; nothing to do
/// without one (the cache is off).
pub(crate) fn feed_cache(database: &Database, invalidator: Option<Invalidator>) -> CacheFeed {
    match (database, invalidator) {
        (Database::Postgres(store), Some(invalidator)) => {
            let relay = invalidator.clone();
            let feed = store.watch_changes(move |event| match event {
                ChangeEvent::Listening => relay.listening(),
                ChangeEvent::Changed(table) => relay.changed_named(&table),
                ChangeEvent::Lost => relay.lost(),
            });
            invalidator.reach_peers_through(Arc::new(FeedBarrier(feed.barrier())));
            CacheFeed {
                _feed: Some(feed),
                poller: None,
            }
        }
        (Database::Sqlite(store), Some(invalidator)) => {
            let store = store.clone();
            let poller = tokio::spawn(async move {
                let mut seen = None;
                let mut every = tokio::time::interval(EXTERNAL_WRITES_PERIOD);
                loop {
                    every.tick().await;
                    match store.external_writes_epoch().await {
                        // The first reading too: the cache may have filled while the
                        // first attempts failed, before a command's write they missed.
                        Ok(epoch) if seen != Some(epoch) => {
                            seen = Some(epoch);
                            // Not a table the cache knows: everything is dropped.
                            invalidator.changed_named("external_writes");
                        }
                        Ok(_) => {}
                        Err(err) => {
                            tracing::warn!(error = %ErrorChain(&err), "could not read the external-writes counter");
                        }
                    }
                }
            });
            CacheFeed {
                _feed: None,
                poller: Some(poller),
            }
        }
        (_, None) => CacheFeed {
            _feed: None,
            poller: None,
        },
    }
}
