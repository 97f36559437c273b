//! Serving an axum app with the limits every listener needs, which `axum::serve` does not set:
//! a header-read timeout (which in hyper also bounds the idle wait between requests on a
//! keep-alive connection), a cap on open connections, and graceful shutdown that lets requests
//! in flight finish. A slowloris client holding many half-open connections only ever holds them
//! for the header-read timeout, and never more than the cap.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::request_line::{ClientAddr, LegacyRequestLines};

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest wait for a complete request head, from the moment the connection opens or the
    /// previous response was sent (so also the keep-alive idle timeout).
    pub header_read_timeout: Duration,
    /// Open connections at most; further clients wait in the kernel's accept queue.
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight before closing their connections.
    pub drain_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The limits as command-line flags (with env fallbacks), for every service's `Config` to
/// flatten.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ConnectionArgs {
    /// Milliseconds a client has to send a complete request head; also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub header_read_timeout_ms: u64,
    /// Open connections at most on each listener; more clients wait in the accept queue.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,
}

impl ConnectionArgs {
    pub fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            ..ConnectionLimits::default()
        }
    }
}

/// How requests arrive on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLines {
    /// Plain HTTP/1.1, as hyper parses it.
    Strict,
    /// Legacy clients' raw `"`, `{`, `[` in request targets are percent-encoded first
    /// (`request_line`), with framing checked as hyper does.
    Legacy,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting and drains.
/// Handlers can extract `ConnectInfo<ClientAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    lines: RequestLines,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_connections(
        listener,
        move |address| {
            let service = app.clone().map_request(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo(ClientAddr(address)));
                    request
                },
            );
            TowerToHyperService::new(service)
        },
        lines,
        limits,
        shutdown,
    )
    .await
}

/// Serves each accepted connection with the service `per_connection` makes for its client
/// address, under the same limits and shutdown as [`serve`]. For a server that keeps state per
/// client connection (the local proxy pins its upstream connections to it), which a shared
/// `Router` cannot.
pub async fn serve_connections<S, B>(
    listener: TcpListener,
    per_connection: impl Fn(SocketAddr) -> S,
    lines: RequestLines,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = hyper::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = per_connection(address);
        match lines {
            RequestLines::Strict => {
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                tokio::spawn(run_connection(graceful.watch(connection), permit));
            }
            RequestLines::Legacy => {
                let io = TokioIo::new(LegacyRequestLines::new(stream));
                let connection = builder.serve_connection(io, service);
                tokio::spawn(run_connection(graceful.watch(connection), permit));
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in flight after {:?}; closing their connections",
            limits.drain_timeout
        );
    }
    Ok(())
}

/// Runs one connection to its end, holding its place under the connection cap until then.
async fn run_connection(
    connection: impl Future<Output = Result<(), hyper::Error>>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    // Errors here are the client's (reset, timed out, malformed); hyper has answered what it
    // could.
    if let Err(error) = connection.await {
        tracing::debug!("connection ended: {error}");
    }
    drop(permit);
}

/// Out of file descriptors or a connection reset before accept: wait a moment rather than
/// spin, as axum::serve does.
async fn pause_after_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!("accepting a connection failed: {error}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
