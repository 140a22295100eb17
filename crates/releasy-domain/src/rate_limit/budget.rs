//! Request budgets (`600/min`) and the state a client is told about.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::api_key::KeyType;

/// How many requests fit in a window, written `600/min`.
///
/// ```
/// use releasy_domain::rate_limit::RateBudget;
///
/// let budget = RateBudget::parse("600/min").unwrap();
/// assert_eq!((budget.requests(), budget.window_seconds()), (600, 60));
/// assert_eq!(budget.to_string(), "600/min");
/// assert!(RateBudget::parse("600 per minute").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    requests: NonZeroU32,
    window_seconds: NonZeroU32,
}

/// The text is not a budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a request budget: write <requests>/<s|min|hour|day> with at least one \
     request and at most {MAX_PER_SECOND} a second, such as 600/min"
)]
pub struct BudgetParseError(String);

/// The most requests a second a budget may allow: its refill interval is counted in
/// whole nanoseconds, so a faster budget would be enforced as this one while
/// `RateLimit-Policy` announced it.
const MAX_PER_SECOND: u64 = 1_000_000_000;

impl RateBudget {
    /// `requests` per `window_seconds`.
    pub const fn new(requests: NonZeroU32, window_seconds: NonZeroU32) -> Self {
        Self {
            requests,
            window_seconds,
        }
    }

    /// Reads `<requests>/<unit>`, the unit one of `s`, `sec`, `second`, `min`, `minute`,
    /// `h`, `hour`, `day` (`600/min`, `10/s`, `20000/day`).
    ///
    /// # Errors
    /// [`BudgetParseError`] for anything else, and for zero requests.
    pub fn parse(text: &str) -> Result<Self, BudgetParseError> {
        let invalid = || BudgetParseError(text.to_owned());
        let (requests, unit) = text.trim().split_once('/').ok_or_else(invalid)?;
        let requests = requests
            .trim()
            .parse::<NonZeroU32>()
            .map_err(|_| invalid())?;
        let window_seconds = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            _ => return Err(invalid()),
        };
        if u64::from(requests.get()) > MAX_PER_SECOND * u64::from(window_seconds) {
            return Err(invalid());
        }
        Ok(Self {
            requests,
            window_seconds: NonZeroU32::new(window_seconds).ok_or_else(invalid)?,
        })
    }

    /// Requests per window.
    pub const fn requests(self) -> u32 {
        self.requests.get()
    }

    /// The window, in seconds.
    pub const fn window_seconds(self) -> u32 {
        self.window_seconds.get()
    }

    /// How often one request's worth of budget comes back: the budget refills evenly
    /// over the window instead of all at once at its end, so no burst at a window's
    /// edge gets twice the budget.
    pub fn refill_interval(self) -> Duration {
        Duration::from_secs(u64::from(self.window_seconds())) / self.requests()
    }
}

impl fmt::Display for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.window_seconds() {
            1 => "s",
            60 => "min",
            3_600 => "hour",
            86_400 => "day",
            other => return write!(f, "{}/{other}s", self.requests()),
        };
        write!(f, "{}/{unit}", self.requests())
    }
}

/// The budget of each key type; `None` leaves keys of that type unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateBudgets {
    /// Keys of people (`RELEASY_RATE_LIMIT_HUMAN`).
    pub human: Option<RateBudget>,
    /// Keys of CI pipelines (`RELEASY_RATE_LIMIT_CI`).
    pub ci: Option<RateBudget>,
    /// Keys of other systems (`RELEASY_RATE_LIMIT_INTEGRATION`).
    pub integration: Option<RateBudget>,
}

impl RateBudgets {
    /// The budget keys of `key_type` spend, if any.
    pub const fn for_key_type(&self, key_type: KeyType) -> Option<RateBudget> {
        match key_type {
            KeyType::Human => self.human,
            KeyType::Ci => self.ci,
            KeyType::Integration => self.integration,
        }
    }
}

/// Where a key stands in its budget after a request: what the `RateLimit-Policy` and
/// `RateLimit` headers (IETF httpapi draft) tell the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetState {
    /// The key's type, which names the policy.
    pub key_type: KeyType,
    /// The budget.
    pub budget: RateBudget,
    /// Requests left right now.
    pub remaining: u32,
}

impl BudgetState {
    /// Seconds until the budget is whole again, rounded up: the spent part refills at
    /// one request per [`RateBudget::refill_interval`].
    pub fn reset_seconds(&self) -> u64 {
        let spent = u64::from(self.budget.requests().saturating_sub(self.remaining));
        let window = u64::from(self.budget.window_seconds());
        (spent * window).div_ceil(u64::from(self.budget.requests()))
    }

    /// The `RateLimit-Policy` value: `"ci";q=600;w=60`.
    ///
    /// ```
    /// use releasy_domain::api_key::KeyType;
    /// use releasy_domain::rate_limit::{BudgetState, RateBudget};
    ///
    /// let state = BudgetState {
    ///     key_type: KeyType::Ci,
    ///     budget: RateBudget::parse("600/min").unwrap(),
    ///     remaining: 590,
    /// };
    /// assert_eq!(state.policy_header(), r#""ci";q=600;w=60"#);
    /// assert_eq!(state.rate_limit_header(), r#""ci";r=590;t=1"#);
    /// ```
    pub fn policy_header(&self) -> String {
        format!(
            "\"{}\";q={};w={}",
            self.key_type.as_str(),
            self.budget.requests(),
            self.budget.window_seconds()
        )
    }

    /// The `RateLimit` value: `"ci";r=<remaining>;t=<seconds until whole>`.
    pub fn rate_limit_header(&self) -> String {
        format!(
            "\"{}\";r={};t={}",
            self.key_type.as_str(),
            self.remaining,
            self.reset_seconds()
        )
    }
}

/// What spending one request of a key's budget leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// Within budget; the request goes on.
    Within(BudgetState),
    /// Over budget: refused for `retry_after_seconds`.
    Exceeded {
        /// Where the key stands (nothing left).
        state: BudgetState,
        /// When the next request fits, in whole seconds (at least 1).
        retry_after_seconds: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(text: &str) -> RateBudget {
        RateBudget::parse(text).unwrap()
    }

    #[test]
    fn budgets_read_every_unit_and_print_back() {
        assert_eq!(budget("10/s").window_seconds(), 1);
        assert_eq!(budget(" 600 / minute ").requests(), 600);
        assert_eq!(budget("600/min").window_seconds(), 60);
        assert_eq!(budget("5/hour").window_seconds(), 3_600);
        assert_eq!(budget("20000/day").to_string(), "20000/day");
        assert_eq!(budget("7/m").to_string(), "7/min");
        assert_eq!(
            budget("1000000000/s").refill_interval(),
            Duration::from_nanos(1)
        );
        assert_eq!(budget("4000000000/min").requests(), 4_000_000_000);
    }

    #[test]
    fn malformed_budgets_are_refused_with_the_form_to_use() {
        for bad in [
            "",
            "600",
            "0/min",
            "-1/min",
            "600/fortnight",
            "x/min",
            "600/",
            "1000000001/s",
        ] {
            let err = RateBudget::parse(bad).unwrap_err();
            assert!(err.to_string().contains("600/min"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_budget_refills_evenly_over_its_window() {
        assert_eq!(
            budget("600/min").refill_interval(),
            Duration::from_millis(100)
        );
        assert_eq!(
            budget("1/hour").refill_interval(),
            Duration::from_secs(3_600)
        );
    }

    #[test]
    fn each_key_type_spends_its_own_budget() {
        let budgets = RateBudgets {
            ci: Some(budget("600/min")),
            ..RateBudgets::default()
        };
        assert_eq!(budgets.for_key_type(KeyType::Ci), Some(budget("600/min")));
        assert_eq!(budgets.for_key_type(KeyType::Human), None);
        assert_eq!(budgets.for_key_type(KeyType::Integration), None);
    }

    #[test]
    fn reset_is_the_time_to_refill_what_was_spent() {
        let state = |remaining| BudgetState {
            key_type: KeyType::Human,
            budget: budget("60/min"),
            remaining,
        };
        assert_eq!(state(60).reset_seconds(), 0);
        assert_eq!(state(59).reset_seconds(), 1);
        assert_eq!(state(0).reset_seconds(), 60);
        let odd = BudgetState {
            key_type: KeyType::Human,
            budget: budget("7/min"),
            remaining: 6,
        };
        assert_eq!(odd.reset_seconds(), 9, "60/7 = 8.57 rounds up");
        assert_eq!(odd.rate_limit_header(), "\"human\";r=6;t=9");
        assert_eq!(odd.policy_header(), "\"human\";q=7;w=60");
    }
}
