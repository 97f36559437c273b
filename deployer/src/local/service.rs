//! One service on the local platform: its two colors, their instances, which color is live,
//! and the request counters the autoscaler reads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::color_metrics::ColorMetrics;
use super::instance::{HealthSettings, Instance, InstanceStatus, RunContext};
use super::port;
use super::process::ProcessIdentity;
use super::release::LocalRelease;
use crate::rollout::{Color, Traffic};
use crate::spec::Scaling;

/// What the proxy needs to route a request, rebuilt whole whenever any part of it changes and
/// read with one atomic load: routing takes no lock and allocates nothing.
#[derive(Default)]
struct Routing {
    live: Option<Color>,
    canary: Option<(Color, u8)>,
    /// The color that requests carrying the test header with its name reach.
    test_route: Option<Color>,
    instances: HashMap<Color, Vec<Arc<Instance>>>,
}

#[derive(Default)]
struct ColorGroup {
    release: Option<Arc<LocalRelease>>,
    instances: Vec<Arc<Instance>>,
    /// Taken out of `instances` (no longer counted or routed to) but still draining or
    /// stopping: kept here, in the same lock, so control.json keeps recording their processes
    /// until they have exited.
    retiring: Vec<Arc<Instance>>,
    next_number: u32,
}

pub struct ServiceRuntime {
    pub name: String,
    pub public: bool,
    /// Where its proxy listens.
    pub listen: SocketAddr,
    pub scaling: Scaling,
    health: HealthSettings,
    drain_timeout: Duration,
    /// Longest the proxy waits for an instance's response head.
    pub upstream_timeout: Duration,
    context: Arc<RunContext>,
    http: reqwest::Client,
    live: Mutex<Option<Color>>,
    /// A canary step: this color gets this percent of requests.
    canary: Mutex<Option<(Color, u8)>>,
    /// The color being checked through its test route, while it is open.
    test_route: Mutex<Option<Color>>,
    groups: Mutex<HashMap<Color, ColorGroup>>,
    routing: ArcSwap<Routing>,
    /// Held while `routing` is rebuilt, so the last rebuild always reflects the last change.
    routing_rebuild: Mutex<()>,
    next: AtomicUsize,
    /// Requests the proxy has forwarded, for the autoscaler's rate.
    pub requests_total: AtomicU64,
    /// Last rate the autoscaler measured, in requests per minute.
    pub measured_rpm: AtomicU64,
    /// What the proxy measured of each color's answers (blue, green), for judging a release.
    color_metrics: [ColorMetrics; 2],
    /// Serializes scaling and rollout steps on this service.
    pub changes: tokio::sync::Mutex<()>,
    /// The previous color, kept up after a release until its window ends.
    warm: Mutex<Option<WarmWindow>>,
}

struct WarmWindow {
    color: Color,
    until: std::time::Instant,
    /// Cancelled when the window ends early (the color is started, restored or retired).
    ended: CancellationToken,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub public: bool,
    pub live_color: Option<Color>,
    /// A canary in progress: its color and share of requests in percent.
    pub canary: Option<(Color, u8)>,
    /// The color requests with `X-Dashctl-Color: <color>` reach while it is being checked.
    #[serde(default)]
    pub test_route: Option<Color>,
    pub url: String,
    pub desired: usize,
    pub running: usize,
    pub ready: usize,
    pub requests_per_minute: u64,
    pub scaling: ScalingStatus,
    /// The previous color kept up for an instant rollback, and for how many more seconds.
    #[serde(default)]
    pub kept_warm: Option<(Color, u64)>,
    pub instances: Vec<InstanceStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScalingStatus {
    pub min: u32,
    pub max: u32,
    pub requests_per_target: u32,
}

pub struct ServiceSettings {
    pub name: String,
    pub public: bool,
    pub listen: SocketAddr,
    pub scaling: Scaling,
    pub health: HealthSettings,
    pub drain_timeout: Duration,
    pub upstream_timeout: Duration,
}

impl ServiceRuntime {
    pub fn new(settings: ServiceSettings, context: Arc<RunContext>, http: reqwest::Client) -> Self {
        Self {
            name: settings.name,
            public: settings.public,
            listen: settings.listen,
            scaling: settings.scaling,
            health: settings.health,
            drain_timeout: settings.drain_timeout,
            upstream_timeout: settings.upstream_timeout,
            context,
            http,
            live: Mutex::new(None),
            canary: Mutex::new(None),
            test_route: Mutex::new(None),
            groups: Mutex::new(HashMap::new()),
            routing: ArcSwap::from_pointee(Routing::default()),
            routing_rebuild: Mutex::new(()),
            next: AtomicUsize::new(0),
            requests_total: AtomicU64::new(0),
            measured_rpm: AtomicU64::new(0),
            color_metrics: Default::default(),
            changes: tokio::sync::Mutex::new(()),
            warm: Mutex::new(None),
        }
    }

    /// `color`'s answers as the proxy measured them.
    pub fn metrics(&self, color: Color) -> &ColorMetrics {
        match color {
            Color::Blue => &self.color_metrics[0],
            Color::Green => &self.color_metrics[1],
        }
    }

    pub fn url(&self) -> String {
        let host = if self.listen.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            self.listen.ip().to_string()
        };
        format!("http://{host}:{}", self.listen.port())
    }

    pub fn live_color(&self) -> Option<Color> {
        *self
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_live(&self, color: Color) {
        *self
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(color);
        *self
            .canary
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        self.rebuild_routing();
    }

    /// `percent` of requests to `to`; at 100 `to` becomes the live color. Both colors' metrics
    /// are marked: a judged window (a canary step, the bake) begins with a weight change.
    pub fn shift(&self, to: Color, percent: u8) {
        for color in [Color::Blue, Color::Green] {
            self.metrics(color).mark();
        }
        if percent >= 100 {
            self.set_live(to);
        } else {
            *self
                .canary
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((to, percent));
            self.rebuild_routing();
        }
    }

    /// The split the proxy routes by right now.
    pub fn traffic(&self) -> Option<Traffic> {
        let routing = self.routing.load();
        let live = routing.live?;
        Some(match routing.canary {
            Some((color, percent)) => Traffic::to(color, percent),
            None => Traffic::to(live, 100),
        })
    }

    /// Starts `color`'s window (ending any earlier one); the token is cancelled if it ends early.
    pub fn begin_warm(&self, color: Color, window: Duration) -> CancellationToken {
        let ended = CancellationToken::new();
        let earlier = self.lock_warm().replace(WarmWindow {
            color,
            until: std::time::Instant::now() + window,
            ended: ended.clone(),
        });
        if let Some(earlier) = earlier {
            earlier.ended.cancel();
        }
        ended
    }

    /// Ends `color`'s window early, if it has one. Call it holding `changes`.
    pub fn end_warm(&self, color: Color) {
        let mut warm = self.lock_warm();
        if warm.as_ref().is_some_and(|window| window.color == color)
            && let Some(window) = warm.take()
        {
            window.ended.cancel();
        }
    }

    /// Ends the window `ended` belongs to, when it ran its course; false if it already ended.
    pub fn finish_warm(&self, ended: &CancellationToken) -> bool {
        let mut warm = self.lock_warm();
        if ended.is_cancelled() {
            return false;
        }
        warm.take();
        true
    }

    fn lock_warm(&self) -> std::sync::MutexGuard<'_, Option<WarmWindow>> {
        self.warm
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn canary(&self) -> Option<(Color, u8)> {
        *self
            .canary
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens (`Some`) or closes (`None`) the test route.
    pub fn set_test_route(&self, color: Option<Color>) {
        *self
            .test_route
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = color;
        self.rebuild_routing();
    }

    pub fn test_route(&self) -> Option<Color> {
        *self
            .test_route
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the color groups; routing follows whatever `f` changed.
    fn with_groups<T>(&self, f: impl FnOnce(&mut HashMap<Color, ColorGroup>) -> T) -> T {
        let result = f(&mut self
            .groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()));
        self.rebuild_routing();
        result
    }

    fn rebuild_routing(&self) {
        let _rebuilding = self
            .routing_rebuild
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let instances = self
            .groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(color, group)| (*color, group.instances.clone()))
            .collect();
        self.routing.store(Arc::new(Routing {
            live: self.live_color(),
            canary: self.canary(),
            test_route: self.test_route(),
            instances,
        }));
    }

    /// Round-robin over the ready, non-draining instances of the live color (or, for a
    /// canary's share of requests, of the canary color). `test_header`: the request's
    /// `X-Dashctl-Color`, which names the color being checked to reach it (as an ALB's
    /// http-header rule, case-insensitively); any other value is routed as if absent.
    pub fn pick(&self, test_header: Option<&[u8]>) -> Option<Arc<Instance>> {
        let routing = self.routing.load();
        let tested = routing.test_route.filter(|color| {
            test_header.is_some_and(|value| value.eq_ignore_ascii_case(color.as_str().as_bytes()))
        });
        let mut color = match tested {
            Some(tested) => tested,
            None => routing.live?,
        };
        if let Some((canary, percent)) = routing.canary.filter(|_| tested.is_none()) {
            // A stride coprime with 100 spreads the canary's share evenly: every 100
            // consecutive requests give it exactly `percent`, without long runs of either color.
            let ticket = self.next.load(Ordering::Relaxed).wrapping_mul(61) % 100;
            if ticket < usize::from(percent) {
                color = canary;
            }
        }
        let instances = routing.instances.get(&color)?;
        let routable = |instance: &&Arc<Instance>| instance.is_ready() && !instance.is_draining();
        let count = instances.iter().filter(routable).count();
        if count == 0 {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % count;
        instances.iter().filter(routable).nth(index).cloned()
    }

    /// Instances of `color` that are not being drained.
    pub fn count(&self, color: Color) -> usize {
        self.with_groups(|groups| {
            groups.get(&color).map_or(0, |group| {
                group
                    .instances
                    .iter()
                    .filter(|instance| !instance.is_draining())
                    .count()
            })
        })
    }

    pub fn has_release(&self, color: Color) -> bool {
        self.with_groups(|groups| {
            groups
                .get(&color)
                .is_some_and(|group| group.release.is_some())
        })
    }

    /// What the live color runs.
    pub fn live_release(&self) -> Option<Arc<LocalRelease>> {
        let live = self.live_color()?;
        self.with_groups(|groups| groups.get(&live).and_then(|group| group.release.clone()))
    }

    /// What `color` runs (or last ran, when scaled to zero).
    pub fn release(&self, color: Color) -> Option<LocalRelease> {
        self.with_groups(|groups| {
            groups
                .get(&color)
                .and_then(|group| group.release.as_deref().cloned())
        })
    }

    /// Gives `color` `release` (None: it has none, as before its first release).
    pub fn replace_release(&self, color: Color, release: Option<LocalRelease>) {
        self.with_groups(|groups| {
            groups.entry(color).or_default().release = release.map(Arc::new);
        });
    }

    /// Every instance of `color` is up and passing health checks (and there is at least one).
    pub fn is_healthy(&self, color: Color) -> bool {
        self.with_groups(|groups| {
            groups.get(&color).is_some_and(|group| {
                !group.instances.is_empty()
                    && group.instances.iter().all(|instance| instance.is_ready())
            })
        })
    }

    /// Adds or drains instances of `color` until it runs `wanted` of them.
    pub async fn scale(&self, color: Color, wanted: usize) -> Result<(), String> {
        let (release, to_start, to_stop) = self.with_groups(|groups| {
            let group = groups.entry(color).or_default();
            let release = group.release.clone();
            let current = group.instances.len();
            let mut to_start = Vec::new();
            for _ in current..wanted {
                group.next_number += 1;
                to_start.push(format!("{}-{color}-{}", self.name, group.next_number));
            }
            // Newest first: the longest-running instances are the warmest.
            let to_stop: Vec<Arc<Instance>> = if wanted < current {
                group.instances.drain(wanted..).collect()
            } else {
                Vec::new()
            };
            group.retiring.extend(to_stop.iter().cloned());
            (release, to_start, to_stop)
        });
        if !to_start.is_empty() {
            let release =
                release.ok_or_else(|| format!("{} {color} has no release to run", self.name))?;
            for id in to_start {
                let port =
                    port::pick().map_err(|error| format!("no free port for {id}: {error}"))?;
                let instance = Instance::launch(
                    id,
                    color,
                    port,
                    release.clone(),
                    self.context.clone(),
                    self.health.clone(),
                    self.http.clone(),
                )
                .await;
                self.with_groups(|groups| {
                    groups.entry(color).or_default().instances.push(instance)
                });
            }
        }
        self.retire(to_stop).await;
        Ok(())
    }

    /// Drains and stops `instances` (already in `retiring`), then forgets them.
    async fn retire(&self, instances: Vec<Arc<Instance>>) {
        let timeout = self.drain_timeout;
        futures_util::future::join_all(
            instances
                .iter()
                .map(|instance| instance.drain_and_stop(timeout)),
        )
        .await;
        self.with_groups(|groups| {
            for group in groups.values_mut() {
                group
                    .retiring
                    .retain(|kept| !instances.iter().any(|done| Arc::ptr_eq(kept, done)));
            }
        });
    }

    pub fn status(&self) -> ServiceStatus {
        let live = self.live_color();
        let instances: Vec<InstanceStatus> = self.with_groups(|groups| {
            let mut all: Vec<InstanceStatus> = groups
                .values()
                .flat_map(|group| group.instances.iter().map(|instance| instance.status()))
                .collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            all
        });
        let live_instances = instances
            .iter()
            .filter(|instance| Some(instance.color) == live);
        ServiceStatus {
            name: self.name.clone(),
            public: self.public,
            live_color: live,
            canary: self.canary(),
            test_route: self.test_route(),
            url: self.url(),
            desired: live.map_or(0, |color| self.count(color)),
            running: live_instances
                .clone()
                .filter(|instance| instance.pid.is_some())
                .count(),
            ready: live_instances.filter(|instance| instance.ready).count(),
            requests_per_minute: self.measured_rpm.load(Ordering::Relaxed),
            scaling: ScalingStatus {
                min: self.scaling.min,
                max: self.scaling.max,
                requests_per_target: self.scaling.requests_per_target,
            },
            kept_warm: self.lock_warm().as_ref().map(|window| {
                let left = window
                    .until
                    .saturating_duration_since(std::time::Instant::now());
                (window.color, left.as_secs())
            }),
            instances,
        }
    }

    /// Drains and stops every instance of every color.
    pub async fn stop_all(&self) {
        let all: Vec<Arc<Instance>> = self.with_groups(|groups| {
            groups
                .values_mut()
                .flat_map(|group| {
                    let taken: Vec<Arc<Instance>> = group.instances.drain(..).collect();
                    group.retiring.extend(taken.iter().cloned());
                    taken
                })
                .collect()
        });
        self.retire(all).await;
    }

    /// Every child process, running or draining, for cleanup after an unclean exit.
    pub fn processes(&self) -> Vec<ProcessIdentity> {
        self.with_groups(|groups| {
            groups
                .values()
                .flat_map(|group| group.instances.iter().chain(&group.retiring))
                .filter_map(|instance| instance.process())
                .collect()
        })
    }
}
