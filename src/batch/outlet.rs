//! The outlet a source streams into: it drops what the pipeline already holds
//! (a source resends everything after its last acknowledged restart point
//! when it reconnects), collects the rest into batches and queues them.
//!
//! ```text
//!  source ─push(event)─► at or before `accepted`? drop (a resend) : collect
//!         ─restart_point(p)─► collect
//!         ─flush()─► reserve queue room ─► take the batch ─► queue   (cancel-safe)
//! ```
//!
//! Invariants: every change at or before `accepted` is in the builder, the
//! queue, the sink or the checkpoint; `accepted` only grows. The outlet lives
//! as long as the pipeline's sink, across reconnections of its source, so a
//! batch that waited for queue room while the connection failed is neither
//! lost nor repeated.

use tokio::time::Instant;
use wellhead_decoders::change::{ChangeEvent, Position, PositionMismatch, RestartPoint};

use super::builder::{BatchBuilder, BatchLimits};
use super::{BatchSender, SinkGone};
use crate::checkpoint::CheckpointUpdate;

/// Where a source's changes enter the pipeline.
#[derive(Debug)]
pub struct Outlet {
    builder: BatchBuilder,
    sender: BatchSender,
    /// The last change accepted: collected, queued or durable.
    accepted: Option<Position>,
    /// The restart point of the last batch queued, or of the checkpoint resumed from.
    queued_restart_point: Option<RestartPoint>,
    resends_dropped: u64,
    /// The next flush is the run's last batch.
    stopping: bool,
}

impl Outlet {
    /// An outlet after the checkpoint's `last_written` change and `restart_point`.
    pub fn new(
        sender: BatchSender,
        limits: BatchLimits,
        last_written: Option<Position>,
        restart_point: Option<RestartPoint>,
    ) -> Outlet {
        Outlet {
            builder: BatchBuilder::new(limits),
            sender,
            accepted: last_written,
            queued_restart_point: restart_point,
            resends_dropped: 0,
            stopping: false,
        }
    }

    /// Adds a change, unless it is at or before one accepted already (then it is a resend
    /// and is dropped: returns false). Positions of another kind of source are an error.
    pub fn push(&mut self, event: ChangeEvent) -> Result<bool, PositionMismatch> {
        if let Some(accepted) = &self.accepted
            && event.position.compare(accepted)?.is_le()
        {
            self.resends_dropped += 1;
            return Ok(false);
        }
        self.accepted = Some(event.position.clone());
        self.builder.push(event);
        Ok(true)
    }

    /// Records where the source may restart once everything pushed so far is durable. A
    /// point that does not cover the latest one (the end of a transaction sent again after
    /// a reconnection) is ignored: restart points only move forward.
    pub fn restart_point(&mut self, point: RestartPoint) -> Result<(), PositionMismatch> {
        let latest = self.builder.restart_point().or(self.queued_restart_point.as_ref());
        if let Some(latest) = latest
            && !point.covers(latest)?
        {
            return Ok(());
        }
        self.builder.set_restart_point(point);
        Ok(())
    }

    /// Adds a fact for the checkpoint (the source's origin, a table's state).
    pub fn update_checkpoint(&mut self, update: CheckpointUpdate) {
        self.builder.add_update(update);
    }

    /// True when the batch is full and should be flushed before more is pushed.
    pub fn is_full(&self) -> bool {
        self.builder.is_full()
    }

    /// True when nothing waits to be handed over.
    pub fn is_empty(&self) -> bool {
        self.builder.is_empty()
    }

    /// True when a source that has nothing more ready should flush now.
    pub fn cut_when_idle(&self) -> bool {
        self.builder.cut_when_idle()
    }

    /// When the collected batch must be flushed at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        self.builder.deadline()
    }

    /// The restart point of the last batch queued (or of the checkpoint resumed from).
    pub fn queued_restart_point(&self) -> Option<&RestartPoint> {
        self.queued_restart_point.as_ref()
    }

    /// The last change accepted (collected, queued or durable).
    pub fn accepted(&self) -> Option<&Position> {
        self.accepted.as_ref()
    }

    /// Changes dropped as resends so far.
    pub fn resends_dropped(&self) -> u64 {
        self.resends_dropped
    }

    /// Hands the collected batch to the sink, waiting for room in the queue.
    ///
    /// Cancel-safe: if the future is dropped before it completes (the source gave up
    /// waiting because its connection failed), the batch stays collected and is
    /// queued by the next flush; nothing is lost or repeated.
    pub async fn flush(&mut self) -> Result<(), SinkGone> {
        if self.builder.is_empty() && !self.stopping {
            return Ok(());
        }
        let slot = self.sender.reserve(self.builder.bytes()).await?;
        // No await from here on: the batch is taken and queued in one step.
        let stopping = std::mem::take(&mut self.stopping);
        match self.builder.take() {
            Some(batch) => {
                if let Some(point) = &batch.restart_point {
                    self.queued_restart_point = Some(point.clone());
                }
                slot.send(batch.events, batch.restart_point, batch.updates, stopping);
            }
            None => slot.send(Vec::new(), None, Vec::new(), stopping),
        }
        Ok(())
    }

    /// Makes the next flush the last batch of this run, sent even when empty: the sink
    /// then finalises its output and acknowledges it (see `Batch::stopping`).
    pub fn stop_after_next_flush(&mut self) {
        self.stopping = true;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wellhead_decoders::change::{Lsn, Operation, PgPosition, SnapshotFlag, TableName, TableSchema};

    use std::time::Duration;

    use super::*;
    use crate::batch::batch_queue;

    fn limits(max_events: usize) -> BatchLimits {
        BatchLimits { max_events, max_bytes: 1 << 30, max_wait: Duration::ZERO }
    }

    fn event(commit: u64, ordinal: u64) -> ChangeEvent {
        let schema = TableSchema { table: TableName { namespace: "public".into(), name: "t".into() }, columns: vec![] };
        ChangeEvent {
            schema: Arc::new(schema),
            operation: Operation::Insert,
            before: None,
            after: Some(vec![]),
            position: Position::Postgres(PgPosition { commit_lsn: Lsn(commit), change_ordinal: ordinal, lsn: Lsn(7) }),
            commit_time_micros: 0,
            transaction: None,
            snapshot: SnapshotFlag::False,
        }
    }

    #[tokio::test]
    async fn a_flush_given_up_while_the_queue_is_full_keeps_its_batch() {
        // A queue of 1 MiB whose room is taken by a batch the sink has not written yet.
        let (sender, mut receiver) = batch_queue(1024 * 1024);
        let mut outlet = Outlet::new(sender, limits(10), None, None);
        for ordinal in 1..=3 {
            assert!(outlet.push(event(100, ordinal)).expect("same source"));
        }
        let blocker = outlet.sender.reserve(usize::MAX).await.expect("queue open");
        // The source waits for room, then gives up (its status update failed): the flush is dropped.
        let gave_up = tokio::time::timeout(Duration::from_millis(50), outlet.flush()).await;
        assert!(gave_up.is_err(), "the flush waits while the queue is full");
        assert!(!outlet.is_empty(), "the batch is still collected");
        // The source reconnects and the server sends the transaction again: resends are dropped.
        for ordinal in 1..=3 {
            assert!(!outlet.push(event(100, ordinal)).expect("same source"), "change {ordinal} is a resend");
        }
        assert!(outlet.push(event(100, 4)).expect("same source"));
        drop(blocker);
        outlet.flush().await.expect("queue open");
        let batch = receiver.recv().await.expect("a batch");
        let ordinals: Vec<u64> = batch
            .events
            .iter()
            .map(|event| match &event.position {
                Position::Postgres(position) => position.change_ordinal,
                other => panic!("unexpected position {other}"),
            })
            .collect();
        assert_eq!(ordinals, vec![1, 2, 3, 4], "every change once, in order");
        assert_eq!(outlet.resends_dropped(), 3);
    }

    #[tokio::test]
    async fn rows_sharing_one_lsn_all_pass_and_resends_of_them_are_dropped() {
        let (sender, mut receiver) = batch_queue(1024 * 1024);
        // Resuming after change 2 of transaction 100 (all rows of one COPY page share LSN 7).
        let last_written = Some(event(100, 2).position);
        let mut outlet = Outlet::new(sender, limits(2), last_written, None);
        let passed: Vec<bool> = (1..=5).map(|ordinal| outlet.push(event(100, ordinal)).expect("same")).collect();
        assert_eq!(passed, vec![false, false, true, true, true]);
        outlet.flush().await.expect("open");
        assert_eq!(receiver.recv().await.expect("batch").events.len(), 3);
    }
}
