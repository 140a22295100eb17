//! Throwaway PostgreSQL databases: one fresh, uniquely named database per test, dropped
//! again when the handle goes out of scope.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

/// The environment variable naming the administrative connection URL.
pub const POSTGRES_URL_ENV: &str = "RELEASY_TEST_POSTGRES_URL";

/// The administrative URL used when [`POSTGRES_URL_ENV`] is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh PostgreSQL database named `releasy_test_<uuid>`, created on the server named
/// by `RELEASY_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
/// and dropped, with any connections still open to it, when this value is dropped.
///
/// ```no_run
/// # async fn demo() {
/// let db = releasy_testkit::TestPostgres::create().await;
/// println!("{}", db.url()); // postgres://postgres@127.0.0.1:5432/releasy_test_...
/// # }
/// ```
pub struct TestPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl std::fmt::Debug for TestPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPostgres")
            .field("name", &self.name)
            .field("url", &redact_password(&self.url))
            .finish()
    }
}

impl TestPostgres {
    /// Creates a new, empty database.
    ///
    /// # Panics
    /// When PostgreSQL cannot be reached (the message says how to start it) or the
    /// database cannot be created. Tests needing PostgreSQL never skip silently.
    pub async fn create() -> TestPostgres {
        let admin_url = admin_url();
        let name = format!("releasy_test_{}", uuid::Uuid::new_v4().simple());
        let url = with_database(&admin_url, &name);
        let mut conn = connect_admin(&admin_url).await;
        if let Err(err) = conn
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
        {
            panic!(
                "could not create the test database {name} at {}: {err}",
                redact_password(&admin_url)
            );
        }
        TestPostgres {
            admin_url,
            name,
            url,
        }
    }

    /// The URL of the new database (same server and credentials as the admin URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's address (host and port of the URL, 5432 when it names none).
    ///
    /// # Panics
    /// When the URL's host does not resolve.
    pub async fn server_addr(&self) -> std::net::SocketAddr {
        let (_, host_port, _) = split_authority(&self.url);
        let host_port = if host_port
            .rsplit_once(':')
            .is_some_and(|(_, p)| !p.contains(']'))
        {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        };
        tokio::net::lookup_host(&host_port)
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("cannot resolve the PostgreSQL server {host_port}"))
    }

    /// [`Self::url`] with the server's host and port replaced by `addr` (a proxy).
    pub fn url_through(&self, addr: std::net::SocketAddr) -> String {
        let (before, _, after) = split_authority(&self.url);
        format!("{before}{addr}{after}")
    }

    /// [`Self::url_through`] with the host named `host` and `parameters` added to the
    /// query (after any the server's URL has). A `localhost` URL connects to 127.0.0.1
    /// only (`hostaddr`): where `localhost` also resolves to `::1`, the driver would
    /// report the failure of the last address it tried.
    pub fn url_through_as(
        &self,
        addr: std::net::SocketAddr,
        host: &str,
        parameters: &str,
    ) -> String {
        let url = self
            .url_through(addr)
            .replacen(&addr.ip().to_string(), host, 1);
        let separator = if url.contains('?') { '&' } else { '?' };
        let pinned = if host == "localhost" {
            format!("hostaddr={}&", addr.ip())
        } else {
            String::new()
        };
        format!("{url}{separator}{pinned}{parameters}")
    }

    /// The new database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now, closing every connection to it: for tests of what
    /// happens when the database goes away under a running server.
    ///
    /// # Panics
    /// When the database cannot be dropped.
    pub async fn drop_now(&self) {
        let mut conn = connect_admin(&self.admin_url).await;
        if let Err(err) = conn
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await
        {
            panic!("could not drop the test database {}: {err}", self.name);
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // A thread of its own with its own runtime: this works inside an async test
        // (where blocking on the test's runtime would panic) and outside one alike.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            // Never panic in drop (it would abort a test that is already unwinding).
            Ok(Err(err)) => eprintln!("warning: could not drop test database {}: {err}", self.name),
            Err(_) => eprintln!(
                "warning: the thread dropping test database {} panicked",
                self.name
            ),
        }
    }
}

/// `scheme://user@`, `host:port`, `/database?...` of a connection URL.
fn split_authority(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (&url[..host_start], &url[host_start..end], &url[end..])
}

/// The administrative URL: `RELEASY_TEST_POSTGRES_URL`, or the local default.
pub fn admin_url() -> String {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

async fn connect_admin(admin_url: &str) -> AsyncPgConnection {
    match AsyncPgConnection::establish(admin_url).await {
        Ok(conn) => conn,
        Err(err) => panic!(
            "PostgreSQL is not reachable at {}: {err}. The tests need a running PostgreSQL: \
             start it (for example `pg_ctlcluster 15 main start`, or `sudo service postgresql \
             start`), or point {POSTGRES_URL_ENV} at one.",
            redact_password(admin_url)
        ),
    }
}

/// `url` with its database (the path) replaced by `database`; the query string is kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// `url` with any password replaced by `***`, safe to print.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            with_database("postgresql://h/postgres?sslmode=disable", "x"),
            "postgresql://h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }

    #[test]
    fn the_authority_is_split_from_the_rest() {
        assert_eq!(
            split_authority("postgres://u:p@h:5432/db?x=1"),
            ("postgres://u:p@", "h:5432", "/db?x=1")
        );
        assert_eq!(
            split_authority("postgres://[::1]/db"),
            ("postgres://", "[::1]", "/db")
        );
    }

    #[tokio::test(flavor = "current_thread")]
    #[should_panic(
        expected = "PostgreSQL is not reachable at postgres://releasy:***@127.0.0.1:1/postgres"
    )]
    async fn an_unreachable_server_panics_with_directions() {
        // Nothing listens on port 1.
        connect_admin("postgres://releasy:secret@127.0.0.1:1/postgres").await;
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
    }
}
