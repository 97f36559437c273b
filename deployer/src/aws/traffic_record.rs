//! What dashctl last set on each service's listener, kept in an SSM parameter beside the
//! rollout lock. A deploy or rollback compares it with the live listener before changing
//! anything: weights someone changed by hand (or a run killed half-way) are not silently
//! overwritten.

use std::collections::BTreeMap;

use super::Aws;
use super::colors;
use super::model::Resource;
use super::names::Names;
use super::parameters;
use crate::rollout::Traffic;
use crate::spec::Spec;

pub fn parameter(spec: &Spec) -> String {
    let names = Names::new(spec);
    format!("/dashctl/{}/{}/traffic", names.app, names.environment)
}

/// Service -> the split dashctl last set (empty before the first record).
pub async fn recorded(aws: &Aws, spec: &Spec) -> anyhow::Result<BTreeMap<String, Traffic>> {
    let Some(value) = parameters::read(aws, &parameter(spec)).await? else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_str(&value).map_err(|error| {
        anyhow::anyhow!(
            "the traffic record {} is not what dashctl writes ({error}); delete it to start afresh",
            parameter(spec)
        )
    })
}

/// Records the splits dashctl just set (merged into what is recorded for other services).
pub async fn record(
    aws: &Aws,
    spec: &Spec,
    set: impl IntoIterator<Item = (String, Traffic)>,
) -> anyhow::Result<()> {
    let mut all = recorded(aws, spec).await?;
    all.extend(set);
    parameters::put(aws, &parameter(spec), &all, true).await?;
    Ok(())
}

pub async fn forget(aws: &Aws, spec: &Spec) -> anyhow::Result<()> {
    parameters::delete(aws, &parameter(spec)).await
}

/// A service whose live split is not what dashctl last set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub service: String,
    pub live: Traffic,
    /// None: no record, and the live split is not all-on-one-color as dashctl leaves it.
    pub recorded: Option<Traffic>,
}

/// A rollout refused because of [`Drift`].
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to {verb}: {}; someone changed the listener by hand, or a dashctl run was killed mid-rollout. Check which color should serve, then run again with --accept-live-traffic: the listener is then set to all traffic on the color with the larger share before anything else changes",
    .drift.iter().map(Drift::describe).collect::<Vec<_>>().join("; ")
)]
pub struct TrafficDrift {
    pub verb: &'static str,
    pub drift: Vec<Drift>,
}

impl Drift {
    fn describe(&self) -> String {
        match self.recorded {
            Some(recorded) => format!(
                "{} sends {}, but dashctl last set {recorded}",
                self.service, self.live
            ),
            None => format!(
                "{} sends {}, which dashctl never leaves behind",
                self.service, self.live
            ),
        }
    }
}

/// Refuses a `verb` (deploy, rollback) when a listener in `resources` (as discovered) is not
/// what dashctl last set, unless the operator accepted the live split.
pub async fn check(
    aws: &Aws,
    spec: &Spec,
    resources: &[Resource],
    verb: &'static str,
    accept_live: bool,
) -> anyhow::Result<()> {
    check_resuming(aws, spec, resources, verb, accept_live, None).await
}

/// [`check`] for a verb that takes over an unfinished rollout: `in_flight` is the split its
/// journaled stage was setting on that service's listener. A dashctl killed after the listener
/// took it but before the record did leaves exactly that split, which the rollout itself
/// explains and is about to set again (or undo).
pub async fn check_resuming(
    aws: &Aws,
    spec: &Spec,
    resources: &[Resource],
    verb: &'static str,
    accept_live: bool,
    in_flight: Option<(&str, Traffic)>,
) -> anyhow::Result<()> {
    if accept_live {
        return Ok(());
    }
    let drift = drift(spec, resources, &recorded(aws, spec).await?, in_flight);
    if drift.is_empty() {
        Ok(())
    } else {
        Err(TrafficDrift { verb, drift }.into())
    }
}

/// Services whose listener (as `resources` has it) differs from the record.
fn drift(
    spec: &Spec,
    resources: &[Resource],
    recorded: &BTreeMap<String, Traffic>,
    in_flight: Option<(&str, Traffic)>,
) -> Vec<Drift> {
    of(spec, resources)
        .into_iter()
        .filter_map(|(service, live)| {
            let expected = recorded.get(&service).copied();
            let explained = in_flight == Some((service.as_str(), live));
            let fine = explained
                || match expected {
                    Some(expected) => expected == live,
                    None => live.blue == 100 || live.green == 100,
                };
            (!fine).then_some(Drift {
                service,
                live,
                recorded: expected,
            })
        })
        .collect()
}

/// The split each service's listener has in `resources` (discovered, or what apply just set).
pub fn of(spec: &Spec, resources: &[Resource]) -> Vec<(String, Traffic)> {
    spec.services
        .keys()
        .filter_map(|service| {
            colors::listener_action(resources, spec, service)
                .and_then(|action| action.traffic(&Names::new(spec), service))
                .map(|traffic| (service.clone(), traffic))
        })
        .collect()
}
