//! Load shedding: the API takes on no more work than it can finish. Past the caps a request is
//! answered 503 with `Retry-After` at once, which a client or load balancer can act on, instead
//! of joining a queue that grows until every request times out.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::errors::ApiError;

/// Requests in progress at once on the API port.
#[derive(Debug, Clone)]
pub struct RequestSlots(Arc<Semaphore>);

impl RequestSlots {
    pub fn new(capacity: usize) -> Self {
        Self(Arc::new(Semaphore::new(capacity.max(1))))
    }
}

/// Middleware: holds a slot for the whole request, or answers 503.
pub async fn admit(State(slots): State<RequestSlots>, request: Request, next: Next) -> Response {
    let Ok(_slot) = slots.0.try_acquire() else {
        metrics::counter!("paintshop_shed_total", "reason" => "requests").increment(1);
        return ApiError::Busy { what: "requests" }.into_response_for(request.uri().path());
    };
    next.run(request).await
}

/// Large solves running at once (on the blocking pool).
#[derive(Debug, Clone)]
pub struct SolveSlots(Arc<Semaphore>);

impl SolveSlots {
    pub fn new(capacity: usize) -> Self {
        Self(Arc::new(Semaphore::new(capacity.max(1))))
    }

    /// A slot for one large solve, or `Busy` when all are taken.
    pub fn try_take(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.0.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!("paintshop_shed_total", "reason" => "solves").increment(1);
            ApiError::Busy {
                what: "large solves",
            }
        })
    }

    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}
