use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::availability::{Availability, slow_process_to_calculate_availability};
use crate::snapshot::Profile;

type Job = (Profile, oneshot::Sender<Availability>);

/// A fixed set of OS threads that run the slow computation.
///
/// Plain threads rather than tokio's blocking pool: the number of computations in flight is
/// bounded by construction, and shutting the service down never waits for a computation that
/// is halfway through its 5 s (tokio waits for blocking tasks when its runtime is dropped).
pub struct ComputePool {
    jobs: mpsc::Sender<Job>,
}

#[derive(Debug, thiserror::Error)]
#[error("the compute pool has stopped")]
pub struct PoolStopped;

impl ComputePool {
    pub fn new(workers: usize, cost: Duration) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..workers.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("compute-{index}"))
                .spawn(move || {
                    loop {
                        // Holding the lock only while taking a job keeps the workers independent.
                        let next = match queue.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        let Ok((profile, reply)) = next else { return };
                        let availability = slow_process_to_calculate_availability(
                            &profile.provider,
                            &profile.name,
                            cost,
                        );
                        let _ = reply.send(availability);
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    /// Queues one computation and waits for its result without blocking the async runtime.
    pub async fn compute(&self, profile: Profile) -> Result<Availability, PoolStopped> {
        let (reply, result) = oneshot::channel();
        self.jobs.send((profile, reply)).map_err(|_| PoolStopped)?;
        result.await.map_err(|_| PoolStopped)
    }
}
