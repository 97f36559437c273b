//! What a listener served by `service_kit::server::serve` holds against clients that connect and
//! never finish: slowloris connections are cut at the header-read timeout, idle keep-alive
//! connections too, the connection cap holds, and real requests are served throughout.

use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use service_kit::ClientAddr;
use service_kit::server::{ConnectionLimits, RequestLines, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server on a loopback port of its own, serving `/` (`ok`) and `/who` (the client's address).
struct Listening {
    address: std::net::SocketAddr,
    /// Stops the server when sent to (or dropped).
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.expect("server");
    }
}

async fn start(limits: ConnectionLimits) -> Listening {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = Router::new().route("/", get(|| async { "ok" })).route(
        "/who",
        get(
            |ConnectInfo(ClientAddr(client)): ConnectInfo<ClientAddr>| async move {
                client.ip().to_string()
            },
        ),
    );
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, app, RequestLines::Strict, limits, async {
            let _ = stop.await;
        })
        .await
        .expect("serve");
    });
    Listening {
        address,
        shutdown,
        task,
    }
}

/// A fresh connection on which `bytes` have been sent.
async fn connect_and_send(address: std::net::SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    stream
}

/// `count` connections, each of which has sent `bytes`.
async fn connections(address: std::net::SocketAddr, count: usize, bytes: &[u8]) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        streams.push(connect_and_send(address, bytes).await);
    }
    streams
}

/// One GET on a fresh connection; the response text.
async fn get_once(address: std::net::SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut stream = connect_and_send(address, request.as_bytes()).await;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

/// Reads until the server closes the connection; fails with `left_open` if it has not within
/// 30 s (the timeouts under test are shorter).
async fn expect_closed_by_server(stream: &mut TcpStream, left_open: &str) {
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.expect(left_open);
}

fn limits(header_read_timeout_ms: u64, max_connections: usize) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(header_read_timeout_ms),
        max_connections,
        drain_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_thousand_slowloris_connections_do_not_stop_real_requests() {
    let server = start(limits(2_000, 4096)).await;
    // Heads that never end.
    let mut slow = connections(
        server.address,
        1000,
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ",
    )
    .await;
    let response = get_once(server.address, "/").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
    // The server cuts them at the header-read timeout.
    for stream in &mut slow {
        expect_closed_by_server(
            stream,
            "a slow connection stays open past the header-read timeout",
        )
        .await;
    }
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = start(limits(500, 16)).await;
    let mut stream =
        connect_and_send(server.address, b"GET /who HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let mut buffer = vec![0u8; 1024];
    let read = stream.read(&mut buffer).await.expect("response");
    let response = String::from_utf8_lossy(&buffer[..read]).to_string();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.ends_with("127.0.0.1"),
        "the handler sees the client: {response}"
    );
    // Kept alive, then idle: closed by the server, not left open forever.
    expect_closed_by_server(&mut stream, "an idle keep-alive connection stays open").await;
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = start(limits(60_000, 2)).await;
    let mut holders = connections(server.address, 2, b"GET / HTTP/1.1\r\n").await;
    // Both slots are taken: a third client waits in the accept queue...
    let third = tokio::spawn(get_once(server.address, "/"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "served while both slots were held");
    // ...and is served as soon as one frees.
    drop(holders.pop());
    let response = third.await.expect("third client");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.stop().await;
}
