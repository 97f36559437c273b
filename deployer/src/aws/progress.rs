//! Progress for long AWS work: a spinner per resource on a terminal, one line per finished
//! step otherwise (CI logs stay readable).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub struct Progress {
    bars: Option<MultiProgress>,
}

pub struct Task {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
}

impl Progress {
    pub fn new() -> Self {
        Self {
            bars: std::io::stderr().is_terminal().then(MultiProgress::new),
        }
    }

    pub fn start(&self, label: String) -> Task {
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(label.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Task {
            bar,
            label,
            started: Instant::now(),
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Task {
    pub fn finish(self, result: &anyhow::Result<()>) {
        let line = match result {
            Ok(()) => format!(
                "  ✓ {} ({:.1}s)",
                self.label,
                self.started.elapsed().as_secs_f64()
            ),
            Err(error) => format!("  ✗ {}: {error:#}", self.label),
        };
        match self.bar {
            Some(bar) => bar.finish_with_message(
                line.trim_start()
                    .trim_start_matches(['✓', '✗'])
                    .trim()
                    .to_owned(),
            ),
            None => eprintln!("{line}"),
        }
    }
}
