//! Batches and the bounded queue between a source and its sink.
//!
//! ```text
//!  source ──BatchSender::send (waits for memory permits)──► [queue] ──► sink thread ──► Ack(flush_lsn)
//! ```
//!
//! Memory is bounded by the bytes of events in flight: a batch holds permits of
//! a semaphore sized `buffer.max_bytes` until the sink has written it, so a
//! slow sink stops the source (which stops reading the socket: backpressure all
//! the way to the database).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use wellhead_decoders::change::{ChangeEvent, ColumnValue, Lsn, Position, Value};

/// Changes handed to the sink in one piece, with the checkpoint they complete.
#[derive(Debug)]
pub struct Batch {
    pub events: Vec<ChangeEvent>,
    /// Position of the last event in this batch or, with no events, the stream's last.
    pub last_position: Option<Position>,
    /// End LSN of the last transaction that is complete once this batch is written.
    pub flush_lsn: Lsn,
    _memory: OwnedSemaphorePermit,
}

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

impl BatchSender {
    /// Queues a batch, waiting while the queue holds `max_bytes` already.
    /// A batch larger than the whole bound waits for the queue to drain, then goes alone.
    pub async fn send(
        &self,
        events: Vec<ChangeEvent>,
        event_bytes: usize,
        last_position: Option<Position>,
        flush_lsn: Lsn,
    ) -> Result<(), SinkGone> {
        let permits = u32::try_from(event_bytes).unwrap_or(u32::MAX).clamp(1, self.max_bytes);
        let memory = self.memory.clone().acquire_many_owned(permits).await.map_err(|_| SinkGone)?;
        let batch = Batch { events, last_position, flush_lsn, _memory: memory };
        self.queue.send(batch).await.map_err(|_| SinkGone)
    }
}

/// An estimate of the memory an event holds, for the queue's bound.
pub fn event_size_estimate(event: &ChangeEvent) -> usize {
    let row_bytes = |row: &Option<Vec<ColumnValue>>| {
        row.as_ref().map_or(0, |row| row.iter().map(column_size_estimate).sum::<usize>())
    };
    std::mem::size_of::<ChangeEvent>() + row_bytes(&event.before) + row_bytes(&event.after)
}

fn column_size_estimate(column: &ColumnValue) -> usize {
    let inline = std::mem::size_of::<ColumnValue>();
    match column {
        ColumnValue::Value(value) => inline + value_heap_size(value),
        _ => inline,
    }
}

fn value_heap_size(value: &Value) -> usize {
    match value {
        Value::Text(text)
        | Value::Json(text)
        | Value::Xml(text)
        | Value::Bits(text)
        | Value::Enum(text)
        | Value::Other(text) => text.len(),
        Value::Bytes(bytes) | Value::Geometry { wkb: bytes, .. } => bytes.len(),
        Value::Set(members) => members.iter().map(|m| m.len() + std::mem::size_of::<String>()).sum(),
        Value::Vector(elements) => elements.len() * 4,
        Value::Numeric(wellhead_decoders::change::Numeric::Finite(decimal)) => decimal.digits.len(),
        Value::Array(array) => array
            .elements
            .iter()
            .map(|element| std::mem::size_of::<Option<Value>>() + element.as_ref().map_or(0, value_heap_size))
            .sum(),
        Value::Composite(fields) => fields
            .iter()
            .map(|(name, field)| {
                name.len() + std::mem::size_of::<Option<Value>>() + field.as_ref().map_or(0, value_heap_size)
            })
            .sum(),
        Value::Range(range) => std::mem::size_of_val(range.as_ref()),
        _ => 0,
    }
}

/// A batch ready to be queued.
#[derive(Debug)]
pub struct PendingBatch {
    pub events: Vec<ChangeEvent>,
    pub bytes: usize,
    pub last_position: Option<Position>,
    pub flush_lsn: Lsn,
}

/// Collects events into batches: cut when full (even inside a transaction, so a
/// huge transaction streams through in bounded pieces), or when the oldest
/// collected item has waited `max_wait`.
#[derive(Debug)]
pub struct BatchBuilder {
    events: Vec<ChangeEvent>,
    bytes: usize,
    last_position: Option<Position>,
    flush_lsn: Lsn,
    last_sent_flush_lsn: Lsn,
    started: Option<tokio::time::Instant>,
    max_events: usize,
    max_bytes: usize,
    max_wait: std::time::Duration,
}

impl BatchBuilder {
    /// A builder whose batches hold at most `max_events` events or `max_bytes` bytes.
    pub fn new(
        max_events: usize,
        max_bytes: usize,
        max_wait: std::time::Duration,
        acked_flush_lsn: Lsn,
    ) -> BatchBuilder {
        BatchBuilder {
            events: Vec::with_capacity(max_events.min(65_536)),
            bytes: 0,
            last_position: None,
            flush_lsn: acked_flush_lsn,
            last_sent_flush_lsn: acked_flush_lsn,
            started: None,
            max_events,
            max_bytes,
            max_wait,
        }
    }

    /// Adds an event.
    pub fn push(&mut self, event: ChangeEvent) {
        self.bytes += event_size_estimate(&event);
        self.last_position = Some(event.position.clone());
        self.events.push(event);
        self.started.get_or_insert_with(tokio::time::Instant::now);
    }

    /// Records that the source transaction ending at `end_lsn` is complete.
    pub fn complete_transaction(&mut self, end_lsn: Lsn) {
        if end_lsn > self.flush_lsn {
            self.flush_lsn = end_lsn;
            self.started.get_or_insert_with(tokio::time::Instant::now);
        }
    }

    /// True when the batch should be cut now.
    pub fn is_full(&self) -> bool {
        self.events.len() >= self.max_events || self.bytes >= self.max_bytes
    }

    /// True when there is neither an event nor a completed transaction to hand over.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.flush_lsn <= self.last_sent_flush_lsn
    }

    /// When the current batch must be cut at the latest.
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.started.map(|started| started + self.max_wait)
    }

    /// The flush LSN of the last batch taken.
    pub fn last_sent_flush_lsn(&self) -> Lsn {
        self.last_sent_flush_lsn
    }

    /// Takes the current batch, if there is anything to hand over.
    pub fn take(&mut self) -> Option<PendingBatch> {
        self.started = None;
        if self.is_empty() {
            return None;
        }
        self.last_sent_flush_lsn = self.flush_lsn;
        Some(PendingBatch {
            events: std::mem::replace(&mut self.events, Vec::with_capacity(self.max_events.min(65_536))),
            bytes: std::mem::take(&mut self.bytes),
            last_position: self.last_position.take(),
            flush_lsn: self.flush_lsn,
        })
    }
}
