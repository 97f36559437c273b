//! A listener's default action as dashctl models it: forward to weighted target groups, or
//! redirect HTTP to HTTPS. Parsed from and rendered to AWS (and to the plan's canonical text)
//! here and nowhere else.
//!
//! Both colors stay attached at all times, the idle one at weight 0: on AWS a target group that
//! no listener forwards to "does not have an associated load balancer", so ECS refuses to create
//! a service on it, and its targets stay `unused` (`Target.NotInUse`) and never turn healthy.

use std::fmt;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, RedirectActionConfig,
    RedirectActionStatusCodeEnum, TargetGroupTuple,
};

use super::model::{Ids, Kind};
use super::names::Names;
use crate::rollout::{Color, Traffic};

/// The largest weight ALB accepts on one target group of a forward action.
pub const MAX_WEIGHT: u16 = 999;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedGroup {
    /// dashctl's name of the target group.
    pub group: String,
    pub weight: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerAction {
    /// Forward to these groups by weight, in name order.
    Forward(Vec<WeightedGroup>),
    /// Port 80 when the public load balancer serves HTTPS.
    RedirectToHttps,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ActionError {
    #[error("unknown listener action `{0}`")]
    Unknown(String),
    #[error("listener action `{0}`: expected `forward: GROUP=WEIGHT, ...`")]
    Malformed(String),
    #[error("weight {weight} of {group} is outside 0-{MAX_WEIGHT}")]
    Weight { group: String, weight: u32 },
    #[error("target group {0} (id {1}) is not one of this app's")]
    UnknownGroup(String, String),
    #[error("target group {0} does not exist (yet)")]
    Missing(String),
}

impl ListenerAction {
    /// Forward with weights; groups are kept in name order so equal actions compare equal.
    pub fn forward(groups: impl IntoIterator<Item = (String, u16)>) -> Self {
        let mut groups: Vec<WeightedGroup> = groups
            .into_iter()
            .map(|(group, weight)| WeightedGroup { group, weight })
            .collect();
        groups.sort_by(|a, b| a.group.cmp(&b.group));
        Self::Forward(groups)
    }

    /// A service's two colors, `to` at `percent` and the other color at the rest.
    pub fn colors(names: &Names<'_>, service: &str, to: Color, percent: u8) -> Self {
        let percent = u16::from(percent.min(100));
        Self::forward([
            (names.colored(service, to), percent),
            (names.colored(service, to.other()), 100 - percent),
        ])
    }

    /// The weight a color of `service` gets (None: not attached).
    pub fn weight_of(&self, names: &Names<'_>, service: &str, color: Color) -> Option<u16> {
        let Self::Forward(groups) = self else {
            return None;
        };
        let name = names.colored(service, color);
        groups
            .iter()
            .find(|group| group.group == name)
            .map(|group| group.weight)
    }

    /// (color, weight) of the service's colors this action forwards to.
    pub fn color_weights(&self, names: &Names<'_>, service: &str) -> Vec<(Color, u16)> {
        [Color::Blue, Color::Green]
            .into_iter()
            .filter_map(|color| {
                self.weight_of(names, service, color)
                    .map(|weight| (color, weight))
            })
            .collect()
    }

    /// The service's split between its colors, in percent (None: it sends them nothing).
    pub fn traffic(&self, names: &Names<'_>, service: &str) -> Option<Traffic> {
        let weight = |color| u32::from(self.weight_of(names, service, color).unwrap_or(0));
        Traffic::from_weights(weight(Color::Blue), weight(Color::Green))
    }

    /// The color with the most traffic (blue on a tie, as before the first rollout); None when
    /// the action sends nothing to the service.
    pub fn live_color(&self, names: &Names<'_>, service: &str) -> Option<Color> {
        self.color_weights(names, service)
            .into_iter()
            .filter(|(_, weight)| *weight > 0)
            .max_by_key(|(color, weight)| (*weight, *color == Color::Blue))
            .map(|(color, _)| color)
    }

    /// Groups this action forwards to, heaviest first.
    pub fn groups(&self) -> Vec<&str> {
        let Self::Forward(groups) = self else {
            return Vec::new();
        };
        let mut sorted: Vec<&WeightedGroup> = groups.iter().collect();
        sorted.sort_by_key(|group| std::cmp::Reverse(group.weight));
        sorted
            .into_iter()
            .map(|group| group.group.as_str())
            .collect()
    }

    /// Reads the action AWS reports. A single `TargetGroupArn` (what older versions set) reads as
    /// that group at full weight.
    pub fn from_aws(action: &Action, ids: &Ids) -> Result<Self, ActionError> {
        if let Some(redirect) = action.redirect_config() {
            return if redirect
                .protocol()
                .is_some_and(|protocol| protocol.eq_ignore_ascii_case("https"))
            {
                Ok(Self::RedirectToHttps)
            } else {
                Err(ActionError::Unknown(format!(
                    "redirect to {}",
                    redirect.protocol().unwrap_or_default()
                )))
            };
        }
        let name = |arn: &str| {
            ids.name_of(Kind::TargetGroup, arn)
                .ok_or_else(|| ActionError::UnknownGroup(short(arn), arn.to_owned()))
        };
        let tuples = action
            .forward_config()
            .map(ForwardActionConfig::target_groups)
            .unwrap_or_default();
        if tuples.is_empty() {
            let arn = action
                .target_group_arn()
                .ok_or_else(|| ActionError::Unknown(format!("{:?}", action.r#type())))?;
            return Ok(Self::forward([(name(arn)?, 100)]));
        }
        let mut groups = Vec::new();
        for tuple in tuples {
            let arn = tuple.target_group_arn().unwrap_or_default();
            // AWS reports weight 1 when none was set on a single group.
            let weight = tuple.weight().unwrap_or(1);
            let group = name(arn)?;
            let weight = u16::try_from(weight)
                .ok()
                .filter(|weight| *weight <= MAX_WEIGHT)
                .ok_or(ActionError::Weight {
                    group: group.clone(),
                    weight: u32::try_from(weight).unwrap_or(u32::MAX),
                })?;
            groups.push((group, weight));
        }
        if let [(group, _)] = groups.as_slice() {
            return Ok(Self::forward([(group.clone(), 100)]));
        }
        Ok(Self::forward(groups))
    }

    /// The action to send AWS. Every forward uses a `ForwardConfig`, so weight 0 is explicit.
    pub fn to_aws(&self, ids: &Ids) -> Result<Action, ActionError> {
        match self {
            Self::RedirectToHttps => Ok(Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .protocol("HTTPS")
                        .port("443")
                        .status_code(RedirectActionStatusCodeEnum::Http301)
                        .build(),
                )
                .build()),
            Self::Forward(groups) => {
                let mut forward = ForwardActionConfig::builder();
                for group in groups {
                    if group.weight > MAX_WEIGHT {
                        return Err(ActionError::Weight {
                            group: group.group.clone(),
                            weight: u32::from(group.weight),
                        });
                    }
                    let arn = ids
                        .get(Kind::TargetGroup, &group.group)
                        .ok_or_else(|| ActionError::Missing(group.group.clone()))?;
                    forward = forward.target_groups(
                        TargetGroupTuple::builder()
                            .target_group_arn(arn)
                            .weight(i32::from(group.weight))
                            .build(),
                    );
                }
                Ok(Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(forward.build())
                    .build())
            }
        }
    }
}

fn short(arn: &str) -> String {
    arn.split('/').nth(1).unwrap_or(arn).to_owned()
}

/// The plan's canonical text: `forward: a-blue=100, a-green=0` or `redirect: https`.
impl fmt::Display for ListenerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RedirectToHttps => f.write_str("redirect: https"),
            Self::Forward(groups) => {
                f.write_str("forward: ")?;
                for (index, group) in groups.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}={}", group.group, group.weight)?;
                }
                Ok(())
            }
        }
    }
}

impl std::str::FromStr for ListenerAction {
    type Err = ActionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "redirect: https" {
            return Ok(Self::RedirectToHttps);
        }
        let Some(groups) = text.strip_prefix("forward:") else {
            return Err(ActionError::Unknown(text.to_owned()));
        };
        let mut parsed = Vec::new();
        for part in groups.split(',') {
            let (group, weight) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| ActionError::Malformed(text.to_owned()))?;
            let weight: u32 = weight
                .parse()
                .map_err(|_| ActionError::Malformed(text.to_owned()))?;
            let weight = u16::try_from(weight)
                .ok()
                .filter(|weight| *weight <= MAX_WEIGHT)
                .ok_or(ActionError::Weight {
                    group: group.to_owned(),
                    weight,
                })?;
            if group.is_empty() {
                return Err(ActionError::Malformed(text.to_owned()));
            }
            parsed.push((group.to_owned(), weight));
        }
        Ok(Self::forward(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names<'static> {
        Names {
            app: "shop",
            environment: "prod",
        }
    }

    fn ids() -> Ids {
        let mut ids = Ids::default();
        ids.insert(
            Kind::TargetGroup,
            "shop-prod-web-blue",
            "arn:tg/shop-prod-web-blue/1",
        );
        ids.insert(
            Kind::TargetGroup,
            "shop-prod-web-green",
            "arn:tg/shop-prod-web-green/2",
        );
        ids
    }

    #[test]
    fn both_colors_are_attached_and_the_idle_one_gets_nothing() {
        let action = ListenerAction::colors(&names(), "web", Color::Blue, 100);
        assert_eq!(
            action.to_string(),
            "forward: shop-prod-web-blue=100, shop-prod-web-green=0"
        );
        assert_eq!(action.live_color(&names(), "web"), Some(Color::Blue));
        let canary = ListenerAction::colors(&names(), "web", Color::Green, 10);
        assert_eq!(
            canary.color_weights(&names(), "web"),
            [(Color::Blue, 90), (Color::Green, 10)]
        );
        assert_eq!(canary.live_color(&names(), "web"), Some(Color::Blue));
    }

    #[test]
    fn text_round_trips_and_bad_text_is_refused() {
        for text in [
            "forward: shop-prod-web-blue=100, shop-prod-web-green=0",
            "forward: a=999",
            "redirect: https",
        ] {
            let action: ListenerAction = text.parse().expect(text);
            assert_eq!(action.to_string(), text);
        }
        assert!(matches!(
            "forward: a=1000".parse::<ListenerAction>(),
            Err(ActionError::Weight { .. })
        ));
        assert!("forward: a".parse::<ListenerAction>().is_err());
        assert!("drop".parse::<ListenerAction>().is_err());
    }

    #[test]
    fn aws_round_trip_keeps_weight_zero() {
        let action = ListenerAction::colors(&names(), "web", Color::Green, 100);
        let aws = action.to_aws(&ids()).expect("to aws");
        let tuples = aws
            .forward_config()
            .expect("forward config")
            .target_groups();
        assert_eq!(tuples.len(), 2);
        assert_eq!(ListenerAction::from_aws(&aws, &ids()), Ok(action));
    }

    #[test]
    fn a_single_target_group_from_an_older_version_reads_as_full_weight() {
        let aws = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn("arn:tg/shop-prod-web-blue/1")
            .build();
        let action = ListenerAction::from_aws(&aws, &ids()).expect("parsed");
        assert_eq!(action.to_string(), "forward: shop-prod-web-blue=100");
        assert_eq!(action.weight_of(&names(), "web", Color::Green), None);
    }

    #[test]
    fn a_group_of_another_app_is_an_error_not_a_guess() {
        let aws = Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn("arn:tg/other/9")
            .build();
        assert!(matches!(
            ListenerAction::from_aws(&aws, &ids()),
            Err(ActionError::UnknownGroup(..))
        ));
    }
}
