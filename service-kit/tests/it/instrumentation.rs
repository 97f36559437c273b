//! The layers every service gets through `service_kit::instrument`: a panicking handler costs
//! one 500 and nothing else, and request ids from callers are kept only when they are sane.

use axum::Router;
use axum::routing::get;
use service_kit::server::{ConnectionLimits, RequestLines, serve};
use service_kit::{MAX_REQUEST_ID_LEN, instrument};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn panics() -> &'static str {
    panic!("a bug in a handler")
}

async fn start() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = instrument(
        Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/panics", get(panics)),
    );
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = serve(
            listener,
            app,
            RequestLines::Strict,
            ConnectionLimits::default(),
            async {
                let _ = stop.await;
            },
        )
        .await;
    });
    (address, shutdown)
}

/// Sends `requests` on one keep-alive connection (the last one closes it); the raw answers.
async fn exchange(address: std::net::SocketAddr, requests: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(requests.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_connection_and_server_carry_on() {
    let (address, _shutdown) = start().await;
    let answer = exchange(
        address,
        "GET /panics HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    let statuses: Vec<&str> = answer
        .lines()
        .filter(|line| line.starts_with("HTTP/1.1 "))
        .collect();
    assert_eq!(
        statuses,
        ["HTTP/1.1 500 Internal Server Error", "HTTP/1.1 200 OK"],
        "{answer}"
    );
    assert!(answer.contains("internal error"), "{answer}");
    assert!(
        !answer.contains("a bug in a handler"),
        "panic text stays in the logs: {answer}"
    );
    let again = exchange(
        address,
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
}

fn echoed_id(answer: &str) -> String {
    answer
        .lines()
        .find_map(|line| line.strip_prefix("x-request-id: "))
        .expect("x-request-id in the answer")
        .to_owned()
}

#[tokio::test]
async fn caller_request_ids_are_kept_only_when_short_printable_and_single() {
    let (address, _shutdown) = start().await;
    let with_ids = |ids: Vec<String>| {
        let headers: String = ids
            .iter()
            .map(|id| format!("x-request-id: {id}\r\n"))
            .collect();
        format!("GET / HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n")
    };
    let kept = "a".repeat(MAX_REQUEST_ID_LEN);
    assert_eq!(
        echoed_id(&exchange(address, &with_ids(vec![kept.clone()])).await),
        kept
    );
    for refused in [
        vec!["a".repeat(MAX_REQUEST_ID_LEN + 1)],
        vec!["caf\u{e9}".to_owned()],
        vec!["one".to_owned(), "two".to_owned()],
    ] {
        let echoed = echoed_id(&exchange(address, &with_ids(refused.clone())).await);
        assert!(!refused.contains(&echoed), "{refused:?} kept as {echoed}");
        assert_eq!(echoed.len(), 36, "a fresh UUID: {echoed}");
    }
}
