//! Releasy's rate limiter: the domain's [`RateLimiter`](releasy_domain::ports::RateLimiter)
//! port on local [`governor`] buckets.
//!
//! - `local.rs`: [`LocalRateLimiter`], the buckets of one server instance: failed
//!   authentications per client address, request budgets per key.
//!
//! Buckets are per instance. Behind a load balancer that spreads one client over `n`
//! instances, a client gets up to `n` times each limit; `docs/security.md` says so and
//! how to size limits for it.

mod local;

pub use local::{LocalRateLimiter, RateLimitConfig};
