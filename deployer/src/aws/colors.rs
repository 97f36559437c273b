//! Which color of each service is live: the target group its listener forwards to (the one
//! with the larger weight while a canary runs).

use std::collections::BTreeMap;

use super::model::{Inventory, Kind};
use super::names::Names;
use crate::rollout::Color;
use crate::spec::Spec;

/// The listener that carries a service's traffic: `:443` (HTTPS) or `:80` on the public load
/// balancer, the service's own port on the internal one.
pub fn listener_name(spec: &Spec, service: &str) -> String {
    let names = Names::new(spec);
    let public = spec
        .services
        .get(service)
        .is_some_and(|definition| definition.public);
    let port = match spec.services.get(service) {
        Some(definition) if !definition.public => definition.port,
        _ if spec.aws.certificate_arn.is_some() => 443,
        _ => 80,
    };
    format!("{}:{port}", names.load_balancer(public))
}

/// (color, weight) pairs a `forward:` action sends traffic to.
pub fn weights(spec: &Spec, service: &str, action: &str) -> Vec<(Color, u8)> {
    let names = Names::new(spec);
    let Some(groups) = action.strip_prefix("forward:") else {
        return Vec::new();
    };
    let color_of = |group: &str| {
        [Color::Blue, Color::Green]
            .into_iter()
            .find(|color| group == names.colored(service, *color))
    };
    if !groups.contains('=') {
        return color_of(groups)
            .map(|color| vec![(color, 100)])
            .unwrap_or_default();
    }
    groups
        .split(',')
        .filter_map(|part| part.split_once('='))
        .filter_map(|(group, weight)| Some((color_of(group)?, weight.parse().ok()?)))
        .collect()
}

pub fn live_colors(spec: &Spec, inventory: &Inventory) -> BTreeMap<String, Color> {
    spec.services
        .keys()
        .map(|service| {
            let listener = listener_name(spec, service);
            let action = inventory
                .resources
                .iter()
                .find(|resource| resource.kind == Kind::Listener && resource.name == listener)
                .map(|resource| resource.get("action").to_owned())
                .unwrap_or_default();
            let live = weights(spec, service, &action)
                .into_iter()
                .max_by_key(|(color, weight)| (*weight, *color == Color::Blue))
                .map_or(Color::Blue, |(color, _)| color);
            (service.clone(), live)
        })
        .collect()
}
