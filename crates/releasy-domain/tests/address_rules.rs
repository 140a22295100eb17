//! Address rules on customer keys: a key with `allowed_cidrs` authenticates only from
//! those ranges (refusals audited), and an operator changes a key's name and rule.
#![allow(clippy::expect_used, reason = "tests")]

mod common;

use std::net::IpAddr;

use common::Harness;
use releasy_domain::ApiKeyId;
use releasy_domain::api_key::{AllowedNetworks, AuthFailure, KeyChanges, KeyName, UpdateKeyError};
use releasy_domain::audit::{AuthReason, Origin};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

fn rule(ranges: &[&str]) -> KeyChanges {
    KeyChanges {
        name: None,
        allowed_networks: Some(Some(AllowedNetworks::parse(ranges).expect("valid ranges"))),
    }
}

#[tokio::test]
async fn a_key_with_a_rule_works_only_from_its_ranges_and_refusals_are_audited() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let issued = h.key(acme.id, &["releases:read"]).await;
    h.services
        .api_keys
        .update(
            &Origin::admin_key(),
            issued.key.id,
            rule(&["10.0.0.0/8", "2001:db8::/32"]),
        )
        .await
        .expect("updated");
    let raw = Some(issued.secret.expose());

    for inside in ["10.9.8.7", "2001:db8::42", "::ffff:10.0.0.1"] {
        h.services
            .authenticator
            .authenticate_from(raw, Some(ip(inside)))
            .await
            .unwrap_or_else(|e| panic!("{inside}: {e:?}"));
    }
    for outside in [Some(ip("192.0.2.1")), Some(ip("2001:db9::1")), None] {
        let refused = h
            .services
            .authenticator
            .authenticate_from(raw, outside)
            .await;
        assert!(
            matches!(
                refused,
                Err(AuthFailure::Rejected(AuthReason::AddressNotAllowed))
            ),
            "{outside:?}: {refused:?}"
        );
    }
    let refusal = h
        .auth_events()
        .await
        .into_iter()
        .find(|e| e.payload["client_address"] == "2001:db9::1")
        .expect("the refusal is audited");
    assert_eq!(refusal.payload["reason"], "address_not_allowed");
    assert_eq!(refusal.payload["api_key_id"], issued.key.id.to_string());
}

#[tokio::test]
async fn clearing_the_rule_lets_every_address_in_again() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let issued = h.key(acme.id, &["releases:read"]).await;
    let admin = Origin::admin_key();
    let update = |changes| h.services.api_keys.update(&admin, issued.key.id, changes);
    update(rule(&["10.0.0.0/8"])).await.expect("set");
    let elsewhere = Some(ip("192.0.2.1"));
    let raw = Some(issued.secret.expose());
    assert!(
        h.services
            .authenticator
            .authenticate_from(raw, elsewhere)
            .await
            .is_err()
    );
    let cleared = update(KeyChanges {
        name: None,
        allowed_networks: Some(None),
    })
    .await
    .expect("cleared");
    assert_eq!(cleared.allowed_networks, None);
    h.services
        .authenticator
        .authenticate_from(raw, elsewhere)
        .await
        .expect("anywhere again");
}

#[tokio::test]
async fn an_update_changes_only_what_it_names_and_is_audited() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let issued = h.key(acme.id, &["releases:read"]).await;
    let renamed = h
        .services
        .api_keys
        .update(
            &Origin::admin_key(),
            issued.key.id,
            KeyChanges {
                name: Some(Some(KeyName::parse("office").expect("valid name"))),
                allowed_networks: None,
            },
        )
        .await
        .expect("renamed");
    assert_eq!(renamed.name.as_ref().map(KeyName::as_str), Some("office"));
    assert_eq!(renamed.scopes, issued.key.scopes);
    assert_eq!(renamed.allowed_networks, None);
    let event = h
        .audit_events()
        .await
        .into_iter()
        .find(|e| e.event == "key.updated")
        .expect("key.updated written");
    assert_eq!(event.payload["before"]["name"], serde_json::Value::Null);
    assert_eq!(event.payload["after"]["name"], "office");
    assert_eq!(
        event.payload["after"]["allowed_cidrs"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn an_empty_update_is_invalid_and_an_unknown_key_not_found() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let issued = h.key(acme.id, &["releases:read"]).await;
    let err = h
        .services
        .api_keys
        .update(&Origin::admin_key(), issued.key.id, KeyChanges::default())
        .await
        .expect_err("nothing to change");
    assert!(matches!(err, UpdateKeyError::Invalid(_)), "{err:?}");
    let err = h
        .services
        .api_keys
        .update(
            &Origin::admin_key(),
            ApiKeyId::generate(),
            rule(&["10.0.0.0/8"]),
        )
        .await
        .expect_err("unknown key");
    assert!(matches!(err, UpdateKeyError::NotFound), "{err:?}");
}

#[tokio::test]
async fn a_rotated_key_hands_its_rule_to_the_successor() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let issued = h.key(acme.id, &["releases:read"]).await;
    h.services
        .api_keys
        .update(&Origin::admin_key(), issued.key.id, rule(&["10.0.0.0/8"]))
        .await
        .expect("set");
    let rotated = h
        .services
        .api_keys
        .rotate(
            &Origin::admin_key(),
            issued.key.id,
            releasy_domain::api_key::RotationOverlap::parse(None).expect("valid"),
        )
        .await
        .expect("rotated");
    let successor = Some(rotated.successor.secret.expose());
    assert!(
        h.services
            .authenticator
            .authenticate_from(successor, Some(ip("192.0.2.1")))
            .await
            .is_err()
    );
    h.services
        .authenticator
        .authenticate_from(successor, Some(ip("10.1.1.1")))
        .await
        .expect("inside the inherited rule");
}
