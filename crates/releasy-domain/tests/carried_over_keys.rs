//! Keys carried over from the reference server: Argon2id hashes without a lookup value.
//! No index finds them, so a key that matches no indexed row is tried against each;
//! the one it matches gets its lookup value on that first use, and the searches are
//! bounded by a budget of verifications a minute.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;

use common::{Harness, T0, peppered_hasher, rotating_hasher};
use releasy_domain::CustomerId;
use releasy_domain::api_key::{
    ApiKey, ApiKeySecret, AuthFailure, KeyLookup, VERIFICATIONS_PER_MINUTE,
    VERIFICATIONS_PER_SEARCH,
};
use releasy_domain::audit::{AuthReason, Origin};
use releasy_domain::ports::KeyHasher as _;

/// A key of this server's shape (and the reference's).
fn raw_key(n: usize) -> String {
    format!("releasy_{n:0>43}")
}

/// Stores `raw` as the reference server did: Argon2id under the current pepper, and no
/// lookup value.
async fn carry_over(h: &Harness, customer_id: CustomerId, raw: &str) -> ApiKey {
    let secret = ApiKeySecret::from_presented(raw).expect("a key");
    let hash = h.ports.hasher.hash(&secret).await.expect("hashed");
    h.insert_stored_key(customer_id, hash, KeyLookup::from_stored(String::new()))
        .await
}

async fn refused_as_not_found(h: &Harness, raw: &str) {
    match h.services.authenticator.authenticate(Some(raw)).await {
        Err(AuthFailure::Rejected(reason)) => assert_eq!(reason, AuthReason::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
}

#[tokio::test]
async fn a_carried_over_key_is_found_and_given_its_lookup_on_first_use() {
    let h = Harness::new();
    let customer = h.customer("From the reference").await;
    let first = carry_over(&h, customer.id, &raw_key(1)).await;
    let second = carry_over(&h, customer.id, &raw_key(2)).await;

    let key = h
        .services
        .authenticator
        .authenticate(Some(&raw_key(2)))
        .await
        .expect("the carried-over key is accepted");
    assert_eq!(key.api_key_id, second.id);
    assert_eq!(key.customer_id, customer.id);

    let secret = ApiKeySecret::from_presented(&raw_key(2)).expect("a key");
    let found = h.stored_key(second.id).await;
    assert_eq!(found.lookup, secret.lookup(), "found by index from now on");
    assert_eq!(found.scopes, second.scopes, "nothing else changes");
    assert_eq!(
        h.stored_key(first.id).await.lookup.as_str(),
        "",
        "the other is still to be found"
    );
    // Found by index now; the other is still found by a search.
    h.services
        .authenticator
        .authenticate(Some(&raw_key(2)))
        .await
        .expect("accepted again");
    h.services
        .authenticator
        .authenticate(Some(&raw_key(1)))
        .await
        .expect("the other carried-over key is accepted too");
    refused_as_not_found(&h, &raw_key(3)).await;
}

/// A revoked carried-over key leaves the search: it is refused as no key at all (it
/// cannot be told apart from one without being tried), and is never given a lookup
/// value.
#[tokio::test]
async fn a_revoked_carried_over_key_leaves_the_search() {
    let h = Harness::new();
    let customer = h.customer("From the reference").await;
    let carried = carry_over(&h, customer.id, &raw_key(1)).await;
    h.services
        .api_keys
        .revoke(&Origin::admin_key(), carried.id)
        .await
        .expect("revoked");
    refused_as_not_found(&h, &raw_key(1)).await;
    let stored = h.stored_key(carried.id).await;
    assert!(
        stored.lookup.as_str().is_empty(),
        "never given a lookup value"
    );
}

#[tokio::test]
async fn unknown_keys_spend_the_search_budget_and_it_comes_back_each_minute() {
    let h = Harness::new();
    let customer = h.customer("From the reference").await;
    let carried = 100;
    for n in 0..carried {
        carry_over(&h, customer.id, &raw_key(n)).await;
    }
    // Each unknown key is tried against all of them, until the minute's budget is spent.
    for n in 0..VERIFICATIONS_PER_MINUTE / carried {
        refused_as_not_found(&h, &raw_key(1_000 + n)).await;
    }
    // No search fits this minute any more: even a carried-over key is not found...
    refused_as_not_found(&h, &raw_key(7)).await;
    // ...until the next minute's budget.
    h.clock.advance(60);
    h.services
        .authenticator
        .authenticate(Some(&raw_key(7)))
        .await
        .expect("found with the next minute's budget");
}

/// A search goes as far as its budget goes, the most recently used keys first: a
/// customer in daily use is found even when the whole set is too large for one search,
/// and one unknown key does not spend the whole minute.
#[tokio::test]
async fn a_search_tries_the_most_recently_used_first_within_its_share_of_the_minute() {
    let h = Harness::new();
    let customer = h.customer("From the reference").await;
    for n in 0..VERIFICATIONS_PER_SEARCH + 50 {
        carry_over(&h, customer.id, &raw_key(n)).await;
    }
    let active = carry_over(&h, customer.id, &raw_key(9_999)).await;
    h.ports
        .repositories
        .api_keys
        .touch_last_used(active.id, T0.plus_seconds(-60), None)
        .await
        .expect("touched");
    // An unknown key spends one search's share: the other half is left.
    refused_as_not_found(&h, &raw_key(50_000)).await;
    let key = h
        .services
        .authenticator
        .authenticate(Some(&raw_key(9_999)))
        .await
        .expect("the most recently used key is tried first");
    assert_eq!(key.api_key_id, active.id);
}

/// The searches of one client address (counted as failures are: an IPv6 address by its
/// /48) share half the minute's budget: one client retrying a key that is no key leaves
/// the other half to the first uses of carried-over keys from elsewhere.
#[tokio::test]
async fn the_searches_of_one_address_leave_half_the_budget_to_others() {
    let h = Harness::new();
    let customer = h.customer("From the reference").await;
    for n in 0..VERIFICATIONS_PER_SEARCH {
        carry_over(&h, customer.id, &raw_key(n)).await;
    }
    let mut recent = Vec::new();
    for n in [9_001, 9_002] {
        let key = carry_over(&h, customer.id, &raw_key(n)).await;
        h.ports
            .repositories
            .api_keys
            .touch_last_used(key.id, T0.plus_seconds(-60), None)
            .await
            .expect("touched");
        recent.push(key);
    }
    let retrying: std::net::IpAddr = "2001:db8:7:1::1".parse().expect("an address");
    let neighbour: std::net::IpAddr = "2001:db8:7:2::1".parse().expect("an address");
    let elsewhere: std::net::IpAddr = "192.0.2.10".parse().expect("an address");
    let services = &h.services;
    let from = |raw: String, client| async move {
        services
            .authenticator
            .authenticate_from(Some(&raw), Some(client))
            .await
    };
    // A fruitless search 250 keys deep spends the address's whole share.
    assert!(
        from(raw_key(100_000), retrying).await.is_err(),
        "no such key"
    );
    for client in [retrying, neighbour] {
        match from(raw_key(9_001), client).await {
            Err(AuthFailure::Rejected(reason)) => assert_eq!(reason, AuthReason::NotFound),
            other => panic!("searched past the address's share: {other:?}"),
        }
    }
    let found = from(raw_key(9_002), elsewhere)
        .await
        .expect("the other half is kept for another address");
    assert_eq!(found.key.api_key_id, recent[1].id);
    h.clock.advance(60);
    let found = from(raw_key(9_001), retrying)
        .await
        .expect("the next minute, its share again");
    assert_eq!(found.key.api_key_id, recent[0].id);
}

/// With few carried-over keys, a search that found nothing spends little of its
/// address's share: the same address's next search that minute still finds its key (a
/// typo, then the right key).
#[tokio::test]
async fn an_address_whose_search_found_nothing_still_finds_its_key_within_its_share() {
    let h = Harness::new();
    let customer = h.customer("From the reference").await;
    for n in 0..10 {
        carry_over(&h, customer.id, &raw_key(n)).await;
    }
    let client: std::net::IpAddr = "192.0.2.20".parse().expect("an address");
    let from = |raw: String| {
        let services = &h.services;
        async move {
            services
                .authenticator
                .authenticate_from(Some(&raw), Some(client))
                .await
        }
    };
    assert!(from(raw_key(100_000)).await.is_err(), "a typo");
    from(raw_key(7)).await.expect("then the right key");
}

/// A hasher that yields before each verification (as Argon2 on the blocking pool
/// does), so that searches joined on one task take turns, and counts them.
#[derive(Debug)]
struct YieldingHasher {
    inner: releasy_domain::memory::InsecureTestHasher,
    verifications: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl releasy_domain::ports::KeyHasher for YieldingHasher {
    async fn hash(
        &self,
        secret: &ApiKeySecret,
    ) -> Result<releasy_domain::api_key::StoredKeyHash, releasy_domain::ports::HashError> {
        self.inner.hash(secret).await
    }
    async fn verify(
        &self,
        secret: &ApiKeySecret,
        stored: &releasy_domain::api_key::StoredKeyHash,
    ) -> Result<bool, releasy_domain::ports::HashError> {
        tokio::task::yield_now().await;
        self.verifications
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.verify(secret, stored).await
    }
    fn peppered_sha256(&self, secret: &[u8]) -> String {
        self.inner.peppered_sha256(secret)
    }
}

/// Searches side by side from one address (parallel jobs behind one NAT) spend its
/// share together, not each its own: three unknown keys at once over more carried-over
/// keys than the budget spend exactly the share.
#[tokio::test]
async fn searches_side_by_side_from_one_address_share_its_share() {
    let hasher = Arc::new(YieldingHasher {
        inner: peppered_hasher(b""),
        verifications: std::sync::atomic::AtomicUsize::new(0),
    });
    let h = Harness::with_hasher(hasher.clone());
    let customer = h.customer("From the reference").await;
    for n in 0..VERIFICATIONS_PER_MINUTE + 100 {
        carry_over(&h, customer.id, &raw_key(n)).await;
    }
    let client: std::net::IpAddr = "192.0.2.30".parse().expect("an address");
    let authenticator = &h.services.authenticator;
    let (unknown_a, unknown_b, unknown_c) = (raw_key(100_001), raw_key(100_002), raw_key(100_003));
    let (a, b, c) = tokio::join!(
        authenticator.authenticate_from(Some(&unknown_a), Some(client)),
        authenticator.authenticate_from(Some(&unknown_b), Some(client)),
        authenticator.authenticate_from(Some(&unknown_c), Some(client)),
    );
    assert!(a.is_err() && b.is_err() && c.is_err(), "no such keys");
    assert_eq!(
        hasher
            .verifications
            .load(std::sync::atomic::Ordering::SeqCst),
        releasy_domain::api_key::VERIFICATIONS_PER_ADDRESS
    );
}

/// During a pepper rotation a carried-over key hashed under the previous pepper is
/// found too, and given its lookup value (and hash) under the new one.
#[tokio::test]
async fn a_carried_over_key_under_the_previous_pepper_is_found_during_a_rotation() {
    let old = Harness::with_hasher(Arc::new(peppered_hasher(b"old pepper")));
    let customer = old.customer("From the reference").await;
    let carried = carry_over(&old, customer.id, &raw_key(1)).await;
    let h = old.restarted_with_hasher(Arc::new(rotating_hasher(b"new pepper", b"old pepper")));
    let key = h
        .services
        .authenticator
        .authenticate(Some(&raw_key(1)))
        .await
        .expect("found under the previous pepper");
    assert_eq!(key.api_key_id, carried.id);
    let secret = ApiKeySecret::from_presented(&raw_key(1)).expect("a key");
    let stored = h.stored_key(carried.id).await;
    assert_eq!(stored.lookup, secret.lookup());
    let new_only = peppered_hasher(b"new pepper");
    assert!(
        new_only
            .verify(&secret, &stored.hash)
            .await
            .expect("verifies"),
        "hashed again under the new pepper"
    );
}
