//! What a color runs locally: a program, its arguments and environment, with service URLs and
//! the state directory already filled in. Per-instance placeholders (`${port}`, `${instance}`,
//! `${color}`) are filled in when each instance starts.

use std::collections::BTreeMap;
use std::path::Path;

use crate::spec::Service;
use crate::spec::template::{Placeholder, expand};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalRelease {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
}

impl LocalRelease {
    /// `urls` maps service names to the URL of their proxy; `databases` database names to the
    /// environment that connects to them (the service's `database:` picks one).
    pub fn from_spec(
        service: &Service,
        urls: &BTreeMap<String, String>,
        databases: &BTreeMap<String, BTreeMap<String, String>>,
        state_dir: &Path,
    ) -> Option<Self> {
        let local = service.local.as_ref()?;
        let state_dir = state_dir.display().to_string();
        let resolve = |placeholder: &Placeholder| match placeholder {
            Placeholder::ServiceUrl(name) => urls.get(name).cloned(),
            Placeholder::StateDir => Some(state_dir.clone()),
            _ => None,
        };
        let connection = service
            .database
            .as_ref()
            .and_then(|database| databases.get(database));
        let env = service
            .env
            .iter()
            .chain(&local.env)
            .map(|(key, value)| (key.clone(), expand(value, &resolve)))
            .chain(
                connection
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone())),
            )
            .collect();
        Some(Self {
            command: local
                .command
                .iter()
                .map(|part| expand(part, &resolve))
                .collect(),
            env,
        })
    }

    /// The command and env for one instance.
    pub fn for_instance(
        &self,
        port: u16,
        instance: &str,
        color: &str,
    ) -> (Vec<String>, Vec<(String, String)>) {
        let port = port.to_string();
        let resolve = |placeholder: &Placeholder| match placeholder {
            Placeholder::Port => Some(port.clone()),
            Placeholder::Instance => Some(instance.to_owned()),
            Placeholder::Color => Some(color.to_owned()),
            _ => None,
        };
        let command = self
            .command
            .iter()
            .map(|part| expand(part, &resolve))
            .collect();
        let env = self
            .env
            .iter()
            .map(|(key, value)| (key.clone(), expand(value, &resolve)))
            .collect();
        (command, env)
    }
}
