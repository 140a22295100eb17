//! Rotating the pepper with a grace period: while the previous pepper is configured,
//! keys hashed under it are accepted and hashed again under the new one on their first
//! use; once it is removed, only keys used during the grace keep working.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;

use common::{Harness, T0, peppered_hasher, rotating_hasher};
use releasy_domain::api_key::{
    ApiKey, ApiKeySecret, AuthFailure, KeyLookup, KeyType, ScopeSet, StoredKeyHash,
};
use releasy_domain::audit::{AuditEvent, AuthReason, Origin};
use releasy_domain::customer::CustomerChanges;
use releasy_domain::ports::KeyHasher;
use releasy_domain::{ApiKeyId, CustomerId};

const OLD: &[u8] = b"the pepper being rotated out";
const NEW: &[u8] = b"the pepper rotated in";

fn before_rotation() -> Harness {
    Harness::with_hasher(Arc::new(peppered_hasher(OLD)))
}

fn during_rotation(h: &Harness) -> Harness {
    h.restarted_with_hasher(Arc::new(rotating_hasher(NEW, OLD)))
}

fn after_rotation(h: &Harness) -> Harness {
    h.restarted_with_hasher(Arc::new(peppered_hasher(NEW)))
}

async fn stored(h: &Harness, id: ApiKeyId) -> ApiKey {
    h.ports
        .repositories
        .api_keys
        .get(id)
        .await
        .expect("repository answers")
        .expect("key is stored")
}

fn assert_not_found(outcome: Result<impl std::fmt::Debug, AuthFailure>) {
    match outcome {
        Err(AuthFailure::Rejected(reason)) => assert_eq!(reason, AuthReason::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
}

#[tokio::test]
async fn a_key_used_during_the_grace_is_hashed_again_and_outlives_the_old_pepper() {
    let old = before_rotation();
    let customer = old.customer("Acme").await;
    let issued = old.key(customer.id, &["releases:read"]).await;
    let secret = issued.secret.expose().to_owned();
    let hashed_before = stored(&old, issued.key.id).await.hash;

    let rotating = during_rotation(&old);
    let accepted = rotating
        .services
        .authenticator
        .authenticate(Some(&secret))
        .await
        .expect("a key hashed under the previous pepper is accepted");
    assert_eq!(accepted.api_key_id, issued.key.id);
    let hashed_again = stored(&rotating, issued.key.id).await.hash;
    assert_ne!(hashed_again, hashed_before, "hashed again on first use");
    assert!(
        peppered_hasher(NEW)
            .verify(&issued.secret, &hashed_again)
            .await
            .expect("hasher runs"),
        "the new hash is made under the new pepper"
    );

    // Used again during the grace: the current pepper matches now, nothing is rewritten.
    rotating
        .services
        .authenticator
        .authenticate(Some(&secret))
        .await
        .expect("still accepted");
    assert_eq!(stored(&rotating, issued.key.id).await.hash, hashed_again);

    let new = after_rotation(&old);
    new.services
        .authenticator
        .authenticate(Some(&secret))
        .await
        .expect("accepted without the previous pepper");
}

#[tokio::test]
async fn a_key_not_used_during_the_grace_is_refused_after_it() {
    let old = before_rotation();
    let customer = old.customer("Acme").await;
    let issued = old.key(customer.id, &["releases:read"]).await;

    let new = after_rotation(&old);
    assert_not_found(
        new.services
            .authenticator
            .authenticate(Some(issued.secret.expose()))
            .await,
    );
    assert_eq!(
        stored(&new, issued.key.id).await.hash,
        issued.key.hash,
        "a refused key is left as it was"
    );
}

#[tokio::test]
async fn an_unknown_key_is_refused_during_the_grace_and_recorded_once() {
    let old = before_rotation();
    let customer = old.customer("Acme").await;
    let issued = old.key(customer.id, &["releases:read"]).await;
    // One character off: no stored key matches under either pepper.
    let mut forged = issued.secret.expose().to_owned();
    let last = forged.pop().expect("a key is not empty");
    forged.push(if last == 'A' { 'B' } else { 'A' });

    let rotating = during_rotation(&old);
    let before = rotating.auth_events().await.len();
    assert_not_found(
        rotating
            .services
            .authenticator
            .authenticate(Some(&forged))
            .await,
    );
    assert_eq!(rotating.auth_events().await.len(), before + 1, "one event");
    assert_eq!(stored(&rotating, issued.key.id).await.hash, issued.key.hash);
}

/// A key from an older server, stored as unsalted SHA-256 under the old pepper.
async fn insert_legacy_key(h: &Harness, customer_id: CustomerId, raw: &str) -> ApiKey {
    let key = ApiKey {
        id: ApiKeyId::generate(),
        customer_id,
        name: None,
        key_type: KeyType::Integration,
        scopes: ScopeSet::parse(&["releases:read"]).expect("valid"),
        hash: StoredKeyHash::LegacySha256(peppered_hasher(OLD).peppered_sha256(raw.as_bytes())),
        lookup: KeyLookup::from_stored("legacy".into()),
        created_at: T0.plus_seconds(-86_400),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    h.ports
        .repositories
        .api_keys
        .insert(&key, &AuditEvent::key_created(&Origin::admin_key(), &key))
        .await
        .expect("inserted");
    key
}

#[tokio::test]
async fn a_legacy_key_digested_under_the_previous_pepper_is_found_and_upgraded() {
    const RAW: &str = "rk_live_0123456789abcdef0123456789abcdef";
    let old = before_rotation();
    let customer = old.customer("Old Timer").await;
    let legacy = insert_legacy_key(&old, customer.id, RAW).await;

    let rotating = during_rotation(&old);
    let accepted = rotating
        .services
        .authenticator
        .authenticate(Some(RAW))
        .await
        .expect("found by its digest under the previous pepper");
    assert_eq!(accepted.api_key_id, legacy.id);
    let upgraded = stored(&rotating, legacy.id).await;
    assert!(!upgraded.hash.is_legacy(), "upgraded to Argon2id");
    assert_eq!(
        upgraded.lookup,
        ApiKeySecret::from_presented(RAW)
            .expect("presentable")
            .lookup()
    );

    after_rotation(&old)
        .services
        .authenticator
        .authenticate(Some(RAW))
        .await
        .expect("accepted under the new pepper alone");
}

async fn suspend(h: &Harness, customer: CustomerId, suspended: bool) {
    let changes = CustomerChanges::new(None, None, Some(suspended)).expect("a change");
    h.services
        .customers
        .update(&Origin::admin_key(), customer, changes)
        .await
        .expect("customer updated");
}

#[tokio::test]
async fn a_suspended_customers_key_is_refused_during_the_grace_yet_kept_for_after_it() {
    let old = before_rotation();
    let customer = old.customer("Acme").await;
    let issued = old.key(customer.id, &["releases:read"]).await;
    suspend(&old, customer.id, true).await;

    let rotating = during_rotation(&old);
    match rotating
        .services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
    {
        Err(AuthFailure::Rejected(reason)) => assert_eq!(reason, AuthReason::Suspended),
        other => panic!("expected suspended, got {other:?}"),
    }
    assert_ne!(
        stored(&rotating, issued.key.id).await.hash,
        issued.key.hash,
        "hashed again under the new pepper although refused"
    );

    let new = after_rotation(&old);
    suspend(&new, customer.id, false).await;
    new.services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
        .expect("the customer's key works again once resumed, without the old pepper");
}

#[tokio::test]
async fn a_revoked_key_stays_refused_during_the_grace() {
    let old = before_rotation();
    let customer = old.customer("Acme").await;
    let issued = old.key(customer.id, &["releases:read"]).await;
    old.services
        .api_keys
        .revoke(&Origin::admin_key(), issued.key.id)
        .await
        .expect("revoked");

    let rotating = during_rotation(&old);
    match rotating
        .services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
    {
        Err(AuthFailure::Rejected(reason)) => assert_eq!(reason, AuthReason::Revoked),
        other => panic!("expected revoked, got {other:?}"),
    }
}
