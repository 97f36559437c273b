//! Throttling of clients that keep presenting bad API keys.
//!
//! Keys are 256-bit random values, so guessing is hopeless; what a client sending bad keys in a
//! loop does achieve is a database lookup per request. After `limit` failures within a minute,
//! every keyed request from that address is answered 429 *before* any lookup, good key or not,
//! until the minute is over. A fixed window per address keeps the check to one map lookup.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Addresses tracked at most. A flood from more addresses than this forgets the oldest
/// windows first; it cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Debug)]
pub struct FailedKeyThrottle {
    limit: u32,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl FailedKeyThrottle {
    pub fn new(limit_per_minute: NonZeroU32) -> Self {
        Self {
            limit: limit_per_minute.get(),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` must wait, if it has failed too often in its current window.
    pub fn blocked_for(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = windows.get(&client)?;
        let ends = window.started + WINDOW;
        (window.failures >= self.limit && now < ends).then(|| ends - now)
    }

    /// Counts a failed key from `client`.
    pub fn record_failure(&self, client: IpAddr, now: Instant) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&client) {
            windows.retain(|_, window| now < window.started + WINDOW);
            if windows.len() >= MAX_TRACKED {
                let oldest = windows
                    .iter()
                    .min_by_key(|(_, window)| window.started)
                    .map(|(address, _)| *address);
                if let Some(oldest) = oldest {
                    windows.remove(&oldest);
                }
            }
        }
        let window = windows.entry(client).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    /// Drops windows that are over, so memory follows recent failures only.
    pub fn forget_expired(&self, now: Instant) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        windows.retain(|_, window| now < window.started + WINDOW);
    }

    pub fn tracked(&self) -> usize {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(limit: u32) -> FailedKeyThrottle {
        FailedKeyThrottle::new(NonZeroU32::new(limit).expect("non-zero"))
    }

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let throttle = throttle(3);
        let start = Instant::now();
        for _ in 0..2 {
            throttle.record_failure(CLIENT, start);
        }
        assert_eq!(throttle.blocked_for(CLIENT, start), None);
        throttle.record_failure(CLIENT, start);
        let later = start + Duration::from_secs(20);
        assert_eq!(
            throttle.blocked_for(CLIENT, later),
            Some(Duration::from_secs(40))
        );
        assert_eq!(throttle.blocked_for(OTHER, later), None);
        assert_eq!(throttle.blocked_for(CLIENT, start + WINDOW), None);
    }

    #[test]
    fn a_new_window_starts_from_zero() {
        let throttle = throttle(2);
        let start = Instant::now();
        throttle.record_failure(CLIENT, start);
        throttle.record_failure(CLIENT, start + WINDOW);
        assert_eq!(throttle.blocked_for(CLIENT, start + WINDOW), None);
    }

    #[test]
    fn memory_is_bounded_and_expired_windows_are_forgotten() {
        let throttle = throttle(1);
        let start = Instant::now();
        for index in 0..(MAX_TRACKED as u32 + 10) {
            throttle.record_failure(IpAddr::V4(index.into()), start);
        }
        assert!(throttle.tracked() <= MAX_TRACKED);
        throttle.forget_expired(start + WINDOW);
        assert_eq!(throttle.tracked(), 0);
    }
}
