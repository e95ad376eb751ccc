//! Collects a source's changes into batches.
//!
//! When a batch is cut: when it is full (even inside a transaction, so a huge
//! transaction streams through in bounded pieces); and at the latest when its
//! oldest item has waited `max_batch_millis`. With the default
//! `max_batch_millis = 0`: when the source has nothing more ready, unless the
//! previous batch was cut less than [`MIN_CUT_INTERVAL`] ago, and at the latest
//! `MIN_CUT_INTERVAL` after its oldest item. So a quiet stream's transaction is
//! written at once, and a busy stream still makes batches of a few milliseconds'
//! worth instead of one per gap between two messages (a busy source is idle for
//! a moment after nearly every message; batches of a dozen changes cost a
//! wake-up and a commit each, and measured 25-40% more CPU than 100 ms batches).

use std::time::Duration;

use tokio::time::Instant;
use wellhead_decoders::change::{ChangeEvent, RestartPoint};

use super::size::event_size_estimate;
use crate::checkpoint::CheckpointUpdate;

/// With `max_batch_millis = 0`: the least time between two batches cut because the
/// source had nothing more ready, and the longest a batch is held while the source keeps
/// having more ready but never fills it. It bounds the batches of a busy stream to 200 a
/// second and adds at most this much latency to one that is busy.
pub const MIN_CUT_INTERVAL: Duration = Duration::from_millis(5);

/// When a batch is full, and how long it may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Events in a batch at most.
    pub max_events: usize,
    /// Estimated bytes of a batch at most.
    pub max_bytes: usize,
    /// How long a batch's oldest item may wait (zero: cut when the source has nothing more ready).
    pub max_wait: Duration,
}

/// A batch taken from the builder.
#[derive(Debug)]
pub struct PendingBatch {
    pub events: Vec<ChangeEvent>,
    pub bytes: usize,
    pub restart_point: Option<RestartPoint>,
    pub updates: Vec<CheckpointUpdate>,
}

/// Collects events, restart points and checkpoint facts until the batch is cut.
#[derive(Debug)]
pub struct BatchBuilder {
    events: Vec<ChangeEvent>,
    bytes: usize,
    /// The newest restart point reported; handed over with the next batch.
    restart_point: Option<RestartPoint>,
    restart_point_pending: bool,
    updates: Vec<CheckpointUpdate>,
    started: Option<Instant>,
    /// When the previous batch was cut.
    last_cut: Option<Instant>,
    limits: BatchLimits,
}

impl BatchBuilder {
    /// A builder whose batches keep within `limits`.
    pub fn new(limits: BatchLimits) -> BatchBuilder {
        BatchBuilder {
            events: Vec::new(),
            bytes: 0,
            restart_point: None,
            restart_point_pending: false,
            updates: Vec::new(),
            started: None,
            last_cut: None,
            limits,
        }
    }

    /// Adds an event.
    pub fn push(&mut self, event: ChangeEvent) {
        self.bytes += event_size_estimate(&event);
        self.events.push(event);
        self.started.get_or_insert_with(Instant::now);
    }

    /// Records where the source may restart once everything collected so far is durable.
    pub fn set_restart_point(&mut self, point: RestartPoint) {
        if self.restart_point.as_ref() != Some(&point) {
            self.restart_point = Some(point);
            self.restart_point_pending = true;
            self.started.get_or_insert_with(Instant::now);
        }
    }

    /// The newest restart point reported (handed over or not).
    pub fn restart_point(&self) -> Option<&RestartPoint> {
        self.restart_point.as_ref()
    }

    /// Adds a fact for the checkpoint.
    pub fn add_update(&mut self, update: CheckpointUpdate) {
        self.updates.push(update);
        self.started.get_or_insert_with(Instant::now);
    }

    /// True when the batch should be cut now.
    pub fn is_full(&self) -> bool {
        self.events.len() >= self.limits.max_events || self.bytes >= self.limits.max_bytes
    }

    /// True when there is nothing to hand over.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && !self.restart_point_pending && self.updates.is_empty()
    }

    /// The estimated bytes of the events collected.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// True when a source with nothing more ready should cut the batch now.
    pub fn cut_when_idle(&self) -> bool {
        self.limits.max_wait.is_zero()
            && !self.is_empty()
            && self.last_cut.is_none_or(|cut| cut.elapsed() >= MIN_CUT_INTERVAL)
    }

    /// When the current batch must be cut at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        let wait = if self.limits.max_wait.is_zero() { MIN_CUT_INTERVAL } else { self.limits.max_wait };
        self.started.map(|started| started + wait)
    }

    /// Takes the current batch, if there is anything to hand over.
    pub fn take(&mut self) -> Option<PendingBatch> {
        if self.is_empty() {
            self.started = None;
            return None;
        }
        self.started = None;
        self.last_cut = Some(Instant::now());
        let restart_point =
            if std::mem::take(&mut self.restart_point_pending) { self.restart_point.clone() } else { None };
        // The next batch's vector grows as it fills: most batches are far from full, and the
        // queue counts their events, not a capacity reserved for a full batch
        // (4,096 reserved slots of a few hundred bytes each, for every small batch queued,
        // multiplied the memory the queue's limit promises). A vector that grew for more than
        // it got is trimmed for the same reason.
        let mut events = std::mem::take(&mut self.events);
        if events.capacity() > 2 * events.len() {
            events.shrink_to_fit();
        }
        Some(PendingBatch {
            events,
            bytes: std::mem::take(&mut self.bytes),
            restart_point,
            updates: std::mem::take(&mut self.updates),
        })
    }
}
