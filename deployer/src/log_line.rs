//! One line of a service's logs as `dashctl logs` prints it, whichever platform it came from.

use std::fmt;
use std::time::SystemTime;

use crate::rollout::Color;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When it was written (locally: when dashctl read it from the instance; on AWS: the
    /// event's timestamp).
    pub at: SystemTime,
    pub service: String,
    /// `None` for an AWS task ECS no longer lists (stopped more than about an hour ago).
    pub color: Option<Color>,
    /// The local instance id (`portal-green-3`) or the ECS task id.
    pub instance: String,
    pub message: String,
}

impl LogLine {
    /// `portal/green/portal-green-3`: who wrote it; `?` for a color nobody knows any more.
    pub fn source(&self) -> String {
        let color = self.color.map_or("?", Color::as_str);
        format!("{}/{color}/{}", self.service, self.instance)
    }
}

/// `2026-12-01T10:00:01.123Z portal/green/portal-green-3  message`
impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}  {}",
            humantime::format_rfc3339_millis(self.at),
            self.source(),
            self.message
        )
    }
}

/// Lines of several instances in time order; lines of one instance keep their order, also
/// when they share a timestamp.
pub fn in_time_order(lines: &mut [LogLine]) {
    lines.sort_by_key(|line| line.at);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_line_names_its_time_service_color_and_instance() {
        let line = LogLine {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_119_201_123),
            service: "portal".into(),
            color: Some(Color::Green),
            instance: "portal-green-3".into(),
            message: "portal listening".into(),
        };
        assert_eq!(
            line.to_string(),
            "2026-12-01T10:00:01.123Z portal/green/portal-green-3  portal listening"
        );
        let unknown = LogLine {
            color: None,
            ..line
        };
        assert_eq!(unknown.source(), "portal/?/portal-green-3");
    }
}
