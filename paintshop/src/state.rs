use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::admission::SolveSlots;
use crate::client_ip::TrustedProxies;
use crate::failed_keys::FailedKeyThrottle;
use crate::legacy_input::Limits;
use crate::store::Store;

/// How much each client may ask of the server.
#[derive(Debug, Clone)]
pub struct Protections {
    pub requests_per_minute_per_key: NonZeroU32,
    /// Anonymous `/v1/` requests per minute per client address; `None` leaves them unlimited.
    pub anonymous_requests_per_minute: Option<NonZeroU32>,
    pub failed_keys_per_minute: NonZeroU32,
    pub max_concurrent_solves: usize,
    pub max_body_bytes: usize,
}

impl Protections {
    /// The body limit that fits the largest instance `limits` accept: a like is at most
    /// `{"color":4294967295,"finish":"glossy"},` (40 bytes); the rest is room for whitespace.
    pub fn body_limit_for(limits: &Limits) -> usize {
        limits
            .max_pairs
            .saturating_mul(64)
            .saturating_add(64 * 1024)
    }
}

impl Default for Protections {
    fn default() -> Self {
        Self {
            requests_per_minute_per_key: NonZeroU32::new(600).unwrap_or(NonZeroU32::MIN),
            anonymous_requests_per_minute: None,
            failed_keys_per_minute: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            max_concurrent_solves: std::thread::available_parallelism().map_or(2, usize::from),
            max_body_bytes: Protections::body_limit_for(&Limits::default()),
        }
    }
}

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub limits: Limits,
    pub max_body_bytes: usize,
    pub rate_limiter: Arc<DefaultKeyedRateLimiter<i64>>,
    pub anonymous_limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    pub failed_keys: Arc<FailedKeyThrottle>,
    pub solve_slots: SolveSlots,
    pub trusted_proxies: TrustedProxies,
    pub enable_crash: bool,
}

impl AppState {
    pub fn new(
        store: Store,
        limits: Limits,
        protections: Protections,
        trusted_proxies: TrustedProxies,
        enable_crash: bool,
    ) -> Self {
        Self {
            store,
            limits,
            max_body_bytes: protections.max_body_bytes,
            rate_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(
                protections.requests_per_minute_per_key,
            ))),
            anonymous_limiter: protections
                .anonymous_requests_per_minute
                .map(|rate| Arc::new(RateLimiter::keyed(Quota::per_minute(rate)))),
            failed_keys: Arc::new(FailedKeyThrottle::new(protections.failed_keys_per_minute)),
            solve_slots: SolveSlots::new(protections.max_concurrent_solves),
            trusted_proxies,
            enable_crash,
        }
    }
}
