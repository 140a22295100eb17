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
/// timeout ([`RepoError::Unavailable`]), for up to `lock_wait`; its last answer then.
pub(crate) async fn while_locked<T, F, Fut>(
    lock_wait: Duration,
    mut step: F,
) -> Result<T, RepoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RepoError>>,
{
    let give_up_at = tokio::time::Instant::now() + lock_wait;
    loop {
        match step().await {
            Err(RepoError::Unavailable(_)) if tokio::time::Instant::now() < give_up_at => {
                tokio::time::sleep(PAUSE).await;
            }
            answered => return answered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked() -> RepoError {
        RepoError::unavailable(std::io::Error::other("database is locked"))
    }

    #[tokio::test]
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

        let mut tries = 0;
        let other = while_locked(Duration::from_secs(10), || {
            tries += 1;
            std::future::ready(Err::<(), _>(RepoError::Conflict))
        })
        .await;
        assert!(matches!(other, Err(RepoError::Conflict)));
        assert_eq!(tries, 1, "only a locked database is waited for");
    }
}
