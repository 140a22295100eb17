//! Keeps SQLite's write-ahead log checkpointed from a thread of its own, so that the
//! batch writers' commits seldom have to.
//!
//! SQLite checkpoints automatically inside the commit that takes the log past 1000
//! pages: that commit copies every page not yet copied into the database file and
//! syncs both files before it returns. Download tokens land on random pages of the
//! token-hash index, so under load the log grows by 1000 pages every few dozen
//! milliseconds, and the token batch whose commit did the checkpoint (and every caller
//! queued behind it) waited 10 ms or more for it: the p99 of issuing a token.
//!
//! Checkpointing from another connection copies pages while the writer goes on
//! committing (a `PASSIVE` checkpoint never blocks readers or writers). Run back to back
//! while the log keeps growing, it leaves the commit that crosses the 1000-page mark
//! only the pages of the last few milliseconds to copy and sync. The automatic
//! checkpoint stays on as the bound on the log's size: SQLite starts the log over from
//! its beginning only when a write finds it entirely copied, which under a steady
//! stream of writes the writer's own checkpoint guarantees and a checkpoint from
//! another connection does not (with it off on the batch writer and background passes
//! every 250 ms, the log grew by 500 MB in 6 s of issuing tokens).

use std::sync::Weak;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

/// The pause between passes while the log keeps growing: short, so that the writer's
/// automatic checkpoint finds little left to copy, but a pause, so that an idle
/// checkpointer cannot spin.
const BUSY_PAUSE: Duration = Duration::from_millis(1);

/// What `PRAGMA wal_checkpoint(PASSIVE)` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
struct Pass {
    /// 1 when another connection was checkpointing and this pass did nothing.
    #[diesel(sql_type = Integer)]
    busy: i32,
    /// Frames (page images) in the log; -1 when the pass did nothing.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Frames of the log already copied into the database file; -1 likewise.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// How long to wait after a pass: [`BUSY_PAUSE`] when it reported anything different
/// from the pass before (the log grew or started over, pages were copied, another
/// checkpoint started or ended); otherwise twice the previous pause, up to `idle`. So a
/// busy database is caught up with at once, an idle one costs a wake-up every `idle`,
/// and neither spins while a long read keeps pages from being copied.
fn next_pause(previous: Option<Pass>, pass: Pass, pause: Duration, idle: Duration) -> Duration {
    if previous != Some(pass) {
        BUSY_PAUSE
    } else {
        (pause * 2).clamp(BUSY_PAUSE, idle.max(BUSY_PAUSE))
    }
}

/// Opens a connection for checkpoints, set up like the pooled ones (its busy timeout
/// lets reading the schema wait out another connection's lock; the passive checkpoint
/// itself never waits).
fn connect(path: &str) -> Result<SqliteConnection, String> {
    let mut conn = SqliteConnection::establish(path).map_err(|err| err.to_string())?;
    conn.batch_execute(crate::sqlite::PRAGMAS)
        .map_err(|err| err.to_string())?;
    Ok(conn)
}

/// Starts the checkpointer thread on the database file at `path`. It stops within
/// `idle` of `alive` having no strong reference left (the store being dropped).
pub(crate) fn start(path: String, idle: Duration, alive: Weak<()>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("wal-checkpoint".to_owned())
        .spawn(move || run(&path, idle, &alive))
        .map(|_| ())
}

fn run(path: &str, idle: Duration, alive: &Weak<()>) {
    let mut conn = None;
    let mut previous = None;
    let mut pause = idle;
    while alive.strong_count() > 0 {
        pause = match checkpoint(path, &mut conn) {
            Ok(pass) => {
                let next = next_pause(previous, pass, pause, idle);
                previous = Some(pass);
                next
            }
            Err(err) => {
                // Retried on a new connection after a full pause; the automatic
                // checkpoint keeps the log bounded meanwhile.
                tracing::debug!(error = %err, "WAL checkpoint skipped");
                conn = None;
                previous = None;
                idle
            }
        };
        std::thread::sleep(pause);
    }
}

/// One pass, on `conn` (opened first when there is none).
fn checkpoint(path: &str, conn: &mut Option<SqliteConnection>) -> Result<Pass, String> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(connect(path)?),
    };
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE);")
        .get_result(conn)
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_millis(250);

    fn pass(log: i32, checkpointed: i32) -> Pass {
        Pass {
            busy: 0,
            log,
            checkpointed,
        }
    }

    #[test]
    fn a_pass_that_reports_a_change_is_followed_at_once() {
        let pause = Duration::from_millis(64);
        let blocked = Pass {
            busy: 1,
            log: -1,
            checkpointed: -1,
        };
        let changes = [
            ("first pass", None, pass(0, 0)),
            ("the log grew", Some(pass(100, 100)), pass(180, 180)),
            ("the log started over", Some(pass(900, 900)), pass(30, 30)),
            ("pages were copied", Some(pass(180, 120)), pass(180, 150)),
            ("another checkpoint started", Some(pass(180, 180)), blocked),
            ("another checkpoint ended", Some(blocked), pass(180, 180)),
        ];
        for (what, previous, current) in changes {
            assert_eq!(
                next_pause(previous, current, pause, IDLE),
                BUSY_PAUSE,
                "{what}"
            );
        }
    }

    #[test]
    fn a_pass_like_the_last_one_backs_off_to_the_idle_interval() {
        let unchanged = [
            ("an idle log", pass(0, 0)),
            ("a fully copied log that did not grow", pass(500, 500)),
            ("pages a long read keeps from being copied", pass(500, 300)),
            (
                "another checkpoint still running",
                Pass {
                    busy: 1,
                    log: -1,
                    checkpointed: -1,
                },
            ),
            ("a database not in WAL mode", pass(-1, -1)),
        ];
        for (what, same) in unchanged {
            let mut pause = BUSY_PAUSE;
            let mut pauses = Vec::new();
            for _ in 0..10 {
                pause = next_pause(Some(same), same, pause, IDLE);
                pauses.push(pause.as_millis());
            }
            assert_eq!(
                pauses,
                [2, 4, 8, 16, 32, 64, 128, 250, 250, 250],
                "{what}: doubling up to the idle interval"
            );
        }
    }
}
