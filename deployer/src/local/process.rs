//! Which process a pid names, and stopping whole process groups.
//!
//! A pid read back later (from control.json, after `up` died) may have been reused by an
//! unrelated process. The kernel's start time of a process never changes, and a later process
//! that gets the same pid starts later, so pid + start time names one process for good: nothing
//! read back from a file is signalled unless both still match.
//!
//! Instances run in their own process group (the instance is its leader), so whatever they
//! start themselves (a shell's background job, a worker) is stopped with them.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// How often a stopping group is checked for remaining members.
const POLL: Duration = Duration::from_millis(50);
/// After SIGKILL, how long to wait for the kernel to finish tearing the group down.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// One process, for as long as it lives: pid and start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProcessIdentity {
    pub pid: u32,
    /// Start time in clock ticks after boot (field 22 of `/proc/PID/stat`). Two processes with
    /// the same pid and start time would need the whole pid space to wrap within one tick.
    pub start_ticks: u64,
}

impl ProcessIdentity {
    /// The process running as `pid` now, or `None` if there is none (or /proc cannot say).
    pub fn current(pid: u32) -> Option<Self> {
        read_stat(pid).map(|stat| Self {
            pid,
            start_ticks: stat.start_ticks,
        })
    }

    /// Whether this very process still runs: same pid, same start time, not a zombie. A stat
    /// that cannot be read counts as "not ours".
    pub fn is_same_process(&self) -> bool {
        read_stat(self.pid)
            .is_some_and(|stat| stat.start_ticks == self.start_ticks && stat.is_live())
    }

    /// Sends `signal` to the process group this process leads, if it is still the same process
    /// and still leads its own group; returns whether it did. Between the check and the signal
    /// the pid could only be reused if the process exited, was reaped and the pid space
    /// wrapped around: not a practical race.
    pub fn signal_group(&self, signal: Signal) -> bool {
        let leads_its_group = read_stat(self.pid).is_some_and(|stat| {
            stat.start_ticks == self.start_ticks
                && stat.is_live()
                && u32::try_from(stat.pgrp) == Ok(self.pid)
        });
        leads_its_group && send_to_group(self.pid, signal)
    }

    /// Stops the group this process leads (SIGTERM, then SIGKILL after `grace`), if it is still
    /// the same process; returns whether it was. Waits until the group is gone.
    pub async fn stop_group(&self, grace: Duration) -> bool {
        if !self.signal_group(Signal::SIGTERM) {
            return false;
        }
        wait_or_kill_group(self.pid, grace).await;
        true
    }
}

/// Stops the process group `pgid` led by a child of ours that we have not reaped yet (or whose
/// other members are still running): SIGTERM to the group, SIGKILL to what is left after
/// `grace`. The kernel keeps a pid reserved while its process or any member of its group
/// exists, so this number cannot name anyone else's group while we find members in it.
pub async fn stop_child_group(pgid: u32, grace: Duration) {
    send_to_group(pgid, Signal::SIGTERM);
    wait_or_kill_group(pgid, grace).await;
}

/// Whether any process in group `pgid` is still running. Zombies do not count: they hold no
/// resources, and when PID 1 does not reap orphans they would linger forever.
pub fn group_is_running(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        // No /proc to list: ask the kernel whether the group exists at all.
        return i32::try_from(pgid).is_ok_and(|pgid| killpg(Pid::from_raw(pgid), None).is_ok());
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_stat)
        .any(|stat| u32::try_from(stat.pgrp) == Ok(pgid) && stat.is_live())
}

async fn wait_or_kill_group(pgid: u32, grace: Duration) {
    let deadline = Instant::now() + grace;
    while group_is_running(pgid) {
        if Instant::now() >= deadline {
            tracing::warn!(
                pgid,
                "process group still running after SIGTERM; sending SIGKILL"
            );
            send_to_group(pgid, Signal::SIGKILL);
            let deadline = Instant::now() + KILL_WAIT;
            while group_is_running(pgid) && Instant::now() < deadline {
                tokio::time::sleep(POLL).await;
            }
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `kill(-pgid, signal)`; false if there is no such group. Group 0 and 1 would mean "our own
/// group" and "everything": refused.
fn send_to_group(pgid: u32, signal: Signal) -> bool {
    match i32::try_from(pgid) {
        Ok(pgid) if pgid > 1 => killpg(Pid::from_raw(pgid), signal).is_ok(),
        _ => false,
    }
}

/// The fields of `/proc/PID/stat` this module needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    /// R, S, D, Z, T, ...
    pub state: char,
    pub pgrp: i64,
    pub start_ticks: u64,
}

impl Stat {
    /// Running or sleeping, not exited: a zombie (`Z`) or a dead task (`X`) is gone.
    fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

fn read_stat(pid: u32) -> Option<Stat> {
    if pid == 0 {
        return None;
    }
    let bytes = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&bytes).filter(|stat| stat.pid == pid)
}

/// Parses `PID (COMM) STATE PPID PGRP ... STARTTIME ...`. COMM is whatever the process named
/// itself: any bytes, spaces and parentheses included, so the fields are read after the
/// *last* `)`. Works on bytes because COMM need not be UTF-8.
pub fn parse_stat(bytes: &[u8]) -> Option<Stat> {
    let open = bytes.iter().position(|byte| *byte == b'(')?;
    let close = bytes.iter().rposition(|byte| *byte == b')')?;
    if close < open {
        return None;
    }
    let pid = std::str::from_utf8(&bytes[..open])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let rest = std::str::from_utf8(&bytes[close + 1..]).ok()?;
    // After COMM: field 3 (state) is rest[0], so field N is rest[N - 3].
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let mut state = fields.first()?.chars();
    let (Some(state), None) = (state.next(), state.next()) else {
        return None;
    };
    Some(Stat {
        pid,
        state,
        pgrp: fields.get(5 - 3)?.parse().ok()?,
        start_ticks: fields.get(22 - 3)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line's shape: 52 fields, starttime (22) = 123456, pgrp (5) = 4242.
    fn stat_line(pid: u32, comm: &str, state: char) -> Vec<u8> {
        let mut fields: Vec<String> = (4..=52).map(|n| n.to_string()).collect();
        fields[5 - 4] = "4242".into();
        fields[22 - 4] = "123456".into();
        format!("{pid} ({comm}) {state} {}\n", fields.join(" ")).into_bytes()
    }

    #[test]
    fn parses_fields_after_the_last_parenthesis() {
        for comm in [
            "sleep",
            "a) (b",
            ") (",
            "x) Z 1 2 (",
            "with space",
            "((",
            "))",
            "",
        ] {
            let stat = parse_stat(&stat_line(77, comm, 'S')).expect(comm);
            assert_eq!(
                stat,
                Stat {
                    pid: 77,
                    state: 'S',
                    pgrp: 4242,
                    start_ticks: 123456
                },
                "comm {comm:?}"
            );
        }
    }

    #[test]
    fn a_comm_that_is_not_utf8_still_parses() {
        let mut line = b"9 (\xff\xfe) ) R ".to_vec();
        line.extend_from_slice(&stat_line(9, "x", 'R')[b"9 (x) R ".len()..]);
        let stat = parse_stat(&line).expect("parsed");
        assert_eq!((stat.pid, stat.state, stat.start_ticks), (9, 'R', 123456));
    }

    #[test]
    fn zombies_are_not_live() {
        let stat = parse_stat(&stat_line(5, "gone", 'Z')).expect("parsed");
        assert!(!stat.is_live());
        assert!(parse_stat(&stat_line(5, "here", 'D')).is_some_and(|stat| stat.is_live()));
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for (line, malformed) in [
            (&b""[..], "empty"),
            (b"12", "no COMM"),
            (b"12 (comm", "COMM never closed"),
            (b"12 comm) S 1 2", "COMM never opened"),
            (b") 12 (comm S", "`)` before `(`"),
            (b"x (comm) S 1 2 3", "the pid is not a number"),
            (b"12 (comm) S 1 2", "no start time"),
            (
                b"12 (comm) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
                "a state of two letters",
            ),
            (
                b"12 (comm) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5 20",
                "a negative start time",
            ),
        ] {
            assert_eq!(
                parse_stat(line),
                None,
                "{malformed}: {}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn this_process_is_itself_and_a_wrong_start_time_is_someone_else() {
        let me = ProcessIdentity::current(std::process::id()).expect("own stat");
        assert!(me.is_same_process());
        let impostor = ProcessIdentity {
            start_ticks: me.start_ticks + 1,
            ..me
        };
        assert!(!impostor.is_same_process());
        // Not signalled: the start time does not match (and the test runner is not a group
        // leader of its own anyway).
        assert!(!impostor.signal_group(Signal::SIGTERM));
        assert_eq!(ProcessIdentity::current(0), None);
    }
}
