//! Keys carried over from older servers, stored as unsalted (peppered) SHA-256: found by
//! their digest, accepted, and re-hashed on their first successful use.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;

use common::{Harness, T0, peppered_hasher};
use releasy_domain::api_key::{ApiKeySecret, AuthFailure, KeyType};
use releasy_domain::audit::{AuthReason, Origin};
use releasy_domain::ports::KeyHasher;
use serde_json::json;

const PEPPER: &[u8] = b"pepper-from-RELEASY_API_KEY_PEPPER";
/// An old-style key: older servers issued keys in other shapes.
const RAW: &str = "rk_live_0123456789abcdef0123456789abcdef";

fn harness() -> Harness {
    Harness::with_hasher(Arc::new(peppered_hasher(PEPPER)))
}

#[tokio::test]
async fn a_legacy_key_is_accepted_and_upgraded_on_first_use() {
    let h = harness();
    let customer = h.customer("Old Timer").await;
    let legacy = h
        .insert_legacy_key(customer.id, RAW, &peppered_hasher(PEPPER))
        .await;
    let secret = ApiKeySecret::from_presented(RAW).expect("a presentable key");
    assert_ne!(
        legacy.lookup,
        secret.lookup(),
        "found by digest, not by lookup"
    );

    h.clock.advance(7);
    let key = h
        .services
        .authenticator
        .authenticate(Some(RAW))
        .await
        .expect("legacy key accepted");
    assert_eq!(key.api_key_id, legacy.id);
    assert_eq!(key.customer_id, customer.id);
    assert_eq!(key.key_type, KeyType::Integration);
    assert_eq!(Some(&key.scopes), legacy.scopes.value());
    assert_eq!(key.expires_at, None);

    let upgraded = h.stored_key(legacy.id).await;
    assert!(!upgraded.hash.is_legacy(), "re-hashed on first success");
    assert_ne!(upgraded.hash, legacy.hash);
    assert!(!upgraded.hash.as_str().contains(RAW), "no secret at rest");
    assert_eq!(upgraded.lookup, secret.lookup(), "now findable by lookup");
    assert_eq!(upgraded.last_used_at, Some(T0.plus_seconds(7)));
    assert_eq!(upgraded.scopes, legacy.scopes, "nothing else changes");
    assert_eq!(upgraded.created_at, legacy.created_at);
    assert!(
        h.ports
            .hasher
            .verify(&secret, &upgraded.hash)
            .await
            .expect("hasher runs"),
        "the new hash verifies the same key"
    );

    h.clock.advance(60);
    let again = h
        .services
        .authenticator
        .authenticate(Some(RAW))
        .await
        .expect("still accepted after the upgrade");
    assert_eq!(again, key);
    let after = h.stored_key(legacy.id).await;
    assert_eq!(after.hash, upgraded.hash, "upgraded once, not on every use");
    assert_eq!(after.last_used_at, Some(T0.plus_seconds(67)));
}

#[tokio::test]
async fn a_legacy_key_digested_with_another_pepper_is_not_found() {
    let h = harness();
    let customer = h.customer("Old Timer").await;
    let legacy = h
        .insert_legacy_key(customer.id, RAW, &peppered_hasher(b"other pepper"))
        .await;

    match h.services.authenticator.authenticate(Some(RAW)).await {
        Err(AuthFailure::Rejected(reason)) => assert_eq!(reason, AuthReason::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
    assert!(h.stored_key(legacy.id).await.hash.is_legacy(), "left alone");
}

#[tokio::test]
async fn a_rejected_legacy_key_is_not_upgraded() {
    let h = harness();
    let customer = h.customer("Old Timer").await;
    let legacy = h
        .insert_legacy_key(customer.id, RAW, &peppered_hasher(PEPPER))
        .await;
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), legacy.id)
        .await
        .expect("revoked");

    match h.services.authenticator.authenticate(Some(RAW)).await {
        Err(AuthFailure::Rejected(reason)) => assert_eq!(reason, AuthReason::Revoked),
        other => panic!("expected revoked, got {other:?}"),
    }
    let after = h.stored_key(legacy.id).await;
    assert!(after.hash.is_legacy(), "only a successful use upgrades");
    assert_eq!(after.lookup, legacy.lookup);
    assert_eq!(after.last_used_at, None);
}

#[tokio::test]
async fn a_legacy_key_acceptance_is_audited_with_its_id() {
    let h = harness();
    let customer = h.customer("Old Timer").await;
    let legacy = h
        .insert_legacy_key(customer.id, RAW, &peppered_hasher(PEPPER))
        .await;

    h.services
        .authenticator
        .authenticate(Some(RAW))
        .await
        .expect("accepted");

    let events = h.auth_events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].customer_id, Some(customer.id));
    assert_eq!(
        events[0].payload,
        json!({"outcome": "accept", "reason": "ok", "api_key_id": legacy.id.to_string()})
    );
}

#[tokio::test]
async fn new_keys_issued_with_a_pepper_still_authenticate() {
    let h = harness();
    let customer = h.customer("New Comer").await;
    let issued = h.key(customer.id, &["releases:read"]).await;

    assert!(!issued.key.hash.is_legacy());
    let key = h
        .services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
        .expect("accepted");
    assert_eq!(key.api_key_id, issued.key.id);

    let unpeppered = peppered_hasher(b"");
    assert!(
        !unpeppered
            .verify(&issued.secret, &issued.key.hash)
            .await
            .expect("hasher runs"),
        "the pepper is part of the stored hash"
    );
}
