//! Rotating the pepper with a grace period: while the previous pepper is configured,
//! keys hashed under it are accepted and hashed again under the new one on their first
//! use; once it is removed, only keys used during the grace keep working.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;

use common::{Harness, peppered_hasher, rotating_hasher};
use releasy_domain::api_key::{ApiKeySecret, AuthFailure};
use releasy_domain::audit::{AuthReason, Origin};
use releasy_domain::ports::KeyHasher;

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
    let hashed_before = old.stored_key(issued.key.id).await.hash;

    let rotating = during_rotation(&old);
    let accepted = rotating
        .services
        .authenticator
        .authenticate(Some(&secret))
        .await
        .expect("a key hashed under the previous pepper is accepted");
    assert_eq!(accepted.api_key_id, issued.key.id);
    let hashed_again = rotating.stored_key(issued.key.id).await.hash;
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
    assert_eq!(rotating.stored_key(issued.key.id).await.hash, hashed_again);

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
        new.stored_key(issued.key.id).await.hash,
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
    assert_eq!(
        rotating.stored_key(issued.key.id).await.hash,
        issued.key.hash
    );
}

#[tokio::test]
async fn a_legacy_key_digested_under_the_previous_pepper_is_found_and_upgraded() {
    const RAW: &str = "rk_live_0123456789abcdef0123456789abcdef";
    let old = before_rotation();
    let customer = old.customer("Old Timer").await;
    let legacy = old
        .insert_legacy_key(customer.id, RAW, &peppered_hasher(OLD))
        .await;

    let rotating = during_rotation(&old);
    let accepted = rotating
        .services
        .authenticator
        .authenticate(Some(RAW))
        .await
        .expect("found by its digest under the previous pepper");
    assert_eq!(accepted.api_key_id, legacy.id);
    let upgraded = rotating.stored_key(legacy.id).await;
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

#[tokio::test]
async fn a_suspended_customers_key_is_refused_during_the_grace_yet_kept_for_after_it() {
    let old = before_rotation();
    let customer = old.customer("Acme").await;
    let issued = old.key(customer.id, &["releases:read"]).await;
    old.set_suspended(customer.id, true).await;

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
        rotating.stored_key(issued.key.id).await.hash,
        issued.key.hash,
        "hashed again under the new pepper although refused"
    );

    let new = after_rotation(&old);
    new.set_suspended(customer.id, false).await;
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
