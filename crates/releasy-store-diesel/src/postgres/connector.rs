//! Connections to one PostgreSQL URL, over TLS when the URL asks for it (diesel-async's
//! own `establish` speaks no TLS).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use releasy_domain::ports::ErrorChain;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{NoTlsStream, TlsStream};
use tokio_postgres::{Client, Connection, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls_config::client_config;
use super::tls_parameters::{self, SslMode};
use crate::error::SetupError;

/// Makes connections for the pool, the change feed and the migrations alike.
#[derive(Clone)]
pub(crate) struct PgConnector {
    /// The URL as the driver reads it (the TLS parameters it does not know removed).
    driver_url: Arc<str>,
    /// `None` when the URL asks for no TLS.
    tls: Option<MakeRustlsConnect>,
    /// `sslmode=prefer`: the URL to go on with, without TLS, when TLS fails.
    without_tls: Option<Arc<str>>,
    /// Whether a connection made without TLS under `prefer` was logged (once is
    /// enough: every pool connection would say it again).
    warned_without_tls: Arc<AtomicBool>,
}

impl std::fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnector")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl PgConnector {
    /// Reads `url`'s TLS parameters and the files they name.
    ///
    /// # Errors
    /// [`SetupError::DatabaseUrl`] for parameters of no supported form,
    /// [`SetupError::PostgresTls`] when a certificate or key cannot be read or used.
    pub(crate) fn new(url: &str) -> Result<Self, SetupError> {
        let url = tls_parameters::read(url)?;
        let tls = match &url.tls {
            Some(parameters) => Some(MakeRustlsConnect::new(client_config(parameters)?)),
            None => None,
        };
        let prefers = url
            .tls
            .as_ref()
            .is_some_and(|parameters| parameters.mode == SslMode::Prefer);
        Ok(Self {
            without_tls: prefers.then(|| url.without_tls().into()),
            warned_without_tls: Arc::default(),
            driver_url: url.driver_url.into(),
            tls,
        })
    }

    /// A new connection. Made here rather than by diesel-async's `establish`, which
    /// speaks no TLS and reports a failure without its cause ("error connecting to
    /// server", not why).
    ///
    /// # Errors
    /// The driver's, as [`ConnectionError::BadConnection`] with its causes (a refused
    /// certificate is a cause of "error performing TLS handshake"); under `prefer`,
    /// the attempt without TLS's and the one with TLS's.
    pub(crate) async fn establish(&self) -> Result<AsyncPgConnection, ConnectionError> {
        let Some(tls) = &self.tls else {
            return from_driver(tokio_postgres::connect(&self.driver_url, NoTls).await).await;
        };
        let with_tls = tokio_postgres::connect(&self.driver_url, tls.clone()).await;
        let (Err(tls_error), Some(without_tls)) = (&with_tls, &self.without_tls) else {
            return from_driver(with_tls).await;
        };
        if !tls_may_be_why(tls_error) {
            return from_driver(with_tls).await;
        }
        // `prefer`, as libpq: TLS went wrong (a handshake that failed, a server that
        // refused the session once encrypted), so the connection is tried again
        // without it.
        match tokio_postgres::connect(without_tls, NoTls).await {
            Ok(connected) => {
                let error = ErrorChain(tls_error).to_string();
                if self.warned_without_tls.swap(true, Ordering::Relaxed) {
                    tracing::debug!(%error, "connected to PostgreSQL without TLS again");
                } else {
                    tracing::warn!(
                        %error,
                        "connected to PostgreSQL without TLS, as sslmode=prefer allows: TLS failed (said once; later ones at debug level)"
                    );
                }
                from_driver::<NoTlsStream>(Ok(connected)).await
            }
            Err(plain_error) => Err(ConnectionError::BadConnection(format!(
                "{}; with TLS first: {}",
                ErrorChain(&plain_error),
                ErrorChain(tls_error)
            ))),
        }
    }
}

/// Whether TLS may be why a connection failed: not when no server was reached (no
/// address, refused, timed out), the one reached would not serve (a standby where
/// `target_session_attrs=read-write` asks for a primary), or it said it cannot take a
/// connection now (starting, stopping, full). Going on without TLS then would hand a
/// server that is restarting connections without TLS (libpq's `prefer` does for the
/// last two; this is stricter). tokio-postgres shows a connection error's kind only in
/// its message; the tests of `prefer` hold it to it.
fn tls_may_be_why(err: &tokio_postgres::Error) -> bool {
    let unavailable = err.code().is_some_and(|code| {
        *code == SqlState::CANNOT_CONNECT_NOW || *code == SqlState::TOO_MANY_CONNECTIONS
    });
    !unavailable && err.to_string() != "error connecting to server"
}

/// The diesel connection over what the driver connected.
async fn from_driver<S>(
    connected: Result<(Client, Connection<Socket, S>), tokio_postgres::Error>,
) -> Result<AsyncPgConnection, ConnectionError>
where
    S: TlsStream + Unpin + Send + 'static,
{
    let (client, connection) =
        connected.map_err(|err| ConnectionError::BadConnection(ErrorChain(&err).to_string()))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}
