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

/// Stops the server when sent to (or dropped).
type Shutdown = tokio::sync::oneshot::Sender<()>;

async fn start(
    limits: ConnectionLimits,
) -> (std::net::SocketAddr, Shutdown, tokio::task::JoinHandle<()>) {
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
    (address, shutdown, task)
}

/// One GET on a fresh connection; the response text.
async fn get_once(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

/// Reads until the server closes the connection (Ok) or `within` passes (Err).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Result<(), ()> {
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .map_err(|_| ())
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
    let (address, shutdown, task) = start(limits(2_000, 4096)).await;
    let mut slow = Vec::new();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        // A head that never ends.
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            .await
            .expect("write");
        slow.push(stream);
    }
    let response = get_once(address, "/").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
    // The server cuts them at the header-read timeout.
    for stream in &mut slow {
        closed_within(stream, Duration::from_secs(30))
            .await
            .expect("a slow connection stays open past the header-read timeout");
    }
    let _ = shutdown.send(());
    task.await.expect("server");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (address, shutdown, task) = start(limits(500, 16)).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /who HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let mut buffer = vec![0u8; 1024];
    let read = stream.read(&mut buffer).await.expect("response");
    let response = String::from_utf8_lossy(&buffer[..read]).to_string();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.ends_with("127.0.0.1"),
        "the handler sees the client: {response}"
    );
    // Kept alive, then idle: closed by the server, not left open forever.
    closed_within(&mut stream, Duration::from_secs(30))
        .await
        .expect("an idle keep-alive connection stays open");
    let _ = shutdown.send(());
    task.await.expect("server");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let (address, shutdown, task) = start(limits(60_000, 2)).await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("write");
        holders.push(stream);
    }
    // Both slots are taken: a third client waits in the accept queue...
    let third = tokio::spawn(get_once(address, "/"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "served while both slots were held");
    // ...and is served as soon as one frees.
    drop(holders.pop());
    let response = third.await.expect("third client");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let _ = shutdown.send(());
    task.await.expect("server");
}
