//! Connections to one PostgreSQL URL, over TLS when the URL asks for it (diesel-async's
//! own `establish` speaks no TLS).

use std::sync::Arc;

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
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
    /// `sslmode=prefer`: the URL to go on with, without TLS, when the handshake fails.
    without_tls: Option<Arc<str>>,
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
    /// certificate is a cause of "error performing TLS handshake").
    pub(crate) async fn establish(&self) -> Result<AsyncPgConnection, ConnectionError> {
        let Some(tls) = &self.tls else {
            return from_driver(tokio_postgres::connect(&self.driver_url, NoTls).await).await;
        };
        match tokio_postgres::connect(&self.driver_url, tls.clone()).await {
            // `prefer`, as libpq: a handshake that fails (a certificate rustls cannot
            // read, versions the server lacks) is no reason not to connect.
            Err(err) if handshake_failed(&err) => match &self.without_tls {
                Some(without_tls) => {
                    tracing::warn!(
                        error = %with_causes(&err),
                        "TLS to PostgreSQL failed; connecting without it, as sslmode=prefer allows"
                    );
                    from_driver(tokio_postgres::connect(without_tls, NoTls).await).await
                }
                None => from_driver::<NoTlsStream>(Err(err)).await,
            },
            connected => from_driver(connected).await,
        }
    }
}

/// Whether the driver failed in the TLS handshake (tokio-postgres shows its error's
/// kind only in its message; the test of `prefer` holds it to it).
fn handshake_failed(err: &tokio_postgres::Error) -> bool {
    err.to_string() == "error performing TLS handshake"
}

/// The diesel connection over what the driver connected.
async fn from_driver<S>(
    connected: Result<(Client, Connection<Socket, S>), tokio_postgres::Error>,
) -> Result<AsyncPgConnection, ConnectionError>
where
    S: TlsStream + Unpin + Send + 'static,
{
    let (client, connection) =
        connected.map_err(|err| ConnectionError::BadConnection(with_causes(&err)))?;
    AsyncPgConnection::try_from_client_and_connection(client, connection).await
}

/// `err` and each of its causes, `: `-separated.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        text.push_str(": ");
        text.push_str(&err.to_string());
        cause = err.source();
    }
    text
}
