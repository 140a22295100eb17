//! [`LocalRateLimiter`]: GCRA buckets in this process.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{NotUntil, Quota, RateLimiter as Gcra};
use releasy_domain::ApiKeyId;
use releasy_domain::api_key::KeyType;
use releasy_domain::ports::RateLimiter;
use releasy_domain::rate_limit::{
    BudgetState, RateBudget, RateBudgets, RefusedFailures, Spend, Throttled,
};

/// What the limiter enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Failed authentications an address may make per minute before further failures
    /// are refused (`RELEASY_AUTH_FAILURE_LIMIT`); `None` counts none.
    pub auth_failures_per_minute: Option<NonZeroU32>,
    /// Request budgets by key type.
    pub budgets: RateBudgets,
}

impl Default for RateLimitConfig {
    /// The contract's defaults: 100 failures a minute per address, no key budgets.
    fn default() -> Self {
        Self {
            auth_failures_per_minute: NonZeroU32::new(100),
            budgets: RateBudgets::default(),
        }
    }
}

type Buckets<K, C> = Gcra<K, DashMapStateStore<K>, C, StateInformationMiddleware>;

/// The budget of one key type and its buckets.
struct KeyBudget<C: Clock> {
    budget: RateBudget,
    buckets: Buckets<ApiKeyId, C>,
}

/// The buckets of one server instance.
///
/// Both limits refill evenly (GCRA): a budget of `600/min` allows a burst of 600, then
/// one request every 100 ms; an address past 100 failures a minute may fail again
/// every 600 ms. Buckets of addresses and keys that are whole again are dropped by
/// [`RateLimiter::take_refused`], which the server calls every minute, so memory
/// follows the clients of the last minute.
pub struct LocalRateLimiter<C: Clock + Clone = DefaultClock> {
    clock: C,
    failures: Option<Buckets<IpAddr, C>>,
    budgets: [Option<KeyBudget<C>>; 3],
    /// Failures refused since the last report; touched only on refusal.
    refused: Mutex<HashMap<IpAddr, u64>>,
}

impl LocalRateLimiter {
    /// A limiter on the system's monotonic clock.
    pub fn new(config: RateLimitConfig) -> Self {
        Self::with_clock(config, DefaultClock::default())
    }
}

impl<C: Clock + Clone> LocalRateLimiter<C> {
    /// A limiter on `clock` (a fake one in tests).
    pub fn with_clock(config: RateLimitConfig, clock: C) -> Self {
        let budget = |key_type| {
            config
                .budgets
                .for_key_type(key_type)
                .map(|budget| KeyBudget {
                    budget,
                    buckets: buckets(budget_quota(budget), &clock),
                })
        };
        Self {
            failures: config
                .auth_failures_per_minute
                .map(|limit| buckets(Quota::per_minute(limit), &clock)),
            budgets: [
                budget(KeyType::Human),
                budget(KeyType::Ci),
                budget(KeyType::Integration),
            ],
            refused: Mutex::default(),
            clock,
        }
    }

    fn retry_after(&self, not_until: &NotUntil<C::Instant>) -> u64 {
        whole_seconds(not_until.wait_time_from(self.clock.now()))
    }
}

fn buckets<K: Hash + Eq + Clone, C: Clock + Clone>(quota: Quota, clock: &C) -> Buckets<K, C> {
    Gcra::<K, DashMapStateStore<K>, C, NoOpMiddleware<C::Instant>>::new(
        quota,
        DashMapStateStore::default(),
        clock.clone(),
    )
    .with_middleware::<StateInformationMiddleware>()
}

/// A burst of the whole budget, refilled one request at a time over the window.
fn budget_quota(budget: RateBudget) -> Quota {
    let burst = NonZeroU32::new(budget.requests()).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(budget.refill_interval())
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

/// A wait in whole seconds for `Retry-After`: rounded up, at least 1.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

const fn slot(key_type: KeyType) -> usize {
    match key_type {
        KeyType::Human => 0,
        KeyType::Ci => 1,
        KeyType::Integration => 2,
    }
}

impl<C> RateLimiter for LocalRateLimiter<C>
where
    C: Clock + Clone + Send + Sync + 'static,
    C::Instant: Send + Sync,
{
    fn count_failure(&self, client: IpAddr) -> Result<(), Throttled> {
        let Some(failures) = &self.failures else {
            return Ok(());
        };
        let not_until = match failures.check_key(&client) {
            Ok(_) => return Ok(()),
            Err(not_until) => not_until,
        };
        let mut refused = self
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *refused.entry(client).or_default() += 1;
        Err(Throttled {
            retry_after_seconds: self.retry_after(&not_until),
        })
    }

    fn spend(&self, key: ApiKeyId, key_type: KeyType) -> Option<Spend> {
        let KeyBudget { budget, buckets } = self.budgets[slot(key_type)].as_ref()?;
        let state = |remaining| BudgetState {
            key_type,
            budget: *budget,
            remaining,
        };
        Some(match buckets.check_key(&key) {
            Ok(snapshot) => Spend::Within(state(snapshot.remaining_burst_capacity())),
            Err(not_until) => Spend::Exceeded {
                state: state(0),
                retry_after_seconds: self.retry_after(&not_until),
            },
        })
    }

    fn take_refused(&self) -> Vec<RefusedFailures> {
        if let Some(failures) = &self.failures {
            failures.retain_recent();
            failures.shrink_to_fit();
        }
        for budget in self.budgets.iter().flatten() {
            budget.buckets.retain_recent();
            budget.buckets.shrink_to_fit();
        }
        let refused = std::mem::take(
            &mut *self
                .refused
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut refused: Vec<RefusedFailures> = refused
            .into_iter()
            .map(|(client, refused)| RefusedFailures { client, refused })
            .collect();
        refused.sort_by_key(|summary| summary.client);
        refused
    }
}

impl<C: Clock + Clone> std::fmt::Debug for LocalRateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalRateLimiter")
            .field("failure_limit", &self.failures.as_ref().map(|_| "on"))
            .field(
                "budgets",
                &self
                    .budgets
                    .iter()
                    .map(|b| b.as_ref().map(|b| b.budget.to_string()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limiter(
        failures: u32,
        ci: Option<&str>,
    ) -> (LocalRateLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let config = RateLimitConfig {
            auth_failures_per_minute: NonZeroU32::new(failures),
            budgets: RateBudgets {
                ci: ci.map(|text| RateBudget::parse(text).unwrap()),
                ..RateBudgets::default()
            },
        };
        (LocalRateLimiter::with_clock(config, clock.clone()), clock)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_is_refused_past_its_failures_and_others_are_not() {
        let (limiter, clock) = limiter(3, None);
        for _ in 0..3 {
            assert_eq!(limiter.count_failure(ip("203.0.113.9")), Ok(()));
        }
        // 3 a minute refill one every 20 s.
        assert_eq!(
            limiter.count_failure(ip("203.0.113.9")),
            Err(Throttled {
                retry_after_seconds: 20
            })
        );
        assert_eq!(limiter.count_failure(ip("198.51.100.1")), Ok(()));
        clock.advance(Duration::from_millis(19_500));
        assert_eq!(
            limiter.count_failure(ip("203.0.113.9")),
            Err(Throttled {
                retry_after_seconds: 1
            }),
            "half a second is still a whole second to wait"
        );
        clock.advance(Duration::from_millis(500));
        assert_eq!(limiter.count_failure(ip("203.0.113.9")), Ok(()));
    }

    #[test]
    fn refused_failures_are_reported_once_per_address() {
        let (limiter, _clock) = limiter(1, None);
        for _ in 0..4 {
            let _ = limiter.count_failure(ip("203.0.113.9"));
        }
        for _ in 0..2 {
            let _ = limiter.count_failure(ip("2001:db8::"));
        }
        assert_eq!(
            limiter.take_refused(),
            vec![
                RefusedFailures {
                    client: ip("203.0.113.9"),
                    refused: 3
                },
                RefusedFailures {
                    client: ip("2001:db8::"),
                    refused: 1
                },
            ]
        );
        assert_eq!(limiter.take_refused(), vec![]);
    }

    #[test]
    fn without_a_failure_limit_nothing_is_refused() {
        let (limiter, _clock) = limiter(0, None);
        for _ in 0..1_000 {
            assert_eq!(limiter.count_failure(ip("203.0.113.9")), Ok(()));
        }
    }

    #[test]
    fn a_budget_counts_down_refuses_and_refills() {
        let (limiter, clock) = limiter(100, Some("3/min"));
        let key = ApiKeyId::generate();
        let remaining = |spend| match spend {
            Some(Spend::Within(state)) => state.remaining,
            other => panic!("expected within budget, got {other:?}"),
        };
        assert_eq!(remaining(limiter.spend(key, KeyType::Ci)), 2);
        assert_eq!(remaining(limiter.spend(key, KeyType::Ci)), 1);
        assert_eq!(remaining(limiter.spend(key, KeyType::Ci)), 0);
        let Some(Spend::Exceeded {
            state,
            retry_after_seconds,
        }) = limiter.spend(key, KeyType::Ci)
        else {
            panic!("expected over budget");
        };
        assert_eq!((state.remaining, retry_after_seconds), (0, 20));
        assert_eq!(state.rate_limit_header(), "\"ci\";r=0;t=60");
        // Another key has its own budget; another type has none.
        assert_eq!(
            remaining(limiter.spend(ApiKeyId::generate(), KeyType::Ci)),
            2
        );
        assert_eq!(limiter.spend(key, KeyType::Human), None);
        clock.advance(Duration::from_secs(20));
        assert_eq!(remaining(limiter.spend(key, KeyType::Ci)), 0);
    }

    #[test]
    fn whole_buckets_are_dropped_at_each_report() {
        let (limiter, clock) = limiter(5, Some("10/s"));
        assert_eq!(limiter.count_failure(ip("203.0.113.9")), Ok(()));
        limiter.spend(ApiKeyId::generate(), KeyType::Ci);
        clock.advance(Duration::from_secs(60));
        limiter.take_refused();
        let failures = limiter.failures.as_ref().unwrap();
        assert_eq!(failures.len(), 0);
        assert_eq!(
            limiter.budgets[slot(KeyType::Ci)]
                .as_ref()
                .unwrap()
                .buckets
                .len(),
            0
        );
    }

    #[test]
    fn uneven_budgets_still_allow_their_whole_burst() {
        let (limiter, _clock) = limiter(5, Some("7/min"));
        let key = ApiKeyId::generate();
        let spent = (0..10)
            .filter(|_| matches!(limiter.spend(key, KeyType::Ci), Some(Spend::Within(_))))
            .count();
        assert_eq!(spent, 7);
    }
}
