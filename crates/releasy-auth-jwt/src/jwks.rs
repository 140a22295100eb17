//! The key cache between the verifier and the identity provider.
//!
//! - A fetched key set is fresh for the TTL. A token whose `kid` is in a fresh set is
//!   verified without any request.
//! - A token naming a `kid` the fresh set lacks triggers one early refresh (the provider
//!   may have rotated its keys), at most once per `early_refresh_interval` (10 s); within
//!   that window such tokens are refused straight away.
//! - Past the TTL, the next token triggers a refresh in the background. A token whose
//!   `kid` the stale set holds waits for it at most `stale_wait` (1 s): a provider that
//!   answers removes a withdrawn key at once, one that hangs delays no request for its
//!   whole fetch timeout. If the refresh fails, the old keys keep working (stale but
//!   usable) and no new attempt is made for `failure_backoff`.
//! - At most one fetch is in flight: callers that need one while another runs wait for
//!   it and use its outcome.
//! - With no usable key (never fetched, or the set has none), the answer is
//!   [`KeyError::Unavailable`], not "invalid token".

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

use crate::clock::MonotonicClock;
use crate::config::CachePolicy;
use crate::fetch::{FetchError, JwksSource};
use crate::keyset::{KeySet, VerificationKey};

/// Why no key was found for a `kid`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyError {
    /// The provider's current key set (fetched successfully) has no key with this `kid`.
    #[error("no key with this kid in the identity provider's key set")]
    UnknownKid,
    /// No usable key: the provider cannot be reached and nothing usable is cached, or
    /// its key set holds no usable key.
    #[error("identity provider keys unavailable: {0}")]
    Unavailable(Arc<Unavailable>),
}

/// What made keys unavailable.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// The last fetch failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The provider's key set holds no key Releasy can verify with.
    #[error(
        "the JWKS holds no usable signing key (RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA with a kid)"
    )]
    NoUsableKey,
}

/// Why a fetch was wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Nothing cached yet.
    Empty,
    /// The cached set is past its TTL.
    Expired,
    /// The cached set is past its TTL and holds the token's `kid`: refreshed in the
    /// background.
    Stale,
    /// A fresh set lacks the token's `kid`.
    UnknownKid,
}

#[derive(Debug)]
struct Cached {
    set: Arc<KeySet>,
    fetched_at: Instant,
}

#[derive(Debug, Default)]
struct State {
    keys: Option<Cached>,
    /// Completed fetch attempts; a waiter that sees it change knows a fetch finished.
    generation: u64,
    /// When the last fetch failed, and why (cleared by a successful one).
    failure: Option<(Instant, Arc<Unavailable>)>,
    /// When the last early refresh started.
    last_early_refresh: Option<Instant>,
    /// How many fetches were started (for tests and diagnostics).
    fetches: u64,
    /// A refresh of a stale set runs in the background.
    background_refresh: bool,
}

impl State {
    /// The answer for `kid` from what is cached now.
    fn find(&self, kid: &str) -> Result<Arc<VerificationKey>, KeyError> {
        if let Some(key) = self.keys.as_ref().and_then(|cached| cached.set.get(kid)) {
            return Ok(key);
        }
        if let Some((_, cause)) = &self.failure {
            return Err(KeyError::Unavailable(cause.clone()));
        }
        match &self.keys {
            Some(cached) if !cached.set.is_empty() => Err(KeyError::UnknownKid),
            _ => Err(KeyError::Unavailable(Arc::new(Unavailable::NoUsableKey))),
        }
    }

    /// Whether a fetch for `trigger` may start at `at`: early refreshes are rate
    /// limited, and after a failed fetch the provider is left alone for a while.
    fn allows(&self, trigger: Trigger, at: Instant, policy: &CachePolicy) -> bool {
        match trigger {
            Trigger::UnknownKid => self
                .last_early_refresh
                .is_none_or(|last| at.duration_since(last) >= policy.early_refresh_interval),
            Trigger::Empty | Trigger::Expired | Trigger::Stale => self
                .failure
                .as_ref()
                .is_none_or(|(failed, _)| at.duration_since(*failed) >= policy.failure_backoff),
        }
    }
}

/// The cache of the identity provider's keys.
#[derive(Debug)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: Arc<dyn JwksSource>,
    clock: Arc<dyn MonotonicClock>,
    policy: CachePolicy,
    state: Mutex<State>,
    /// Held for the duration of a fetch: at most one in flight.
    in_flight: tokio::sync::Mutex<()>,
    /// The generation of the last completed fetch, for callers waiting on one started
    /// in the background.
    completed: watch::Sender<u64>,
}

impl JwksCache {
    /// A cache, empty until the first lookup (or [`JwksCache::warm_up`]).
    pub fn new(
        source: Arc<dyn JwksSource>,
        clock: Arc<dyn MonotonicClock>,
        policy: CachePolicy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                clock,
                policy,
                state: Mutex::new(State::default()),
                in_flight: tokio::sync::Mutex::new(()),
                completed: watch::Sender::new(0),
            }),
        }
    }

    /// The key named `kid`, refreshing the set when the rules above allow.
    ///
    /// # Errors
    /// [`KeyError::UnknownKid`] when the provider's current set lacks it;
    /// [`KeyError::Unavailable`] when there is no usable key to decide with.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerificationKey>, KeyError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let (generation, trigger) = {
            let mut state = inner.lock();
            match &state.keys {
                Some(cached) if now.duration_since(cached.fetched_at) < inner.policy.ttl => {
                    if let Some(key) = cached.set.get(kid) {
                        return Ok(key);
                    }
                    (state.generation, Trigger::UnknownKid)
                }
                Some(cached) if cached.set.get(kid).is_some() => {
                    if !state.allows(Trigger::Expired, now, &inner.policy) {
                        return state.find(kid); // the provider failed moments ago
                    }
                    if !state.background_refresh {
                        state.background_refresh = true;
                        let refreshing = inner.clone();
                        let generation = state.generation;
                        tokio::spawn(async move {
                            // Cleared however the refresh ends (a panic included), so
                            // the next stale lookup can start another.
                            let _done = BackgroundRefreshDone(&refreshing);
                            refreshing.refresh(generation, Trigger::Expired).await;
                        });
                    }
                    (state.generation, Trigger::Stale)
                }
                Some(_) => (state.generation, Trigger::Expired),
                None => (state.generation, Trigger::Empty),
            }
        };
        if trigger == Trigger::Stale {
            return self.after_refresh(generation, kid).await;
        }
        // The fetch runs as a task of its own: a caller dropped while it runs (a
        // request whose body extractor failed first) neither cancels it nor leaves it
        // unrecorded, so the early-refresh limit and the failure backoff hold whatever
        // callers do. A fetch that panicked left the state as it was: answered from it.
        let refreshing = inner.clone();
        let _finished =
            tokio::spawn(async move { refreshing.refresh(generation, trigger).await }).await;
        inner.lock().find(kid)
    }

    /// The answer for `kid`, a stale set's key, once the refresh after `generation`
    /// completed, or after [`CachePolicy::stale_wait`] with the stale key: a provider
    /// that answers removes a withdrawn key at once, one that hangs holds no request
    /// for its whole fetch timeout.
    async fn after_refresh(
        &self,
        generation: u64,
        kid: &str,
    ) -> Result<Arc<VerificationKey>, KeyError> {
        let mut completed = self.inner.completed.subscribe();
        let _in_time = tokio::time::timeout(
            self.inner.policy.stale_wait,
            completed.wait_for(|completed| *completed != generation),
        )
        .await;
        self.inner.lock().find(kid)
    }

    /// Fetches the key set if nothing is cached yet (at startup, so the first operator
    /// request does not wait, and a misconfigured URL shows in the log early).
    pub async fn warm_up(&self) {
        let generation = {
            let state = self.inner.lock();
            if state.keys.is_some() {
                return;
            }
            state.generation
        };
        self.inner.refresh(generation, Trigger::Empty).await;
    }

    /// How many fetches this cache has started.
    pub fn fetches(&self) -> u64 {
        self.inner.lock().fetches
    }
}

/// Clears [`State::background_refresh`] when dropped.
struct BackgroundRefreshDone<'a>(&'a Inner);

impl Drop for BackgroundRefreshDone<'_> {
    fn drop(&mut self) {
        self.0.lock().background_refresh = false;
    }
}

impl Inner {
    /// Fetches a new set unless one was fetched since the caller looked
    /// (`seen_generation`), or the rate limit or the failure backoff forbids it.
    async fn refresh(&self, seen_generation: u64, trigger: Trigger) {
        let _in_flight = self.in_flight.lock().await;
        let started = self.clock.now();
        {
            let mut state = self.lock();
            if state.generation != seen_generation {
                return; // Someone else's fetch finished while this caller waited.
            }
            if !state.allows(trigger, started, &self.policy) {
                return;
            }
            if trigger == Trigger::UnknownKid {
                state.last_early_refresh = Some(started);
            }
            state.fetches += 1;
        }
        tracing::debug!(?trigger, "fetching the operator JWKS");
        let fetched = self.source.fetch().await;
        let finished = self.clock.now();
        let mut state = self.lock();
        state.generation += 1;
        match fetched {
            Ok(set) => {
                if set.is_empty() {
                    tracing::warn!("the operator JWKS holds no usable signing key");
                } else {
                    tracing::info!(keys = set.len(), "operator JWKS loaded");
                }
                state.keys = Some(Cached {
                    set: Arc::new(set),
                    fetched_at: finished,
                });
                state.failure = None;
            }
            Err(err) => {
                if state.keys.is_some() {
                    tracing::warn!(error = %err, "operator JWKS refresh failed; the cached keys stay in use");
                } else {
                    tracing::error!(error = %err, "operator JWKS unavailable; operator tokens cannot be verified");
                }
                state.failure = Some((finished, Arc::new(Unavailable::Fetch(err))));
            }
        }
        self.completed.send_replace(state.generation);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::clock::ManualClock;

    const RSA_N: &str = "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw";

    /// A provider whose key ids and availability the test controls.
    #[derive(Debug, Default)]
    struct FakeProvider {
        kids: Mutex<Option<Vec<&'static str>>>,
        requests: AtomicU64,
        delay: Mutex<Duration>,
    }

    impl FakeProvider {
        fn serving(kids: &[&'static str]) -> Arc<Self> {
            let provider = Self::default();
            provider.serve(kids);
            Arc::new(provider)
        }
        fn serve(&self, kids: &[&'static str]) {
            *self.kids.lock().unwrap() = Some(kids.to_vec());
        }
        fn go_down(&self) {
            *self.kids.lock().unwrap() = None;
        }
        fn requests(&self) -> u64 {
            self.requests.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl JwksSource for FakeProvider {
        async fn fetch(&self) -> Result<KeySet, FetchError> {
            self.requests.fetch_add(1, Ordering::SeqCst);
            let delay = *self.delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            let kids = self.kids.lock().unwrap().clone();
            match kids {
                Some(kids) => {
                    let keys: Vec<_> = kids
                        .iter()
                        .map(|kid| json!({"kty": "RSA", "kid": kid, "alg": "RS256", "n": RSA_N, "e": "AQAB"}))
                        .collect();
                    Ok(KeySet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap())
                }
                None => Err(FetchError::Status {
                    url: "http://idp/jwks".into(),
                    status: reqwest::StatusCode::SERVICE_UNAVAILABLE,
                }),
            }
        }
    }

    fn cache(provider: &Arc<FakeProvider>) -> (JwksCache, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        let cache = JwksCache::new(
            provider.clone(),
            clock.clone(),
            CachePolicy::with_ttl(Duration::from_secs(300)),
        );
        (cache, clock)
    }

    fn is_unavailable(result: Result<Arc<VerificationKey>, KeyError>) -> bool {
        matches!(result, Err(KeyError::Unavailable(_)))
    }

    fn is_unknown(result: Result<Arc<VerificationKey>, KeyError>) -> bool {
        matches!(result, Err(KeyError::UnknownKid))
    }

    #[tokio::test]
    async fn keys_are_fetched_once_and_cached_for_the_ttl() {
        let provider = FakeProvider::serving(&["a"]);
        let (cache, clock) = cache(&provider);
        cache.key("a").await.unwrap();
        cache.key("a").await.unwrap();
        clock.advance(Duration::from_secs(299));
        cache.key("a").await.unwrap();
        assert_eq!(provider.requests(), 1);
        clock.advance(Duration::from_secs(1));
        cache.key("a").await.unwrap();
        assert_eq!(
            provider.requests(),
            2,
            "past the TTL the set is fetched again"
        );
        assert_eq!(cache.fetches(), 2);
    }

    #[tokio::test]
    async fn an_unknown_kid_refreshes_early_at_most_once_per_interval() {
        let provider = FakeProvider::serving(&["a"]);
        let (cache, clock) = cache(&provider);
        cache.key("a").await.unwrap();
        // The provider rotates: the early refresh finds the new key.
        provider.serve(&["b"]);
        cache.key("b").await.unwrap();
        assert_eq!(provider.requests(), 2);
        // Another unknown kid within 10 s: refused without asking the provider.
        clock.advance(Duration::from_secs(9));
        assert!(is_unknown(cache.key("c").await));
        assert!(
            is_unknown(cache.key("a").await),
            "a rotated-out key is gone"
        );
        assert_eq!(provider.requests(), 2);
        // 10 s after the last early refresh, one more is allowed.
        provider.serve(&["b", "c"]);
        clock.advance(Duration::from_secs(1));
        cache.key("c").await.unwrap();
        assert_eq!(provider.requests(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_unknown_kids_makes_one_fetch() {
        let provider = FakeProvider::serving(&["a"]);
        let (cache, _clock) = cache(&provider);
        cache.key("a").await.unwrap();
        *provider.delay.lock().unwrap() = Duration::from_millis(100);
        let cache = Arc::new(cache);
        let lookups: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.key("nope").await })
            })
            .collect();
        for lookup in lookups {
            assert!(is_unknown(lookup.await.unwrap()));
        }
        assert_eq!(provider.requests(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_wait_for_the_fetch_in_flight() {
        let provider = FakeProvider::serving(&["a", "b"]);
        *provider.delay.lock().unwrap() = Duration::from_millis(100);
        let (cache, _clock) = cache(&provider);
        let cache = Arc::new(cache);
        let lookups: Vec<_> = (0..20)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.key(if i % 2 == 0 { "a" } else { "b" }).await })
            })
            .collect();
        for lookup in lookups {
            lookup.await.unwrap().unwrap();
        }
        assert_eq!(provider.requests(), 1);
    }

    #[tokio::test]
    async fn cached_keys_outlive_the_provider() {
        let provider = FakeProvider::serving(&["a"]);
        let (cache, clock) = cache(&provider);
        cache.key("a").await.unwrap();
        provider.go_down();
        // Still fresh: no request at all.
        cache.key("a").await.unwrap();
        assert_eq!(provider.requests(), 1);
        // Past the TTL: the refresh fails, the stale key is served.
        clock.advance(Duration::from_secs(301));
        cache.key("a").await.unwrap();
        assert_eq!(provider.requests(), 2);
        // During the backoff no new attempt is made.
        clock.advance(Duration::from_secs(5));
        cache.key("a").await.unwrap();
        assert_eq!(provider.requests(), 2);
        // A kid the stale set lacks cannot be decided: unavailable, not invalid.
        assert!(is_unavailable(cache.key("z").await));
        // After the backoff it tries again, and recovers.
        provider.serve(&["a", "b"]);
        clock.advance(Duration::from_secs(10));
        cache.key("a").await.unwrap();
        assert_eq!(provider.requests(), 3);
        cache.key("b").await.unwrap();
        assert_eq!(provider.requests(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hanging_provider_delays_stale_keys_by_the_stale_wait_only() {
        let provider = FakeProvider::serving(&["a"]);
        let clock = Arc::new(ManualClock::new());
        let policy = CachePolicy {
            stale_wait: Duration::from_millis(50),
            ..CachePolicy::default()
        };
        let cache = JwksCache::new(provider.clone(), clock.clone(), policy);
        cache.key("a").await.unwrap();
        // The provider stops answering (no reply for an hour), and the set goes stale.
        *provider.delay.lock().unwrap() = Duration::from_secs(3600);
        clock.advance(Duration::from_secs(301));
        for _ in 0..3 {
            let answered = tokio::time::timeout(Duration::from_secs(5), cache.key("a")).await;
            answered
                .expect("a stale key must not wait for the hanging fetch")
                .unwrap();
        }
        assert_eq!(
            provider.requests(),
            2,
            "one background refresh, not one per request"
        );
        // A kid the stale set lacks still waits for (and shares) the fetch in flight.
        let unknown = tokio::time::timeout(Duration::from_millis(200), cache.key("z")).await;
        assert!(
            unknown.is_err(),
            "an unknown kid is decided by the provider"
        );
    }

    #[tokio::test]
    async fn a_key_the_provider_withdrew_is_refused_once_the_stale_set_is_refreshed() {
        let provider = FakeProvider::serving(&["a"]);
        let (cache, clock) = cache(&provider);
        cache.key("a").await.unwrap();
        provider.serve(&["b"]);
        clock.advance(Duration::from_secs(301));
        assert!(
            is_unknown(cache.key("a").await),
            "a provider that answers within the stale wait decides"
        );
        cache.key("b").await.unwrap();
        assert_eq!(provider.requests(), 2);
    }

    #[tokio::test]
    async fn nothing_cached_and_the_provider_down_is_unavailable() {
        let provider = Arc::new(FakeProvider::default());
        let (cache, clock) = cache(&provider);
        assert!(is_unavailable(cache.key("a").await));
        assert_eq!(provider.requests(), 1);
        // Backing off: answered at once without a request.
        assert!(is_unavailable(cache.key("a").await));
        assert_eq!(provider.requests(), 1);
        provider.serve(&["a"]);
        clock.advance(Duration::from_secs(10));
        cache.key("a").await.unwrap();
        assert_eq!(provider.requests(), 2);
    }

    #[tokio::test]
    async fn a_set_without_usable_keys_is_unavailable() {
        let provider = FakeProvider::serving(&[]);
        let (cache, _clock) = cache(&provider);
        assert!(is_unavailable(cache.key("a").await));
    }

    #[tokio::test]
    async fn a_failed_early_refresh_is_unavailable() {
        let provider = FakeProvider::serving(&["a"]);
        let (cache, _clock) = cache(&provider);
        cache.key("a").await.unwrap();
        provider.go_down();
        assert!(is_unavailable(cache.key("new").await));
        cache.key("a").await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_dropped_during_a_fetch_neither_cancels_it_nor_escapes_the_backoff() {
        // Lookups whose requests are dropped while the provider answers (actix drops an
        // extractor when another argument of the handler fails first).
        let provider = Arc::new(FakeProvider::default());
        *provider.delay.lock().unwrap() = Duration::from_millis(100);
        let (failing, _clock) = cache(&provider);
        let first = tokio::time::timeout(Duration::from_millis(10), failing.key("a")).await;
        assert!(
            first.is_err(),
            "the lookup is dropped before the fetch ends"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        for _ in 0..4 {
            // Within the backoff: answered at once, or dropped as the first was.
            let _answered_or_dropped =
                tokio::time::timeout(Duration::from_millis(10), failing.key("a")).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        assert_eq!(
            provider.requests(),
            1,
            "the failed fetch is recorded and backed off from, not started again"
        );
        assert!(is_unavailable(failing.key("a").await));

        // A fetch that succeeds after its caller was dropped serves the next lookup.
        let provider = FakeProvider::serving(&["a"]);
        *provider.delay.lock().unwrap() = Duration::from_millis(100);
        let (serving, _clock) = cache(&provider);
        let dropped = tokio::time::timeout(Duration::from_millis(10), serving.key("a")).await;
        assert!(dropped.is_err());
        tokio::time::sleep(Duration::from_millis(150)).await;
        serving.key("a").await.unwrap();
        assert_eq!(provider.requests(), 1);
    }

    #[tokio::test]
    async fn warm_up_fetches_only_when_nothing_is_cached() {
        let provider = FakeProvider::serving(&["a"]);
        let (cache, _clock) = cache(&provider);
        cache.warm_up().await;
        cache.warm_up().await;
        cache.key("a").await.unwrap();
        assert_eq!(provider.requests(), 1);
    }
}
