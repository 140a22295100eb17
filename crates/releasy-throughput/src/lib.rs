//! # releasy-throughput
//!
//! The throughput layer: decorators over the domain's repository ports that let one
//! database serve production load without changing what any port promises. Each
//! decorator implements the port it wraps, so the domain's services run on a wrapped
//! set exactly as on a bare one.
//!
//! | decorator | wraps | promises |
//! |---|---|---|
//! | [`read_cache`] | customers, API keys, releases, artifacts, entitlements, download grants | hot reads from memory; never an answer a write has replaced |
//! | [`AuditWriteBehind`] | the audit trail | `record` queues and returns; batches are written in one statement; `list` sees every event recorded before it; graceful shutdown loses nothing |
//! | [`LedgerWriteBehind`] | the download ledger | the same, over [`WriteBehind`]: listings and statistics see every row recorded before them; [`NoLedger`] instead when the ledger is off |
//! | [`TokenGroupCommit`] | download tokens | concurrent inserts share one commit; each caller still waits for its own token's result |
//!
//! [`wrap_for_production`] is the one place that decides how a server's repositories
//! are wrapped:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use releasy_domain::ports::Repositories;
//! use releasy_throughput::{ThroughputSettings, Writers, wrap_for_production};
//!
//! let stack = wrap_for_production(
//!     Repositories::in_memory(),
//!     ThroughputSettings::new(Writers::ThisProcessOnly),
//! );
//! // Hand `stack.repositories` to the domain; flush the queues when stopping.
//! stack.audit.shutdown().await.unwrap();
//! if let Some(ledger) = &stack.ledger {
//!     ledger.shutdown().await.unwrap();
//! }
//! # }
//! ```

#![warn(missing_docs)]

mod audit_write_behind;
mod ledger_write_behind;
mod no_ledger;
mod production;
pub mod read_cache;
mod token_group_commit;
pub mod write_behind;

pub use audit_write_behind::AuditWriteBehind;
pub use ledger_write_behind::LedgerWriteBehind;
pub use no_ledger::NoLedger;
pub use production::{ProductionStack, ThroughputSettings, Writers, wrap_for_production};
pub use token_group_commit::TokenGroupCommit;
pub use write_behind::{BatchPolicy, FlushError, QueueStats, SHUTDOWN_WRITE_LIMIT, WriteBehind};
