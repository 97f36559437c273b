use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use paintshop::admin_key::AdminKey;
use paintshop::admission::SolveSlots;
use paintshop::client_ip::TrustedProxies;
use paintshop::key_limits::Clock;
use paintshop::legacy_input::Limits;
use paintshop::state::Protections;
use paintshop::store::Store;
use paintshop::{AppState, ServerSettings};
use serde_json::Value;
use service_kit::testing::ServerTask;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/legacy");

pub use service_db::testing::TestDb;

/// Runs each named `async fn(TestDb)` twice: `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_databases {
    ($($test:ident),* $(,)?) => {
        service_db::on_both_databases!("paintshop": $($test),*);
    };
}
pub(crate) use on_both_databases;

/// A paintshop running in this process on real sockets, with its own database.
pub struct Running {
    pub api: SocketAddr,
    pub monitor: SocketAddr,
    pub store: Store,
    /// The server's large-solve slots: a test that takes them all sees the server saturated.
    pub solve_slots: SolveSlots,
    server: ServerTask,
    _db: TestDb,
}

pub struct Options {
    pub rate_limit_per_minute: u32,
    pub max_body_bytes: usize,
    pub limits: Limits,
    pub anonymous_rate_limit_per_minute: Option<u32>,
    pub failed_keys_per_minute: u32,
    pub trusted_proxies: Vec<&'static str>,
    pub max_concurrent_requests: usize,
    pub max_concurrent_solves: usize,
    pub history_retention: Duration,
    /// Milliseconds since the epoch as the per-key limits see them; the wall clock if `None`.
    pub clock: Option<Clock>,
    /// Turns the admin API on with this key.
    pub admin_key: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: 10_000,
            max_body_bytes: 1024 * 1024,
            limits: Limits::default(),
            anonymous_rate_limit_per_minute: None,
            failed_keys_per_minute: 10_000,
            trusted_proxies: Vec::new(),
            max_concurrent_requests: 1024,
            max_concurrent_solves: 2,
            history_retention: Duration::from_secs(90 * 86_400),
            clock: None,
            admin_key: None,
        }
    }
}

/// One chained setter per field a test changes, so a test names only that:
/// `Options::default().max_body_bytes(4096)`.
macro_rules! setters {
    ($($field:ident: $type:ty),* $(,)?) => {
        impl Options {
            $(
                pub fn $field(mut self, $field: $type) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

setters!(
    rate_limit_per_minute: u32,
    max_body_bytes: usize,
    anonymous_rate_limit_per_minute: Option<u32>,
    failed_keys_per_minute: u32,
    trusted_proxies: Vec<&'static str>,
    max_concurrent_requests: usize,
    max_concurrent_solves: usize,
    history_retention: Duration,
    clock: Option<Clock>,
    admin_key: Option<&'static str>,
);

impl Running {
    /// On a SQLite file of its own.
    pub async fn start(options: Options) -> Self {
        Self::start_on(options, &TestDb::sqlite("paintshop")).await
    }

    /// On a SQLite file of its own, with one user, alice: her API key too.
    pub async fn start_with_alice(options: Options) -> (Self, String) {
        let paintshop = Self::start(options).await;
        let key = paintshop.add_user("alice").await;
        (paintshop, key)
    }

    /// On `db`, which other instances may share.
    pub async fn start_on(options: Options, db: &TestDb) -> Self {
        let store = Store::open(&db.target()).await.expect("open store");
        Self::start_with_store(options, store, db.clone()).await
    }

    /// Starts on a store the test has already filled (`db` holds its data).
    pub async fn start_with_store(options: Options, store: Store, db: TestDb) -> Self {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind api");
        let monitor = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind monitor");
        let (api_address, monitor_address) = (
            api.local_addr().expect("addr"),
            monitor.local_addr().expect("addr"),
        );
        let rate = |per_minute: u32| NonZeroU32::new(per_minute).expect("non-zero rate");
        let protections = Protections {
            requests_per_minute_per_key: rate(options.rate_limit_per_minute),
            anonymous_requests_per_minute: options.anonymous_rate_limit_per_minute.map(rate),
            failed_keys_per_minute: rate(options.failed_keys_per_minute),
            max_concurrent_solves: options.max_concurrent_solves,
            max_body_bytes: options.max_body_bytes,
        };
        let trusted = TrustedProxies::new(
            options
                .trusted_proxies
                .iter()
                .map(|network| network.parse().expect("CIDR"))
                .collect(),
        );
        let mut state = AppState::new(store.clone(), options.limits, protections, trusted, false)
            .with_admin_key(
                options
                    .admin_key
                    .map(|key| AdminKey::new(key).expect("a valid admin key")),
            );
        if let Some(clock) = options.clock {
            state.clock = clock;
        }
        let solve_slots = state.solve_slots.clone();
        let settings = ServerSettings {
            max_concurrent_requests: options.max_concurrent_requests,
            history_retention: options.history_retention,
            ..ServerSettings::default()
        };
        let server =
            ServerTask::spawn(|stopped| paintshop::serve(api, monitor, state, settings, stopped));
        Self {
            api: api_address,
            monitor: monitor_address,
            store,
            solve_slots,
            server,
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// `POST /v2/solve` with `body`, under `key` when there is one.
    pub async fn post_solve(&self, key: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(self.url("/v2/solve"))
            .json(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("send")
    }

    /// The status of [`small_solve_request`] under `key`.
    pub async fn small_solve_status(&self, key: &str) -> u16 {
        let response = self.post_solve(Some(key), &small_solve_request()).await;
        response.status().as_u16()
    }

    /// Creates a user the way `paintshop users add` does and returns its key.
    pub async fn add_user(&self, name: &str) -> String {
        let key = paintshop::api_keys::generate_key();
        self.store
            .add_user(name, &paintshop::api_keys::hash_key(&key), 0)
            .await
            .expect("add user");
        key
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// A /v2/ instance solved at once: one customer, who likes one color matte.
pub fn small_solve_request() -> Value {
    serde_json::json!({"colors": 2, "customers": [{"likes": [{"color": 1, "finish": "matte"}]}]})
}

/// Sends `request` byte for byte (no client library in between to fix it up) and returns the
/// status code and body of the answer.
pub async fn raw_request(address: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8(answer).expect("utf-8 answer");
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .expect("header/body separator");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    (status, body.to_owned())
}

/// The legacy client's exact request: the JSON pasted into the request line, unencoded. With
/// `closing`, it asks the server to close the connection after the answer.
pub fn legacy_request(json: &str, closing: bool) -> String {
    let connection = if closing { "Connection: close\r\n" } else { "" };
    format!("GET /v1/?input={json} HTTP/1.1\r\nHost: paintshop\r\n{connection}\r\n")
}

/// Sends [`legacy_request`] on a connection of its own; returns the answer's status and body.
pub async fn legacy_get(address: SocketAddr, json: &str) -> (u16, String) {
    raw_request(address, &legacy_request(json, true)).await
}

/// The legacy case file as (JSON input, expected answer) pairs.
pub fn legacy_cases() -> Vec<(String, String)> {
    let input =
        std::fs::read_to_string(format!("{SHARED}/paintshop-cases.in.txt")).expect("cases input");
    let output =
        std::fs::read_to_string(format!("{SHARED}/paintshop-cases.out.txt")).expect("cases output");
    let mut lines = input.lines().filter(|line| !line.trim().is_empty());
    let numbers = |line: &str| {
        line.split_whitespace()
            .map(|n| n.parse::<i64>().expect("number"))
            .collect::<Vec<_>>()
    };
    let count = numbers(lines.next().expect("count"))[0];
    let mut cases = Vec::new();
    let mut expected = output.lines();
    for case in 1..=count {
        let colors = numbers(lines.next().expect("N"))[0];
        let customers = numbers(lines.next().expect("M"))[0];
        let demands: Vec<Vec<i64>> = (0..customers)
            .map(|_| numbers(lines.next().expect("demand")))
            .collect();
        let json =
            serde_json::json!({"colors": colors, "customers": customers, "demands": demands})
                .to_string();
        let answer = expected.next().expect("answer line");
        let answer = answer
            .strip_prefix(&format!("Case #{case}: "))
            .expect("Case #k: prefix")
            .to_owned();
        cases.push((json, answer));
    }
    cases
}
