use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::legacy_input::Limits;
use crate::store::Store;

/// Everything a request handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub limits: Limits,
    pub rate_limiter: Arc<DefaultKeyedRateLimiter<i64>>,
    pub enable_crash: bool,
}

impl AppState {
    pub fn new(
        store: Store,
        limits: Limits,
        requests_per_minute: NonZeroU32,
        enable_crash: bool,
    ) -> Self {
        Self {
            store,
            limits,
            rate_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(requests_per_minute))),
            enable_crash,
        }
    }
}
