//! A connection checked out of either backend's pool, and what becomes of it when its
//! caller goes away mid-transaction.

use deadpool::managed::{Manager, Object};
use diesel_async::{AsyncConnection, TransactionManager};

/// A pool whose objects hold a diesel connection.
pub(crate) trait ConnectionPool: Manager + Sized {
    /// The connection.
    type Conn: AsyncConnection;

    /// The connection inside `object`.
    fn connection(object: &Self::Type) -> &Self::Conn;

    /// The connection inside `object`, mutably.
    fn connection_mut(object: &mut Self::Type) -> &mut Self::Conn;

    /// Whether `object`'s caller left it inside a transaction (or mid-statement).
    fn left_mid_transaction(object: &mut Self::Type) -> bool {
        let conn = Self::connection_mut(object);
        <Self::Conn as AsyncConnection>::TransactionManager::is_broken_transaction_manager(conn)
    }

    /// What becomes of a connection its caller left mid-transaction: closed, by
    /// default, which ends the transaction (and its locks) as soon as the database
    /// notices.
    fn abandoned(object: Object<Self>) {
        tracing::debug!("closing a connection its caller left inside a transaction");
        drop(Object::take(object));
    }
}

/// A connection checked out of a pool: back into it on drop, unless it is still
/// inside a transaction. Then its caller went away between `BEGIN` and the end (a
/// future dropped mid-write), and the pool's `abandoned` ends the transaction at once:
/// PostgreSQL closes the connection, SQLite rolls back once its statement has ended
/// (closing would lose an in-memory database). Returned to the pool as it was, it
/// would keep its locks, idle, until the pool next handed it out and its recycling
/// check threw it away: on SQLite, every other writer would wait on that lock meanwhile.
pub(crate) struct Pooled<M: ConnectionPool>(Option<Object<M>>);

impl<M: ConnectionPool> Pooled<M> {
    pub(crate) fn new(object: Object<M>) -> Self {
        Self(Some(object))
    }

    /// Takes the connection out of the pool for good (for a listener that keeps it).
    pub(crate) fn detach(mut self) -> M::Type {
        match self.0.take() {
            Some(object) => Object::take(object),
            None => unreachable!("emptied only when dropped"),
        }
    }
}

impl<M: ConnectionPool> std::ops::Deref for Pooled<M> {
    type Target = M::Conn;

    fn deref(&self) -> &M::Conn {
        match &self.0 {
            Some(object) => M::connection(object),
            None => unreachable!("emptied only when dropped"),
        }
    }
}

impl<M: ConnectionPool> std::ops::DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Conn {
        match &mut self.0 {
            Some(object) => M::connection_mut(object),
            None => unreachable!("emptied only when dropped"),
        }
    }
}

impl<M: ConnectionPool> Drop for Pooled<M> {
    fn drop(&mut self) {
        let Some(mut object) = self.0.take() else {
            return;
        };
        if M::left_mid_transaction(&mut object) {
            M::abandoned(object);
        }
    }
}
