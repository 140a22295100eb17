//! Checks of [`AuditRepository`]: events round-trip, list newest first, every filter
//! (with inclusive time bounds), and offset paging.

use std::sync::Arc;

use releasy_domain::audit::{AuditEvent, AuditFilter};
use releasy_domain::pagination::{Offset, PageLimit, PageRequest};
use releasy_domain::ports::AuditRepository;
use releasy_domain::{AuditEventId, CustomerId};
use serde_json::json;

use super::{T0, at, ok, run_check, same, token};

/// Runs every audit check.
pub async fn run_all(audit: Arc<dyn AuditRepository>) {
    run_check!(record_then_list_newest_first(audit.clone()));
    run_check!(list_filters_with_inclusive_bounds(audit.clone()));
    run_check!(list_pages_by_offset_and_limit(audit));
}

fn page(offset: i64, limit: i64) -> PageRequest {
    PageRequest {
        limit: PageLimit::parse(Some(limit)).expect("a valid page limit"),
        offset: Offset::parse(Some(offset)).expect("a valid offset"),
    }
}

fn event(customer: Option<CustomerId>, actor: &str, name: &str, created_at: i64) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::generate(),
        customer_id: customer,
        actor: actor.to_owned(),
        event: name.to_owned(),
        payload: json!({"n": created_at}),
        created_at: at(created_at),
    }
}

async fn record_all(audit: &Arc<dyn AuditRepository>, events: &[AuditEvent]) {
    for e in events {
        ok(audit.record(e).await, "AuditRepository::record");
    }
}

async fn list(
    audit: &Arc<dyn AuditRepository>,
    filter: &AuditFilter,
    page: PageRequest,
) -> Vec<AuditEvent> {
    ok(audit.list(filter, page).await, "AuditRepository::list")
}

/// The contract's order: `(created_at, id)` descending.
fn newest_first<'a>(events: impl IntoIterator<Item = &'a AuditEvent>) -> Vec<AuditEvent> {
    let mut events: Vec<AuditEvent> = events.into_iter().cloned().collect();
    events.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.to_string())));
    events
}

/// Recorded events come back whole (payload included), newest first, ties by id.
pub async fn record_then_list_newest_first(audit: Arc<dyn AuditRepository>) {
    let customer = CustomerId::generate();
    let actor = format!("actor-{}", token());
    let mut events = vec![
        event(Some(customer), &actor, "a", T0 + 10),
        event(Some(customer), &actor, "b", T0 + 30),
        event(Some(customer), &actor, "c", T0 + 20),
        event(Some(customer), &actor, "d", T0 + 30),
        event(None, &actor, "e", T0 + 30),
        event(None, &actor, "f", T0 - 100),
    ];
    events[0].payload = json!({
        "outcome": "reject",
        "reason": "revoked",
        "api_key_id": null,
        "nested": {"list": [1, 2.5, "three", true], "empty": {}},
        "text": "quotes \" and unicode é ✓",
    });
    record_all(&audit, &events).await;
    let by_actor = AuditFilter {
        actor: Some(actor.clone()),
        ..AuditFilter::default()
    };
    same(
        &list(&audit, &by_actor, page(0, 200)).await,
        &newest_first(&events),
        "events round-trip and list newest first by (created_at desc, id desc)",
    );
}

/// Each filter narrows the listing, time bounds are inclusive, and filters combine.
pub async fn list_filters_with_inclusive_bounds(audit: Arc<dyn AuditRepository>) {
    let t = token();
    let (alice, bob) = (CustomerId::generate(), CustomerId::generate());
    let (admin, key) = (format!("admin-{t}"), format!("api_key-{t}"));
    let (created, auth) = (format!("customer.created.{t}"), format!("api_key.auth.{t}"));
    let events = vec![
        event(Some(alice), &admin, &created, T0),
        event(Some(alice), &key, &auth, T0 + 10),
        event(Some(alice), &key, &auth, T0 + 20),
        event(Some(bob), &key, &auth, T0 + 20),
        event(Some(bob), &admin, &created, T0 + 30),
        event(None, &key, &auth, T0 + 40),
    ];
    record_all(&audit, &events).await;
    let pick = |indexes: &[usize]| newest_first(indexes.iter().map(|i| &events[*i]));
    let filter = |customer: Option<CustomerId>,
                  actor: Option<&str>,
                  name: Option<&str>,
                  from: Option<i64>,
                  to: Option<i64>| AuditFilter {
        customer_id: customer,
        actor: actor.map(str::to_owned),
        event: name.map(str::to_owned),
        created_from: from.map(at),
        created_to: to.map(at),
    };
    let cases: Vec<(&str, AuditFilter, Vec<AuditEvent>)> = vec![
        (
            "customer",
            filter(Some(alice), None, None, None, None),
            pick(&[0, 1, 2]),
        ),
        (
            "other customer",
            filter(Some(bob), None, None, None, None),
            pick(&[3, 4]),
        ),
        (
            "unknown customer",
            filter(Some(CustomerId::generate()), None, None, None, None),
            vec![],
        ),
        (
            "actor",
            filter(None, Some(&admin), None, None, None),
            pick(&[0, 4]),
        ),
        (
            "event",
            filter(None, None, Some(&auth), None, None),
            pick(&[1, 2, 3, 5]),
        ),
        (
            "from is inclusive",
            filter(None, Some(&key), None, Some(T0 + 20), None),
            pick(&[2, 3, 5]),
        ),
        (
            "to is inclusive",
            filter(None, Some(&key), None, None, Some(T0 + 20)),
            pick(&[1, 2, 3]),
        ),
        (
            "from and to on one second",
            filter(None, Some(&key), None, Some(T0 + 20), Some(T0 + 20)),
            pick(&[2, 3]),
        ),
        (
            "empty window",
            filter(None, Some(&key), None, Some(T0 + 21), Some(T0 + 39)),
            vec![],
        ),
        (
            "every filter at once",
            filter(
                Some(alice),
                Some(&key),
                Some(&auth),
                Some(T0 + 10),
                Some(T0 + 10),
            ),
            pick(&[1]),
        ),
        (
            "customer and time",
            filter(Some(bob), None, None, Some(T0 + 21), None),
            pick(&[4]),
        ),
    ];
    for (what, filter, expected) in cases {
        same(
            &list(&audit, &filter, page(0, 200)).await,
            &expected,
            &format!("audit filter: {what}"),
        );
    }
}

/// `offset` skips events and `limit` caps the page, in the listing order.
pub async fn list_pages_by_offset_and_limit(audit: Arc<dyn AuditRepository>) {
    let customer = CustomerId::generate();
    let actor = format!("pager-{}", token());
    let events: Vec<AuditEvent> = [T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3]
        .iter()
        .map(|t| event(Some(customer), &actor, "paged", *t))
        .collect();
    record_all(&audit, &events).await;
    let expected = newest_first(&events);
    let filter = AuditFilter {
        customer_id: Some(customer),
        ..AuditFilter::default()
    };
    for (offset, limit, range) in [
        (0, 2, 0..2),
        (2, 2, 2..4),
        (4, 2, 4..5),
        (1, 3, 1..4),
        (5, 2, 5..5),
        (50, 1, 5..5),
        (0, 200, 0..5),
    ] {
        same(
            &list(&audit, &filter, page(offset, limit)).await,
            &expected[range].to_vec(),
            &format!("audit page at offset {offset}, limit {limit}"),
        );
    }
}
