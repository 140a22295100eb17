//! Checks of [`IdempotencyRepository`]: claiming, completing and releasing keys, and
//! that of concurrent claims exactly one wins.

use std::sync::Arc;

use releasy_domain::idempotency::{
    IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse,
};
use releasy_domain::ports::{Claim, IdempotencyRepository};

use super::{T0, at, ok, run_check, same, token};

/// How many tasks race for one key in [`concurrent_claims_have_one_winner`].
pub const CONCURRENT_CLAIMS: usize = 16;

/// Runs every idempotency check. Spawns tasks: call it on a multi-thread runtime.
pub async fn run_all(idempotency: Arc<dyn IdempotencyRepository>) {
    run_all_but_the_purge(idempotency.clone()).await;
    run_check!(purge_removes_only_older_records(idempotency));
}

/// Every check but [`purge_removes_only_older_records`], whose purge is global: beside
/// another suite on the same database, that suite's purge may remove this one's old
/// record first, and this purge then rightly reports none.
pub async fn run_all_but_the_purge(idempotency: Arc<dyn IdempotencyRepository>) {
    let i = idempotency;
    run_check!(claim_then_existing(i.clone()));
    run_check!(keys_are_unique_per_scope(i.clone()));
    run_check!(complete_stores_the_response(i.clone()));
    run_check!(release_removes_the_matching_claim(i.clone()));
    run_check!(release_leaves_other_records_alone(i.clone()));
    run_check!(complete_leaves_a_newer_claim_alone(i.clone()));
    run_check!(complete_keeps_the_response_of_a_claim_no_one_holds(
        i.clone()
    ));
    run_check!(concurrent_claims_have_one_winner(i));
}

/// An in-progress record in a fresh scope.
fn record(key: &str, fingerprint: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        scope: format!("contract:{}", token()),
        key: IdempotencyKey::parse(key).expect("a valid idempotency key"),
        fingerprint: fingerprint.to_owned(),
        state: IdempotencyState::InProgress,
        created_at: at(T0),
    }
}

async fn claim(repo: &Arc<dyn IdempotencyRepository>, record: &IdempotencyRecord) -> Claim {
    ok(repo.claim(record).await, "IdempotencyRepository::claim")
}

async fn release(repo: &Arc<dyn IdempotencyRepository>, record: &IdempotencyRecord) {
    ok(repo.release(record).await, "IdempotencyRepository::release");
}

async fn complete(
    repo: &Arc<dyn IdempotencyRepository>,
    record: &IdempotencyRecord,
    response: &StoredResponse,
) {
    ok(
        repo.complete(record, response).await,
        "IdempotencyRepository::complete",
    );
}

/// What is stored for `record`'s scope and key, read by claiming with another request.
async fn stored(repo: &Arc<dyn IdempotencyRepository>, record: &IdempotencyRecord) -> Claim {
    let probe = IdempotencyRecord {
        fingerprint: format!("probe-{}", token()),
        created_at: at(T0 + 999),
        ..record.clone()
    };
    claim(repo, &probe).await
}

fn response() -> StoredResponse {
    StoredResponse {
        status: 201,
        body: r#"{"id":"0b0e8f7e-4c4a-4d55-9d1e-3f3e8f0a1b2c","name":"Acme ✓"}"#.to_owned(),
    }
}

/// The first claim of a key wins; a later one gets the stored record back unchanged.
pub async fn claim_then_existing(idempotency: Arc<dyn IdempotencyRepository>) {
    let first = record("order-1", "fingerprint-a");
    same(
        &claim(&idempotency, &first).await,
        &Claim::Claimed,
        "first claim",
    );
    let second = IdempotencyRecord {
        fingerprint: "fingerprint-b".to_owned(),
        created_at: at(T0 + 5),
        ..first.clone()
    };
    same(
        &claim(&idempotency, &second).await,
        &Claim::Existing(first.clone()),
        "second claim returns the first record (same fingerprint, state and time)",
    );
    same(
        &claim(&idempotency, &first).await,
        &Claim::Existing(first.clone()),
        "repeating the first claim returns it",
    );
}

/// The same key in different scopes, and different keys in one scope, are separate.
pub async fn keys_are_unique_per_scope(idempotency: Arc<dyn IdempotencyRepository>) {
    let a = record("shared-key", "fp");
    let b = record("shared-key", "fp");
    let c = IdempotencyRecord {
        key: IdempotencyKey::parse("other-key").expect("a valid idempotency key"),
        ..a.clone()
    };
    for r in [&a, &b, &c] {
        same(
            &claim(&idempotency, r).await,
            &Claim::Claimed,
            &format!("claim of key {:?} in scope {:?}", r.key.as_str(), r.scope),
        );
    }
}

/// After `complete`, claims see the record completed with the response.
pub async fn complete_stores_the_response(idempotency: Arc<dyn IdempotencyRepository>) {
    let first = record("create-customer", "fp-complete");
    same(
        &claim(&idempotency, &first).await,
        &Claim::Claimed,
        "first claim",
    );
    complete(&idempotency, &first, &response()).await;
    let completed = IdempotencyRecord {
        state: IdempotencyState::Completed(response()),
        ..first.clone()
    };
    same(
        &stored(&idempotency, &first).await,
        &Claim::Existing(completed),
        "a completed claim replays its response",
    );
}

/// `release` of the claim still held removes it: the key can be claimed again.
pub async fn release_removes_the_matching_claim(idempotency: Arc<dyn IdempotencyRepository>) {
    let first = record("retry-me", "fp-release");
    same(
        &claim(&idempotency, &first).await,
        &Claim::Claimed,
        "first claim",
    );
    release(&idempotency, &first).await;
    let again = IdempotencyRecord {
        created_at: at(T0 + 1),
        ..first.clone()
    };
    same(
        &claim(&idempotency, &again).await,
        &Claim::Claimed,
        "a released key can be claimed again",
    );
    // Releasing a key nobody holds is harmless.
    release(&idempotency, &record("never-claimed", "fp")).await;
}

/// `release` leaves alone a newer claim (other `created_at` or fingerprint) and a
/// completed record.
pub async fn release_leaves_other_records_alone(idempotency: Arc<dyn IdempotencyRepository>) {
    let held = record("newer-claim", "fp-held");
    same(&claim(&idempotency, &held).await, &Claim::Claimed, "claim");
    let stale_time = IdempotencyRecord {
        created_at: at(T0 - 60),
        ..held.clone()
    };
    release(&idempotency, &stale_time).await;
    same(
        &stored(&idempotency, &held).await,
        &Claim::Existing(held.clone()),
        "release with another created_at leaves the claim",
    );
    let stale_fingerprint = IdempotencyRecord {
        fingerprint: "fp-other".to_owned(),
        ..held.clone()
    };
    release(&idempotency, &stale_fingerprint).await;
    same(
        &stored(&idempotency, &held).await,
        &Claim::Existing(held.clone()),
        "release with another fingerprint leaves the claim",
    );

    let done = record("finished", "fp-done");
    same(&claim(&idempotency, &done).await, &Claim::Claimed, "claim");
    complete(&idempotency, &done, &response()).await;
    release(&idempotency, &done).await;
    same(
        &stored(&idempotency, &done).await,
        &Claim::Existing(IdempotencyRecord {
            state: IdempotencyState::Completed(response()),
            ..done.clone()
        }),
        "release leaves a completed record",
    );
}

/// Of [`CONCURRENT_CLAIMS`] concurrent claims of one key, exactly one is `Claimed`, and
/// every other sees the winner's record.
pub async fn concurrent_claims_have_one_winner(idempotency: Arc<dyn IdempotencyRepository>) {
    let base = record("raced", "fp");
    let barrier = Arc::new(tokio::sync::Barrier::new(CONCURRENT_CLAIMS));
    let tasks: Vec<_> = (0..CONCURRENT_CLAIMS)
        .map(|n| {
            let repo = idempotency.clone();
            let barrier = barrier.clone();
            let mine = IdempotencyRecord {
                fingerprint: format!("fp-{n}"),
                ..base.clone()
            };
            tokio::spawn(async move {
                barrier.wait().await;
                let outcome = claim(&repo, &mine).await;
                (mine, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut existing = Vec::new();
    for task in tasks {
        let (mine, outcome) = task.await.expect("a claiming task panicked");
        match outcome {
            Claim::Claimed => winners.push(mine),
            Claim::Existing(record) => existing.push(record),
        }
    }
    same(
        &winners.len(),
        &1,
        &format!("number of Claimed among {CONCURRENT_CLAIMS} concurrent claims"),
    );
    let winner = &winners[0];
    for record in &existing {
        same(record, winner, "a losing claim sees the winner's record");
    }
    same(
        &stored(&idempotency, &base).await,
        &Claim::Existing(winner.clone()),
        "the winner's record is stored",
    );
}

/// Completing a claim that was released and claimed again by another request does not
/// overwrite the newer claim.
pub async fn complete_leaves_a_newer_claim_alone(idempotency: Arc<dyn IdempotencyRepository>) {
    let old = record("complete-guard", "fp-old");
    assert_eq!(claim(&idempotency, &old).await, Claim::Claimed);
    release(&idempotency, &old).await;
    let newer = IdempotencyRecord {
        fingerprint: "fp-new".to_owned(),
        created_at: at(T0 + 300),
        ..old.clone()
    };
    assert_eq!(claim(&idempotency, &newer).await, Claim::Claimed);

    complete(&idempotency, &old, &response()).await;
    assert_eq!(
        stored(&idempotency, &old).await,
        Claim::Existing(newer.clone()),
        "the newer claim is still in progress"
    );
    complete(&idempotency, &newer, &response()).await;
    assert_eq!(
        stored(&idempotency, &old).await,
        Claim::Existing(IdempotencyRecord {
            state: IdempotencyState::Completed(response()),
            ..newer
        })
    );
}

/// A request presumed dead was taken over, and the request that took it over failed
/// and released the key; then the first one finishes after all. What it did is kept
/// (its record stored anew, completed), so a retry replays it instead of doing it
/// again (a second token, a second presigned upload).
pub async fn complete_keeps_the_response_of_a_claim_no_one_holds(
    idempotency: Arc<dyn IdempotencyRepository>,
) {
    let slow = record("complete-after-release", "fp");
    assert_eq!(claim(&idempotency, &slow).await, Claim::Claimed);
    release(&idempotency, &slow).await;

    complete(&idempotency, &slow, &response()).await;
    let retry = IdempotencyRecord {
        created_at: at(T0 + 30),
        ..slow.clone()
    };
    assert_eq!(
        claim(&idempotency, &retry).await,
        Claim::Existing(IdempotencyRecord {
            state: IdempotencyState::Completed(response()),
            ..slow
        })
    );
}

/// Purging removes the records created before the cutoff and keeps the rest.
pub async fn purge_removes_only_older_records(idempotency: Arc<dyn IdempotencyRepository>) {
    let old = IdempotencyRecord {
        created_at: at(1_000),
        ..record("purge-old", "fp")
    };
    let fresh = IdempotencyRecord {
        created_at: at(2_000),
        ..record("purge-fresh", "fp")
    };
    assert_eq!(claim(&idempotency, &old).await, Claim::Claimed);
    assert_eq!(claim(&idempotency, &fresh).await, Claim::Claimed);
    let purged = ok(
        idempotency.purge_created_before(at(2_000)).await,
        "IdempotencyRepository::purge_created_before",
    );
    assert!(purged >= 1, "the old record is purged");
    assert_eq!(
        claim(&idempotency, &old).await,
        Claim::Claimed,
        "the old key is free again"
    );
    assert_eq!(
        stored(&idempotency, &fresh).await,
        Claim::Existing(fresh.clone()),
        "the fresh record is kept"
    );
}
