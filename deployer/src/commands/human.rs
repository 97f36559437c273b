//! Events as the lines a person reads: results on stdout, progress and notices on stderr. On a
//! terminal each resource being worked on gets a spinner; otherwise (CI logs) one line when it
//! finishes.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::events::{Event, Events, Reach, Running, Summary};
use crate::plan;

pub struct Human {
    bars: Option<MultiProgress>,
    /// Spinners of the resources being worked on, by label (oldest first for a repeated one).
    spinning: Mutex<HashMap<String, Vec<ProgressBar>>>,
}

impl Human {
    pub fn new() -> Self {
        Self {
            bars: std::io::stderr().is_terminal().then(MultiProgress::new),
            spinning: Mutex::new(HashMap::new()),
        }
    }

    /// A sink that shows every event as it happens.
    pub fn events() -> Events {
        let human = Arc::new(Self::new());
        Events::new(move |event| human.show(&event))
    }

    pub fn show(&self, event: &Event) {
        match event {
            Event::LockBroken {
                lock,
                journal_kept: false,
            } => eprintln!("removed the rollout lock {lock} (--break-lock)"),
            Event::LockBroken {
                lock,
                journal_kept: true,
            } => eprintln!(
                "ended the lease on the rollout lock {lock} (--break-lock); the unfinished rollout it journals stays"
            ),
            Event::LockTakenOver { holder } => {
                eprintln!("taking over the rollout lock: {holder} (its holder stopped renewing it)")
            }
            Event::LockLost { lock } => {
                eprintln!("warning: the rollout lock {lock} was taken from this run");
            }
            Event::LockRenewalFailed { error } => {
                eprintln!("warning: could not renew the rollout lock: {error}");
            }
            Event::LockNotReleased { holder } => {
                eprintln!("warning: not releasing the rollout lock: it is now held by {holder}")
            }
            Event::LockLeftBehind {
                lock,
                expires_within,
            } => eprintln!(
                "warning: the rollout lock {lock} was not released; it expires within {}s (or pass --break-lock once no rollout runs)",
                expires_within.as_secs()
            ),
            Event::WaitingForDrain {
                service: Some(service),
                ecs_service,
            } => eprintln!(
                "  {service}: waiting for the deleted ECS service {ecs_service} to finish draining"
            ),
            Event::WaitingForDrain {
                service: None,
                ecs_service,
            } => eprintln!("  … waiting for ECS service {ecs_service} to finish draining"),
            Event::AlarmFiring { service, alarms } => {
                eprintln!("  {service}: alarm {} is firing", alarms.join(", "));
            }
            Event::Retrying {
                what,
                code,
                message,
                limit,
            } => eprintln!(
                "  … {what}: waiting ({code}: {message}); retrying for up to {}",
                humantime::format_duration(*limit)
            ),
            Event::ResourceStarted { label } => self.spin(label),
            Event::ResourceFinished { label, took, error } => {
                self.finish(label, *took, error.as_deref());
            }
            Event::Plan { changes } => print!("{}", plan::render(changes)),
            Event::RolloutPlan {
                service,
                live,
                steps,
            } => {
                println!("Rollout of {service} ({live} is live):");
                for step in steps {
                    println!("  - {step}");
                }
            }
            Event::DryRun => println!("Dry run: nothing was changed."),
            Event::ServiceLinkedRoleCreated { role } => eprintln!(
                "created the service-linked role {role} (first use of ECS or its autoscaling in this account)"
            ),
            Event::WaitingForHealthyTasks => {
                eprintln!("waiting for new tasks to pass their health checks...");
            }
            Event::Rollout { service, step } => eprintln!("  {service}: {step}"),
            Event::Live { outcome } => println!(
                "{}: live on {} (was {})",
                outcome.service,
                outcome.to,
                outcome
                    .from
                    .map_or_else(|| "nothing".to_owned(), |color| color.to_string())
            ),
            Event::Paused { rollout } => println!("{}", rollout.what_next()),
            Event::Aborted {
                service,
                color,
                live,
            } => println!(
                "{service}: rollout to {color} aborted; {}",
                live.map_or_else(
                    || "the service serves nothing yet".to_owned(),
                    |live| format!("{live} serves all traffic")
                )
            ),
            Event::Unchanged { service } => eprintln!("  {service}: unchanged"),
            Event::NothingToDeploy => {
                println!("nothing to deploy: every service already runs what the spec says");
            }
            Event::NothingToRollBack { message } => println!("{message}"),
            Event::NothingRolledBack => println!("nothing to roll back"),
            Event::Deployed(summary) => summarise(summary),
            Event::Endpoint {
                service,
                url,
                reach,
            } => {
                let scope = match reach {
                    Reach::Public => "public",
                    Reach::Vpc => "internal, VPC only",
                };
                println!("  {service}: {url} ({scope})");
            }
            Event::StoppingLeftovers { count } => eprintln!(
                "dashctl up: stopping {count} instance(s) left by a previous run that did not stop cleanly"
            ),
            Event::Building { command } => {
                eprintln!("dashctl up: building: {}", command.join(" "));
            }
            Event::InitialisingDatabase { database, data_dir } => eprintln!(
                "dashctl up: database {database}: initialising PostgreSQL in {} (first run)",
                data_dir.display()
            ),
            Event::DatabaseReady {
                database,
                port,
                took,
            } => eprintln!(
                "dashctl up: database {database}: PostgreSQL on 127.0.0.1:{port} ready in {:.1}s",
                took.as_secs_f64()
            ),
            Event::Up(running) => show_running(running),
            Event::Stopping => {
                eprintln!("dashctl up: stopping: draining and stopping every instance");
            }
            Event::Stopped => eprintln!("dashctl up: stopped"),
        }
    }

    fn spin(&self, label: &str) {
        let Some(bars) = &self.bars else {
            return;
        };
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.spinning
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(label.to_owned())
            .or_default()
            .push(bar);
    }

    fn finish(&self, label: &str, took: Duration, error: Option<&str>) {
        let bar = {
            let mut spinning = self
                .spinning
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let bars = spinning.get_mut(label);
            let bar = bars.and_then(|bars| (!bars.is_empty()).then(|| bars.remove(0)));
            spinning.retain(|_, bars| !bars.is_empty());
            bar
        };
        // A spinner already shows the mark's meaning by stopping; the line stays plain.
        let line = match error {
            None => format!("{label} ({:.1}s)", took.as_secs_f64()),
            Some(error) => format!("{label}: {error}"),
        };
        match bar {
            Some(bar) => bar.finish_with_message(line),
            None if error.is_none() => eprintln!("  ✓ {line}"),
            None => eprintln!("  ✗ {line}"),
        }
    }
}

impl Default for Human {
    fn default() -> Self {
        Self::new()
    }
}

fn summarise(summary: &Summary) {
    println!(
        "Deployed {} ({}) to {}: {} created, {} updated, {} deleted, {} rolled out in {:.1}s.",
        summary.app,
        summary.environment,
        summary.region,
        summary.created,
        summary.updated,
        summary.deleted,
        summary.rolled_out,
        summary.took.as_secs_f64()
    );
}

fn show_running(running: &Running) {
    for endpoint in &running.services {
        let scope = if endpoint.public {
            "public"
        } else {
            "internal, this machine only"
        };
        eprintln!("  {:<12} {}  ({scope})", endpoint.service, endpoint.url);
    }
    eprintln!(
        "dashctl up: running {} ({}); logs in {}",
        running.app,
        running.environment,
        running.logs_dir.display()
    );
    eprintln!(
        "  `dashctl status -f {}` shows instances; Ctrl-C or `dashctl down` stops everything",
        running.spec.display()
    );
}
