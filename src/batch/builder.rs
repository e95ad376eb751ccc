//! Collects a source's changes into batches.
//!
//! When a batch is cut: when it is full (even inside a transaction, so a huge
//! transaction streams through in bounded pieces); when the source has nothing
//! more ready (with the default `max_batch_millis = 0`: an idle-ish stream is
//! written at once, a busy one still fills its batches); and at the latest
//! when its oldest item has waited `max_batch_millis` (or
//! [`BUSY_SOURCE_MAX_WAIT`] when that is 0, for a source that is never idle).

use std::time::Duration;

use tokio::time::Instant;
use wellhead_decoders::change::{ChangeEvent, RestartPoint};

use super::size::event_size_estimate;
use crate::checkpoint::CheckpointUpdate;

/// With `max_batch_millis = 0`, the longest a batch is held while the source keeps
/// having more ready (transactions of tables not captured, for instance) but never fills it.
pub const BUSY_SOURCE_MAX_WAIT: Duration = Duration::from_millis(100);

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
    limits: BatchLimits,
}

impl BatchBuilder {
    /// A builder whose batches keep within `limits`.
    pub fn new(limits: BatchLimits) -> BatchBuilder {
        BatchBuilder {
            events: Vec::with_capacity(limits.max_events.min(65_536)),
            bytes: 0,
            restart_point: None,
            restart_point_pending: false,
            updates: Vec::new(),
            started: None,
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
        self.limits.max_wait.is_zero() && !self.is_empty()
    }

    /// When the current batch must be cut at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        let wait = if self.limits.max_wait.is_zero() { BUSY_SOURCE_MAX_WAIT } else { self.limits.max_wait };
        self.started.map(|started| started + wait)
    }

    /// Takes the current batch, if there is anything to hand over.
    pub fn take(&mut self) -> Option<PendingBatch> {
        if self.is_empty() {
            self.started = None;
            return None;
        }
        self.started = None;
        let restart_point =
            if std::mem::take(&mut self.restart_point_pending) { self.restart_point.clone() } else { None };
        Some(PendingBatch {
            events: std::mem::replace(&mut self.events, Vec::with_capacity(self.limits.max_events.min(65_536))),
            bytes: std::mem::take(&mut self.bytes),
            restart_point,
            updates: std::mem::take(&mut self.updates),
        })
    }
}
