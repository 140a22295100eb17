//! The authenticator under rate limits: failures past an address's limit are refused
//! and summed into one event, a valid key from that address still works, and a key
//! over its budget is refused before anything is recorded.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use common::Harness;
use releasy_domain::ApiKeyId;
use releasy_domain::api_key::{AuthFailure, KeyType};
use releasy_domain::audit::AuthReason;
use releasy_domain::ports::RateLimiter;
use releasy_domain::rate_limit::{BudgetState, RateBudget, RefusedFailures, Spend, Throttled};
use releasy_domain::{Ports, Services};

/// Admits `failure_limit` failures per address, then refuses them; gives `ci` keys a
/// budget of `budget` requests that never refills.
#[derive(Debug)]
struct CountingLimiter {
    failure_limit: u64,
    budget: RateBudget,
    failures: Mutex<HashMap<IpAddr, u64>>,
    refused: Mutex<HashMap<IpAddr, u64>>,
    spent: Mutex<HashMap<ApiKeyId, u32>>,
}

impl CountingLimiter {
    fn new(failure_limit: u64, budget: u32) -> Self {
        let one_minute = NonZeroU32::new(60).unwrap();
        Self {
            failure_limit,
            budget: RateBudget::new(NonZeroU32::new(budget).unwrap(), one_minute),
            failures: Mutex::default(),
            refused: Mutex::default(),
            spent: Mutex::default(),
        }
    }
}

impl RateLimiter for CountingLimiter {
    fn count_failure(&self, client: IpAddr) -> Result<(), Throttled> {
        let mut failures = self.failures.lock().unwrap();
        let count = failures.entry(client).or_default();
        *count += 1;
        if *count <= self.failure_limit {
            return Ok(());
        }
        *self.refused.lock().unwrap().entry(client).or_default() += 1;
        Err(Throttled {
            retry_after_seconds: 7,
        })
    }

    fn spend(&self, key: ApiKeyId, key_type: KeyType) -> Option<Spend> {
        if key_type != KeyType::Ci {
            return None;
        }
        let mut spent = self.spent.lock().unwrap();
        let used = spent.entry(key).or_default();
        let state = |remaining| BudgetState {
            key_type,
            budget: self.budget,
            remaining,
        };
        if *used == self.budget.requests() {
            return Some(Spend::Exceeded {
                state: state(0),
                retry_after_seconds: 1,
            });
        }
        *used += 1;
        Some(Spend::Within(state(self.budget.requests() - *used)))
    }

    fn take_refused(&self) -> Vec<RefusedFailures> {
        let mut refused: Vec<_> = self
            .refused
            .lock()
            .unwrap()
            .drain()
            .map(|(client, refused)| RefusedFailures { client, refused })
            .collect();
        refused.sort_by_key(|r| r.client);
        refused
    }
}

fn limited(limiter: CountingLimiter) -> Harness {
    let base = Harness::new();
    let ports = Ports {
        rate_limiter: Arc::new(limiter),
        ..base.ports.clone()
    };
    Harness {
        services: Services::new(ports.clone()),
        ports,
        clock: base.clock,
    }
}

fn address(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

#[tokio::test]
async fn failures_past_the_limit_are_refused_and_summed_into_one_event() {
    let h = limited(CountingLimiter::new(2, 100));
    let auth = &h.services.authenticator;
    let from = address("203.0.113.9");
    for _ in 0..2 {
        let refused = auth.authenticate_from(Some("releasy_guess"), from).await;
        assert!(matches!(
            refused,
            Err(AuthFailure::Rejected(AuthReason::NotFound))
        ));
    }
    for _ in 0..5 {
        let refused = auth.authenticate_from(Some("releasy_guess"), from).await;
        assert!(
            matches!(
                refused,
                Err(AuthFailure::Throttled {
                    reason: AuthReason::NotFound,
                    throttled: Throttled {
                        retry_after_seconds: 7
                    }
                })
            ),
            "{refused:?}"
        );
    }
    // Two events of their own, each naming the address; none for the five refused.
    let events = h.auth_events().await;
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event.event, "api_key.auth");
        assert_eq!(event.payload["client_address"], "203.0.113.9");
    }

    assert_eq!(auth.report_refused_failures().await.unwrap(), 1);
    let events = h.auth_events().await;
    let summary = events
        .iter()
        .find(|e| e.event == "auth.throttled")
        .expect("a summary event");
    assert_eq!(summary.actor, "system");
    assert_eq!(summary.payload["client_address"], "203.0.113.9");
    assert_eq!(summary.payload["refused"], 5);
    // Reported once: the next report finds nothing new.
    assert_eq!(auth.report_refused_failures().await.unwrap(), 0);
    assert_eq!(h.auth_events().await.len(), 3);
}

#[tokio::test]
async fn a_valid_key_keeps_working_from_a_throttled_address() {
    let h = limited(CountingLimiter::new(1, 100));
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let from = address("198.51.100.4");
    let auth = &h.services.authenticator;
    for _ in 0..3 {
        let _ = auth.authenticate_from(Some("releasy_guess"), from).await;
    }
    let admitted = auth
        .authenticate_from(Some(issued.secret.expose()), from)
        .await
        .expect("a valid key is not throttled");
    assert_eq!(admitted.key.customer_id, customer.id);
    let accepted = h
        .auth_events()
        .await
        .into_iter()
        .find(|e| e.payload["outcome"] == "accept")
        .expect("the acceptance is recorded");
    assert_eq!(accepted.payload["client_address"], "198.51.100.4");
}

#[tokio::test]
async fn without_a_client_address_no_failure_limit_applies() {
    let h = limited(CountingLimiter::new(0, 100));
    for _ in 0..3 {
        let refused = h
            .services
            .authenticator
            .authenticate(Some("releasy_x"))
            .await;
        assert!(matches!(
            refused,
            Err(AuthFailure::Rejected(AuthReason::NotFound))
        ));
    }
    assert_eq!(h.auth_events().await.len(), 3);
}

#[tokio::test]
async fn a_key_over_its_budget_is_refused_before_anything_is_recorded() {
    let h = limited(CountingLimiter::new(100, 2));
    let customer = h.customer("Acme").await;
    let issued = h.key(customer.id, &["releases:read"]).await;
    let auth = &h.services.authenticator;
    let from = address("192.0.2.1");
    let first = auth
        .authenticate_from(Some(issued.secret.expose()), from)
        .await
        .unwrap();
    assert_eq!(first.budget.map(|b| b.remaining), Some(1));
    let second = auth
        .authenticate_from(Some(issued.secret.expose()), from)
        .await
        .unwrap();
    assert_eq!(second.budget.map(|b| b.remaining), Some(0));
    let over = auth
        .authenticate_from(Some(issued.secret.expose()), from)
        .await;
    let Err(AuthFailure::OverBudget {
        state,
        retry_after_seconds,
    }) = over
    else {
        panic!("expected over budget, got {over:?}");
    };
    assert_eq!((state.remaining, retry_after_seconds), (0, 1));
    assert_eq!(state.policy_header(), "\"ci\";q=2;w=60");
    let accepts = h
        .auth_events()
        .await
        .into_iter()
        .filter(|e| e.payload["outcome"] == "accept")
        .count();
    assert_eq!(accepts, 2, "the refused request left no event");
}
