//! Retention on the in-memory audit trail: the chain is cut at its start, the cut is
//! recorded, and what is kept still verifies.

use releasy_domain::Timestamp;
use releasy_domain::audit::{AuditEvent, AuditFilter, AuditService, AuthReason};
use releasy_domain::pagination::PageRequest;
use releasy_domain::ports::Repositories;

const T0: i64 = 1_735_312_000;

#[tokio::test]
async fn old_events_leave_from_the_start_and_the_rest_verifies() {
    let repos = Repositories::in_memory();
    let at = Timestamp::from_unix_seconds;
    for t in [0, 1, 2, 100, 3] {
        let event = AuditEvent::api_key_auth(AuthReason::NotFound, None, None, at(T0 + t));
        repos.audit.record(&event).await.unwrap();
    }
    let audit = AuditService::new(repos.audit.clone());

    assert_eq!(audit.prune(at(T0 + 50), at(T0 + 200)).await.unwrap(), 3);
    let chain = audit.verify().await.unwrap();
    assert_eq!(chain.bounds.start.position, 3);
    assert_eq!(chain.events, 3, "two kept and the audit.pruned event");
    let pruned = repos
        .audit
        .list(
            &AuditFilter {
                event: Some("audit.pruned".into()),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(pruned[0].payload["pruned"], 3);
    assert_eq!(pruned[0].actor, "system");

    assert_eq!(
        audit.prune(at(T0 + 50), at(T0 + 201)).await.unwrap(),
        0,
        "an event inside the window stops the cut"
    );
    let nothing_older = audit.prune(at(T0 - 1), at(T0 + 202)).await.unwrap();
    assert_eq!(nothing_older, 0);
}
