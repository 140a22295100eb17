//! `releasy-server demo`: a server on the embedded default in a fresh data directory,
//! seeded through its own API with what a vendor would have after a week (a product,
//! three releases on two channels with real files, an entitled customer and its
//! read-only key), and the commands to try against it.
//!
//! It seeds over HTTP, as a vendor's CI and an operator would, so the demo shows the
//! server exactly as it behaves, and every command it prints is one that worked.

mod instructions;
mod seed;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use releasy_store_diesel::DatabaseUrl;

use crate::bootstrap::{BootstrapError, generated_admin_key};
use crate::server::{RunningServer, StartupError, StopError, start_on};
use crate::settings::Settings;

pub use instructions::PASTE_FROM;
pub use seed::{SeedError, Seeded, SeededRelease};

/// The product the demo seeds.
pub const PRODUCT: &str = "acme-agent";

/// Where and how the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The data directory: must not exist or be empty. `None`: a new directory under
    /// the system's temporary directory.
    pub data_dir: Option<PathBuf>,
    /// The loopback port to listen on (0: any free one).
    pub port: u16,
}

/// A running, seeded demo.
#[derive(Debug)]
pub struct Demo {
    /// Stops the server (SIGTERM and Ctrl-C do too).
    pub handle: actix_web::dev::ServerHandle,
    /// The server, serving since [`start`]: completes when it has stopped.
    serving: tokio::task::JoinHandle<Result<(), StopError>>,
    /// What was seeded, with the secrets to use it.
    pub seeded: Seeded,
    /// The data directory it runs in.
    pub data_dir: PathBuf,
    /// Its base URL.
    pub url: String,
}

impl Demo {
    /// The text to show: where the demo runs, what it holds, and commands to paste.
    pub fn instructions(&self) -> String {
        instructions::render(self)
    }

    /// Waits until the server has stopped.
    ///
    /// # Errors
    /// [`StopError`] as [`RunningServer::run`] reports it.
    pub async fn run(self) -> Result<(), StopError> {
        self.serving
            .await
            .map_err(|panicked| StopError::Serve(std::io::Error::other(panicked)))?
    }
}

/// The demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The data directory holds something already.
    #[error("{0} is not empty: the demo starts from a fresh data directory")]
    NotFresh(PathBuf),
    /// The data directory or the listener could not be made.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The server did not start.
    #[error("starting the server")]
    Startup(#[from] StartupError),
    /// The generated admin key could not be read.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// Seeding through the API failed.
    #[error("seeding")]
    Seed(#[from] SeedError),
}

/// Starts the server on the embedded default in a fresh data directory on loopback,
/// whatever database, store, listen address and credentials `settings` name (the
/// demo never touches a real deployment), then seeds it.
///
/// # Errors
/// [`DemoError`]: the data directory is not fresh, the port is taken, or the server
/// failed to start or to accept the seed.
pub async fn start(settings: Settings, options: DemoOptions) -> Result<Demo, DemoError> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
        .map_err(|source| DemoError::Io {
            what: format!("listening on 127.0.0.1:{}", options.port),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| DemoError::Io {
        what: "reading the listen address".to_owned(),
        source,
    })?;
    let data_dir = fresh_data_dir(options.data_dir)?;
    let started = serve_seeded(settings, listener, addr, data_dir.clone()).await;
    if started.is_err() {
        // A demo that did not start leaves nothing behind: a second try with the same
        // `--data-dir` must not find it "not empty".
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    started
}

async fn serve_seeded(
    settings: Settings,
    listener: TcpListener,
    addr: SocketAddr,
    data_dir: PathBuf,
) -> Result<Demo, DemoError> {
    let url = format!("http://{addr}");
    let settings = Settings {
        bind_addr: addr,
        database_url: DatabaseUrl::sqlite_file(data_dir.join("releasy.db")),
        s3: None,
        admin_api_key: None,
        operator: None,
        storage_signing_secret: None,
        public_base_url: url.clone(),
        data_dir: data_dir.clone(),
        // Nothing of the host's own deployment: no metrics listener on its port or
        // address, no traces to its collector.
        metrics_bind_addr: None,
        otlp_endpoint: None,
        ..settings
    };
    let server: RunningServer = start_on(settings, listener).await?;
    let handle = server.handle.clone();
    // It answers only while its future is polled.
    let serving = tokio::spawn(server.run());
    let seeded = match seed_with_generated_key(&url, &data_dir).await {
        Ok(seeded) => seeded,
        Err(err) => {
            handle.stop(true).await;
            let _ = serving.await;
            return Err(err);
        }
    };
    Ok(Demo {
        handle,
        serving,
        seeded,
        data_dir,
        url,
    })
}

async fn seed_with_generated_key(url: &str, data_dir: &Path) -> Result<Seeded, DemoError> {
    let (admin_key, _) = generated_admin_key(data_dir)?;
    Ok(seed::seed(url, &admin_key).await?)
}

/// `requested` when it does not exist or is empty (created), or a new directory under
/// the system's temporary directory.
fn fresh_data_dir(requested: Option<PathBuf>) -> Result<PathBuf, DemoError> {
    let dir = match requested {
        Some(dir) => dir,
        None => {
            let mut suffix = [0_u8; 4];
            getrandom::fill(&mut suffix).map_err(|err| DemoError::Io {
                what: "choosing a data directory".to_owned(),
                source: std::io::Error::other(err.to_string()),
            })?;
            let name = format!("releasy-demo-{}", hex(&suffix));
            std::env::temp_dir().join(name)
        }
    };
    if is_non_empty(&dir) {
        return Err(DemoError::NotFresh(dir));
    }
    std::fs::create_dir_all(&dir).map_err(|source| DemoError::Io {
        what: format!("creating {}", dir.display()),
        source,
    })?;
    Ok(dir)
}

fn is_non_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) || dir.is_file()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_with_anything_in_it_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("releasy.db"), b"a real deployment").unwrap();
        let err = fresh_data_dir(Some(dir.path().to_owned())).unwrap_err();
        assert!(matches!(err, DemoError::NotFresh(_)), "{err}");

        let empty = tempfile::tempdir().unwrap();
        let inside = empty.path().join("new");
        assert_eq!(fresh_data_dir(Some(inside.clone())).unwrap(), inside);
        assert!(inside.is_dir());

        let generated = fresh_data_dir(None).unwrap();
        assert!(generated.starts_with(std::env::temp_dir()) && generated.is_dir());
        std::fs::remove_dir(generated).unwrap();
    }
}
