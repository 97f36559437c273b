//! One rollout per app and environment at a time: an SSM parameter created only if absent
//! (`Overwrite=false`) is the lock; it names its holder and is deleted on every exit path.

use aws_sdk_ssm::types::ParameterType;

use super::Aws;
use super::errors::explain;
use super::names::Names;
use crate::spec::Spec;

pub struct Lock {
    name: String,
    held: bool,
}

pub fn parameter(spec: &Spec) -> String {
    let names = Names::new(spec);
    format!("/dashctl/{}/{}/rollout-lock", names.app, names.environment)
}

impl Lock {
    /// Takes the lock, or says who holds it. `break_stale` first removes a lock left behind by
    /// a run that died.
    pub async fn acquire(
        aws: &Aws,
        spec: &Spec,
        purpose: &str,
        break_stale: bool,
    ) -> anyhow::Result<Self> {
        let name = parameter(spec);
        if break_stale {
            match aws.ssm.delete_parameter().name(&name).send().await {
                Ok(_) => eprintln!("removed the rollout lock {name} (--break-lock)"),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_parameter_not_found()) => {}
                Err(error) => return Err(explain("DeleteParameter", error)),
            }
        }
        let holder = format!(
            "{purpose} by {}@{} (pid {}) since {}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()),
            std::fs::read_to_string("/etc/hostname")
                .map(|host| host.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned()),
            std::process::id(),
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        match aws
            .ssm
            .put_parameter()
            .name(&name)
            .value(&holder)
            .r#type(ParameterType::String)
            .overwrite(false)
            .send()
            .await
        {
            Ok(_) => Ok(Self { name, held: true }),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_parameter_already_exists()) =>
            {
                let current = aws
                    .ssm
                    .get_parameter()
                    .name(&name)
                    .send()
                    .await
                    .ok()
                    .and_then(|found| {
                        found
                            .parameter()
                            .and_then(|parameter| parameter.value().map(str::to_owned))
                    });
                anyhow::bail!(
                    "another rollout of {} ({}) is in progress: {}. Wait for it, or if that run is gone, pass --break-lock",
                    spec.app,
                    spec.environment,
                    current.unwrap_or_else(|| format!("lock {name} is held"))
                )
            }
            Err(error) => Err(explain("PutParameter", error)),
        }
    }

    pub async fn release(mut self, aws: &Aws) -> anyhow::Result<()> {
        self.held = false;
        aws.ssm
            .delete_parameter()
            .name(&self.name)
            .send()
            .await
            .map_err(|e| explain("DeleteParameter", e))?;
        Ok(())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.held {
            eprintln!(
                "warning: the rollout lock {} was not released; remove it with --break-lock once no rollout runs",
                self.name
            );
        }
    }
}

/// Who holds the lock now, for `status`.
pub async fn holder(aws: &Aws, spec: &Spec) -> Option<String> {
    let found = aws
        .ssm
        .get_parameter()
        .name(parameter(spec))
        .send()
        .await
        .ok()?;
    found
        .parameter()
        .and_then(|parameter| parameter.value().map(str::to_owned))
}
