//! One deploy, rollback or destroy per app and environment at a time. The lock is an SSM
//! parameter created only if absent (`Overwrite=false`). Its value says who holds it, a token
//! only the holder knows, and when its lease runs out: the holder renews the lease while it
//! works, so a lock whose holder died (SIGKILL, a lost CI runner) expires by itself instead of
//! blocking every later run. Only the holder (or `--break-lock`) removes it.
//!
//! The value also carries the journal of the rollout in progress (`rollout::journal`): how
//! far it got. A run that ends with its rollout unfinished (paused by `--wait-until`, traffic
//! that could not be moved back, a killed dashctl) leaves the journal behind with the lease
//! over, and every later deploy or rollback refuses until `dashctl rollout resume` or
//! `dashctl rollout abort`, which take the journal over, finish it.

use std::sync::Arc;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::Aws;
use super::names::Names;
use super::parameters::{delete, put, read};
use crate::events::{Event, Events};
use crate::rollout::{Journal, JournalView};
use crate::spec::Spec;

/// A journal as the lock keeps it: the platform's memo of the old release left as JSON.
pub type StoredJournal = Journal<serde_json::Value>;

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
    /// The rollout in progress, once one has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<StoredJournal>,
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

    /// The lock as `rollout status` shows it.
    pub fn report(&self) -> LockReport {
        LockReport {
            holder: self.holder.clone(),
            lease_seconds_left: Some(self.expires.saturating_sub(now())),
            rollout: self.journal.as_ref().map(JournalView::from),
        }
    }
}

/// Who holds the lock, for how much longer, and the rollout it journals.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockReport {
    pub holder: String,
    /// 0: nobody runs it now (paused, or its dashctl died and the lease ran out). None: the
    /// value is not one this dashctl writes, and is taken as held.
    pub lease_seconds_left: Option<u64>,
    pub rollout: Option<JournalView>,
}

impl LockReport {
    /// One or two lines for people.
    pub fn describe(&self) -> String {
        match (&self.rollout, self.lease_seconds_left) {
            (Some(rollout), Some(0)) => rollout.what_next(),
            (Some(rollout), left) => format!(
                "rollout in progress: {} (lease renewed, expires in {}s)\n{}",
                self.holder,
                left.unwrap_or_default(),
                rollout.describe()
            ),
            (None, Some(0)) => format!("lock left by {} (lease expired)", self.holder),
            (None, Some(left)) => format!(
                "rollout in progress: {} (lease renewed, expires in {left}s)",
                self.holder
            ),
            (None, None) => format!("rollout in progress: {}", self.holder),
        }
    }

    /// Whether a run holds the lock now.
    pub fn is_held(&self) -> bool {
        self.lease_seconds_left != Some(0)
    }
}

/// What taking the lock does about a journaled rollout a run left unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journaled {
    /// deploy, rollback: refuse; the rollout must be resumed or aborted first.
    Refuse,
    /// destroy: everything goes, the rollout with it.
    Discard,
    /// `rollout resume` and `rollout abort`: take it over (and require one).
    Adopt,
}

/// A deploy or rollback found a rollout that a run left unfinished.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.what_next())]
pub struct UnfinishedRollout(pub JournalView);

/// `rollout resume` or `rollout abort` with nothing journaled.
#[derive(Debug, thiserror::Error)]
#[error("no rollout of {app} ({environment}) is unfinished: there is nothing to {verb}")]
pub struct NoUnfinishedRollout {
    pub app: String,
    pub environment: String,
    pub verb: String,
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
    /// The value as this run last wrote it; the renewal and `record` write it under this lock,
    /// so neither undoes the other's change.
    value: Arc<tokio::sync::Mutex<Holder>>,
    token: String,
    renewal: CancellationToken,
    held: bool,
    /// Where a lock left behind is reported when this is dropped unreleased.
    events: Events,
}

impl Lock {
    /// Runs `work` holding the lock (taken as [`Lock::acquire`] takes it) and releases it
    /// afterwards, whatever `work` came to.
    pub async fn hold<T>(
        aws: &Aws,
        spec: &Spec,
        purpose: &str,
        break_lock: bool,
        journaled: Journaled,
        work: impl AsyncFnOnce(&Lock) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let lock = Self::acquire(aws, spec, purpose, break_lock, journaled).await?;
        let result = work(&lock).await;
        lock.release(aws).await?;
        result
    }

    /// Takes the lock, or says who holds it. An expired lease is taken over; `break_lock`
    /// ends a live one first (for a holder known to be gone), keeping its journal.
    pub async fn acquire(
        aws: &Aws,
        spec: &Spec,
        purpose: &str,
        break_lock: bool,
        journaled: Journaled,
    ) -> anyhow::Result<Self> {
        let name = parameter(spec);
        if break_lock {
            let journal_kept = end_lease(aws, &name).await?;
            aws.events.emit(Event::LockBroken {
                lock: name.clone(),
                journal_kept,
            });
        }
        let mut holder = Holder {
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
            journal: None,
        };
        // Two tries: the second after removing a lock whose lease ran out.
        for _ in 0..2 {
            if (journaled != Journaled::Adopt || holder.journal.is_some())
                && put(aws, &name, &holder, false).await?
            {
                return Ok(Self::held(aws, name, holder));
            }
            let Some(current) = read(aws, &name).await? else {
                if journaled == Journaled::Adopt {
                    return Err(nothing_unfinished(spec, purpose));
                }
                continue;
            };
            match Holder::parse(&current) {
                Some(other) if other.expired() => {
                    match (&other.journal, journaled) {
                        (Some(journal), Journaled::Refuse) => {
                            return Err(UnfinishedRollout(JournalView::from(journal)).into());
                        }
                        (None, Journaled::Adopt) => {
                            return Err(nothing_unfinished(spec, purpose));
                        }
                        (journal, _) => {
                            if journaled == Journaled::Adopt {
                                holder.journal.clone_from(journal);
                            }
                        }
                    }
                    if other.journal.is_none() {
                        aws.events.emit(Event::LockTakenOver {
                            holder: other.describe(),
                        });
                    }
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
        let value = Arc::new(tokio::sync::Mutex::new(holder));
        let renewed = value.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(RENEW_EVERY) => {}
                }
                let mut holder = renewed.lock().await;
                if !still_ours(&ssm_aws, &parameter, &holder.token).await {
                    ssm_aws.events.emit(Event::LockLost { lock: parameter });
                    return;
                }
                holder.expires = now() + LEASE.as_secs();
                if let Err(error) = put(&ssm_aws, &parameter, &*holder, true).await {
                    ssm_aws.events.emit(Event::LockRenewalFailed {
                        error: format!("{error:#}"),
                    });
                }
            }
        });
        Self {
            token,
            name,
            value,
            renewal,
            held: true,
            events: aws.events.clone(),
        }
    }

    /// The rollout journal this lock carries (the one taken over, for resume and abort).
    pub async fn journal(&self) -> Option<StoredJournal> {
        self.value.lock().await.journal.clone()
    }

    /// Writes `journal` (None: the rollout is over) into the lock, if this run still holds it.
    pub async fn record(&self, aws: &Aws, journal: Option<StoredJournal>) -> anyhow::Result<()> {
        let mut holder = self.value.lock().await;
        if !still_ours(aws, &self.name, &self.token).await {
            anyhow::bail!(
                "the rollout lock {} is no longer this run's (its lease ran out, or it was broken)",
                self.name
            );
        }
        holder.journal = journal;
        put(aws, &self.name, &*holder, true).await?;
        Ok(())
    }

    /// Gives the lock up if this run still holds it: removes it, or, while a rollout is
    /// journaled, ends the lease and leaves the journal for `rollout resume` or `abort`.
    pub async fn release(mut self, aws: &Aws) -> anyhow::Result<()> {
        self.held = false;
        self.renewal.cancel();
        let current = read(aws, &self.name).await?;
        match current.as_deref().and_then(Holder::parse) {
            Some(holder) if holder.token == self.token => {
                if holder.journal.is_some() {
                    let ended = Holder {
                        expires: 0,
                        ..holder
                    };
                    put(aws, &self.name, &ended, true).await?;
                    Ok(())
                } else {
                    delete(aws, &self.name).await
                }
            }
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

/// `--break-lock`: the lease ends now; a journaled rollout stays for resume or abort (true:
/// there was one, and only the lease ended).
async fn end_lease(aws: &Aws, name: &str) -> anyhow::Result<bool> {
    match read(aws, name).await?.as_deref().and_then(Holder::parse) {
        Some(holder) if holder.journal.is_some() => {
            let ended = Holder {
                expires: 0,
                ..holder
            };
            put(aws, name, &ended, true).await?;
            Ok(true)
        }
        _ => delete(aws, name).await.map(|()| false),
    }
}

async fn still_ours(aws: &Aws, name: &str, token: &str) -> bool {
    read(aws, name)
        .await
        .ok()
        .flatten()
        .and_then(|value| Holder::parse(&value))
        .is_some_and(|current| current.token == token)
}

fn nothing_unfinished(spec: &Spec, purpose: &str) -> anyhow::Error {
    NoUnfinishedRollout {
        app: spec.app.clone(),
        environment: spec.environment.clone(),
        verb: purpose.to_owned(),
    }
    .into()
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

/// The lock as it is now (None: nobody holds it and no rollout is unfinished).
pub async fn report(aws: &Aws, spec: &Spec) -> anyhow::Result<Option<LockReport>> {
    let Some(value) = read(aws, &parameter(spec)).await? else {
        return Ok(None);
    };
    Ok(Some(Holder::parse(&value).map_or_else(
        || LockReport {
            holder: value.clone(),
            lease_seconds_left: None,
            rollout: None,
        },
        |holder| holder.report(),
    )))
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
            journal: None,
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
