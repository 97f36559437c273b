//! Runs `dashctl` and the workspace's service binaries for tests. Everything started here is
//! stopped when its guard drops, also when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const DASHCTL: &str = env!("CARGO_BIN_EXE_dashctl");

/// target/debug (or wherever cargo put this test binary).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned()
}

/// Path of a workspace service binary. `cargo test --workspace` builds them all before tests
/// run; when only this crate is tested they are built here.
pub fn service_binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    if !path.exists() {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "hardware", "-p", "portal", "-p", "paintshop"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building the service binaries failed");
    }
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("free port")
}

/// A run of `dashctl` that reads like what it shows:
/// `Run::new(&["validate", "-f", spec]).exits(2).contains("unknown field")`.
pub struct Run {
    command: Command,
    /// Printed with a wrong exit code too (e.g. `dashctl up`'s log).
    also_print: Option<PathBuf>,
}

impl Run {
    pub fn new(args: &[&str]) -> Self {
        let mut command = Command::new(DASHCTL);
        command.args(args).env("NO_COLOR", "1").stdin(Stdio::null());
        Self::with(command)
    }

    /// A command prepared elsewhere (e.g. `Moto::command`, with its AWS environment).
    pub fn with(command: Command) -> Self {
        Self {
            command,
            also_print: None,
        }
    }

    /// On a wrong exit code, prints `file` too, as it is then (e.g. `dashctl up`'s log).
    pub fn also_printing(mut self, file: &Path) -> Self {
        self.also_print = Some(file.to_owned());
        self
    }

    /// More arguments after those it was made with.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Runs it and checks the exit code; a wrong one fails the test with the arguments and
    /// everything printed.
    pub fn exits(mut self, code: i32) -> Ran {
        let output = self.command.output().expect("running dashctl");
        Ran::expecting(&self, output, code)
    }

    pub fn succeeds(self) -> Ran {
        self.exits(0)
    }

    /// Runs it and checks nothing: for polling, where failing is an answer too.
    pub fn output(mut self) -> Output {
        self.command.output().expect("running dashctl")
    }

    /// Starts it in the background with its output captured, for a test that acts while it
    /// runs; `Running::exits` checks it once it has ended.
    pub fn spawn(mut self) -> Running {
        let child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting dashctl");
        Running { run: self, child }
    }
}

/// A `Run` started in the background.
pub struct Running {
    run: Run,
    child: Child,
}

impl Running {
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    pub fn has_ended(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("waiting for dashctl")
            .is_some()
    }

    /// Its stdout, line by line as it is written (read on a thread of its own); `exits` then
    /// sees none of it.
    pub fn stdout_lines(&mut self) -> std::sync::mpsc::Receiver<String> {
        use std::io::BufRead;
        let stdout = self
            .child
            .stdout
            .take()
            .expect("stdout is piped and not taken yet");
        let (lines, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        received
    }

    /// SIGKILLs it (no chance to clean up, as a killed CI job) and waits for it to be gone.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for it to end and checks the exit code, as `Run::exits` does.
    pub fn exits(self, code: i32) -> Ran {
        let output = self.child.wait_with_output().expect("waiting for dashctl");
        Ran::expecting(&self.run, output, code)
    }

    pub fn succeeds(self) -> Ran {
        self.exits(0)
    }
}

/// What a `Run` printed.
pub struct Ran {
    pub output: Output,
}

impl Ran {
    fn expecting(run: &Run, output: Output, code: i32) -> Self {
        let ran = Self { output };
        if ran.output.status.code() != Some(code) {
            let also = run.also_print.as_ref().map_or_else(String::new, |file| {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                format!("\n{}:\n{text}", file.display())
            });
            panic!(
                "{:?} exited {:?}, expected {code}:\n{}{also}",
                run.command.get_args().collect::<Vec<_>>(),
                ran.output.status.code(),
                ran.text()
            );
        }
        ran
    }

    /// stdout then stderr.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// stdout as JSON (`--output json`).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.text()))
    }

    /// stdout as JSON lines (`--output jsonl`): every line must be one JSON object.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout()
            .lines()
            .map(|line| match serde_json::from_str::<Value>(line) {
                Ok(value) if value.is_object() => value,
                _ => panic!(
                    "stdout line is not a JSON object: {line:?}\n{}",
                    self.text()
                ),
            })
            .collect()
    }

    /// The `--output jsonl` lines' rollout steps, in order: `"portal start green"`.
    pub fn rollout_steps(&self) -> Vec<String> {
        self.json_lines()
            .iter()
            .filter(|line| line["event"] == "rollout")
            .map(|line| {
                let step = &line["step"];
                let detail = match (
                    step.get("color").or_else(|| step.get("to")),
                    step.get("traffic"),
                ) {
                    (Some(color), _) => color.as_str().unwrap_or_default().to_owned(),
                    (None, Some(traffic)) => {
                        format!("blue {} green {}", traffic["blue"], traffic["green"])
                    }
                    (None, None) => String::new(),
                };
                format!(
                    "{} {} {detail}",
                    line["service"].as_str().unwrap_or_default(),
                    step["step"].as_str().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The last `--output jsonl` line: how the command ended.
    pub fn result(&self) -> Value {
        let lines = self.json_lines();
        let last = lines.last().cloned().unwrap_or_default();
        assert_eq!(
            last["event"],
            "result",
            "the last line is the result:\n{}",
            self.text()
        );
        last
    }

    /// Either stream says `expected`.
    pub fn contains(&self, expected: &str) -> &Self {
        let text = self.text();
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
        self
    }

    pub fn stdout_contains(&self, expected: &str) -> &Self {
        let stdout = self.stdout();
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in stdout:\n{stdout}\nstderr:\n{}",
            self.stderr()
        );
        self
    }

    /// stdout is exactly `expected`.
    pub fn stdout_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stdout(), expected, "stderr:\n{}", self.stderr());
        self
    }

    /// Neither stream says `unexpected`.
    pub fn lacks(&self, unexpected: &str) -> &Self {
        let text = self.text();
        assert!(
            !text.contains(unexpected),
            "unexpected `{unexpected}` in:\n{text}"
        );
        self
    }
}

/// Knobs for the dashboard spec the tests run.
pub struct DashboardSpec {
    pub portal_scaling: &'static str,
    pub autoscale_interval: &'static str,
    pub metric_window: &'static str,
    /// portal's `deploy:` policy.
    pub portal_deploy: &'static str,
    /// Extra arguments for portal (a deploy changes them to make a new release).
    pub portal_args: Vec<String>,
}

impl Default for DashboardSpec {
    fn default() -> Self {
        Self {
            portal_scaling: "{ min: 1, max: 1 }",
            autoscale_interval: "1s",
            metric_window: "10s",
            portal_deploy: "{ bake: 1s, health_timeout: 15s }",
            portal_args: Vec::new(),
        }
    }
}

/// A temporary directory holding a spec that runs the real portal and hardware binaries
/// (with a 50 ms computation instead of 5 s).
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub spec: PathBuf,
    pub portal_port: u16,
}

impl Workspace {
    pub fn new(spec: &DashboardSpec) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec_path = dir.path().join("dashboard.yaml");
        let workspace = Self {
            dir,
            spec: spec_path,
            portal_port: free_port(),
        };
        workspace.write(spec);
        workspace
    }

    pub fn write(&self, spec: &DashboardSpec) {
        let portal = service_binary("portal");
        let hardware = service_binary("hardware");
        let extra: String = spec
            .portal_args
            .iter()
            .map(|arg| format!(", \"{arg}\""))
            .collect();
        let yaml = format!(
            r#"app: dash
environment: test
local:
  health_interval: 200ms
  autoscale_interval: {autoscale_interval}
  metric_window: {metric_window}
  drain_timeout: 2s
services:
  portal:
    port: 5000
    public: true
    health: {{ path: /readyz, healthy_threshold: 2, unhealthy_threshold: 2 }}
    env:
      HARDWARE_URL: ${{services.hardware.url}}
    scaling: {scaling}
    deploy: {portal_deploy}
    local:
      command: ["{portal}", "--bind", "127.0.0.1:${{port}}", "--monitor-bind", "127.0.0.1:0", "--poll-interval", "1"{extra}]
      listen_port: {port}
  hardware:
    port: 5001
    health: {{ path: /readyz, healthy_threshold: 2 }}
    local:
      command: ["{hardware}", "--bind", "127.0.0.1:${{port}}", "--database-url", "sqlite://${{state_dir}}/hardware.db", "--refresh-interval", "1"]
      env:
        HARDWARE_COMPUTE_COST_MS: "50"
"#,
            autoscale_interval = spec.autoscale_interval,
            metric_window = spec.metric_window,
            scaling = spec.portal_scaling,
            portal_deploy = spec.portal_deploy,
            portal = portal.display(),
            hardware = hardware.display(),
            port = self.portal_port,
        );
        std::fs::write(&self.spec, yaml).expect("writing spec");
    }

    pub fn spec_arg(&self) -> String {
        self.spec.display().to_string()
    }

    pub fn portal_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.portal_port)
    }

    /// `dashctl subcommand -f <this spec> args`, for `Run`'s checks.
    pub fn run(&self, subcommand: &str, args: &[&str]) -> Run {
        let spec = self.spec_arg();
        // A nested subcommand (`rollout status`) comes whole before `-f`.
        let mut all: Vec<&str> = subcommand.split_whitespace().collect();
        all.extend(["-f", spec.as_str()]);
        all.extend_from_slice(args);
        Run::new(&all)
    }

    /// Pids of every running instance of every service.
    pub fn instance_pids(&self) -> Vec<u64> {
        self.status()["services"]
            .as_array()
            .expect("services")
            .iter()
            .flat_map(|service| service["instances"].as_array().cloned().unwrap_or_default())
            .filter_map(|instance| instance["pid"].as_u64())
            .collect()
    }

    pub fn status(&self) -> Value {
        self.run("status", &["--output", "json"]).succeeds().json()
    }

    /// The local status, or None while no `dashctl up` answers for this spec (it is starting).
    pub fn try_status(&self) -> Option<Value> {
        let output = self
            .run("status", &["--env", "local", "--output", "json"])
            .output();
        output
            .status
            .success()
            .then(|| serde_json::from_slice(&output.stdout).ok())
            .flatten()
    }

    /// Starts `dashctl up` and waits until the portal page is served through the proxy.
    pub async fn up(&self) -> Up {
        self.up_until_served("", |body| body.contains("Amazon - c5:"))
            .await
    }

    /// Starts `dashctl up` and waits until `path` answers through the proxy.
    pub async fn up_serving(&self, path: &str) -> Up {
        self.up_until_served(path, |_| true).await
    }

    async fn up_until_served(&self, path: &str, accept: impl Fn(&str) -> bool) -> Up {
        let up = self.start();
        let url = format!("{}{path}", self.portal_url());
        let accept = &accept;
        up.wait_until(
            &format!("{url} is served through the proxy"),
            Duration::from_secs(60),
            || {
                let url = url.clone();
                async move { page(&url).await.is_some_and(|body| accept(&body)) }
            },
        )
        .await;
        up
    }

    /// Starts `dashctl up` without waiting for anything.
    pub fn start(&self) -> Up {
        let log = std::fs::File::create(self.dir.path().join("up.log")).expect("log file");
        let child = Command::new(DASHCTL)
            .args(["up", "-f", &self.spec_arg()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting dashctl up");
        Up {
            child: Some(child),
            log: self.dir.path().join("up.log"),
        }
    }
}

pub async fn page(url: &str) -> Option<String> {
    let response = reqwest::get(url).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// A running `dashctl up`; dropping it stops it (SIGTERM, which drains and stops instances).
pub struct Up {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Up {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log says `expected` now (nothing is waited for).
    pub fn log_contains(&self, expected: &str) -> &Self {
        let log = self.log_text();
        assert!(
            log.contains(expected),
            "missing `{expected}` in dashctl up's log:\n{log}"
        );
        self
    }

    pub async fn wait_until<F, Fut>(&self, what: &str, timeout: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check().await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {what}; dashctl up log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits (30 s at most) until the workspace's status satisfies `done`.
    pub async fn wait_for_status(
        &self,
        workspace: &Workspace,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) {
        self.wait_until(what, Duration::from_secs(30), || {
            std::future::ready(done(&workspace.status()))
        })
        .await;
    }

    /// SIGKILLs `up` itself: it gets no chance to stop its instances.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for `up` to exit by itself (after `dashctl down`).
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "dashctl up did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A temporary spec that runs one paintshop instance behind the local proxy.
pub fn paintshop_workspace() -> Workspace {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("paintshop.yaml");
    let port = free_port();
    let yaml = format!(
        r#"app: paint
environment: test
local: {{ health_interval: 200ms }}
services:
  api:
    port: 8080
    public: true
    health: {{ path: /readyz, healthy_threshold: 2 }}
    local:
      command: ["{binary}", "--port", "${{port}}", "--monitor", "0", "--enable-crash", "--database-url", "sqlite://${{state_dir}}/paintshop.db"]
      listen_port: {port}
      raw_request_lines: true
"#,
        binary = service_binary("paintshop").display(),
    );
    std::fs::write(&spec, yaml).expect("writing spec");
    Workspace {
        dir,
        spec,
        portal_port: port,
    }
}

/// Whether a process exists (and is not a zombie).
pub fn process_alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Local addresses of listening TCP sockets on `port`, from /proc/net/tcp and tcp6.
pub fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // fields[1] = local "ADDR:PORT" in hex; fields[3] = state, 0A = LISTEN.
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((address, hex_port)) = local.rsplit_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                found.push(address.to_owned());
            }
        }
    }
    found
}

pub fn service<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["services"]
        .as_array()
        .and_then(|services| services.iter().find(|service| service["name"] == name))
        .unwrap_or_else(|| panic!("no service {name} in {status}"))
}

/// A service's live color and the image it runs, from a status: `("green", "example/portal:v2")`.
pub fn live_release(service: &Value) -> (&str, &str) {
    let field = |name: &str| service[name].as_str().unwrap_or_default();
    (field("live_color"), field("image"))
}

/// Sends `request` byte for byte on a fresh connection to the proxy on `port` (no client
/// library to fix it up) and returns everything the server answered before closing.
pub fn raw(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// `GET target` sent byte for byte (a legacy client's raw JSON in the request line, say), on a
/// connection it closes; everything the server answered.
pub fn raw_get(port: u16, target: &str) -> String {
    raw(
        port,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}
