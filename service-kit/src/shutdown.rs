/// Resolves on Ctrl-C or SIGTERM (what ECS and `dashctl down` send), so servers can stop
/// accepting connections and finish in-flight requests before exiting.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining connections");
}

/// One shutdown future for several servers: each [`ShutdownSignal::wait`] resolves once the
/// future given to [`ShutdownSignal::new`] has (or when it can no longer), so a service's
/// listeners all start draining together.
#[derive(Clone)]
pub struct ShutdownSignal(tokio::sync::watch::Receiver<bool>);

impl ShutdownSignal {
    /// Watches `shutdown` on a task of its own; call within a tokio runtime.
    pub fn new(shutdown: impl Future<Output = ()> + Send + 'static) -> Self {
        let (stop_sender, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_sender.send(true);
        });
        Self(stop)
    }

    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stop = self.0.clone();
        async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        }
    }
}
