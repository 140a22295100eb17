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
//! only the pages of the last few milliseconds to copy and sync. That automatic
//! checkpoint is still what lets the log start over from its beginning (SQLite restarts
//! the log only when a writer finds it entirely copied), so it is not turned off.

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
    /// Pages in the log.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Pages of the log already copied into the database file.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// How long to wait after a pass: [`BUSY_PAUSE`] while there is work (the log grew
/// since the previous pass, pages are left to copy, or another checkpoint was in the
/// way); otherwise twice the previous pause, up to `idle`, so an idle database costs
/// a wake-up every `idle` and a busy one is caught up with at once.
fn next_pause(previous: Option<Pass>, pass: Pass, pause: Duration, idle: Duration) -> Duration {
    let grew = previous.is_none_or(|previous| previous.log != pass.log);
    if pass.busy != 0 || pass.checkpointed < pass.log || grew {
        BUSY_PAUSE
    } else {
        (pause * 2).clamp(BUSY_PAUSE, idle.max(BUSY_PAUSE))
    }
}

/// Opens a connection for checkpoints: waits for locks like the pooled ones do.
fn connect(path: &str) -> Result<SqliteConnection, String> {
    let mut conn = SqliteConnection::establish(path).map_err(|err| err.to_string())?;
    conn.batch_execute("PRAGMA busy_timeout = 5000;")
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
    fn a_growing_log_is_checkpointed_again_at_once() {
        let pause = Duration::from_millis(64);
        assert_eq!(
            next_pause(Some(pass(100, 100)), pass(180, 180), pause, IDLE),
            BUSY_PAUSE,
            "grew since the last pass"
        );
        assert_eq!(
            next_pause(Some(pass(180, 180)), pass(180, 150), pause, IDLE),
            BUSY_PAUSE,
            "pages left to copy (a reader was still on them)"
        );
        assert_eq!(
            next_pause(None, pass(0, 0), pause, IDLE),
            BUSY_PAUSE,
            "first pass"
        );
        let blocked = Pass {
            busy: 1,
            ..pass(180, 180)
        };
        assert_eq!(
            next_pause(Some(pass(180, 180)), blocked, pause, IDLE),
            BUSY_PAUSE,
            "another checkpoint was running"
        );
    }

    #[test]
    fn an_idle_log_backs_off_to_the_idle_interval() {
        let mut pause = BUSY_PAUSE;
        let mut pauses = Vec::new();
        for _ in 0..12 {
            pause = next_pause(Some(pass(0, 0)), pass(0, 0), pause, IDLE);
            pauses.push(pause.as_millis());
        }
        assert_eq!(
            pauses,
            [2, 4, 8, 16, 32, 64, 128, 250, 250, 250, 250, 250],
            "doubling up to the idle interval"
        );
        assert_eq!(
            next_pause(Some(pass(500, 500)), pass(500, 500), IDLE, IDLE),
            IDLE,
            "a fully copied log that did not grow is idle too"
        );
    }
}
