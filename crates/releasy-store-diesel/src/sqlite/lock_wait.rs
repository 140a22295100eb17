//! Waiting out another process's hold on a SQLite file's one write lock: the steps that
//! follow the migrations wait for another instance's migrations as the migrations do.

use std::time::Duration;

use releasy_domain::ports::RepoError;

/// How long the migrations (and the steps that follow them) wait for the database's
/// write lock, held by another instance migrating (or a server writing), before they
/// fail: the other instance's migrations may rebuild indexes over every audit row.
pub const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(30 * 60);

/// The pause between two tries of a step that found the database locked.
const PAUSE: Duration = Duration::from_secs(1);

/// Runs `step` again while it finds the database locked past its connection's busy
/// timeout (SQLite's "database is locked"), for up to `lock_wait`; its last answer
/// then, and at once any other answer (a file that cannot be opened is no lock to wait
/// for). The wait is logged when it begins and once a minute, so a long one is seen.
pub(crate) async fn while_locked<T, F, Fut>(
    lock_wait: Duration,
    mut step: F,
) -> Result<T, RepoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RepoError>>,
{
    let started = tokio::time::Instant::now();
    let mut next_log = started;
    loop {
        match step().await {
            Err(RepoError::Unavailable(cause))
                if is_locked(cause.as_ref()) && started.elapsed() < lock_wait =>
            {
                if tokio::time::Instant::now() >= next_log {
                    tracing::warn!(
                        waited_seconds = started.elapsed().as_secs(),
                        "the database is locked by another process (another instance migrating?); waiting"
                    );
                    next_log += Duration::from_secs(60);
                }
                tokio::time::sleep(PAUSE).await;
            }
            answered => return answered,
        }
    }
}

/// Whether `cause` (or one of its sources) is SQLite's answer for a write lock that
/// stayed taken.
fn is_locked(cause: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(cause), |err| err.source())
        .any(|err| err.to_string() == "database is locked")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked() -> RepoError {
        RepoError::unavailable(std::io::Error::other("database is locked"))
    }

    // Paused time: the pauses advance the clock exactly, whatever the machine's load.
    #[tokio::test(start_paused = true)]
    async fn a_locked_step_is_tried_again_until_it_passes_or_the_wait_ends() {
        let mut tries = 0;
        let passed = while_locked(Duration::from_secs(10), || {
            tries += 1;
            let answer = if tries < 3 { Err(locked()) } else { Ok(tries) };
            std::future::ready(answer)
        })
        .await;
        assert_eq!(passed.unwrap(), 3);

        let mut tries = 0;
        let waited = while_locked(Duration::from_millis(1500), || {
            tries += 1;
            std::future::ready(Err::<(), _>(locked()))
        })
        .await;
        assert!(matches!(waited, Err(RepoError::Unavailable(_))));
        assert_eq!(tries, 3, "tried at 0, 1 and 2 s; not after the wait");
    }

    #[tokio::test]
    async fn only_a_locked_database_is_waited_for() {
        let unopenable =
            || RepoError::unavailable(std::io::Error::other("unable to open database file"));
        for other in [RepoError::Conflict, unopenable()] {
            let mut tries = 0;
            let mut answer = Some(other);
            let answered = while_locked(Duration::from_secs(10), || {
                tries += 1;
                std::future::ready(Err::<(), _>(answer.take().unwrap_or_else(unopenable)))
            })
            .await;
            assert!(answered.is_err());
            assert_eq!(tries, 1);
        }
    }
}
