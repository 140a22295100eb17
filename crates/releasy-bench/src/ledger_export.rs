//! The download ledger's CSV export, measured: rows a second, and what streaming it
//! adds to the server's memory.

use std::time::Instant;

use crate::api::Api;
use crate::fail::Result;
use crate::server::RssSampler;

/// One export of the whole ledger.
#[derive(Debug, Clone)]
pub struct LedgerExport {
    /// Rows exported.
    pub rows: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Wall time, s.
    pub seconds: f64,
    /// Server `VmRSS` when it began, KiB.
    pub rss_before_kib: u64,
    /// Largest server `VmRSS` while it ran, KiB.
    pub rss_max_kib: u64,
}

impl LedgerExport {
    /// Rows a second.
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.rows as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// What the export added to the server's memory, KiB.
    pub fn rss_growth_kib(&self) -> u64 {
        self.rss_max_kib.saturating_sub(self.rss_before_kib)
    }
}

/// Exports every row of the ledger as CSV through `api`, sampling the server's memory.
pub async fn run(api: &Api, rss: &RssSampler) -> Result<LedgerExport> {
    let rss_before_kib = rss.begin_window();
    let started = Instant::now();
    let (rows, bytes) = api.export_ledger_csv().await?;
    let seconds = started.elapsed().as_secs_f64();
    let rss_max_kib = rss.end_window();
    Ok(LedgerExport {
        rows,
        bytes,
        seconds,
        rss_before_kib,
        rss_max_kib,
    })
}
