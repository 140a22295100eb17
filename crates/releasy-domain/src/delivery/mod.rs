//! Delivery insight: the download ledger (every token issued, every resolve and how it
//! ended), its statistics, and how long it is kept.

mod query;
mod record;
mod retention;
mod service;

pub use query::{
    DownloadFilter, DownloadStat, SECONDS_PER_DAY, StatsGroup, StatsKey, StatsQuery, day_of,
    iso_date, sort_stats, stats_of,
};
pub use record::{DownloadOutcome, DownloadRecord, DownloadSubject, Requester, UserAgent};
pub use retention::LedgerRetention;
pub use service::{DeliveryService, EXPORT_BATCH};
