//! For the services' test suites (feature `testing`): a server started on a task of the test's
//! process and stopped cleanly, and one request answered by a router without a socket.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// A server running on a task of its own until [`ServerTask::stop`].
pub struct ServerTask {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// The shutdown future a [`ServerTask`] gives its server: resolves when the test stops it.
pub struct StopSignal(oneshot::Receiver<()>);

impl Future for StopSignal {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(context).map(|_| ())
    }
}

impl ServerTask {
    /// Spawns `serve(stop_signal)`; the server drains and returns once the signal resolves.
    pub fn spawn<Served>(serve: impl FnOnce(StopSignal) -> Served) -> Self
    where
        Served: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Self {
            stop,
            task: tokio::spawn(serve(StopSignal(stopped))),
        }
    }

    /// Stops the server and waits for it, failing the test unless it exits cleanly within
    /// ten seconds.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("its task joins")
            .expect("it exits cleanly");
    }
}

/// Sends `request` to `router` in-process and reads the whole answer.
pub async fn answer(router: Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (head, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the whole body");
    (
        head.status,
        head.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}
