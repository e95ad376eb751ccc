//! Batches, the bounded queue between a source and its sink, and the
//! acknowledgements that flow back. A leaf of `src`: sources, sinks and the
//! pipeline all speak it, and it knows none of them.
//!
//! ```text
//!  source ─► Outlet (drop resends, collect) ─► BatchSender (waits for memory permits)
//!        ─► [queue] ─► sink thread ─► checkpoint ─► Acknowledgement (watch) ─► source
//! ```
//!
//! Memory is bounded by the bytes of events in flight: a batch holds permits of
//! a semaphore sized `buffer.max_bytes` until the sink has written it, so a
//! slow sink stops the source (which stops reading the socket: backpressure all
//! the way to the database).

mod builder;
mod outlet;
mod size;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use wellhead_decoders::change::{ChangeEvent, RestartPoint};

use crate::checkpoint::CheckpointUpdate;

pub use self::builder::{BatchBuilder, BatchLimits};
pub use self::outlet::Outlet;

/// Changes handed to the sink in one piece, with what they complete.
#[derive(Debug)]
pub struct Batch {
    /// In source order, each after the last change handed over before.
    pub events: Vec<ChangeEvent>,
    /// Where the source may restart once this batch is durable; `None`: where it was.
    pub restart_point: Option<RestartPoint>,
    /// Facts for the checkpoint besides changes (rare: origin, table states).
    pub updates: Vec<CheckpointUpdate>,
    /// The source stops after this batch: the sink makes everything durable now (a files
    /// sink finalises its open files) and acknowledges, so that the source can confirm
    /// the final checkpoint to the server before it disconnects.
    pub stopping: bool,
    _memory: OwnedSemaphorePermit,
}

/// What the sink holds durably, sent back to the source after each checkpoint:
/// the restart point of the last checkpoint saved (`None` before the first).
pub type Acknowledgement = Option<RestartPoint>;

/// The sink's end of the acknowledgement channel.
pub type AckSender = watch::Sender<Acknowledgement>;

/// The source's end of the acknowledgement channel.
pub type AckReceiver = watch::Receiver<Acknowledgement>;

/// The source's end of the queue.
#[derive(Debug, Clone)]
pub struct BatchSender {
    queue: mpsc::Sender<Batch>,
    memory: Arc<Semaphore>,
    max_bytes: u32,
}

/// The sink's end of the queue.
pub type BatchReceiver = mpsc::Receiver<Batch>;

/// The queue was closed by the sink (it stopped).
#[derive(Debug, thiserror::Error)]
#[error("the sink has stopped")]
pub struct SinkGone;

/// A queue bounded to `max_bytes` of events in flight.
pub fn batch_queue(max_bytes: u64) -> (BatchSender, BatchReceiver) {
    let max_bytes = u32::try_from(max_bytes).unwrap_or(u32::MAX).min(Semaphore::MAX_PERMITS as u32);
    let (queue, receiver) = mpsc::channel(64);
    (BatchSender { queue, memory: Arc::new(Semaphore::new(max_bytes as usize)), max_bytes }, receiver)
}

/// Room in the queue for one batch of a known size, reserved before the batch is taken.
#[derive(Debug)]
pub struct QueueSlot {
    memory: OwnedSemaphorePermit,
    slot: mpsc::OwnedPermit<Batch>,
}

/// How full the queue is, readable from either end.
#[derive(Debug, Clone)]
pub struct QueueOccupancy {
    memory: Arc<Semaphore>,
    max_bytes: u32,
}

impl QueueOccupancy {
    /// Estimated bytes of the batches queued or being written (their memory permits).
    pub fn bytes(&self) -> u64 {
        u64::from(self.max_bytes).saturating_sub(self.memory.available_permits() as u64)
    }
}

impl BatchSender {
    /// A view of the queue's fill, for metrics.
    pub fn occupancy(&self) -> QueueOccupancy {
        QueueOccupancy { memory: self.memory.clone(), max_bytes: self.max_bytes }
    }

    /// Waits until the queue has room for `event_bytes` (a batch larger than the whole
    /// bound waits for the queue to drain, then goes alone). Cancel-safe: dropping the
    /// future reserves nothing.
    pub async fn reserve(&self, event_bytes: usize) -> Result<QueueSlot, SinkGone> {
        let permits = u32::try_from(event_bytes).unwrap_or(u32::MAX).clamp(1, self.max_bytes);
        let memory = self.memory.clone().acquire_many_owned(permits).await.map_err(|_| SinkGone)?;
        let slot = self.queue.clone().reserve_owned().await.map_err(|_| SinkGone)?;
        Ok(QueueSlot { memory, slot })
    }
}

impl QueueSlot {
    /// Queues the batch at once.
    pub fn send(
        self,
        events: Vec<ChangeEvent>,
        restart_point: Option<RestartPoint>,
        updates: Vec<CheckpointUpdate>,
        stopping: bool,
    ) {
        self.slot.send(Batch { events, restart_point, updates, stopping, _memory: self.memory });
    }
}

/// True when the acknowledgement covers `queued` (nothing queued: trivially).
pub fn acknowledged_covers(acknowledgement: &Acknowledgement, queued: Option<&RestartPoint>) -> bool {
    match (acknowledgement, queued) {
        (_, None) => true,
        (Some(acknowledged), Some(queued)) => acknowledged.covers(queued).unwrap_or(false),
        (None, Some(_)) => false,
    }
}

/// Waits until the sink acknowledges `queued`. `Err` when the sink stopped first.
pub async fn wait_until_acknowledged(acks: &mut AckReceiver, queued: Option<&RestartPoint>) -> Result<(), SinkGone> {
    while !acknowledged_covers(&acks.borrow_and_update(), queued) {
        if acks.changed().await.is_err() {
            return Err(SinkGone);
        }
    }
    Ok(())
}

/// Waits until `deadline`, or forever without one.
pub async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
