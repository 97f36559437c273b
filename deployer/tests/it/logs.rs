//! `dashctl logs`: a service's lines from every instance, in time order, each naming its
//! service, color and instance. Locally with real instances through `dashctl up` and a deploy;
//! on AWS against the double, with log events written where ECS's awslogs driver writes them.

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;

use crate::aws_clients::{Aws, every};
use crate::aws_fixture::{ALL_AT_ONCE, Deployed, Spec};
use crate::harness::{DASHCTL, DashboardSpec, Run, Running, Workspace};
use crate::moto::Moto;

/// One printed line: `2026-12-01T10:00:01.123Z portal/green/portal-green-2  message`.
#[derive(Debug, Clone)]
struct Line {
    at: SystemTime,
    source: String,
    message: String,
}

fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .map(|line| {
            let (at, rest) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("no time in `{line}`"));
            let (source, message) = rest
                .split_once("  ")
                .unwrap_or_else(|| panic!("no source in `{line}`"));
            Line {
                at: humantime::parse_rfc3339(at)
                    .unwrap_or_else(|error| panic!("`{at}` is not a time ({error}): `{line}`")),
                source: source.to_owned(),
                message: message.to_owned(),
            }
        })
        .collect()
}

/// The lines are in time order.
fn assert_in_time_order(lines: &[Line]) {
    for pair in lines.windows(2) {
        assert!(
            pair[0].at <= pair[1].at,
            "out of time order: {pair:#?} in {lines:#?}"
        );
    }
}

/// Where the first line from `source` saying `says` is.
fn position(lines: &[Line], source: &str, says: &str) -> usize {
    lines
        .iter()
        .position(|line| line.source == source && line.message.contains(says))
        .unwrap_or_else(|| panic!("no line of {source} saying `{says}` in {lines:#?}"))
}

/// A `dashctl logs --follow` running in the background; killed when dropped.
struct Following {
    running: Option<Running>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Following {
    fn start(command: Command) -> Self {
        let mut running = Run::with(command).spawn();
        let lines = running.stdout_lines();
        Self {
            running: Some(running),
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until `done` holds for all read so far (60 s at most); returns them.
    fn until(&mut self, what: &str, done: impl Fn(&[Line]) -> bool) -> Vec<Line> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let lines = parse(&self.seen.join("\n"));
            if done(&lines) {
                return lines;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "dashctl logs --follow: timed out waiting until {what}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.kill_hard();
        }
    }
}

fn says(lines: &[Line], source: &str, text: &str) -> bool {
    lines
        .iter()
        .any(|line| line.source == source && line.message.contains(text))
}

#[tokio::test]
async fn local_logs_interleave_both_colors_by_time_follow_and_filter_by_color_and_age() {
    let mut spec = DashboardSpec::default();
    let workspace = Workspace::new(&spec);
    let up = workspace.up().await;
    let spec_path = workspace.spec_arg();
    let mut following = Following::start({
        let mut command = Command::new(DASHCTL);
        command.args(["logs", "portal", "--follow", "-f", &spec_path]);
        command
    });
    following.until("blue's first instance is listening", |lines| {
        says(lines, "portal/blue/portal-blue-1", "portal listening")
    });

    // A release: green starts, takes the traffic, blue is told to stop.
    spec.portal_args = vec!["--stale-after".into(), "30".into()];
    workspace.write(&spec);
    workspace
        .run("deploy", &[])
        .also_printing(&up.log)
        .succeeds();
    let followed = following.until("green listens and blue stops", |lines| {
        lines.iter().any(|line| {
            line.source.starts_with("portal/green/") && line.message.contains("portal listening")
        }) && says(
            lines,
            "portal/blue/portal-blue-1",
            "shutdown signal received",
        )
    });
    assert_in_time_order(&followed);
    drop(following);

    let lines = parse(&workspace.run("logs", &["portal"]).succeeds().stdout());
    assert_in_time_order(&lines);
    let green = lines
        .iter()
        .find(|line| line.source.starts_with("portal/green/portal-green-"))
        .map(|line| line.source.clone())
        .unwrap_or_else(|| panic!("no green instance in {lines:#?}"));
    let blue = "portal/blue/portal-blue-1";
    // Interleaved by time, not file by file: green started between blue's start and stop.
    assert!(
        position(&lines, blue, "portal listening") < position(&lines, &green, "portal listening")
    );
    assert!(
        position(&lines, &green, "portal listening")
            < position(&lines, blue, "shutdown signal received")
    );
    assert!(
        lines.iter().all(|line| line.source.starts_with("portal/")),
        "portal's lines only: {lines:#?}"
    );

    let only_green = parse(
        &workspace
            .run("logs", &["portal", "--color", "green"])
            .succeeds()
            .stdout(),
    );
    assert!(says(&only_green, &green, "portal listening"));
    assert!(
        only_green.iter().all(|line| line.source == green),
        "green only: {only_green:#?}"
    );

    // An instance of an earlier run, an hour ago: older than the default 10 minutes.
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::write(
        workspace.dir.path().join(".dashctl/logs/portal-blue-7.log"),
        format!("{} an earlier run\n", humantime::format_rfc3339_micros(old)),
    )
    .expect("writing an old log");
    workspace
        .run("logs", &["portal"])
        .succeeds()
        .lacks("an earlier run");
    let since_two_hours = parse(
        &workspace
            .run("logs", &["portal", "--since", "2h"])
            .succeeds()
            .stdout(),
    );
    assert_eq!(since_two_hours[0].source, "portal/blue/portal-blue-7");
    assert_eq!(since_two_hours[0].message, "an earlier run");
    assert_in_time_order(&since_two_hours);

    // hardware has its own lines; an unknown service is a usage error.
    let hardware = parse(&workspace.run("logs", &["hardware"]).succeeds().stdout());
    assert!(
        !hardware.is_empty()
            && hardware
                .iter()
                .all(|line| line.source.starts_with("hardware/blue/")),
        "{hardware:#?}"
    );
    workspace
        .run("logs", &["nope"])
        .exits(2)
        .contains("the spec has no service `nope`");
}

#[test]
fn local_logs_before_anything_ran_say_so() {
    let workspace = Workspace::new(&DashboardSpec::default());
    workspace
        .run("logs", &["portal", "--env", "local"])
        .succeeds()
        .stdout_is("")
        .contains("portal has no logs here yet")
        .contains("`dashctl up` writes them");
}

/// The ids of the tasks ECS lists for an ECS service (running ones).
async fn task_ids(aws: &Aws, ecs_service: &str) -> Vec<String> {
    let arns = every!(
        aws.ecs
            .list_tasks()
            .cluster("dashboard-prod")
            .service_name(ecs_service),
        "tasks"
    );
    arns.iter()
        .map(|arn| arn.rsplit('/').next().unwrap_or_default().to_owned())
        .collect()
}

const GROUP: &str = "/dashctl/dashboard/prod/portal";

/// Writes `messages` (time, text) as ECS's awslogs driver would for task `task` of portal:
/// into the stream `portal/portal/<task>` (stream prefix and container name are the service's).
async fn write_events(aws: &Aws, task: &str, messages: &[(SystemTime, &str)]) {
    let stream = format!("portal/portal/{task}");
    let exists = aws
        .logs
        .describe_log_streams()
        .log_group_name(GROUP)
        .log_stream_name_prefix(&stream)
        .send()
        .await
        .expect("log streams")
        .log_streams()
        .iter()
        .any(|found| found.log_stream_name() == Some(stream.as_str()));
    if !exists {
        aws.logs
            .create_log_stream()
            .log_group_name(GROUP)
            .log_stream_name(&stream)
            .send()
            .await
            .expect("creating a log stream");
    }
    let events = messages
        .iter()
        .map(|(at, text)| {
            let millis = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis();
            InputLogEvent::builder()
                .timestamp(i64::try_from(millis).expect("millis"))
                .message(*text)
                .build()
                .expect("log event")
        })
        .collect::<Vec<_>>();
    aws.logs
        .put_log_events()
        .log_group_name(GROUP)
        .log_stream_name(&stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("writing log events");
}

#[tokio::test]
async fn aws_logs_interleave_the_tasks_of_both_colors_from_cloudwatch_and_follow_new_events() {
    let moto = Moto::start();
    let spec = Spec::dashboard(ALL_AT_ONCE);
    // Before the first deploy there is no log group: said, and not an error.
    moto.run(&["logs", "portal", "--env", "aws", "-f", &spec.path])
        .succeeds()
        .stdout_is("")
        .contains("portal has no logs on AWS yet: its log group /dashctl/dashboard/prod/portal does not exist");

    let deployed = Deployed::on(moto, spec);
    let aws = Aws::new(&deployed.moto).await;
    let blue = task_ids(&aws, "dashboard-prod-portal-blue").await;
    assert!(!blue.is_empty(), "blue runs tasks after the first deploy");
    deployed.release("portal=example/portal:v2").succeeds();
    let green = task_ids(&aws, "dashboard-prod-portal-green").await;
    assert!(!green.is_empty(), "green runs the release");

    let now = SystemTime::now();
    let ago = |seconds: u64| now - Duration::from_secs(seconds);
    write_events(
        &aws,
        &blue[0],
        &[
            (ago(3600), "blue, an hour ago"),
            (ago(40), "blue starts"),
            (ago(20), "blue stops"),
        ],
    )
    .await;
    write_events(&aws, &green[0], &[(ago(30), "green starts\n")]).await;
    // A task ECS no longer lists (stopped long ago): its color is unknown.
    write_events(&aws, "0123456789abcdef", &[(ago(10), "an old task")]).await;

    let blue_source = format!("portal/blue/{}", blue[0]);
    let green_source = format!("portal/green/{}", green[0]);
    let lines = parse(
        &deployed
            .run(&["logs", "portal", "--env", "aws"])
            .succeeds()
            .stdout(),
    );
    let shown: Vec<(&str, &str)> = lines
        .iter()
        .map(|line| (line.source.as_str(), line.message.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (blue_source.as_str(), "blue starts"),
            (green_source.as_str(), "green starts"),
            (blue_source.as_str(), "blue stops"),
            ("portal/?/0123456789abcdef", "an old task"),
        ]
    );
    assert_in_time_order(&lines);

    let only_blue = parse(
        &deployed
            .run(&[
                "logs", "portal", "--env", "aws", "--color", "blue", "--since", "2h",
            ])
            .succeeds()
            .stdout(),
    );
    let messages: Vec<&str> = only_blue.iter().map(|line| line.message.as_str()).collect();
    assert_eq!(messages, ["blue, an hour ago", "blue starts", "blue stops"]);
    assert!(only_blue.iter().all(|line| line.source == blue_source));

    // Following: what is written later comes out too.
    let mut following = Following::start(deployed.moto.command(&[
        "logs",
        "portal",
        "--env",
        "aws",
        "--color",
        "green",
        "--follow",
        "-f",
        &deployed.spec.path,
    ]));
    following.until("green's first line", |lines| {
        says(lines, &green_source, "green starts")
    });
    write_events(&aws, &green[0], &[(SystemTime::now(), "green, later")]).await;
    let followed = following.until("green's later line", |lines| {
        says(lines, &green_source, "green, later")
    });
    let messages: Vec<&str> = followed.iter().map(|line| line.message.as_str()).collect();
    assert_eq!(
        messages,
        ["green starts", "green, later"],
        "each event once"
    );

    deployed
        .run(&["logs", "nope", "--env", "aws"])
        .exits(2)
        .contains("the spec has no service `nope`");
}
