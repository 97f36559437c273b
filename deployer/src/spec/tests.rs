use std::path::Path;

use super::*;

const VALID: &str = "\
app: dashboard
environment: prod
services:
  portal:
    port: 5000
    public: true
    env:
      HARDWARE_URL: ${services.hardware.url}
    scaling: { min: 2, max: 10 }
    local:
      command: [portal, --bind, '127.0.0.1:${port}']
      listen_port: 8080
  hardware:
    port: 5001
";

fn problems(source: &str) -> Vec<String> {
    match parse(Path::new("spec.yaml"), source) {
        Ok(_) => Vec::new(),
        Err(error) => error.lines(),
    }
}

/// The problems of the valid spec with `text` replaced by `replacement`.
fn problems_replacing(text: &str, replacement: &str) -> Vec<String> {
    problems(&VALID.replace(text, replacement))
}

/// `found` is one problem for each of `expected`, in order, each saying its part of it.
#[track_caller]
fn assert_problems(found: &[String], expected: &[&str]) {
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for (problem, says) in found.iter().zip(expected) {
        assert!(problem.contains(says), "{says:?} not in {found:?}");
    }
}

/// The valid spec with portal's `deploy:` set to `deploy` (a flow mapping, on line 10).
fn with_portal_deploy(deploy: &str) -> String {
    VALID.replace(
        "    scaling: { min: 2, max: 10 }\n",
        &format!("    scaling: {{ min: 2, max: 10 }}\n    deploy: {deploy}\n"),
    )
}

#[test]
fn valid_spec_gets_defaults() {
    let spec = parse(Path::new("spec.yaml"), VALID).expect("valid");
    let hardware = &spec.services["hardware"];
    assert!(!hardware.public);
    assert_eq!(hardware.health.path, "/readyz");
    assert_eq!(hardware.scaling.scale_in_cooldown.0.as_secs(), 300);
    assert_eq!(hardware.scaling.scale_out_cooldown.0.as_secs(), 60);
    assert_eq!(spec.network.cidr.to_string(), "10.20.0.0/16");
    assert_eq!(spec.services["portal"].scaling.min, 2);
}

#[test]
fn unknown_key_names_line_and_column() {
    let found = problems_replacing(
        "scaling: { min: 2, max: 10 }",
        "scaling: { min: 2, maks: 10 }",
    );
    assert_problems(&found, &["unknown field `maks`"]);
    assert!(found[0].starts_with("spec.yaml:9:"), "{found:?}");
    assert!(found[0].contains("expected one of"), "{found:?}");
}

#[test]
fn wrong_type_and_bad_duration_are_reported_where_written() {
    let found = problems_replacing("port: 5001", "port: fivethousand");
    assert_problems(&found, &["invalid type"]);
    assert!(found[0].starts_with("spec.yaml:14:11:"), "{found:?}");

    let found = problems_replacing(
        "{ min: 2, max: 10 }",
        "{ min: 2, max: 10, scale_in_cooldown: 5 minutes please }",
    );
    assert!(
        found[0].contains("invalid duration `5 minutes please`"),
        "{found:?}"
    );
    assert!(found[0].starts_with("spec.yaml:9:"), "{found:?}");
}

#[test]
fn semantic_errors_point_at_the_value() {
    let source = VALID
        .replace("{ min: 2, max: 10 }", "{ min: 12, max: 10 }")
        .replace("${services.hardware.url}", "${services.hardwre.url}");
    let found = problems(&source);
    assert_eq!(
        found,
        vec![
            "spec.yaml:8:21: `${services.hardwre.url}` refers to a service that does not exist",
            "spec.yaml:9:21: min (12) is greater than max (10)",
        ]
    );
}

#[test]
fn names_that_exceed_aws_limits_are_rejected() {
    let found = problems_replacing("environment: prod", "environment: productioneuwest");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        found,
        [
            "spec.yaml:4:3: resource name `dashboard-productioneuwest-portal-green` would be 39 characters; AWS allows 32 for load balancer and target group names",
            "spec.yaml:13:3: resource name `dashboard-productioneuwest-hardware-green` would be 41 characters; AWS allows 32 for load balancer and target group names",
        ]
    );
}

#[test]
fn app_and_environment_names_identify_one_app() {
    // `shop-eu`/`prod` and `shop`/`eu-prod` would share every AWS name.
    let found = problems_replacing("app: dashboard", "app: shop-eu");
    assert_eq!(found, ["spec.yaml:1:6: `shop-eu` contains a hyphen"]);
    let found = problems_replacing("environment: prod", "environment: eu-prod");
    assert_eq!(found, ["spec.yaml:2:14: `eu-prod` contains a hyphen"]);
}

#[test]
fn names_aws_refuses_are_caught_offline() {
    let found = problems_replacing("app: dashboard", "app: internal");
    assert_eq!(
        found,
        [
            "spec.yaml:1:6: AWS refuses `internal-prod-...`: load balancer names may not begin with `internal-`"
        ]
    );
    let found = problems_replacing("app: dashboard", "app: sg");
    assert_eq!(
        found,
        ["spec.yaml:1:6: AWS refuses `sg-prod-...`: security group names may not begin with `sg-`"]
    );
}

#[test]
fn cidr_and_azs_and_fargate_sizes_are_checked() {
    // A /24 would give /28 subnets: too small for a load balancer.
    let found = problems(&format!("{VALID}network: {{ cidr: 10.0.0.0/24 }}\n"));
    assert!(
        found
            .iter()
            .any(|line| line.contains("/24 VPC is outside what dashctl supports (/16 to /23)")),
        "{found:?}"
    );
    assert!(problems(&format!("{VALID}network: {{ cidr: 10.0.0.0/23 }}\n")).is_empty());
    let source = format!("{VALID}network: {{ cidr: 10.0.0.0/8, azs: 1 }}\n");
    let found = problems(&source);
    assert!(
        found.iter().any(|line| line.contains("/8 VPC")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|line| line.contains("1 availability zones")),
        "{found:?}"
    );

    let found = problems(&format!("{VALID}network: {{ cidr: 10.0.0.300/16 }}\n"));
    assert!(
        found[0].contains("network.cidr") || found[0].contains("invalid"),
        "{found:?}"
    );

    let found = problems_replacing("port: 5001", "port: 5001\n    cpu: 256\n    memory: 4096");
    assert_eq!(
        found,
        vec!["spec.yaml:16:13: 4096 MiB is not valid with cpu 256 on Fargate"]
    );
}

#[test]
fn local_settings_are_checked() {
    let found = problems_replacing("      listen_port: 8080\n", "");
    assert_eq!(
        found,
        vec!["spec.yaml:10:5: a public service needs `listen_port` to run locally"]
    );

    let found = problems_replacing("'127.0.0.1:${port}'", "'127.0.0.1:${prot}'");
    assert_eq!(
        found,
        vec!["spec.yaml:11:33: unknown placeholder `${prot}`"]
    );

    let found = problems_replacing("${services.hardware.url}", "http://127.0.0.1:${port}");
    assert_eq!(
        found,
        vec!["spec.yaml:8:21: this placeholder only exists for local instances"]
    );
}

#[test]
fn the_project_specs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for dir in ["config", "examples"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "yaml") {
                if let Err(error) = load(&path) {
                    panic!("{}: {:?}", path.display(), error.lines());
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 3,
        "expected the config/ and examples/ specs, found {checked}"
    );
}

#[test]
fn load_balancer_layout_is_checked() {
    let found = problems_replacing(
        "  hardware:\n    port: 5001\n",
        "  hardware:\n    port: 5001\n    public: true\n",
    );
    assert!(
        found
            .iter()
            .any(|line| line.contains("both `hardware` and `portal` are public")),
        "{found:?}"
    );

    let same_port = format!("{VALID}  other:\n    port: 5001\n");
    let found = problems(&same_port);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("both use port 5001"), "{found:?}");

    let retention = format!("{VALID}aws: {{ log_retention_days: 31 }}\n");
    assert!(problems(&retention)[0].contains("31 days is not a CloudWatch Logs retention period"));
}

#[test]
fn canary_steps_are_checked() {
    let spec = parse(
        Path::new("spec.yaml"),
        &with_portal_deploy("{ strategy: canary, canary: [10%, 5m, 50%, 30s] }"),
    )
    .expect("valid");
    assert_eq!(
        spec.services["portal"].deploy.canary_steps(),
        vec![
            (10, std::time::Duration::from_secs(300)),
            (50, std::time::Duration::from_secs(30))
        ]
    );
    let found = problems(&with_portal_deploy(
        "{ strategy: canary, canary: [50%, 5m, 10%, 5m] }",
    ));
    assert!(
        found[0].contains("canary percentages must rise"),
        "{found:?}"
    );
    let found = problems(&with_portal_deploy("{ strategy: canary, canary: [10%] }"));
    assert!(found[0].contains("percent/duration pairs"), "{found:?}");
    let found = problems(&with_portal_deploy("{ canary: [10%, 5m] }"));
    assert!(
        found[0].contains("only used with `strategy: canary`"),
        "{found:?}"
    );
    let spec = parse(
        Path::new("spec.yaml"),
        &with_portal_deploy("{ strategy: blue-green }"),
    )
    .expect("old name still accepted");
    assert!(spec.services["portal"].deploy.canary_steps().is_empty());
}

#[test]
fn a_smoke_test_parses_with_a_default_timeout() {
    let source = with_portal_deploy("{ smoke_test: { command: [python3, smoke.py, --strict] } }");
    let spec = parse(Path::new("spec.yaml"), &source).expect("valid");
    let smoke = spec.services["portal"]
        .deploy
        .smoke_test
        .clone()
        .expect("a smoke test");
    assert_eq!(smoke.command, ["python3", "smoke.py", "--strict"]);
    assert_eq!(smoke.timeout.0.as_secs(), 60);
    assert_eq!(spec.services["hardware"].deploy.smoke_test, None);
}

#[test]
fn a_smoke_test_needs_a_program_time_and_no_placeholders() {
    let with = |smoke: &str| problems(&with_portal_deploy(&format!("{{ smoke_test: {smoke} }}")));
    let found = with("{ command: [], timeout: 0s }");
    assert_problems(
        &found,
        &[
            "the smoke test names no program to run",
            "a smoke test's timeout must be longer than 0s",
        ],
    );
    assert!(found[0].starts_with("spec.yaml:10:"), "{found:?}");
    assert_problems(
        &with("{ command: [curl, '${services.portal.url}'] }"),
        &["placeholders are not filled in in a smoke test's command"],
    );
    let found = with("{ command: [true], timeout: 60s, retries: 3 }");
    assert!(found[0].contains("unknown field `retries`"), "{found:?}");
    assert!(with("{ command: [true], timeout: 2m }").is_empty());
}

#[test]
fn judge_thresholds_parse_with_a_default_minimum_of_requests() {
    let source = with_portal_deploy(
        "{ judge: { max_5xx_rate: 1%, max_5xx_increase: 0.5%, max_p99: 500ms, max_p99_increase: 50% } }",
    );
    let spec = parse(Path::new("spec.yaml"), &source).expect("valid");
    let judge = spec.services["portal"].deploy.judge.clone().expect("judge");
    assert_eq!(judge.max_5xx_rate, Some(SpecPercent(1.0)));
    assert_eq!(judge.max_5xx_increase, Some(SpecPercent(0.5)));
    assert_eq!(judge.max_p99.map(|max| max.0.as_millis()), Some(500));
    assert_eq!(judge.max_p99_increase, Some(SpecPercent(50.0)));
    assert_eq!(judge.min_requests, 20);
    assert_eq!(spec.services["hardware"].deploy.judge, None);
}

#[test]
fn judge_thresholds_must_be_percentages_that_can_be_met() {
    let with = |judge: &str| problems(&with_portal_deploy(&format!("{{ judge: {judge} }}")));
    let found = with("{ max_5xx_rate: 1 }");
    assert!(
        found[0].contains("invalid percentage `1`; expected e.g. `1%` or `0.5%`"),
        "{found:?}"
    );
    let found = with("{ max_5xx_rate: lots% }");
    assert!(found[0].contains("invalid percentage `lots%`"), "{found:?}");
    assert_problems(&with("{ min_requests: 5 }"), &["judge sets no threshold"]);
    assert_problems(
        &with("{ max_5xx_rate: 100%, max_p99: 0s, max_p99_increase: -5%, min_requests: 0 }"),
        &[
            "max_5xx_rate must be at least 0% and below 100%",
            "max_p99 must be longer than 0s",
            "max_p99_increase must be at least 0%",
            "min_requests must be at least 1",
        ],
    );
    let found = with("{ max_5xx_rate: 1%, max_p95: 1s }");
    assert!(found[0].contains("unknown field `max_p95`"), "{found:?}");
    assert!(with("{ max_p99: 2s, min_requests: 100 }").is_empty());
}
