//! A direct connection to a test server's database, for tests that read or rewrite rows
//! the API does not expose (as an older server, or an operator in psql, would).

use diesel::SqliteConnection;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use crate::helpers::TestApp;

/// A connection to the test server's database, whichever the backend.
pub(crate) enum Db {
    Sqlite(SyncConnectionWrapper<SqliteConnection>),
    Postgres(Box<AsyncPgConnection>),
}

/// Runs `$body` with `$conn` bound to the connection, whichever the backend.
macro_rules! with_conn {
    ($db:expr, $conn:ident => $body:expr) => {
        match $db {
            $crate::database::Db::Sqlite(sqlite) => {
                let $conn: &mut diesel_async::sync_connection_wrapper::SyncConnectionWrapper<
                    diesel::SqliteConnection,
                > = sqlite;
                $body
            }
            $crate::database::Db::Postgres(postgres) => {
                let $conn: &mut diesel_async::AsyncPgConnection = postgres;
                $body
            }
        }
    };
}

pub(crate) use with_conn;

impl Db {
    /// Connects to `app`'s database.
    pub(crate) async fn connect(app: &TestApp) -> Self {
        let url = app.database_url();
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut conn = SyncConnectionWrapper::<SqliteConnection>::establish(path)
                    .await
                    .unwrap();
                // The server writes concurrently: wait for its locks instead of failing.
                conn.batch_execute("PRAGMA busy_timeout = 5000;")
                    .await
                    .unwrap();
                Self::Sqlite(conn)
            }
            None => Self::Postgres(Box::new(AsyncPgConnection::establish(url).await.unwrap())),
        }
    }
}
