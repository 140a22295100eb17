//! Listing a customer's keys, recording where a key was last used, and rotating a key
//! with an overlap.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use common::{Harness, T0, page};
use releasy_domain::api_key::{
    AuthFailure, ListKeysError, RotateKeyError, RotationOverlap, RotationRefusal,
};
use releasy_domain::audit::{AuthReason, Origin};
use releasy_domain::{ApiKeyId, CustomerId};

fn overlap(seconds: i64) -> RotationOverlap {
    RotationOverlap::parse(Some(seconds)).expect("valid overlap")
}

#[tokio::test]
async fn listing_shows_the_customers_keys_newest_first_revoked_included() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let other = h.customer("Other").await;
    let first = h.key(acme.id, &["releases:read"]).await;
    h.clock.advance(5);
    let second = h.key(acme.id, &["downloads:token"]).await;
    h.key(other.id, &["releases:read"]).await;
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), first.key.id)
        .await
        .expect("revoked");

    let keys = h
        .services
        .api_keys
        .list(acme.id, page(200, 0))
        .await
        .expect("listed");
    let ids: Vec<ApiKeyId> = keys.iter().map(|k| k.id).collect();
    assert_eq!(ids, vec![second.key.id, first.key.id]);
    assert_eq!(keys[1].revoked_at, Some(T0.plus_seconds(5)));
    assert_eq!(keys[0].revoked_at, None);
}

#[tokio::test]
async fn listing_an_unknown_customer_is_not_found_and_a_keyless_one_is_empty() {
    let h = Harness::new();
    let err = h
        .services
        .api_keys
        .list(CustomerId::generate(), page(200, 0))
        .await
        .expect_err("unknown customer");
    assert!(
        matches!(err, ListKeysError::CustomerNotFound),
        "got {err:?}"
    );

    let keyless = h.customer("Keyless").await;
    let keys = h
        .services
        .api_keys
        .list(keyless.id, page(200, 0))
        .await
        .expect("listed");
    assert!(keys.is_empty());
}

#[tokio::test]
async fn a_recorded_use_keeps_the_client_address() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let issued = h.key(acme.id, &["releases:read"]).await;
    let client = "203.0.113.9".parse().expect("address");

    h.clock.advance(1);
    h.services
        .authenticator
        .authenticate_from(Some(issued.secret.expose()), Some(client))
        .await
        .expect("accepted");
    let stored = h.stored_key(issued.key.id).await;
    assert_eq!(stored.last_used_at, Some(T0.plus_seconds(1)));
    assert_eq!(stored.last_used_address, Some(client));

    // Within the minute no use is recorded, so the address stays the recorded one's.
    let elsewhere = "2001:db8::7".parse().expect("address");
    h.clock.advance(30);
    h.services
        .authenticator
        .authenticate_from(Some(issued.secret.expose()), Some(elsewhere))
        .await
        .expect("accepted");
    assert_eq!(
        h.stored_key(issued.key.id).await.last_used_address,
        Some(client)
    );

    h.clock.advance(30);
    h.services
        .authenticator
        .authenticate_from(Some(issued.secret.expose()), Some(elsewhere))
        .await
        .expect("accepted");
    let stored = h.stored_key(issued.key.id).await;
    assert_eq!(stored.last_used_at, Some(T0.plus_seconds(61)));
    assert_eq!(stored.last_used_address, Some(elsewhere));
}

#[tokio::test]
async fn both_keys_work_during_the_overlap_and_only_the_successor_after_it() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let old = h.key(acme.id, &["releases:read", "downloads:token"]).await;
    h.clock.advance(10);

    let rotated = h
        .services
        .api_keys
        .rotate(&Origin::admin_key(), old.key.id, overlap(3_600))
        .await
        .expect("rotated");
    let successor = &rotated.successor;
    assert_ne!(successor.key.id, old.key.id);
    assert_ne!(successor.secret.expose(), old.secret.expose());
    assert_eq!(successor.key.customer_id, acme.id);
    assert_eq!(successor.key.scopes, old.key.scopes);
    assert_eq!(successor.key.key_type, old.key.key_type);
    assert_eq!(successor.key.created_at, T0.plus_seconds(10));
    assert_eq!(rotated.replaced_key_id, old.key.id);
    assert_eq!(rotated.replaced_key_revoked_at, T0.plus_seconds(3_610));
    assert_eq!(
        h.stored_key(old.key.id).await.revoked_at,
        Some(T0.plus_seconds(3_610))
    );

    h.clock.advance(3_599);
    for raw in [old.secret.expose(), successor.secret.expose()] {
        h.services
            .authenticator
            .authenticate(Some(raw))
            .await
            .expect("both work in the overlap's last second");
    }

    h.clock.advance(1);
    let refused = h
        .services
        .authenticator
        .authenticate(Some(old.secret.expose()))
        .await;
    assert!(
        matches!(refused, Err(AuthFailure::Rejected(AuthReason::Revoked))),
        "got {refused:?}"
    );
    let key = h
        .services
        .authenticator
        .authenticate(Some(successor.secret.expose()))
        .await
        .expect("the successor works on");
    assert_eq!(key.api_key_id, successor.key.id);
}

#[tokio::test]
async fn a_rotation_is_audited_as_the_successors_creation_and_the_old_keys_rotation() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let old = h.key(acme.id, &["releases:read"]).await;
    let rotated = h
        .services
        .api_keys
        .rotate(&Origin::admin_key(), old.key.id, overlap(60))
        .await
        .expect("rotated");

    let events = h.audit_events().await;
    let rotation = events
        .iter()
        .find(|e| e.event == "key.rotated")
        .expect("key.rotated written");
    assert_eq!(
        rotation.payload["target"]["api_key_id"],
        old.key.id.to_string()
    );
    assert_eq!(
        rotation.payload["target"]["successor_api_key_id"],
        rotated.successor.key.id.to_string()
    );
    assert_eq!(
        rotation.payload["before"]["revoked_at"],
        serde_json::Value::Null
    );
    assert_eq!(
        rotation.payload["after"]["revoked_at"],
        T0.unix_seconds() + 60
    );
    let created = events
        .iter()
        .filter(|e| e.event == "key.created")
        .map(|e| e.payload["target"]["api_key_id"].clone())
        .collect::<Vec<_>>();
    assert!(created.contains(&rotated.successor.key.id.to_string().into()));
    let rendered = serde_json::to_string(&rotation.payload).expect("json");
    assert!(!rendered.contains(rotated.successor.secret.expose()));
    assert!(!rendered.contains(old.secret.expose()));
}

#[tokio::test]
async fn a_zero_overlap_retires_the_old_key_at_once() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let old = h.key(acme.id, &["releases:read"]).await;
    h.services
        .api_keys
        .rotate(&Origin::admin_key(), old.key.id, overlap(0))
        .await
        .expect("rotated");
    let refused = h
        .services
        .authenticator
        .authenticate(Some(old.secret.expose()))
        .await;
    assert!(
        matches!(refused, Err(AuthFailure::Rejected(AuthReason::Revoked))),
        "got {refused:?}"
    );
}

#[tokio::test]
async fn revoking_a_key_in_its_overlap_ends_the_overlap_now() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let old = h.key(acme.id, &["releases:read"]).await;
    h.services
        .api_keys
        .rotate(&Origin::admin_key(), old.key.id, overlap(3_600))
        .await
        .expect("rotated");
    h.clock.advance(20);
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), old.key.id)
        .await
        .expect("revoked");

    assert_eq!(
        h.stored_key(old.key.id).await.revoked_at,
        Some(T0.plus_seconds(20))
    );
    let refused = h
        .services
        .authenticator
        .authenticate(Some(old.secret.expose()))
        .await;
    assert!(
        matches!(refused, Err(AuthFailure::Rejected(AuthReason::Revoked))),
        "got {refused:?}"
    );
    let revocation = h
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.event == "key.revoked")
        .expect("key.revoked written");
    assert_eq!(
        revocation.payload["before"]["revoked_at"],
        T0.unix_seconds() + 3_600,
        "before shows the scheduled revocation it replaced"
    );
    assert_eq!(
        revocation.payload["after"]["revoked_at"],
        T0.unix_seconds() + 20
    );
}

#[tokio::test]
async fn only_a_live_key_can_be_rotated() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let rotate = async |id| {
        h.services
            .api_keys
            .rotate(&Origin::admin_key(), id, overlap(60))
            .await
            .expect_err("refused")
    };

    let err = rotate(ApiKeyId::generate()).await;
    assert!(matches!(err, RotateKeyError::NotFound), "got {err:?}");

    let revoked = h.key(acme.id, &["releases:read"]).await;
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), revoked.key.id)
        .await
        .expect("revoked");
    let err = rotate(revoked.key.id).await;
    assert!(
        matches!(err, RotateKeyError::Refused(RotationRefusal::Revoked)),
        "got {err:?}"
    );

    let rotating = h.key(acme.id, &["releases:read"]).await;
    h.services
        .api_keys
        .rotate(&Origin::admin_key(), rotating.key.id, overlap(60))
        .await
        .expect("first rotation");
    let err = rotate(rotating.key.id).await;
    assert!(
        matches!(
            err,
            RotateKeyError::Refused(RotationRefusal::AlreadyRotating)
        ),
        "got {err:?}"
    );

    let expiring = h
        .key_expiring(acme.id, &["releases:read"], Some(h.now().plus_seconds(5)))
        .await;
    h.clock.advance(5);
    let err = rotate(expiring.key.id).await;
    assert!(
        matches!(err, RotateKeyError::Refused(RotationRefusal::Expired)),
        "got {err:?}"
    );

    let listed = h
        .services
        .api_keys
        .list(acme.id, page(200, 0))
        .await
        .expect("listed");
    assert_eq!(listed.len(), 4, "refused rotations issued nothing");
}
