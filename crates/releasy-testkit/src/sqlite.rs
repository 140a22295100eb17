//! Throwaway SQLite databases: a file in a temporary folder removed on drop.

use std::path::PathBuf;

/// A temporary folder holding `releasy.db` (not created yet: the store creates it on
/// first connection). The folder and everything in it, WAL files included, are deleted
/// when this value is dropped.
#[derive(Debug)]
pub struct TestSqlite {
    dir: tempfile::TempDir,
}

impl TestSqlite {
    /// A fresh temporary folder.
    ///
    /// # Panics
    /// When the temporary folder cannot be created.
    pub fn create() -> TestSqlite {
        let dir = tempfile::Builder::new()
            .prefix("releasy-test-")
            .tempdir()
            .expect("a temporary folder for the SQLite test database");
        TestSqlite { dir }
    }

    /// The database file: `releasy.db` inside the temporary folder.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("releasy.db")
    }

    /// The database as a `sqlite://` URL (`sqlite:///tmp/.../releasy.db`).
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }
}
