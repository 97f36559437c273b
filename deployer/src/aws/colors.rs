//! Which color of each service is live: the target group its listener forwards to (the one
//! with the larger weight; both are attached, the idle one at weight 0).

use std::collections::BTreeMap;

use super::listener_action::ListenerAction;
use super::model::{self, Inventory, Kind, Resource};
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

/// The listener action recorded on a listener resource (discovered or desired).
pub fn listener_action(
    resources: &[Resource],
    spec: &Spec,
    service: &str,
) -> Option<ListenerAction> {
    let listener = listener_name(spec, service);
    model::find(resources, Kind::Listener, &listener)
        .and_then(|resource| resource.get("action").parse().ok())
}

/// (color, weight) pairs the service's listener sends traffic to.
pub fn weights(spec: &Spec, service: &str, resources: &[Resource]) -> Vec<(Color, u16)> {
    listener_action(resources, spec, service)
        .map(|action| action.color_weights(&Names::new(spec), service))
        .unwrap_or_default()
}

pub fn live_colors(spec: &Spec, inventory: &Inventory) -> BTreeMap<String, Color> {
    spec.services
        .keys()
        .map(|service| {
            let live = listener_action(&inventory.resources, spec, service)
                .and_then(|action| action.live_color(&Names::new(spec), service))
                .unwrap_or(Color::Blue);
            (service.clone(), live)
        })
        .collect()
}
