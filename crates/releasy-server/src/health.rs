//! `releasy-server health`: asks a running server's `GET /live` and exits 0 only on
//! 200. It is the container image's `HEALTHCHECK`: the runtime image has no shell and
//! no `curl`, and the probe should follow the configured listen address anyway.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::settings::Settings;

/// How long the probe waits for an answer, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The probe got no 200.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// No answer: nothing listens, or it did not answer within [`TIMEOUT`].
    #[error("{url}: no answer")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// An answer other than 200.
    #[error("{url}: answered {status}")]
    NotLive {
        /// What was asked.
        url: String,
        /// Its status.
        status: reqwest::StatusCode,
    },
}

/// The URL the probe asks: `/live` on the listen address, through loopback when the
/// server listens on every interface.
pub fn live_url(settings: &Settings) -> String {
    let bind = settings.bind_addr;
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/live", SocketAddr::new(ip, bind.port()))
}

/// Asks `url` once; `Ok` on 200.
///
/// # Errors
/// [`HealthError`] when there is no answer within [`TIMEOUT`] or it is not 200.
pub async fn probe(url: &str) -> Result<(), HealthError> {
    let unreachable = |source| HealthError::Unreachable {
        url: url.to_owned(),
        source,
    };
    // A proxy from the environment (Docker copies the host's into containers) would
    // get the loopback request instead of the server.
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .no_proxy()
        .build()
        .map_err(unreachable)?;
    let answer = client.get(url).send().await.map_err(unreachable)?;
    match answer.status() {
        reqwest::StatusCode::OK => Ok(()),
        status => Err(HealthError::NotLive {
            url: url.to_owned(),
            status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn url_for(bind: &str) -> String {
        let env = HashMap::from([("RELEASY_BIND_ADDR".to_owned(), bind.to_owned())]);
        live_url(&Settings::load(None, Some(env)).unwrap())
    }

    #[test]
    fn every_interface_is_probed_through_loopback() {
        assert_eq!(url_for("0.0.0.0:8080"), "http://127.0.0.1:8080/live");
        assert_eq!(url_for("[::]:9000"), "http://[::1]:9000/live");
        assert_eq!(url_for("10.1.2.3:80"), "http://10.1.2.3:80/live");
    }
}
