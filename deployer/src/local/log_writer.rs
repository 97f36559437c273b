//! An instance's output, copied line by line into its log file under `.dashctl/logs`, each line
//! prefixed with the time dashctl read it (RFC 3339, UTC): whatever the program prints, with a
//! timestamp of its own or none, `dashctl logs` can interleave instances by real time.

use std::io::Write;
use std::time::SystemTime;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::task::JoinHandle;

/// A longer run of bytes without a newline is written as lines of this length, so a program
/// printing without newlines cannot make dashctl buffer without bound.
const MAX_LINE: usize = 64 * 1024;

/// The stamp in front of every line: `2026-12-01T10:00:01.123456Z ` (one space after it).
pub fn stamp(at: SystemTime) -> String {
    humantime::format_rfc3339_micros(at).to_string()
}

/// Copies `output` into `log` until the program closes it (it exited, with everything it
/// started); returns once the last line is written.
pub fn copy_stamped(
    output: impl AsyncRead + Unpin + Send + 'static,
    log: std::fs::File,
    instance: String,
) -> JoinHandle<()> {
    tokio::spawn(copy_lines(output, log, instance))
}

async fn copy_lines(output: impl AsyncRead + Unpin, mut log: std::fs::File, instance: String) {
    let mut reader = BufReader::new(output);
    let mut line = Vec::new();
    let mut warned = false;
    loop {
        let buffered = match reader.fill_buf().await {
            Ok(buffered) => buffered,
            Err(error) => {
                tracing::warn!(instance = %instance, "cannot read the instance's output: {error}");
                break;
            }
        };
        if buffered.is_empty() {
            break;
        }
        let end = buffered
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(buffered.len(), |newline| newline + 1)
            .min(MAX_LINE - line.len());
        line.extend_from_slice(&buffered[..end]);
        reader.consume(end);
        if line.ends_with(b"\n") || line.len() >= MAX_LINE {
            write_line(&mut log, &line, &instance, &mut warned);
            line.clear();
        }
    }
    if !line.is_empty() {
        write_line(&mut log, &line, &instance, &mut warned);
    }
}

/// One `write` per line: the file is opened for appending, so lines of the instance's stdout
/// and stderr (two copiers) never mix within a line.
fn write_line(log: &mut std::fs::File, line: &[u8], instance: &str, warned: &mut bool) {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let stamp = stamp(SystemTime::now());
    let mut stamped = Vec::with_capacity(stamp.len() + text.len() + 2);
    stamped.extend_from_slice(stamp.as_bytes());
    stamped.push(b' ');
    stamped.extend_from_slice(text);
    stamped.push(b'\n');
    // A small append to a local file: cheaper than handing it to a blocking thread.
    if let Err(error) = log.write_all(&stamped) {
        if !*warned {
            *warned = true;
            tracing::warn!(instance = %instance, "cannot write the instance's log: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn copied(output: &'static [u8]) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        let log = std::fs::File::create(&path).expect("log");
        copy_stamped(output, log, "a".into()).await.expect("copier");
        std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The text after the stamp, checking that the stamp is one.
    fn message(line: &str) -> &str {
        let (stamp, message) = line.split_once(' ').expect("stamp and message");
        humantime::parse_rfc3339(stamp).expect("an RFC 3339 stamp");
        message
    }

    #[tokio::test]
    async fn every_line_gets_a_stamp_and_a_last_line_without_newline_is_kept() {
        let lines = copied(b"first\r\n{\"level\":\"INFO\"}\n\nlast").await;
        let messages: Vec<&str> = lines.iter().map(|line| message(line)).collect();
        assert_eq!(messages, ["first", "{\"level\":\"INFO\"}", "", "last"]);
    }

    #[tokio::test]
    async fn output_without_newlines_is_cut_into_bounded_lines() {
        let long: &'static [u8] = Box::leak(vec![b'x'; MAX_LINE * 2 + 10].into_boxed_slice());
        let lines = copied(long).await;
        let lengths: Vec<usize> = lines.iter().map(|line| message(line).len()).collect();
        assert_eq!(lengths, [MAX_LINE, MAX_LINE, 10]);
    }
}
