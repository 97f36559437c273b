//! One deploy, rollback or destroy per app and environment at a time. The lock is an SSM
//! parameter created only if absent (`Overwrite=false`). Its value says who holds it, a token
//! only the holder knows, and when its lease runs out: the holder renews the lease while it
//! works, so a lock whose holder died (SIGKILL, a lost CI runner) expires by itself instead of
//! blocking every later run. Only the holder (or `--break-lock`) removes it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Aws;
use super::names::Names;
use super::parameters::{delete, put, read};
use crate::events::{Event, Events};
use crate::spec::Spec;

/// How long a lock stays valid without renewal.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the holder renews it.
const RENEW_EVERY: Duration = Duration::from_secs(30);

pub fn parameter(spec: &Spec) -> String {
    let names = Names::new(spec);
    format!("/dashctl/{}/{}/rollout-lock", names.app, names.environment)
}

/// What the parameter holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    /// `deploy by alice@laptop (pid 4242) since 2026-11-30T12:00:00Z`.
    pub holder: String,
    pub token: String,
    /// Seconds since the Unix epoch when the lease runs out.
    pub expires: u64,
}

impl Holder {
    fn parse(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }

    fn expired(&self) -> bool {
        now() >= self.expires
    }

    /// For people: who, and how long the lease still runs.
    pub fn describe(&self) -> String {
        let left = self.expires.saturating_sub(now());
        if left == 0 {
            format!("{} (lease expired)", self.holder)
        } else {
            format!("{} (lease renewed, expires in {left}s)", self.holder)
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub struct Lock {
    name: String,
    token: String,
    renewal: CancellationToken,
    held: bool,
    /// Where a lock left behind is reported when this is dropped unreleased.
    events: Events,
}

impl Lock {
    /// Takes the lock, or says who holds it. An expired lease is taken over; `break_lock`
    /// removes a live one first (for a holder known to be gone).
    pub async fn acquire(
        aws: &Aws,
        spec: &Spec,
        purpose: &str,
        break_lock: bool,
    ) -> anyhow::Result<Self> {
        let name = parameter(spec);
        if break_lock {
            delete(aws, &name).await?;
            aws.events.emit(Event::LockBroken { lock: name.clone() });
        }
        let holder = Holder {
            holder: format!(
                "{purpose} by {} on {} (pid {}) since {}",
                aws.caller,
                std::fs::read_to_string("/etc/hostname")
                    .map(|host| host.trim().to_owned())
                    .unwrap_or_else(|_| "unknown".to_owned()),
                std::process::id(),
                humantime::format_rfc3339_seconds(SystemTime::now())
            ),
            token: token(),
            expires: now() + LEASE.as_secs(),
        };
        // Two tries: the second after removing a lock whose lease ran out.
        for _ in 0..2 {
            if put(aws, &name, &holder, false).await? {
                return Ok(Self::held(aws, name, holder));
            }
            let Some(current) = read(aws, &name).await? else {
                continue;
            };
            match Holder::parse(&current) {
                Some(other) if other.expired() => {
                    aws.events.emit(Event::LockTakenOver {
                        holder: other.describe(),
                    });
                    // Remove it only if it is still that same expired lock.
                    if read(aws, &name).await?.as_deref() == Some(current.as_str()) {
                        delete(aws, &name).await?;
                    }
                }
                other => anyhow::bail!(
                    "another deploy, rollback or destroy of {} ({}) is in progress: {}. Wait for it; if that run is gone, its lease expires within {}s, or pass --break-lock",
                    spec.app,
                    spec.environment,
                    other.map_or_else(|| current.clone(), |other| other.describe()),
                    LEASE.as_secs()
                ),
            }
        }
        anyhow::bail!("could not take the rollout lock {name}: it keeps changing hands")
    }

    fn held(aws: &Aws, name: String, holder: Holder) -> Self {
        let renewal = CancellationToken::new();
        let stop = renewal.clone();
        let ssm_aws = aws.clone();
        let parameter = name.clone();
        let token = holder.token.clone();
        tokio::spawn(async move {
            let mut holder = holder;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(RENEW_EVERY) => {}
                }
                // Renew only while it is still ours.
                let still_ours = read(&ssm_aws, &parameter)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|value| Holder::parse(&value))
                    .is_some_and(|current| current.token == holder.token);
                if !still_ours {
                    ssm_aws.events.emit(Event::LockLost { lock: parameter });
                    return;
                }
                holder.expires = now() + LEASE.as_secs();
                if let Err(error) = put(&ssm_aws, &parameter, &holder, true).await {
                    ssm_aws.events.emit(Event::LockRenewalFailed {
                        error: format!("{error:#}"),
                    });
                }
            }
        });
        Self {
            token,
            name,
            renewal,
            held: true,
            events: aws.events.clone(),
        }
    }

    /// Removes the lock if this run still holds it.
    pub async fn release(mut self, aws: &Aws) -> anyhow::Result<()> {
        self.held = false;
        self.renewal.cancel();
        let current = read(aws, &self.name).await?;
        match current.as_deref().and_then(Holder::parse) {
            Some(holder) if holder.token == self.token => delete(aws, &self.name).await,
            Some(other) => {
                aws.events.emit(Event::LockNotReleased {
                    holder: other.describe(),
                });
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.renewal.cancel();
        if self.held {
            self.events.emit(Event::LockLeftBehind {
                lock: self.name.clone(),
                expires_within: LEASE,
            });
        }
    }
}

/// Who holds the lock now, for `status`.
pub async fn holder(aws: &Aws, spec: &Spec) -> Option<String> {
    let value = read(aws, &parameter(spec)).await.ok()??;
    Some(Holder::parse(&value).map_or(value, |holder| holder.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_in_the_past_has_expired() {
        let mut holder = Holder {
            holder: "deploy by a".into(),
            token: token(),
            expires: now() + 60,
        };
        assert!(!holder.expired());
        assert!(holder.describe().contains("expires in"));
        holder.expires = now().saturating_sub(1);
        assert!(holder.expired());
        assert!(holder.describe().contains("lease expired"));
        let text = serde_json::to_string(&holder).expect("json");
        assert_eq!(Holder::parse(&text), Some(holder));
        assert_eq!(Holder::parse("deploy by someone (old format)"), None);
    }
}
