use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::admin_key::AdminKey;
use crate::admission::SolveSlots;
use crate::client_ip::TrustedProxies;
use crate::failed_keys::FailedKeyThrottle;
use crate::key_limits::{Clock, system_clock};
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
    /// Requests per minute per API key, counted in the database (shared by all instances).
    pub requests_per_minute_per_key: NonZeroU32,
    /// The time the per-key windows are counted in; tests replace it to hold time still.
    pub clock: Clock,
    /// Per client address, in this instance's memory (see [`crate::key_limits`] for why).
    pub anonymous_limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    pub failed_keys: Arc<FailedKeyThrottle>,
    pub solve_slots: SolveSlots,
    pub trusted_proxies: TrustedProxies,
    pub enable_crash: bool,
    /// The admin API's key; `None` turns the admin API off.
    pub admin_key: Option<AdminKey>,
}

impl AppState {
    /// The admin API stays off until [`AppState::with_admin_key`].
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
            requests_per_minute_per_key: protections.requests_per_minute_per_key,
            clock: system_clock(),
            anonymous_limiter: protections
                .anonymous_requests_per_minute
                .map(|rate| Arc::new(RateLimiter::keyed(Quota::per_minute(rate)))),
            failed_keys: Arc::new(FailedKeyThrottle::new(protections.failed_keys_per_minute)),
            solve_slots: SolveSlots::new(protections.max_concurrent_solves),
            trusted_proxies,
            enable_crash,
            admin_key: None,
        }
    }

    pub fn with_admin_key(mut self, admin_key: Option<AdminKey>) -> Self {
        self.admin_key = admin_key;
        self
    }
}
