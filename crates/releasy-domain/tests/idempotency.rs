//! The idempotency rule: claim, replay, conflict, in-progress, abandon and take-over.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use common::{Harness, T0};
use releasy_domain::idempotency::{
    Begin, IdempotencyError, IdempotencyKey, IdempotencyRecord, IdempotencyState, StoredResponse,
};

use releasy_domain::idempotency::ABANDONED_AFTER_SECONDS;

const SCOPE: &str = "POST /v1/admin/customers|admin";

fn key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(raw).expect("valid idempotency key")
}

fn response(body: &str) -> StoredResponse {
    StoredResponse {
        status: 201,
        body: body.to_owned(),
    }
}

impl Harness {
    async fn begin(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Begin, IdempotencyError> {
        self.services
            .idempotency
            .begin(scope, key, fingerprint)
            .await
    }

    async fn claim(
        &self,
        scope: &str,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> IdempotencyRecord {
        match self.begin(scope, key, fingerprint).await {
            Ok(Begin::Proceed(claim)) => claim,
            other => panic!("expected to proceed, got {other:?}"),
        }
    }

    async fn finish(&self, claim: &IdempotencyRecord, body: &str) {
        self.services
            .idempotency
            .finish(claim, response(body))
            .await
            .expect("response kept");
    }

    async fn abandon(&self, claim: &IdempotencyRecord) {
        self.services
            .idempotency
            .abandon(claim)
            .await
            .expect("claim released");
    }
}

fn assert_in_progress(result: Result<Begin, IdempotencyError>) {
    assert!(
        matches!(result, Err(IdempotencyError::InProgress)),
        "expected in progress, got {result:?}"
    );
}

fn assert_conflict(result: Result<Begin, IdempotencyError>) {
    assert!(
        matches!(result, Err(IdempotencyError::Conflict)),
        "expected conflict, got {result:?}"
    );
}

#[tokio::test]
async fn a_fresh_key_is_claimed_for_the_request() {
    let h = Harness::new();
    let k = key("create-acme-1");

    let claim = h.claim(SCOPE, &k, "fp-a").await;

    assert_eq!(claim.scope, SCOPE);
    assert_eq!(claim.key, k);
    assert_eq!(claim.fingerprint, "fp-a");
    assert_eq!(claim.state, IdempotencyState::InProgress);
    assert_eq!(claim.created_at, T0);
}

#[tokio::test]
async fn after_finish_the_same_request_replays_the_stored_response() {
    let h = Harness::new();
    let k = key("create-acme-1");
    let claim = h.claim(SCOPE, &k, "fp-a").await;
    h.finish(&claim, r#"{"id":"1"}"#).await;

    h.clock.advance(5);
    let replay = h.begin(SCOPE, &k, "fp-a").await.expect("replayed");
    assert_eq!(replay, Begin::Replay(response(r#"{"id":"1"}"#)));

    // Again, and long after any in-progress claim would count as abandoned.
    h.clock.advance(10 * ABANDONED_AFTER_SECONDS);
    let replay = h.begin(SCOPE, &k, "fp-a").await.expect("replayed");
    assert_eq!(
        replay,
        Begin::Replay(response(r#"{"id":"1"}"#)),
        "a completed key never expires into a second creation"
    );
}

#[tokio::test]
async fn a_finished_key_reused_with_another_request_is_a_conflict() {
    let h = Harness::new();
    let k = key("create-acme-1");
    let claim = h.claim(SCOPE, &k, "fp-a").await;
    h.finish(&claim, "{}").await;

    assert_conflict(h.begin(SCOPE, &k, "fp-b").await);
    assert_eq!(
        h.begin(SCOPE, &k, "fp-a").await.expect("replayed"),
        Begin::Replay(response("{}")),
        "the conflict changed nothing"
    );
}

#[tokio::test]
async fn while_the_first_request_runs_a_retry_is_in_progress() {
    let h = Harness::new();
    let k = key("create-acme-1");
    let claim = h.claim(SCOPE, &k, "fp-a").await;

    h.clock.advance(1);
    assert_in_progress(h.begin(SCOPE, &k, "fp-a").await);
    assert_conflict(h.begin(SCOPE, &k, "fp-b").await);

    h.finish(&claim, "done").await;
    assert_eq!(
        h.begin(SCOPE, &k, "fp-a").await.expect("replayed"),
        Begin::Replay(response("done"))
    );
}

#[tokio::test]
async fn after_abandon_the_key_can_be_claimed_again() {
    let h = Harness::new();
    let k = key("create-acme-1");
    let first = h.claim(SCOPE, &k, "fp-a").await;
    h.abandon(&first).await;

    h.clock.advance(2);
    let second = h.claim(SCOPE, &k, "fp-a").await;
    assert_eq!(second.created_at, T0.plus_seconds(2));
    assert_in_progress(h.begin(SCOPE, &k, "fp-a").await);

    h.finish(&second, "second").await;
    assert_eq!(
        h.begin(SCOPE, &k, "fp-a").await.expect("replayed"),
        Begin::Replay(response("second"))
    );
}

#[tokio::test]
async fn after_abandon_a_different_request_may_use_the_key() {
    let h = Harness::new();
    let k = key("create-acme-1");
    let first = h.claim(SCOPE, &k, "fp-a").await;
    h.abandon(&first).await;

    let second = h.claim(SCOPE, &k, "fp-b").await;
    assert_eq!(second.fingerprint, "fp-b");
}

#[tokio::test]
async fn a_claim_older_than_the_abandon_limit_is_taken_over() {
    let h = Harness::new();
    let k = key("create-acme-1");
    let stale = h.claim(SCOPE, &k, "fp-a").await;

    // Stored in whole seconds, a claim of T0 may have begun up to a second later:
    // ABANDONED_AFTER_SECONDS on the clock is not yet that long for sure.
    h.clock.advance(ABANDONED_AFTER_SECONDS);
    assert_in_progress(h.begin(SCOPE, &k, "fp-a").await);

    h.clock.advance(1);
    let taken_over = h.claim(SCOPE, &k, "fp-a").await;
    assert_eq!(
        taken_over.created_at,
        T0.plus_seconds(ABANDONED_AFTER_SECONDS + 1),
        "the new claim starts now"
    );
    assert_in_progress(h.begin(SCOPE, &k, "fp-a").await);

    // The presumed-dead first request giving up must not free the new claim.
    h.abandon(&stale).await;
    assert_in_progress(h.begin(SCOPE, &k, "fp-a").await);

    h.finish(&taken_over, "from the retry").await;
    assert_eq!(
        h.begin(SCOPE, &k, "fp-a").await.expect("replayed"),
        Begin::Replay(response("from the retry"))
    );
}

#[tokio::test]
async fn another_body_never_takes_over_a_key_even_an_abandoned_one() {
    let h = Harness::new();
    let k = key("create-acme-2");
    let stale = h.claim(SCOPE, &k, "fp-first").await;
    assert_conflict(h.begin(SCOPE, &k, "fp-other").await);

    // Past the abandon limit: the first request may have committed before it died,
    // so the key still names it; another body is a conflict, its retry takes over.
    h.clock.advance(ABANDONED_AFTER_SECONDS + 1);
    assert_conflict(h.begin(SCOPE, &k, "fp-other").await);
    let taken_over = h.claim(SCOPE, &k, "fp-first").await;
    assert_eq!(taken_over.fingerprint, "fp-first");

    // The presumed-dead request finishing late must not overwrite its successor.
    h.services
        .idempotency
        .finish(&stale, response("from the dead"))
        .await
        .expect("finish runs");
    assert_in_progress(h.begin(SCOPE, &k, "fp-first").await);
    h.finish(&taken_over, "from the retry").await;
    assert_eq!(
        h.begin(SCOPE, &k, "fp-first").await.expect("replayed"),
        Begin::Replay(response("from the retry"))
    );
    assert_conflict(h.begin(SCOPE, &k, "fp-other").await);
}

#[tokio::test]
async fn the_same_key_in_another_scope_is_independent() {
    let h = Harness::new();
    let k = key("shared-key");
    let other_scope = "POST /v1/admin/releases|admin";

    let here = h.claim(SCOPE, &k, "fp-a").await;
    let there = h.claim(other_scope, &k, "fp-b").await;
    assert_eq!(there.scope, other_scope);

    h.finish(&here, "customer").await;
    assert_in_progress(h.begin(other_scope, &k, "fp-b").await);
    assert_eq!(
        h.begin(SCOPE, &k, "fp-a").await.expect("replayed"),
        Begin::Replay(response("customer"))
    );

    h.abandon(&there).await;
    assert_eq!(
        h.begin(SCOPE, &k, "fp-a").await.expect("replayed"),
        Begin::Replay(response("customer")),
        "abandoning in one scope leaves the other alone"
    );
    let again = h.claim(other_scope, &k, "fp-c").await;
    assert_eq!(again.fingerprint, "fp-c");
}

#[tokio::test]
async fn different_keys_in_one_scope_are_independent() {
    let h = Harness::new();
    let one = h.claim(SCOPE, &key("one"), "fp").await;
    let two = h.claim(SCOPE, &key("two"), "fp").await;

    h.finish(&one, "1").await;
    h.finish(&two, "2").await;
    assert_eq!(
        h.begin(SCOPE, &key("one"), "fp").await.expect("replayed"),
        Begin::Replay(response("1"))
    );
    assert_eq!(
        h.begin(SCOPE, &key("two"), "fp").await.expect("replayed"),
        Begin::Replay(response("2"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_first_requests_exactly_one_proceeds() {
    let h = Harness::new();
    let k = key("race");

    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let service = h.services.idempotency.clone();
            let k = k.clone();
            tokio::spawn(async move { service.begin(SCOPE, &k, "fp").await })
        })
        .collect();
    let mut proceeded = 0;
    let mut in_progress = 0;
    for attempt in attempts {
        match attempt.await.expect("task ran") {
            Ok(Begin::Proceed(_)) => proceeded += 1,
            Err(IdempotencyError::InProgress) => in_progress += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(proceeded, 1);
    assert_eq!(in_progress, 15);
}

#[tokio::test]
async fn keys_are_forgotten_after_the_retention_period() {
    use releasy_domain::idempotency::RETENTION_SECONDS;
    let h = Harness::new();
    let k = key("retained");
    let claim = h.claim(SCOPE, &k, "fp-a").await;
    h.finish(&claim, "kept").await;

    h.clock.advance(RETENTION_SECONDS);
    assert_eq!(
        h.services.idempotency.purge_expired().await.expect("purge"),
        0,
        "kept for the full period"
    );
    h.clock.advance(1);
    assert_eq!(
        h.services.idempotency.purge_expired().await.expect("purge"),
        1
    );
    h.claim(SCOPE, &k, "fp-b").await;
}

/// A repository whose key keeps changing hands under every claim: the claim gives up
/// with `Conflict` after its attempts.
#[derive(Debug)]
struct KeyChangingHands;

#[async_trait::async_trait]
impl releasy_domain::ports::IdempotencyRepository for KeyChangingHands {
    async fn claim(
        &self,
        _: &IdempotencyRecord,
    ) -> Result<releasy_domain::ports::Claim, releasy_domain::ports::RepoError> {
        Err(releasy_domain::ports::RepoError::Conflict)
    }

    async fn complete(
        &self,
        _: &IdempotencyRecord,
        _: &StoredResponse,
    ) -> Result<(), releasy_domain::ports::RepoError> {
        Ok(())
    }

    async fn purge_created_before(
        &self,
        _: releasy_domain::Timestamp,
    ) -> Result<u64, releasy_domain::ports::RepoError> {
        Ok(0)
    }

    async fn release(&self, _: &IdempotencyRecord) -> Result<(), releasy_domain::ports::RepoError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_key_that_keeps_changing_hands_is_in_progress_not_a_conflict() {
    let clock = std::sync::Arc::new(releasy_domain::memory::FixedClock::at(T0));
    let service = releasy_domain::idempotency::IdempotencyService::new(
        std::sync::Arc::new(KeyChangingHands),
        clock,
    );
    let begun = service.begin(SCOPE, &key("busy"), "fp").await;
    assert!(
        matches!(begun, Err(IdempotencyError::InProgress)),
        "{begun:?}"
    );
}
