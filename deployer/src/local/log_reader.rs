//! `dashctl logs` on this machine: the files `dashctl up` writes under `.dashctl/logs`, one per
//! instance (`portal-green-3.log`, every line stamped by log_writer.rs), read and merged by
//! time. It remembers how far it read each file, so following is reading again.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;

use crate::log_line::{self, LogLine};
use crate::rollout::Color;

pub struct LocalLogs {
    dir: PathBuf,
    service: String,
    color: Option<Color>,
    files: BTreeMap<PathBuf, Cursor>,
}

/// How far one instance's file has been read.
struct Cursor {
    instance: String,
    color: Color,
    /// Whether reading has begun (the first read starts near `since`).
    started: bool,
    offset: u64,
    /// The start of a line still being written.
    partial: Vec<u8>,
    /// The time of the last stamped line, for lines without a stamp (written before dashctl
    /// stamped lines).
    last_at: SystemTime,
}

impl LocalLogs {
    /// `dir` is the run's logs directory (`.dashctl/logs` under the spec's workdir).
    pub fn new(dir: PathBuf, service: &str, color: Option<Color>) -> Self {
        Self {
            dir,
            service: service.to_owned(),
            color,
            files: BTreeMap::new(),
        }
    }

    /// Whether any instance of the service (of the color asked for) has a log file.
    pub fn has_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// The complete lines written since the last call (everything on the first), from `since`
    /// on, in time order. New instances' files are picked up.
    pub fn read_new(&mut self, since: SystemTime) -> anyhow::Result<Vec<LogLine>> {
        self.find_files()?;
        let mut lines = Vec::new();
        for (path, cursor) in &mut self.files {
            cursor
                .read(path, &self.service, since, &mut lines)
                .with_context(|| format!("reading {}", path.display()))?;
        }
        log_line::in_time_order(&mut lines);
        Ok(lines)
    }

    fn find_files(&mut self) -> anyhow::Result<()> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => {
                return Err(error).with_context(|| format!("listing {}", self.dir.display()));
            }
        };
        for entry in entries {
            let path = entry
                .with_context(|| format!("listing {}", self.dir.display()))?
                .path();
            if self.files.contains_key(&path) {
                continue;
            }
            let Some((instance, color)) = instance_of(&path, &self.service) else {
                continue;
            };
            if self.color.is_some_and(|wanted| wanted != color) {
                continue;
            }
            self.files.insert(
                path,
                Cursor {
                    instance,
                    color,
                    started: false,
                    offset: 0,
                    partial: Vec::new(),
                    last_at: SystemTime::UNIX_EPOCH,
                },
            );
        }
        Ok(())
    }
}

/// `portal-green-3.log` is instance `portal-green-3` of service `portal`, color green.
fn instance_of(path: &Path, service: &str) -> Option<(String, Color)> {
    let instance = path.file_name()?.to_str()?.strip_suffix(".log")?;
    let (color, number) = instance
        .strip_prefix(service)?
        .strip_prefix('-')?
        .split_once('-')?;
    let color = match color {
        "blue" => Color::Blue,
        "green" => Color::Green,
        _ => return None,
    };
    let numbered = !number.is_empty() && number.bytes().all(|byte| byte.is_ascii_digit());
    numbered.then(|| (instance.to_owned(), color))
}

impl Cursor {
    fn read(
        &mut self,
        path: &Path,
        service: &str,
        since: SystemTime,
        lines: &mut Vec<LogLine>,
    ) -> std::io::Result<()> {
        let mut file = match std::fs::File::open(path) {
            Ok(file) => file,
            // Removed since it was listed (a new `up` cleaned the directory): nothing to read.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated: its content is new.
            self.offset = 0;
            self.partial.clear();
        }
        if !self.started {
            self.started = true;
            self.offset = start_near(&mut file, len, since)?;
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut reader = BufReader::new(file);
        let mut raw = std::mem::take(&mut self.partial);
        loop {
            let read = reader.read_until(b'\n', &mut raw)?;
            if read == 0 {
                break;
            }
            self.offset += read as u64;
            let Some(line) = raw.strip_suffix(b"\n") else {
                // The instance is still writing it: the rest comes with the next read.
                break;
            };
            let text = String::from_utf8_lossy(line);
            let (at, message) = match stamped(&text) {
                Some((at, message)) => {
                    self.last_at = at;
                    (at, message.to_owned())
                }
                None => (self.last_at, text.into_owned()),
            };
            if at >= since {
                lines.push(LogLine {
                    at,
                    service: service.to_owned(),
                    color: Some(self.color),
                    instance: self.instance.clone(),
                    message,
                });
            }
            raw.clear();
        }
        self.partial = raw;
        Ok(())
    }
}

/// Below this many bytes a log is read from its start.
const SCAN: u64 = 64 * 1024;

/// Where to start reading a log for the lines from `since` on: a line start before which
/// every line is older. Lines are appended in time order, so a bisection on their stamps finds
/// it without reading a long log from its start.
fn start_near(file: &mut std::fs::File, len: u64, since: SystemTime) -> std::io::Result<u64> {
    let (mut low, mut high) = (0, len);
    while high.saturating_sub(low) > SCAN {
        let middle = low + (high - low) / 2;
        match first_stamp_after(file, middle)? {
            Some((line_start, at)) if at < since && line_start < high => low = line_start,
            _ => high = middle,
        }
    }
    Ok(low)
}

/// The first stamped line starting after `offset` (within `SCAN` bytes): where it starts,
/// and its time.
fn first_stamp_after(
    file: &mut std::fs::File,
    offset: u64,
) -> std::io::Result<Option<(u64, SystemTime)>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::new(Read::by_ref(file).take(SCAN));
    let mut line = Vec::new();
    // The rest of the line `offset` falls into.
    let mut position = offset + reader.read_until(b'\n', &mut line)? as u64;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 || !line.ends_with(b"\n") {
            return Ok(None);
        }
        if let Some((at, _)) = stamped(&String::from_utf8_lossy(&line)) {
            return Ok(Some((position, at)));
        }
        position += read as u64;
    }
}

/// A line as log_writer.rs writes it: its stamp, one space, what the instance printed.
fn stamped(line: &str) -> Option<(SystemTime, &str)> {
    let (stamp, message) = line.split_once(' ')?;
    let at = humantime::parse_rfc3339(stamp).ok()?;
    Some((at, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_119_200 + seconds)
    }

    fn line(seconds: u64, message: &str) -> String {
        format!(
            "{} {message}\n",
            super::super::log_writer::stamp(at(seconds))
        )
    }

    fn messages(lines: &[LogLine]) -> Vec<String> {
        lines
            .iter()
            .map(|line| format!("{} {}", line.source(), line.message))
            .collect()
    }

    #[test]
    fn instances_are_merged_by_time_filtered_by_color_and_age_and_read_on_from_where_they_ended() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.path().join(name))
                .and_then(|mut file| file.write_all(text.as_bytes()))
                .expect("write");
        };
        write(
            "portal-blue-1.log",
            &format!("{}{}", line(1, "blue up"), line(5, "blue stops")),
        );
        write("portal-green-2.log", &line(3, "green up"));
        write("portal-blue-extra.log", &line(2, "not an instance"));
        write("portal-blue-1.txt", &line(2, "not a log"));
        write("postgres-main.log", &line(2, "a database"));
        write("portal2-blue-1.log", &line(2, "another service"));

        let mut logs = LocalLogs::new(dir.path().to_owned(), "portal", None);
        assert_eq!(
            messages(&logs.read_new(at(0)).expect("read")),
            [
                "portal/blue/portal-blue-1 blue up",
                "portal/green/portal-green-2 green up",
                "portal/blue/portal-blue-1 blue stops",
            ]
        );

        // Following: only what was written since, a half-written line once it is complete.
        write("portal-green-2.log", &line(6, "green serves"));
        write("portal-green-2.log", "no stamp\n");
        write("portal-green-2.log", "half");
        assert_eq!(
            messages(&logs.read_new(at(0)).expect("read")),
            [
                "portal/green/portal-green-2 green serves",
                "portal/green/portal-green-2 no stamp",
            ]
        );
        write("portal-green-2.log", " a line\n");
        write("portal-blue-4.log", &line(7, "a new instance"));
        let lines = logs.read_new(at(0)).expect("read");
        assert_eq!(
            messages(&lines),
            [
                "portal/green/portal-green-2 half a line",
                "portal/blue/portal-blue-4 a new instance",
            ]
        );
        assert_eq!(
            lines[0].at,
            at(6),
            "an unstamped line has its file's last time"
        );

        let mut green = LocalLogs::new(dir.path().to_owned(), "portal", Some(Color::Green));
        assert_eq!(
            messages(&green.read_new(at(4)).expect("read")),
            [
                "portal/green/portal-green-2 green serves",
                "portal/green/portal-green-2 no stamp",
                "portal/green/portal-green-2 half a line",
            ]
        );
    }

    #[test]
    fn a_long_log_is_read_from_near_since_without_losing_a_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut text = String::from("a line from before stamps\n");
        for second in 0..20_000 {
            text.push_str(&line(second, &format!("line {second}")));
            if second % 1000 == 0 {
                text.push_str("an unstamped line\n");
            }
        }
        std::fs::write(dir.path().join("portal-blue-1.log"), &text).expect("write");
        let mut logs = LocalLogs::new(dir.path().to_owned(), "portal", None);
        let lines = logs.read_new(at(15_000)).expect("read");
        assert_eq!(lines.len(), 5_000 + 5, "{:?}", lines.first());
        assert_eq!(lines[0].message, "line 15000");
        assert_eq!(lines[1].message, "an unstamped line");
        assert_eq!(
            lines.last().map(|line| line.message.as_str()),
            Some("line 19999")
        );

        let mut everything = LocalLogs::new(dir.path().to_owned(), "portal", None);
        let all = everything.read_new(SystemTime::UNIX_EPOCH).expect("read");
        assert_eq!(all.len(), 1 + 20_000 + 20);
        assert_eq!(all[0].message, "a line from before stamps");
    }

    #[test]
    fn no_logs_directory_is_no_lines() {
        let mut logs = LocalLogs::new(PathBuf::from("/nonexistent/dashctl/logs"), "portal", None);
        assert!(
            logs.read_new(SystemTime::UNIX_EPOCH)
                .expect("read")
                .is_empty()
        );
        assert!(!logs.has_files());
    }
}
