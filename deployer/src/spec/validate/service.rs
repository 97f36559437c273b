//! Checks of one service: its names against AWS limits, health check, Fargate task size,
//! scaling, deploy policy, the placeholders in what it is given, and its local section.
//! Findings come in that order.

use std::time::Duration;

use super::{Finding, MAX_AWS_NAME, is_resource_name, longest_resource_name};
use crate::spec::model::{
    DeployPolicy, HealthCheck, JudgePolicy, LocalService, Scaling, Service, SmokeTest, Spec,
    Strategy,
};
use crate::spec::parse_canary;
use crate::spec::template::{Placeholder, placeholders};

/// YAML paths below one service: `services.NAME.FIELD`.
struct ServicePath<'a>(&'a str);

impl ServicePath<'_> {
    fn at(&self, field: &str) -> String {
        format!("services.{}.{field}", self.0)
    }
}

pub fn check_service(spec: &Spec, name: &str, service: &Service, findings: &mut Vec<Finding>) {
    let path = ServicePath(name);
    check_name(spec, name, findings);
    check_port_and_image(service, &path, findings);
    check_health(&service.health, &path, findings);
    check_task_size(service, &path, findings);
    check_scaling(&service.scaling, &path, findings);
    check_deploy(&service.deploy, &path, findings);
    check_given_placeholders(spec, name, service, &path, findings);
    for (key, value) in &service.secrets {
        if value.trim().is_empty() {
            findings.push(Finding::value(
                path.at(&format!("secrets.{key}")),
                "secret reference is empty; expected an SSM parameter or Secrets Manager ARN",
            ));
        }
    }
    if let Some(local) = &service.local {
        check_local(service.public, local, &path, findings);
    }
}

/// The service name, alone and in the longest AWS name derived from it.
fn check_name(spec: &Spec, name: &str, findings: &mut Vec<Finding>) {
    if !is_resource_name(name) {
        findings.push(
            Finding::key(
                format!("services.{name}"),
                format!("`{name}` is not a valid service name"),
            )
            .help(
                "use lower-case letters, digits and single inner hyphens, starting with a letter",
            ),
        );
    }
    let longest = longest_resource_name(spec, name);
    if longest.len() > MAX_AWS_NAME {
        findings.push(
            Finding::key(
                format!("services.{name}"),
                format!(
                    "resource name `{longest}` would be {} characters; AWS allows {MAX_AWS_NAME} for load balancer and target group names",
                    longest.len()
                ),
            )
            .help("shorten the app, environment or service name"),
        );
    }
}

fn check_port_and_image(service: &Service, path: &ServicePath, findings: &mut Vec<Finding>) {
    if service.port == 0 {
        findings.push(Finding::value(
            path.at("port"),
            "port 0 is not a port; expected 1-65535",
        ));
    }
    if service
        .image
        .as_deref()
        .is_some_and(|image| image.trim().is_empty())
    {
        findings.push(Finding::value(
            path.at("image"),
            "image is empty; expected e.g. `ghcr.io/org/portal:1.2.0`",
        ));
    }
}

/// The target group's health check limits.
fn check_health(health: &HealthCheck, path: &ServicePath, findings: &mut Vec<Finding>) {
    if !health.path.starts_with('/') {
        findings.push(Finding::value(
            path.at("health.path"),
            format!("health path `{}` must start with `/`", health.path),
        ));
    }
    let interval = health.interval.0;
    if !(Duration::from_secs(5)..=Duration::from_secs(300)).contains(&interval) {
        findings.push(Finding::value(
            path.at("health.interval"),
            format!(
                "health check interval {} is outside 5s-300s (AWS limits)",
                health.interval
            ),
        ));
    }
    if !(Duration::from_secs(2)..=Duration::from_secs(120)).contains(&health.timeout.0)
        || health.timeout.0 >= interval
    {
        findings.push(Finding::value(
            path.at("health.timeout"),
            format!(
                "health check timeout {} must be 2s-120s and shorter than the interval ({})",
                health.timeout, health.interval
            ),
        ));
    }
    for (field, value) in [
        ("health.healthy_threshold", health.healthy_threshold),
        ("health.unhealthy_threshold", health.unhealthy_threshold),
    ] {
        if !(2..=10).contains(&value) {
            findings.push(Finding::value(
                path.at(field),
                format!("{value} is outside 2-10 (AWS limits)"),
            ));
        }
    }
}

/// `cpu` and `memory` must be a Fargate task size.
fn check_task_size(service: &Service, path: &ServicePath, findings: &mut Vec<Finding>) {
    match fargate_memory_ok(service.cpu, service.memory) {
        None => findings.push(
            Finding::value(
                path.at("cpu"),
                format!("{} is not a Fargate CPU size", service.cpu),
            )
            .help("use 256, 512, 1024, 2048, 4096, 8192 or 16384 (CPU units; 1024 = 1 vCPU)"),
        ),
        Some(false) => findings.push(
            Finding::value(
                path.at("memory"),
                format!(
                    "{} MiB is not valid with cpu {} on Fargate",
                    service.memory, service.cpu
                ),
            )
            .help("see the Fargate task size table: e.g. cpu 256 takes 512, 1024 or 2048"),
        ),
        Some(true) => {}
    }
}

/// Fargate's valid (cpu units -> memory MiB) combinations.
fn fargate_memory_ok(cpu: u32, memory: u32) -> Option<bool> {
    let ok = match cpu {
        256 => [512, 1024, 2048].contains(&memory),
        512 => (1024..=4096).contains(&memory) && memory % 1024 == 0,
        1024 => (2048..=8192).contains(&memory) && memory % 1024 == 0,
        2048 => (4096..=16384).contains(&memory) && memory % 1024 == 0,
        4096 => (8192..=30720).contains(&memory) && memory % 1024 == 0,
        8192 => (16384..=61440).contains(&memory) && memory % 4096 == 0,
        16384 => (32768..=122880).contains(&memory) && memory % 8192 == 0,
        _ => return None,
    };
    Some(ok)
}

fn check_scaling(scaling: &Scaling, path: &ServicePath, findings: &mut Vec<Finding>) {
    if scaling.max == 0 {
        findings.push(Finding::value(
            path.at("scaling.max"),
            "max is 0; expected at least 1",
        ));
    }
    if scaling.min > scaling.max {
        findings.push(Finding::value(
            path.at("scaling.min"),
            format!(
                "min ({}) is greater than max ({})",
                scaling.min, scaling.max
            ),
        ));
    }
    if scaling.requests_per_target == 0 {
        findings.push(Finding::value(
            path.at("scaling.requests_per_target"),
            "requests_per_target must be at least 1 (requests per target per minute)",
        ));
    }
}

fn check_deploy(deploy: &DeployPolicy, path: &ServicePath, findings: &mut Vec<Finding>) {
    match (deploy.strategy, deploy.canary.is_empty()) {
        (Strategy::Canary, _) => {
            if let Err(problem) = parse_canary(&deploy.canary) {
                findings.push(Finding::value(path.at("deploy.canary"), problem));
            }
        }
        (Strategy::AllAtOnce, false) => findings.push(
            Finding::value(
                path.at("deploy.canary"),
                "canary steps are only used with `strategy: canary`",
            )
            .help("set `strategy: canary` or remove `canary`"),
        ),
        _ => {}
    }
    if deploy.deregistration_delay.0 > Duration::from_secs(3600) {
        findings.push(Finding::value(
            path.at("deploy.deregistration_delay"),
            "deregistration_delay must be 0s to 3600s (the target group limit)",
        ));
    }
    if deploy.health_timeout.0.is_zero() {
        findings.push(Finding::value(
            path.at("deploy.health_timeout"),
            "health_timeout must be longer than 0s",
        ));
    }
    if let Some(smoke) = &deploy.smoke_test {
        check_smoke_test(smoke, path, findings);
    }
    if let Some(judge) = &deploy.judge {
        check_judge(judge, path, findings);
    }
}

/// `deploy.judge`: limits that can be met and broken, at least one of them.
fn check_judge(judge: &JudgePolicy, path: &ServicePath, findings: &mut Vec<Finding>) {
    let at = |field: &str| path.at(&format!("deploy.judge.{field}"));
    if judge.max_5xx_rate.is_none()
        && judge.max_5xx_increase.is_none()
        && judge.max_p99.is_none()
        && judge.max_p99_increase.is_none()
    {
        findings.push(
            Finding::value(path.at("deploy.judge"), "judge sets no threshold")
                .help("set max_5xx_rate, max_5xx_increase, max_p99 or max_p99_increase (e.g. `max_5xx_rate: 1%`), or remove `judge`"),
        );
    }
    for (field, value) in [
        ("max_5xx_rate", judge.max_5xx_rate),
        ("max_5xx_increase", judge.max_5xx_increase),
    ] {
        if let Some(value) = value
            && !(0.0..100.0).contains(&value.0)
        {
            findings.push(
                Finding::value(
                    at(field),
                    format!("{field} must be at least 0% and below 100%"),
                )
                .help("e.g. `1%`: a breach is a 5xx share above it"),
            );
        }
    }
    if let Some(increase) = judge.max_p99_increase
        && increase.0 < 0.0
    {
        findings.push(Finding::value(
            at("max_p99_increase"),
            "max_p99_increase must be at least 0% (e.g. `50%`: half again the live color's p99)",
        ));
    }
    if judge.max_p99.is_some_and(|max| max.0.is_zero()) {
        findings.push(Finding::value(
            at("max_p99"),
            "max_p99 must be longer than 0s (e.g. `500ms`)",
        ));
    }
    if judge.min_requests == 0 {
        findings.push(
            Finding::value(at("min_requests"), "min_requests must be at least 1")
                .help("a verdict on a handful of requests is noise; the default is 20"),
        );
    }
}

/// `deploy.smoke_test`: a program to run, given time to run.
fn check_smoke_test(smoke: &SmokeTest, path: &ServicePath, findings: &mut Vec<Finding>) {
    let at = |field: &str| path.at(&format!("deploy.smoke_test.{field}"));
    if smoke
        .command
        .first()
        .is_none_or(|program| program.trim().is_empty())
    {
        findings.push(
            Finding::value(at("command"), "the smoke test names no program to run")
                .help("e.g. `command: [python3, scripts/smoke.py]`, relative to `local.workdir`"),
        );
    }
    if let Some((index, _)) = smoke
        .command
        .iter()
        .enumerate()
        .find(|(_, part)| !placeholders(part).is_empty())
    {
        findings.push(
            Finding::value(
                at(&format!("command.{index}")),
                "placeholders are not filled in in a smoke test's command",
            )
            .help("read DASHCTL_TEST_URL, DASHCTL_TEST_HEADER, DASHCTL_SERVICE and DASHCTL_COLOR from the environment instead"),
        );
    }
    if smoke.timeout.0.is_zero() {
        findings.push(Finding::value(
            at("timeout"),
            "a smoke test's timeout must be longer than 0s",
        ));
    }
}

/// Placeholders in what a service is given: its env, and locally its command and env too
/// (where `{port}` and the like also apply).
fn check_given_placeholders(
    spec: &Spec,
    name: &str,
    service: &Service,
    path: &ServicePath,
    findings: &mut Vec<Finding>,
) {
    let given = service
        .env
        .iter()
        .map(|(key, value)| (format!("env.{key}"), value, false));
    let given_locally = service.local.iter().flat_map(|local| {
        let command = local
            .command
            .iter()
            .enumerate()
            .map(|(index, part)| (format!("local.command.{index}"), part, true));
        let env = local
            .env
            .iter()
            .map(|(key, value)| (format!("local.env.{key}"), value, true));
        command.chain(env)
    });
    for (field, text, local) in given.chain(given_locally) {
        check_placeholders(spec, name, &path.at(&field), text, local, findings);
    }
}

fn check_placeholders(
    spec: &Spec,
    service: &str,
    path: &str,
    text: &str,
    local: bool,
    findings: &mut Vec<Finding>,
) {
    for placeholder in placeholders(text) {
        match &placeholder {
            Placeholder::ServiceUrl(target) if !spec.services.contains_key(target) => {
                let known: Vec<&str> = spec.services.keys().map(String::as_str).collect();
                findings.push(
                    Finding::value(path, format!("`${{services.{target}.url}}` refers to a service that does not exist"))
                        .help(format!("services in this spec: {}", known.join(", "))),
                );
            }
            Placeholder::ServiceUrl(target) if target == service => {
                findings.push(Finding::value(path, "a service cannot reference its own URL"));
            }
            Placeholder::Unknown(inner) => findings.push(
                Finding::value(path, format!("unknown placeholder `${{{inner}}}`"))
                    .help(if local {
                        "expected ${services.NAME.url}, ${port}, ${instance}, ${color} or ${state_dir}"
                    } else {
                        "expected ${services.NAME.url}"
                    }),
            ),
            other if other.is_local_only() && !local => findings.push(
                Finding::value(path, "this placeholder only exists for local instances")
                    .help("put it under `local.env` instead of `env`"),
            ),
            _ => {}
        }
    }
}

/// What `dashctl up` needs to run the service.
fn check_local(
    public: bool,
    local: &LocalService,
    path: &ServicePath,
    findings: &mut Vec<Finding>,
) {
    if local.command.is_empty() {
        findings.push(Finding::value(
            path.at("local.command"),
            "command is empty; expected a program and its arguments",
        ));
    }
    if public && local.listen_port.is_none() {
        findings.push(
            Finding::value(
                path.at("local"),
                "a public service needs `listen_port` to run locally",
            )
            .help("e.g. `listen_port: 8080`: the port its public proxy listens on"),
        );
    }
    if local.listen_port == Some(0) {
        findings.push(Finding::value(
            path.at("local.listen_port"),
            "listen_port 0 is not a port; leave it out for a free port",
        ));
    }
}
