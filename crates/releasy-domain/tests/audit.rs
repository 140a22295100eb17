//! The audit trail: one `api_key.auth` event per authentication attempt, and the
//! filtered, newest-first listing of events.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use common::{Harness, T0, page};
use releasy_domain::api_key::{
    ApiKey, ApiKeyAuthenticator, AuthCandidate, AuthFailure, KeyChanges, KeyLookup, Rotation,
    StoredKeyHash,
};
use releasy_domain::audit::{AuditEvent, AuditFilter, AuthReason, Origin};
use releasy_domain::customer::CustomerChanges;
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::{ApiKeyRepository, ChangeEvents, RepoError};
use releasy_domain::{ApiKeyId, AuditEventId, CustomerId, Timestamp};
use serde_json::{Value, json};

/// The one event recorded so far, checked to be a key-authentication event at `at`.
async fn only_auth_event(h: &Harness, at: Timestamp) -> AuditEvent {
    let events = h.auth_events().await;
    assert_eq!(events.len(), 1, "exactly one event per attempt: {events:?}");
    let event = events.into_iter().next().expect("one event");
    assert_eq!(event.actor, "api_key");
    assert_eq!(event.event, "api_key.auth");
    assert_eq!(event.created_at, at);
    event
}

fn payload(outcome: &str, reason: &str, api_key_id: Option<ApiKeyId>) -> Value {
    json!({
        "outcome": outcome,
        "reason": reason,
        "api_key_id": api_key_id.map(|id| id.to_string()),
    })
}

fn expect_rejected<T: std::fmt::Debug>(result: Result<T, AuthFailure>, reason: AuthReason) {
    match result {
        Err(AuthFailure::Rejected(got)) => assert_eq!(got, reason),
        other => panic!("expected rejection ({reason:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn an_accepted_key_is_audited_with_its_key_and_customer() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    h.clock.advance(3);

    h.services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
        .expect("accepted");

    let event = only_auth_event(&h, T0.plus_seconds(3)).await;
    assert_eq!(event.customer_id, Some(customer.id));
    assert_eq!(event.payload, payload("accept", "ok", Some(issued.key.id)));
}

#[tokio::test]
async fn a_missing_key_is_audited_without_key_or_customer() {
    let h = Harness::new();

    expect_rejected(
        h.services.authenticator.authenticate(None).await,
        AuthReason::MissingHeader,
    );

    let event = only_auth_event(&h, T0).await;
    assert_eq!(event.customer_id, None);
    assert_eq!(event.payload, payload("reject", "missing_header", None));
    assert_eq!(event.payload["api_key_id"], Value::Null);
}

#[tokio::test]
async fn an_empty_key_is_missing_and_an_oversized_one_is_not_found() {
    let h = Harness::new();
    expect_rejected(
        h.services.authenticator.authenticate(Some("   ")).await,
        AuthReason::MissingHeader,
    );
    let oversized = format!("releasy_{}", "x".repeat(600));
    expect_rejected(
        h.services
            .authenticator
            .authenticate(Some(&oversized))
            .await,
        AuthReason::NotFound,
    );
}

#[tokio::test]
async fn an_unknown_key_is_audited_without_key_or_customer() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.key(customer.id, &["releases:read"]).await;

    expect_rejected(
        h.services
            .authenticator
            .authenticate(Some("releasy_guessed"))
            .await,
        AuthReason::NotFound,
    );

    let event = only_auth_event(&h, T0).await;
    assert_eq!(event.customer_id, None);
    assert_eq!(event.payload, payload("reject", "not_found", None));
}

#[tokio::test]
async fn a_revoked_key_is_audited_with_its_key_and_customer() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), issued.key.id)
        .await
        .expect("revoked");

    expect_rejected(
        h.services
            .authenticator
            .authenticate(Some(issued.secret.expose()))
            .await,
        AuthReason::Revoked,
    );

    let event = only_auth_event(&h, T0).await;
    assert_eq!(event.customer_id, Some(customer.id));
    assert_eq!(
        event.payload,
        payload("reject", "revoked", Some(issued.key.id))
    );
}

#[tokio::test]
async fn an_expired_key_is_audited_with_its_key_and_customer() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h
        .key_expiring(customer.id, &["releases:read"], Some(T0.plus_seconds(10)))
        .await;
    h.clock.advance(11);

    expect_rejected(
        h.services
            .authenticator
            .authenticate(Some(issued.secret.expose()))
            .await,
        AuthReason::Expired,
    );

    let event = only_auth_event(&h, T0.plus_seconds(11)).await;
    assert_eq!(event.customer_id, Some(customer.id));
    assert_eq!(
        event.payload,
        payload("reject", "expired", Some(issued.key.id))
    );
}

#[tokio::test]
async fn a_suspended_customers_key_is_audited_with_its_key_and_customer() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    h.services
        .customers
        .update(
            &Origin::admin_key(),
            customer.id,
            CustomerChanges::new(None, None, Some(true)).expect("one change"),
        )
        .await
        .expect("suspended");

    expect_rejected(
        h.services
            .authenticator
            .authenticate(Some(issued.secret.expose()))
            .await,
        AuthReason::Suspended,
    );

    let event = only_auth_event(&h, T0).await;
    assert_eq!(event.customer_id, Some(customer.id));
    assert_eq!(
        event.payload,
        payload("reject", "suspended", Some(issued.key.id))
    );
}

/// A key repository whose stored scopes have been corrupted (as a hand-edited database
/// row might be): everything else is the in-memory repository.
#[derive(Debug)]
struct CorruptScopes(Arc<dyn ApiKeyRepository>);

#[async_trait]
impl ApiKeyRepository for CorruptScopes {
    async fn insert(&self, key: &ApiKey, event: &AuditEvent) -> Result<(), RepoError> {
        self.0.insert(key, event).await
    }

    async fn get(&self, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError> {
        self.0.get(id).await
    }

    async fn find_auth_candidates(
        &self,
        lookup: &KeyLookup,
        legacy_digest: &str,
    ) -> Result<Vec<AuthCandidate>, RepoError> {
        let mut candidates = self.0.find_auth_candidates(lookup, legacy_digest).await?;
        for candidate in &mut candidates {
            candidate.scopes = "releases:read root".into();
        }
        Ok(candidates)
    }

    async fn upgrade_hash(
        &self,
        id: ApiKeyId,
        hash: &StoredKeyHash,
        lookup: &KeyLookup,
    ) -> Result<(), RepoError> {
        self.0.upgrade_hash(id, hash, lookup).await
    }

    async fn touch_last_used(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        client: Option<IpAddr>,
    ) -> Result<(), RepoError> {
        self.0.touch_last_used(id, at, client).await
    }

    async fn update(
        &self,
        id: ApiKeyId,
        changes: &KeyChanges,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<Option<ApiKey>, RepoError> {
        self.0.update(id, changes, events).await
    }

    async fn list_for_customer(
        &self,
        customer_id: CustomerId,
        page: PageRequest,
    ) -> Result<Vec<ApiKey>, RepoError> {
        self.0.list_for_customer(customer_id, page).await
    }

    async fn revoke(
        &self,
        id: ApiKeyId,
        at: Timestamp,
        events: ChangeEvents<'_, ApiKey>,
    ) -> Result<bool, RepoError> {
        self.0.revoke(id, at, events).await
    }

    async fn rotate(&self, rotation: &Rotation, events: &[AuditEvent]) -> Result<bool, RepoError> {
        self.0.rotate(rotation, events).await
    }
}

#[tokio::test]
async fn a_key_with_unreadable_stored_scopes_is_audited_as_invalid_scopes() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let authenticator = ApiKeyAuthenticator::new(
        Arc::new(CorruptScopes(h.ports.repositories.api_keys.clone())),
        h.ports.hasher.clone(),
        h.ports.repositories.audit.clone(),
        h.ports.clock.clone(),
    );

    expect_rejected(
        authenticator
            .authenticate(Some(issued.secret.expose()))
            .await,
        AuthReason::InvalidScopes,
    );

    let event = only_auth_event(&h, T0).await;
    assert_eq!(event.customer_id, Some(customer.id));
    assert_eq!(
        event.payload,
        payload("reject", "invalid_scopes", Some(issued.key.id))
    );
}

#[tokio::test]
async fn every_attempt_adds_one_event_and_none_contains_the_secret() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let raw = issued.secret.expose();
    let auth = &h.services.authenticator;

    auth.authenticate(Some(raw)).await.expect("accepted");
    h.clock.advance(1);
    auth.authenticate(Some(raw)).await.expect("accepted");
    h.clock.advance(1);
    expect_rejected(auth.authenticate(None).await, AuthReason::MissingHeader);
    h.clock.advance(1);
    expect_rejected(
        auth.authenticate(Some("releasy_nope")).await,
        AuthReason::NotFound,
    );
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), issued.key.id)
        .await
        .expect("revoked");
    h.clock.advance(1);
    expect_rejected(auth.authenticate(Some(raw)).await, AuthReason::Revoked);

    let events = h.auth_events().await;
    let reasons: Vec<&str> = events
        .iter()
        .map(|e| e.payload["reason"].as_str().expect("reason is text"))
        .collect();
    assert_eq!(
        reasons,
        ["revoked", "not_found", "missing_header", "ok", "ok"],
        "one event per attempt, newest first"
    );
    for event in &events {
        assert!(
            !event.payload.to_string().contains(raw),
            "payload must never contain the key"
        );
        let mut fields: Vec<&str> = event
            .payload
            .as_object()
            .expect("payload is an object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(fields, ["api_key_id", "outcome", "reason"]);
    }
    assert!(
        !h.auth_events()
            .await
            .iter()
            .any(|e| e.payload.to_string().contains("releasy_nope")),
        "not even a wrong key is recorded"
    );
}

// ---- listing ----------------------------------------------------------------------

/// Events seeded straight into the repository, to list back.
struct Seeded {
    acme: CustomerId,
    globex: CustomerId,
    all: Vec<AuditEvent>,
}

fn event(
    customer_id: Option<CustomerId>,
    actor: &str,
    name: &str,
    seconds_after_t0: i64,
) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::generate(),
        customer_id,
        actor: actor.into(),
        event: name.into(),
        payload: json!({"n": seconds_after_t0}),
        created_at: T0.plus_seconds(seconds_after_t0),
    }
}

async fn seed(h: &Harness) -> Seeded {
    let acme = CustomerId::generate();
    let globex = CustomerId::generate();
    let all = vec![
        event(Some(acme), "api_key", "api_key.auth", 100),
        event(Some(globex), "api_key", "api_key.auth", 200),
        event(Some(acme), "admin", "customer.update", 200),
        event(None, "api_key", "api_key.auth", 300),
        event(Some(acme), "api_key", "api_key.auth", 400),
        event(Some(globex), "operator", "release.publish", 400),
    ];
    for e in &all {
        h.ports
            .repositories
            .audit
            .record(e)
            .await
            .expect("recorded");
    }
    Seeded { acme, globex, all }
}

/// The ids of `events` that pass `keep`, newest first (ties by id, descending).
fn expected(events: &[AuditEvent], keep: impl Fn(&AuditEvent) -> bool) -> Vec<AuditEventId> {
    let mut kept: Vec<&AuditEvent> = events.iter().filter(|e| keep(e)).collect();
    kept.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.to_string())));
    kept.into_iter().map(|e| e.id).collect()
}

async fn listed(h: &Harness, filter: AuditFilter) -> Vec<AuditEventId> {
    h.services
        .audit
        .list(&filter, page(200, 0))
        .await
        .expect("listed")
        .into_iter()
        .map(|e| e.id)
        .collect()
}

fn at(seconds_after_t0: i64) -> Option<Timestamp> {
    Some(T0.plus_seconds(seconds_after_t0))
}

#[tokio::test]
async fn listing_without_filters_is_everything_newest_first() {
    let h = Harness::new();
    let s = seed(&h).await;

    let all = h
        .services
        .audit
        .list(&AuditFilter::default(), page(200, 0))
        .await
        .expect("listed");

    assert_eq!(all.len(), 6);
    assert!(
        all.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        expected(&s.all, |_| true)
    );
    let original = s.all.iter().find(|e| e.id == all[0].id).expect("seeded");
    assert_eq!(&all[0], original, "events come back as recorded");
}

#[tokio::test]
async fn listing_filters_by_customer_actor_and_event() {
    let h = Harness::new();
    let s = seed(&h).await;

    let acme = listed(
        &h,
        AuditFilter {
            customer_id: Some(s.acme),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(acme.len(), 3);
    assert_eq!(acme, expected(&s.all, |e| e.customer_id == Some(s.acme)));

    let globex = listed(
        &h,
        AuditFilter {
            customer_id: Some(s.globex),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(
        globex,
        expected(&s.all, |e| e.customer_id == Some(s.globex))
    );

    let admin = listed(
        &h,
        AuditFilter {
            actor: Some("admin".into()),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(admin, expected(&s.all, |e| e.actor == "admin"));
    assert_eq!(admin.len(), 1);

    let auth = listed(
        &h,
        AuditFilter {
            event: Some("api_key.auth".into()),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(auth.len(), 4);
    assert_eq!(auth, expected(&s.all, |e| e.event == "api_key.auth"));

    let acme_auth = listed(
        &h,
        AuditFilter {
            customer_id: Some(s.acme),
            actor: Some("api_key".into()),
            event: Some("api_key.auth".into()),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(
        acme_auth,
        expected(&s.all, |e| e.customer_id == Some(s.acme)
            && e.event == "api_key.auth"),
        "filters are ANDed"
    );
    assert_eq!(acme_auth.len(), 2);

    let nobody = listed(
        &h,
        AuditFilter {
            customer_id: Some(CustomerId::generate()),
            ..AuditFilter::default()
        },
    )
    .await;
    assert!(nobody.is_empty());
}

#[tokio::test]
async fn listing_time_bounds_are_inclusive() {
    let h = Harness::new();
    let s = seed(&h).await;
    let between = |from: i64, to: i64| {
        expected(&s.all, move |e| {
            e.created_at >= T0.plus_seconds(from) && e.created_at <= T0.plus_seconds(to)
        })
    };

    let from_200 = listed(
        &h,
        AuditFilter {
            created_from: at(200),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(from_200.len(), 5, "the events at exactly 200 are included");
    assert_eq!(from_200, between(200, i64::MAX / 2));

    let to_200 = listed(
        &h,
        AuditFilter {
            created_to: at(200),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(to_200.len(), 3, "the events at exactly 200 are included");
    assert_eq!(to_200, between(-1, 200));

    let window = listed(
        &h,
        AuditFilter {
            created_from: at(200),
            created_to: at(300),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(window, between(200, 300));
    assert_eq!(window.len(), 3);

    let instant = listed(
        &h,
        AuditFilter {
            created_from: at(400),
            created_to: at(400),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(instant, between(400, 400));
    assert_eq!(instant.len(), 2);

    let gap = listed(
        &h,
        AuditFilter {
            created_from: at(101),
            created_to: at(199),
            ..AuditFilter::default()
        },
    )
    .await;
    assert!(gap.is_empty());

    let inverted = listed(
        &h,
        AuditFilter {
            created_from: at(300),
            created_to: at(200),
            ..AuditFilter::default()
        },
    )
    .await;
    assert!(inverted.is_empty(), "from after to matches nothing");

    let acme_from_200 = listed(
        &h,
        AuditFilter {
            customer_id: Some(s.acme),
            created_from: at(200),
            ..AuditFilter::default()
        },
    )
    .await;
    assert_eq!(
        acme_from_200,
        expected(&s.all, |e| e.customer_id == Some(s.acme)
            && e.created_at >= T0.plus_seconds(200))
    );
}

#[tokio::test]
async fn listing_pages_by_offset_and_limit() {
    let h = Harness::new();
    let s = seed(&h).await;
    let order = expected(&s.all, |_| true);

    let mut walked = Vec::new();
    for offset in [0, 2, 4] {
        let page = h
            .services
            .audit
            .list(&AuditFilter::default(), page(2, offset))
            .await
            .expect("listed");
        assert_eq!(page.len(), 2, "offset {offset}");
        walked.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(walked, order);

    let short = h
        .services
        .audit
        .list(&AuditFilter::default(), page(4, 3))
        .await
        .expect("listed");
    assert_eq!(
        short.into_iter().map(|e| e.id).collect::<Vec<_>>(),
        order[3..].to_vec(),
        "a partial last page"
    );

    let past_the_end = h
        .services
        .audit
        .list(&AuditFilter::default(), page(2, 6))
        .await
        .expect("listed");
    assert!(past_the_end.is_empty());

    let filtered = h
        .services
        .audit
        .list(
            &AuditFilter {
                event: Some("api_key.auth".into()),
                ..AuditFilter::default()
            },
            page(1, 1),
        )
        .await
        .expect("listed");
    assert_eq!(
        filtered.into_iter().map(|e| e.id).collect::<Vec<_>>(),
        expected(&s.all, |e| e.event == "api_key.auth")[1..2].to_vec(),
        "the offset counts matching events only"
    );
}

#[tokio::test]
async fn authentication_events_can_be_listed_per_customer() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let globex = h.customer("Globex").await;
    let acme_key = h.key(acme.id, &["releases:read"]).await;
    let globex_key = h.key(globex.id, &["releases:read"]).await;
    let auth = &h.services.authenticator;

    auth.authenticate(Some(acme_key.secret.expose()))
        .await
        .expect("accepted");
    h.clock.advance(5);
    auth.authenticate(Some(globex_key.secret.expose()))
        .await
        .expect("accepted");
    h.clock.advance(5);
    auth.authenticate(Some(acme_key.secret.expose()))
        .await
        .expect("accepted");
    expect_rejected(auth.authenticate(None).await, AuthReason::MissingHeader);

    let acme_events = h
        .services
        .audit
        .list(
            &AuditFilter {
                customer_id: Some(acme.id),
                event: Some(AuditEvent::API_KEY_AUTH.into()),
                actor: Some(AuditEvent::API_KEY_ACTOR.into()),
                ..AuditFilter::default()
            },
            page(50, 0),
        )
        .await
        .expect("listed");
    let times: Vec<Timestamp> = acme_events.iter().map(|e| e.created_at).collect();
    assert_eq!(times, [T0.plus_seconds(10), T0]);
    assert!(
        acme_events
            .iter()
            .all(|e| e.payload == payload("accept", "ok", Some(acme_key.key.id)))
    );

    assert_eq!(h.auth_events().await.len(), 4);
}
