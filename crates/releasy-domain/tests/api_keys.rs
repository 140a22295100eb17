//! Issuing, revoking and authenticating customer API keys.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use common::{Harness, T0};
use releasy_domain::api_key::{
    ApiKeySecret, AuthFailure, CreateKeyError, KeyName, KeyType, MissingScope, NewApiKeyRequest,
    RevokeKeyError, Scope, ScopeSet,
};
use releasy_domain::audit::{AuthReason, Origin};
use releasy_domain::{ApiKeyId, CustomerId};

fn request(customer_id: CustomerId) -> NewApiKeyRequest {
    NewApiKeyRequest {
        allowed_networks: None,
        customer_id,
        name: None,
        key_type: KeyType::Human,
        scopes: ScopeSet::all(),
        expires_at: None,
    }
}

fn assert_rejected(result: Result<impl std::fmt::Debug, AuthFailure>, reason: AuthReason) {
    match result {
        Err(AuthFailure::Rejected(got)) => assert_eq!(got, reason),
        other => panic!("expected rejection ({reason:?}), got {other:?}"),
    }
}

#[tokio::test]
async fn create_for_an_unknown_customer_is_customer_not_found() {
    let h = Harness::new();
    let err = h
        .services
        .api_keys
        .create(&Origin::admin_key(), request(CustomerId::generate()))
        .await
        .expect_err("no such customer");
    assert!(
        matches!(err, CreateKeyError::CustomerNotFound),
        "got {err:?}"
    );
}

#[tokio::test]
async fn create_with_expiry_in_the_past_or_now_is_invalid_on_expires_at() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.clock.advance(1_000);

    for expires_at in [T0, h.now().plus_seconds(-1), h.now()] {
        let err = h
            .services
            .api_keys
            .create(
                &Origin::admin_key(),
                NewApiKeyRequest {
                    expires_at: Some(expires_at),
                    ..request(customer.id)
                },
            )
            .await
            .expect_err("expiry not in the future");
        match err {
            CreateKeyError::Invalid(invalid) => assert_eq!(invalid.field, "expires_at"),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn create_stores_the_request_and_only_a_hash_of_the_secret() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let expires_at = T0.plus_seconds(3_600);

    let issued = h
        .services
        .api_keys
        .create(
            &Origin::admin_key(),
            NewApiKeyRequest {
                allowed_networks: None,
                customer_id: customer.id,
                name: Some(KeyName::parse(" deploy bot ").expect("valid name")),
                key_type: KeyType::Integration,
                scopes: ScopeSet::parse(&["releases:read", "downloads:token"]).expect("valid"),
                expires_at: Some(expires_at),
            },
        )
        .await
        .expect("issued");

    let raw = issued.secret.expose();
    assert!(
        raw.starts_with(ApiKeySecret::PREFIX),
        "raw key is `releasy_...`"
    );
    assert!(
        raw.len() > ApiKeySecret::PREFIX.len() + 40,
        "32 random bytes"
    );

    let key = &issued.key;
    assert_eq!(key.customer_id, customer.id);
    assert_eq!(key.name.as_ref().map(KeyName::as_str), Some("deploy bot"));
    assert_eq!(key.key_type, KeyType::Integration.into());
    assert_eq!(key.scopes.to_stored(), "releases:read downloads:token");
    assert_eq!(key.created_at, T0);
    assert_eq!(key.expires_at, Some(expires_at));
    assert_eq!(key.revoked_at, None);
    assert_eq!(key.last_used_at, None);
    assert!(!key.hash.is_legacy());
    assert!(!key.hash.as_str().contains(raw), "the secret is not stored");
    assert_eq!(key.lookup, issued.secret.lookup());

    assert_eq!(&h.stored_key(key.id).await, key);
}

#[tokio::test]
async fn each_issued_key_has_its_own_secret() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let a = h.key(customer.id, &["releases:read"]).await;
    let b = h.key(customer.id, &["releases:read"]).await;

    assert_ne!(a.key.id, b.key.id);
    assert_ne!(a.secret.expose(), b.secret.expose());
    assert_ne!(a.key.hash, b.key.hash);
}

#[tokio::test]
async fn an_issued_key_authenticates_with_its_fields() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h
        .key_expiring(
            customer.id,
            &["releases:read", "keys:read"],
            Some(T0.plus_seconds(60)),
        )
        .await;

    let key = h
        .services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
        .expect("accepted");

    assert_eq!(key.api_key_id, issued.key.id);
    assert_eq!(key.customer_id, customer.id);
    assert_eq!(key.key_type, KeyType::Ci);
    assert_eq!(Some(&key.scopes), issued.key.scopes.value());
    assert_eq!(key.expires_at, Some(T0.plus_seconds(60)));
}

#[tokio::test]
async fn surrounding_whitespace_in_the_presented_key_is_ignored() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;

    let key = h
        .services
        .authenticator
        .authenticate(Some(&format!("  {}\t", issued.secret.expose())))
        .await
        .expect("accepted");
    assert_eq!(key.api_key_id, issued.key.id);
}

#[tokio::test]
async fn scopes_are_enforced_by_require() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h
        .key(customer.id, &["releases:read", "downloads:token"])
        .await;

    let key = h
        .services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
        .expect("accepted");

    assert_eq!(key.require(Scope::ReleasesRead), Ok(()));
    assert_eq!(key.require(Scope::DownloadsToken), Ok(()));
    for missing in [
        Scope::DownloadsRead,
        Scope::KeysRead,
        Scope::KeysWrite,
        Scope::AuditRead,
    ] {
        assert_eq!(key.require(missing), Err(MissingScope(missing)));
    }
    assert_eq!(
        MissingScope(Scope::AuditRead).to_string(),
        "missing scope",
        "the contract's 403 message"
    );
}

#[tokio::test]
async fn a_key_issued_with_all_scopes_passes_every_check() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h
        .services
        .api_keys
        .create(&Origin::admin_key(), request(customer.id))
        .await
        .expect("issued");

    let key = h
        .services
        .authenticator
        .authenticate(Some(issued.secret.expose()))
        .await
        .expect("accepted");
    assert_eq!(key.key_type, KeyType::Human);
    for scope in Scope::ALL {
        assert_eq!(key.require(scope), Ok(()), "{scope}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_rejected_as_revoked() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let raw = issued.secret.expose();
    h.services
        .authenticator
        .authenticate(Some(raw))
        .await
        .expect("works before revocation");

    let revoked = h
        .services
        .api_keys
        .revoke(&Origin::admin_key(), issued.key.id)
        .await
        .expect("revoked");
    assert_eq!(revoked, issued.key.id);

    assert_rejected(
        h.services.authenticator.authenticate(Some(raw)).await,
        AuthReason::Revoked,
    );
}

#[tokio::test]
async fn revoking_one_key_leaves_the_customers_other_keys_working() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let revoked = h.key(customer.id, &["releases:read"]).await;
    let kept = h.key(customer.id, &["releases:read"]).await;

    h.services
        .api_keys
        .revoke(&Origin::admin_key(), revoked.key.id)
        .await
        .expect("revoked");

    let key = h
        .services
        .authenticator
        .authenticate(Some(kept.secret.expose()))
        .await
        .expect("other key still accepted");
    assert_eq!(key.api_key_id, kept.key.id);
}

#[tokio::test]
async fn revoking_an_unknown_key_is_not_found() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.key(customer.id, &["releases:read"]).await;

    let err = h
        .services
        .api_keys
        .revoke(&Origin::admin_key(), ApiKeyId::generate())
        .await
        .expect_err("unknown key");
    assert!(matches!(err, RevokeKeyError::NotFound), "got {err:?}");
}

#[tokio::test]
async fn revoking_twice_keeps_the_first_revocation_time() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;

    h.clock.advance(10);
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), issued.key.id)
        .await
        .expect("revoked");
    assert_eq!(
        h.stored_key(issued.key.id).await.revoked_at,
        Some(T0.plus_seconds(10))
    );

    h.clock.advance(500);
    let again = h
        .services
        .api_keys
        .revoke(&Origin::admin_key(), issued.key.id)
        .await
        .expect("revoking again succeeds");
    assert_eq!(again, issued.key.id);
    assert_eq!(
        h.stored_key(issued.key.id).await.revoked_at,
        Some(T0.plus_seconds(10)),
        "the first revocation time is kept"
    );
}

#[tokio::test]
async fn a_key_expires_at_its_expiry_second() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h
        .key_expiring(customer.id, &["releases:read"], Some(T0.plus_seconds(60)))
        .await;
    let raw = issued.secret.expose();

    h.clock.advance(59);
    h.services
        .authenticator
        .authenticate(Some(raw))
        .await
        .expect("valid one second before expiry");

    h.clock.advance(1);
    assert_rejected(
        h.services.authenticator.authenticate(Some(raw)).await,
        AuthReason::Expired,
    );

    h.clock.advance(86_400);
    assert_rejected(
        h.services.authenticator.authenticate(Some(raw)).await,
        AuthReason::Expired,
    );
}

#[tokio::test]
async fn a_suspended_customers_key_is_rejected_until_unsuspended() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let raw = issued.secret.expose();

    h.set_suspended(customer.id, true).await;
    assert_rejected(
        h.services.authenticator.authenticate(Some(raw)).await,
        AuthReason::Suspended,
    );

    h.set_suspended(customer.id, false).await;
    let key = h
        .services
        .authenticator
        .authenticate(Some(raw))
        .await
        .expect("works again once unsuspended");
    assert_eq!(key.customer_id, customer.id);
}

#[tokio::test]
async fn checks_run_in_the_contracts_order() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let revoked = h
        .key_expiring(customer.id, &["releases:read"], Some(T0.plus_seconds(5)))
        .await;
    let expired = h
        .key_expiring(customer.id, &["releases:read"], Some(T0.plus_seconds(5)))
        .await;
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), revoked.key.id)
        .await
        .expect("revoked");
    h.set_suspended(customer.id, true).await;
    h.clock.advance(5);

    assert_rejected(
        h.services
            .authenticator
            .authenticate(Some(revoked.secret.expose()))
            .await,
        AuthReason::Revoked,
    );
    assert_rejected(
        h.services
            .authenticator
            .authenticate(Some(expired.secret.expose()))
            .await,
        AuthReason::Expired,
    );
}

#[tokio::test]
async fn no_key_presented_is_missing_header() {
    let h = Harness::new();
    for presented in [None, Some(""), Some("   ")] {
        assert_rejected(
            h.services.authenticator.authenticate(presented).await,
            AuthReason::MissingHeader,
        );
    }
}

#[tokio::test]
async fn an_unknown_key_is_not_found() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let raw = issued.secret.expose();

    let mut tampered = raw.to_owned();
    let last = tampered.pop().expect("non-empty key");
    tampered.push(if last == 'A' { 'B' } else { 'A' });

    for presented in [
        "releasy_not-a-real-key".to_owned(),
        tampered,
        format!("{raw}x"),
        "x".repeat(ApiKeySecret::MAX_LEN),
    ] {
        assert_rejected(
            h.services
                .authenticator
                .authenticate(Some(&presented))
                .await,
            AuthReason::NotFound,
        );
    }
    assert_eq!(
        h.stored_key(issued.key.id).await.last_used_at,
        None,
        "failed attempts do not count as use"
    );
}

#[tokio::test]
async fn successful_authentication_records_last_use_at_now() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let raw = issued.secret.expose();
    assert_eq!(h.stored_key(issued.key.id).await.last_used_at, None);

    h.clock.advance(42);
    h.services
        .authenticator
        .authenticate(Some(raw))
        .await
        .expect("accepted");
    assert_eq!(
        h.stored_key(issued.key.id).await.last_used_at,
        Some(T0.plus_seconds(42))
    );

    h.clock.advance(100);
    h.services
        .authenticator
        .authenticate(Some(raw))
        .await
        .expect("accepted");
    assert_eq!(
        h.stored_key(issued.key.id).await.last_used_at,
        Some(T0.plus_seconds(142))
    );

    h.services
        .api_keys
        .revoke(&Origin::admin_key(), issued.key.id)
        .await
        .expect("revoked");
    h.clock.advance(100);
    assert_rejected(
        h.services.authenticator.authenticate(Some(raw)).await,
        AuthReason::Revoked,
    );
    assert_eq!(
        h.stored_key(issued.key.id).await.last_used_at,
        Some(T0.plus_seconds(142)),
        "a rejected attempt is not a use"
    );
}
