//! Long work on one resource, reported as it starts and when it finishes (how it is shown is
//! the command layer's business).

use std::time::Instant;

use crate::events::{Event, Events};

pub struct Progress {
    events: Events,
}

pub struct Task {
    events: Events,
    label: String,
    started: Instant,
}

impl Progress {
    pub fn new(events: &Events) -> Self {
        Self {
            events: events.clone(),
        }
    }

    pub fn start(&self, label: String) -> Task {
        self.events.emit(Event::ResourceStarted {
            label: label.clone(),
        });
        Task {
            events: self.events.clone(),
            label,
            started: Instant::now(),
        }
    }
}

impl Task {
    pub fn finish<T>(self, result: &anyhow::Result<T>) {
        self.events.emit(Event::ResourceFinished {
            label: self.label,
            took: self.started.elapsed(),
            error: result.as_ref().err().map(|error| format!("{error:#}")),
        });
    }
}
