//! Desired resources against discovered ones: what to create, update and delete.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aws::model::{Kind, Resource};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    /// Attribute, old value, new value.
    Update(Vec<(String, String, String)>),
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    /// Settings shown with a create: a database's (what it costs, how it is protected); other
    /// kinds are named only, or a first plan would run to hundreds of lines.
    pub settings: Vec<(String, String)>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Action::Create => {
                write!(f, "+ create {} {}", self.kind, self.name)?;
                for (attr, value) in &self.settings {
                    write!(f, "\n      {attr}: {}", shown(value))?;
                }
                Ok(())
            }
            Action::Delete => write!(f, "- delete {} {}", self.kind, self.name),
            Action::Update(diffs) => {
                write!(f, "~ update {} {}", self.kind, self.name)?;
                for (attr, old, new) in diffs {
                    write!(f, "\n      {attr}: {} -> {}", shown(old), shown(new))?;
                }
                Ok(())
            }
        }
    }
}

fn shown(value: &str) -> &str {
    if value.is_empty() { "(none)" } else { value }
}

/// Changes in apply order: creates and updates in dependency order, then deletes in reverse.
pub fn diff(desired: &[Resource], existing: &[Resource]) -> Vec<Change> {
    let existing_by_key: BTreeMap<(Kind, String), &Resource> = existing
        .iter()
        .map(|resource| (resource.key(), resource))
        .collect();
    let desired_by_key: BTreeMap<(Kind, String), &Resource> = desired
        .iter()
        .map(|resource| (resource.key(), resource))
        .collect();
    let mut changes: Vec<Change> = Vec::new();
    for (key, wanted) in &desired_by_key {
        let action = match existing_by_key.get(key) {
            None => Action::Create,
            Some(found) => {
                let diffs: Vec<(String, String, String)> = wanted
                    .attrs
                    .iter()
                    .filter(|(attr, value)| found.get(attr) != value.as_str())
                    .map(|(attr, value)| {
                        (
                            (*attr).to_owned(),
                            found.get(attr).to_owned(),
                            value.clone(),
                        )
                    })
                    .collect();
                if diffs.is_empty() {
                    continue;
                }
                Action::Update(diffs)
            }
        };
        let settings = if action == Action::Create && key.0 == Kind::Database {
            wanted
                .attrs
                .iter()
                .map(|(attr, value)| ((*attr).to_owned(), value.clone()))
                .collect()
        } else {
            Vec::new()
        };
        changes.push(Change {
            kind: key.0,
            name: key.1.clone(),
            action,
            settings,
        });
    }
    let mut deletes: Vec<Change> = existing_by_key
        .keys()
        .filter(|key| !desired_by_key.contains_key(*key))
        .map(|(kind, name)| Change {
            kind: *kind,
            name: name.clone(),
            action: Action::Delete,
            settings: Vec::new(),
        })
        .collect();
    deletes.sort_by(|a, b| b.kind.cmp(&a.kind).then_with(|| a.name.cmp(&b.name)));
    changes.extend(deletes);
    changes
}

/// The plan as people read it: grouped by create / update / delete, with a summary line.
pub fn render(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "No changes.\n".to_owned();
    }
    let mut out = String::new();
    for (title, wanted) in [("create", 0), ("update", 1), ("delete", 2)] {
        let group: Vec<&Change> = changes
            .iter()
            .filter(|change| action_rank(&change.action) == wanted)
            .collect();
        if group.is_empty() {
            continue;
        }
        out.push_str(&format!("To {title} ({}):\n", group.len()));
        for change in group {
            out.push_str(&format!("  {change}\n"));
        }
    }
    let count = |rank| {
        changes
            .iter()
            .filter(|change| action_rank(&change.action) == rank)
            .count()
    };
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to delete.\n",
        count(0),
        count(1),
        count(2)
    ));
    out
}

fn action_rank(action: &Action) -> u8 {
    match action {
        Action::Create => 0,
        Action::Update(_) => 1,
        Action::Delete => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_updates_and_deletes_in_order() {
        let desired = vec![
            Resource::new(Kind::Vpc, "a").attr("cidr", "10.0.0.0/16"),
            Resource::new(Kind::TargetGroup, "tg").attr("port", "80"),
            Resource::new(Kind::Subnet, "s").attr("cidr", "10.0.0.0/20"),
        ];
        let existing = vec![
            Resource::new(Kind::Vpc, "a").attr("cidr", "10.0.0.0/16"),
            Resource::new(Kind::TargetGroup, "tg").attr("port", "8080"),
            Resource::new(Kind::LoadBalancer, "old"),
            Resource::new(Kind::EcsService, "old-svc"),
        ];
        let changes = diff(&desired, &existing);
        let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "+ create subnet s",
                "~ update target group tg\n      port: 8080 -> 80",
                "- delete ECS service old-svc",
                "- delete load balancer old",
            ]
        );
        assert!(render(&changes).ends_with("Plan: 1 to create, 1 to update, 2 to delete.\n"));
        assert_eq!(
            render(&diff(&desired[..1], &existing[..1])),
            "No changes.\n"
        );
    }
}
