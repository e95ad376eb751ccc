//! One replication session: CopyData frames in, batches of change events out,
//! standby status updates back.
//!
//! ```text
//!  CopyData ─► ReplicationMessage ─┬─ keepalive ─► status update (flush = acked checkpoint)
//!                                  └─ XLogData ─► PgOutputMessage
//!        ┌──────────────────────────────────────────────┘
//!        ├─ in a streamed block ─► spill to disk (replayed at Stream Commit)
//!        └─ otherwise ─► Begin/Relation/Insert/Update/Delete/Truncate/Commit ─► Outlet (pipeline)
//! ```
//!
//! Each change's position is its transaction's commit LSN and its ordinal in
//! the transaction (the count of changes before it, plus one): the same every
//! time the server sends the transaction, and unique where LSNs are not (the
//! rows of one COPY page share one LSN). The outlet is flushed when no frame is
//! ready (at most once per 5 ms: see `batch::builder`) or the batch is full, so an
//! idle-ish stream is written at once and a busy one in batches of a few milliseconds.
//!
//! Why the flush LSN is only ever the acknowledged checkpoint: the server
//! discards WAL up to it, so reporting what was merely received would lose
//! changes on a crash. It is also never beyond what this server has shown
//! (its WAL position at the start, or a later one it sent): nothing is sent to
//! the server that it did not send us. Keepalives that ask for a reply get one at once; without
//! replies, `wal_sender_timeout` ends the session.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_postgres::Client;
use wellhead_decoders::change::{
    ChangeEvent, Lsn, Operation, PgPosition, Position, RestartPoint, Row, SnapshotFlag, TableSchema, TransactionInfo,
};
use wellhead_decoders::pgoutput::{
    DecodeContext, OldTuple, PgOutputMessage, ReplicationMessage, StandbyStatusUpdate, postgres_time_to_unix_micros,
    unix_micros_to_postgres_time,
};

use super::PostgresError;
use super::catalog::TypeCatalog;
use super::codec::decode_row;
use super::connection::ReplicationConnection;
use super::relations::RelationMap;
use super::snapshot::{ReadyPiece, RowsPiece, StreamingCopy};
use super::spill::SpillStore;
use crate::batch::{AckReceiver, Acknowledgement, Outlet, sleep_until, wait_until_acknowledged};
use crate::clock;
use crate::telemetry::{Metrics, PipelineLabel};

/// How often a status update is sent even when the server does not ask.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// Least time between two status updates sent because the sink acknowledged something.
const ACK_STATUS_INTERVAL: Duration = Duration::from_millis(100);
/// How long a clean shutdown waits for the sink to acknowledge the last batch.
const FINAL_ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The transaction whose changes are being read.
#[derive(Debug)]
struct OpenTransaction {
    xid: u32,
    commit_lsn: Lsn,
    commit_time_micros: i64,
    total_order: u64,
    table_orders: HashMap<u32, u64>,
}

impl OpenTransaction {
    fn new(xid: u32, commit_lsn: Lsn, commit_time: i64) -> OpenTransaction {
        OpenTransaction {
            xid,
            commit_lsn,
            commit_time_micros: postgres_time_to_unix_micros(commit_time),
            total_order: 0,
            table_orders: HashMap::new(),
        }
    }

    fn next_order(&mut self, relation_oid: u32) -> TransactionInfo {
        self.total_order += 1;
        let table_order = self.table_orders.entry(relation_oid).or_insert(0);
        *table_order += 1;
        TransactionInfo { id: self.xid.to_string(), total_order: self.total_order, data_collection_order: *table_order }
    }
}

/// One decoded row change, before it gets its place in the transaction.
#[derive(Debug)]
struct RowChange {
    relation_oid: u32,
    operation: Operation,
    before: Option<Row>,
    after: Option<Row>,
    schema: Arc<TableSchema>,
}

/// How a session ended without error.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// Shutdown was requested; everything read was handed to the sink and acknowledged.
    Shutdown,
    /// The stream reached `stop_at`: every transaction committed before it is in the outlet.
    ReachedStopPoint,
    /// The operator asked for a table of this pipeline to be copied again.
    SnapshotRequested,
}

/// Everything a replication session reads and writes besides its socket.
#[derive(Debug)]
pub struct Session<'a> {
    pub connection: ReplicationConnection,
    pub client: &'a Client,
    pub catalog: &'a mut TypeCatalog,
    pub relations: RelationMap,
    pub outlet: &'a mut Outlet,
    pub acks: &'a mut AckReceiver,
    pub shutdown: &'a mut watch::Receiver<bool>,
    pub spill: SpillStore,
    pub protocol_version: u32,
    /// The highest WAL position this server has shown in this session (its WAL end at
    /// the start, then what it sent): the flush position reported never goes beyond it.
    pub server_lsn: Lsn,
    pub metrics: Metrics,
    pub pipeline_label: PipelineLabel,
    /// Silence from the server after which the connection counts as lost (`None`: never).
    pub receive_timeout: Option<Duration>,
    /// Catching up to a snapshot's consistent point: end the session before the first
    /// transaction that commits at or after it (every earlier one has then been handed over).
    pub stop_at: Option<Lsn>,
    /// Changes when the operator asks for a table to be copied again: the session ends
    /// (`SessionEnd::SnapshotRequested`) when this pipeline has such a request.
    pub snapshot_requests: watch::Receiver<u64>,
    /// A copy of tables merged into the stream between its transactions (see
    /// `snapshot::interleave`).
    pub copy: Option<&'a mut StreamingCopy>,
}

enum Wake {
    Frame(Option<Bytes>),
    /// A piece of the interleaved copy (`None`: the copy is complete).
    Piece(Option<RowsPiece>),
    /// No frame is ready: the source has nothing more for the batch now.
    Idle,
    Deadline,
    Status,
    Acked,
    SnapshotRequested,
    Shutdown,
}

impl Session<'_> {
    /// Reads the stream until shutdown or error.
    pub async fn run(mut self) -> Result<SessionEnd, PostgresError> {
        let mut state = StreamState { last_heard: Some(Instant::now()), ..StreamState::default() };
        let mut status_timer = tokio::time::interval(STATUS_INTERVAL);
        status_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        if self.needs_position() {
            // A keepalive tells when the server has sent everything before the stop point.
            self.send_status(&mut state, true).await?;
        }
        loop {
            let deadline = self.outlet.deadline();
            let cut_when_idle = self.outlet.cut_when_idle();
            let copy_ready = state.between_transactions() && self.copy.as_ref().is_some_and(|copy| copy.ready());
            // Biased: rare wake-ups first so a busy stream cannot starve them; `Idle` only
            // when no frame is ready.
            let wake = tokio::select! {
                biased;
                changed = self.shutdown.changed() => match changed {
                    Ok(()) if !*self.shutdown.borrow() => continue,
                    _ => Wake::Shutdown,
                },
                changed = self.acks.changed() => match changed {
                    Ok(()) => Wake::Acked,
                    Err(_) => return Err(PostgresError::SinkStopped),
                },
                Ok(()) = self.snapshot_requests.changed() => Wake::SnapshotRequested,
                _ = status_timer.tick() => Wake::Status,
                _ = sleep_until(deadline), if deadline.is_some() => Wake::Deadline,
                frame = self.connection.next_copy_data() => Wake::Frame(frame?),
                piece = next_piece(&mut self.copy), if copy_ready => Wake::Piece(piece),
                () = std::future::ready(()), if cut_when_idle => Wake::Idle,
            };
            match wake {
                Wake::Frame(None) => return Err(PostgresError::StreamEnded),
                Wake::Frame(Some(frame)) => {
                    state.heard_now();
                    self.handle_frame(frame, &mut state).await?;
                    if state.reached_stop_point {
                        return Ok(SessionEnd::ReachedStopPoint);
                    }
                    // A busy stream still lets the copy on: a piece (if one is ready) after
                    // each frame that leaves the stream between transactions.
                    if state.between_transactions() && self.copy.as_ref().is_some_and(|copy| copy.ready()) {
                        let ready = self.copy.as_mut().map(|copy| copy.ready_piece());
                        match ready {
                            Some(ReadyPiece::Piece(piece)) => self.write_piece(piece, &mut state).await?,
                            Some(ReadyPiece::AllDone) => self.finish_copy().await?,
                            Some(ReadyPiece::NotYet) | None => {}
                        }
                    }
                }
                Wake::Piece(Some(piece)) => self.write_piece(piece, &mut state).await?,
                Wake::Piece(None) => self.finish_copy().await?,
                Wake::Idle | Wake::Deadline => self.flush_batch(&mut state).await?,
                // Confirm what became durable promptly (at most every ACK_STATUS_INTERVAL), so
                // that the server may recycle WAL and lag metrics stay true.
                Wake::Acked => {
                    let acknowledged = acknowledged_flush_lsn(&self.acks.borrow());
                    self.metrics
                        .checkpoint_lsn
                        .get_or_create(&self.pipeline_label)
                        .set(i64::try_from(acknowledged.0).unwrap_or(i64::MAX));
                    if state.last_status.is_none_or(|sent| sent.elapsed() >= ACK_STATUS_INTERVAL) {
                        self.send_status(&mut state, false).await?;
                    }
                }
                Wake::Status => {
                    let ping = self.check_receive_timeout(&mut state)? || self.needs_position();
                    self.send_status(&mut state, ping).await?;
                }
                Wake::Shutdown => return self.finish(&mut state).await,
                // Taken after a catch-up, not during one (the copy that follows it takes them).
                Wake::SnapshotRequested => {
                    if self.stop_at.is_none()
                        && self.metrics.snapshot_requests.pending_for(&self.pipeline_label.pipeline)
                    {
                        // What is collected stays in the outlet; the next session resends the rest.
                        self.flush_batch(&mut state).await?;
                        return Ok(SessionEnd::SnapshotRequested);
                    }
                }
            }
        }
    }

    /// Whether the server has been silent too long: an error past the receive timeout (the
    /// connection is lost without having closed: a cut cable, a dropped NAT entry, a frozen
    /// server), `true` past half of it (the next status update asks the server to reply, as
    /// PostgreSQL's own walreceiver does), else `false`.
    fn check_receive_timeout(&self, state: &mut StreamState) -> Result<bool, PostgresError> {
        let (Some(timeout), Some(last_heard)) = (self.receive_timeout, state.last_heard) else { return Ok(false) };
        let silent = last_heard.elapsed();
        if silent >= timeout {
            return Err(PostgresError::ReceiveTimeout { seconds: timeout.as_secs() });
        }
        let ping = silent >= timeout / 2 && !state.pinged;
        state.pinged |= ping;
        Ok(ping)
    }

    async fn finish(&mut self, state: &mut StreamState) -> Result<SessionEnd, PostgresError> {
        self.outlet.stop_after_next_flush();
        self.flush_batch(state).await?;
        let queued = self.outlet.queued_restart_point().cloned();
        let waited = tokio::time::timeout(FINAL_ACK_TIMEOUT, wait_until_acknowledged(self.acks, queued.as_ref())).await;
        if waited.is_err() {
            tracing::warn!(
                "The sink did not acknowledge the last batch in time; it will be read again after a restart."
            );
        }
        self.send_status(state, false).await?;
        Ok(SessionEnd::Shutdown)
    }

    async fn handle_frame(&mut self, frame: Bytes, state: &mut StreamState) -> Result<(), PostgresError> {
        match ReplicationMessage::decode(&frame)? {
            ReplicationMessage::PrimaryKeepalive(keepalive) => {
                // With nothing in flight, every transaction that committed before the server's
                // position has been received and handed over: the position itself may become the
                // checkpoint (through an ack-only batch), so the slot does not pin WAL while idle.
                self.server_lsn = self.server_lsn.max(keepalive.wal_end);
                let idle = state.transaction.is_none()
                    && state.streaming_xid.is_none()
                    && !self.spill.has_open_transactions()
                    && self.outlet.is_empty();
                if idle {
                    self.outlet.restart_point(RestartPoint::Postgres { flush_lsn: keepalive.wal_end })?;
                }
                // Every transaction that commits before the server's position has been sent; a
                // streamed one still open commits after it.
                let between_transactions = state.between_transactions();
                state.reached_stop_point |=
                    between_transactions && self.stop_at.is_some_and(|stop| keepalive.wal_end >= stop);
                if let Some(copy) = self.copy.as_mut().filter(|_| between_transactions) {
                    copy.note_position(keepalive.wal_end);
                }
                if keepalive.reply_requested {
                    self.send_status(state, false).await?;
                }
            }
            ReplicationMessage::XLogData(xlog) => {
                state.received = state.received.max(xlog.wal_start);
                self.server_lsn = self.server_lsn.max(xlog.wal_end);
                let context = DecodeContext {
                    protocol_version: self.protocol_version,
                    in_streamed_block: state.streaming_xid.is_some(),
                    parallel_streaming: false,
                };
                let message = PgOutputMessage::decode(&xlog.data, &context)?;
                if let (Some(xid), Some(subxid)) = (state.streaming_xid, streamed_change_xid(&message)) {
                    self.spill.append(xid, subxid, xlog.wal_start, &xlog.data)?;
                    return Ok(());
                }
                self.handle_message(message, xlog.wal_start, state).await?;
            }
        }
        Ok(())
    }

    async fn handle_message(
        &mut self,
        message: PgOutputMessage,
        wal_start: Lsn,
        state: &mut StreamState,
    ) -> Result<(), PostgresError> {
        match message {
            PgOutputMessage::Begin(begin) if self.stop_at.is_some_and(|stop| begin.final_lsn >= stop) => {
                state.reached_stop_point = true;
            }
            PgOutputMessage::StreamCommit(commit) if self.stop_at.is_some_and(|stop| commit.commit_lsn >= stop) => {
                state.reached_stop_point = true;
            }
            PgOutputMessage::Begin(begin) => {
                if let Some(copy) = self.copy.as_mut() {
                    copy.note_position(begin.final_lsn);
                }
                state.transaction = Some(OpenTransaction::new(begin.xid, begin.final_lsn, begin.commit_time));
            }
            PgOutputMessage::Commit(commit) => self.end_transaction(commit.end_lsn, state).await?,
            PgOutputMessage::Relation(relation) => {
                // Catalog queries go over the SQL connection, which a network fault can leave
                // silent too: they get the receive timeout as well.
                let apply = self.relations.apply(&relation, self.catalog, self.client);
                match self.receive_timeout {
                    Some(timeout) => tokio::time::timeout(timeout, apply)
                        .await
                        .map_err(|_| PostgresError::ReceiveTimeout { seconds: timeout.as_secs() })??,
                    None => apply.await?,
                }
            }
            PgOutputMessage::Type(type_message) => self.catalog.invalidate(type_message.type_oid),
            PgOutputMessage::Insert(insert) => {
                let schema = self.schema(insert.relation_oid)?;
                let after = Some(decode_row(&schema, &insert.new)?);
                let change = RowChange {
                    relation_oid: insert.relation_oid,
                    operation: Operation::Insert,
                    before: None,
                    after,
                    schema,
                };
                self.push_event(state, wal_start, change)?;
                self.cut_if_full(state).await?;
            }
            PgOutputMessage::Update(update) => {
                let schema = self.schema(update.relation_oid)?;
                let before = match &update.old {
                    Some(OldTuple::Key(tuple) | OldTuple::Full(tuple)) => Some(decode_row(&schema, tuple)?),
                    None => None,
                };
                let after = Some(decode_row(&schema, &update.new)?);
                let change = RowChange {
                    relation_oid: update.relation_oid,
                    operation: Operation::Update,
                    before,
                    after,
                    schema,
                };
                self.push_event(state, wal_start, change)?;
                self.cut_if_full(state).await?;
            }
            PgOutputMessage::Delete(delete) => {
                let schema = self.schema(delete.relation_oid)?;
                let (OldTuple::Key(tuple) | OldTuple::Full(tuple)) = &delete.old;
                let before = Some(decode_row(&schema, tuple)?);
                let change = RowChange {
                    relation_oid: delete.relation_oid,
                    operation: Operation::Delete,
                    before,
                    after: None,
                    schema,
                };
                self.push_event(state, wal_start, change)?;
                self.cut_if_full(state).await?;
            }
            PgOutputMessage::Truncate(truncate) => {
                // All tables of one TRUNCATE share its LSN; each gets its own ordinal.
                for relation_oid in &truncate.relation_oids {
                    let schema = self.schema(*relation_oid)?;
                    let change = RowChange {
                        relation_oid: *relation_oid,
                        operation: Operation::Truncate,
                        before: None,
                        after: None,
                        schema,
                    };
                    self.push_event(state, wal_start, change)?;
                }
                self.cut_if_full(state).await?;
            }
            PgOutputMessage::Origin(_) | PgOutputMessage::Message(_) => {}
            PgOutputMessage::StreamStart(start) => state.streaming_xid = Some(start.xid),
            PgOutputMessage::StreamStop => state.streaming_xid = None,
            PgOutputMessage::StreamAbort(abort) => self.spill.abort(abort.xid, abort.subxid)?,
            PgOutputMessage::StreamCommit(commit) => {
                if let Some(copy) = self.copy.as_mut() {
                    copy.note_position(commit.commit_lsn);
                }
                state.transaction = Some(OpenTransaction::new(commit.xid, commit.commit_lsn, commit.commit_time));
                let mut replay = self.spill.take_for_replay(commit.xid)?;
                let context = DecodeContext {
                    protocol_version: self.protocol_version,
                    in_streamed_block: true,
                    parallel_streaming: false,
                };
                while let Some((message_lsn, bytes)) = replay.next_message()? {
                    let message = PgOutputMessage::decode(&bytes, &context)?;
                    Box::pin(self.handle_message(message, message_lsn, state)).await?;
                }
                self.end_transaction(commit.end_lsn, state).await?;
            }
            PgOutputMessage::BeginPrepare(_)
            | PgOutputMessage::Prepare(_)
            | PgOutputMessage::CommitPrepared(_)
            | PgOutputMessage::RollbackPrepared(_)
            | PgOutputMessage::StreamPrepare(_) => {
                return Err(PostgresError::Protocol(
                    "two-phase message received although two_phase was not requested".into(),
                ));
            }
        }
        Ok(())
    }

    fn schema(&self, relation_oid: u32) -> Result<Arc<TableSchema>, PostgresError> {
        self.relations.get(relation_oid).cloned().ok_or_else(|| {
            PostgresError::Protocol(format!("change for relation {relation_oid} before its Relation message"))
        })
    }

    /// Turns a row change into an event of the open transaction and hands it to the outlet
    /// (which drops it if the pipeline holds it already).
    fn push_event(&mut self, state: &mut StreamState, wal_start: Lsn, change: RowChange) -> Result<(), PostgresError> {
        let transaction = state
            .transaction
            .as_mut()
            .ok_or_else(|| PostgresError::Protocol("row change outside a transaction".into()))?;
        let order = transaction.next_order(change.relation_oid);
        let position =
            PgPosition { commit_lsn: transaction.commit_lsn, change_ordinal: order.total_order, lsn: wal_start };
        let event = ChangeEvent {
            schema: change.schema,
            operation: change.operation,
            before: change.before,
            after: change.after,
            position: Position::Postgres(position),
            commit_time_micros: transaction.commit_time_micros,
            transaction: Some(order),
            snapshot: SnapshotFlag::False,
        };
        if let Some(copy) = self.copy.as_mut() {
            copy.note_change(&event, position.commit_lsn);
        }
        self.outlet.push(event)?;
        Ok(())
    }

    /// True while the session waits to learn that the stream passed a point (its stop point,
    /// or the consistent point of the copy it merges): status updates then ask for replies.
    fn needs_position(&self) -> bool {
        self.stop_at.is_some() || self.copy.as_ref().is_some_and(|copy| copy.waits_for_the_stream())
    }

    /// Writes a piece of the interleaved copy (between two transactions).
    async fn write_piece(&mut self, piece: RowsPiece, state: &mut StreamState) -> Result<(), PostgresError> {
        if let Some(copy) = self.copy.as_mut() {
            copy.write_piece(piece, self.outlet)?;
        }
        self.cut_if_full(state).await
    }

    /// Ends the interleaved copy once its readers are done.
    async fn finish_copy(&mut self) -> Result<(), PostgresError> {
        if let Some(copy) = self.copy.as_mut() {
            copy.finish(self.outlet).await?;
            self.metrics.health.set(&self.pipeline_label.pipeline, crate::health::PipelineState::Streaming);
        }
        Ok(())
    }

    async fn cut_if_full(&mut self, state: &mut StreamState) -> Result<(), PostgresError> {
        if self.outlet.is_full() {
            self.flush_batch(state).await?;
        }
        Ok(())
    }

    async fn end_transaction(&mut self, end_lsn: Lsn, state: &mut StreamState) -> Result<(), PostgresError> {
        state.transaction = None;
        self.outlet.restart_point(RestartPoint::Postgres { flush_lsn: end_lsn })?;
        self.cut_if_full(state).await
    }

    /// Hands the batch to the sink, answering the server while the queue is full. If a
    /// status update fails meanwhile, the flush is abandoned with the batch still in the
    /// outlet (its flush is cancel-safe), and the reconnected session queues it.
    async fn flush_batch(&mut self, state: &mut StreamState) -> Result<(), PostgresError> {
        let mut waited = false;
        loop {
            // Biased, and a sleep rather than an interval: when the queue has room (the usual
            // case, once per batch) the flush completes at its first poll and no timer is set.
            tokio::select! {
                biased;
                flushed = self.outlet.flush() => {
                    if waited {
                        // Nothing was read while the sink was behind: that silence was ours.
                        state.heard_now();
                    }
                    return flushed.map_err(|_| PostgresError::SinkStopped);
                }
                () = tokio::time::sleep(STATUS_INTERVAL) => {}
            }
            waited = true;
            self.send_status(state, false).await?;
        }
    }

    async fn send_status(&mut self, state: &mut StreamState, reply_requested: bool) -> Result<(), PostgresError> {
        // Only what the sink has made durable and checkpointed; never what was merely received,
        // and never beyond what this server has shown.
        let flushed = acknowledged_flush_lsn(&self.acks.borrow()).min(self.server_lsn);
        let lag = self.server_lsn.0.saturating_sub(flushed.0);
        self.metrics.source_lag_bytes.get_or_create(&self.pipeline_label).set(i64::try_from(lag).unwrap_or(i64::MAX));
        let update = StandbyStatusUpdate {
            written: state.received.max(flushed),
            flushed,
            applied: flushed,
            client_time: unix_micros_to_postgres_time(clock::unix_micros_now()),
            reply_requested,
        };
        self.connection.send_copy_data(update.encode()).await?;
        state.last_status = Some(Instant::now());
        Ok(())
    }
}

/// Stream position bookkeeping of one session.
#[derive(Debug, Default)]
struct StreamState {
    transaction: Option<OpenTransaction>,
    /// Top-level xid of the streamed block being received, between Stream Start and Stop.
    streaming_xid: Option<u32>,
    /// Highest WAL position received.
    received: Lsn,
    /// When the last status update went out.
    last_status: Option<Instant>,
    /// When the server was last heard (a frame read), or reading resumed after a wait on the sink.
    last_heard: Option<Instant>,
    /// A status update asking for a reply went out since then.
    pinged: bool,
    /// The stream reached the session's `stop_at`.
    reached_stop_point: bool,
}

impl StreamState {
    /// No transaction is being read (nor a streamed block).
    fn between_transactions(&self) -> bool {
        self.transaction.is_none() && self.streaming_xid.is_none()
    }

    fn heard_now(&mut self) {
        self.last_heard = Some(Instant::now());
        self.pinged = false;
    }
}

/// The (sub)transaction id of a message that belongs to a streamed transaction's content.
fn streamed_change_xid(message: &PgOutputMessage) -> Option<u32> {
    match message {
        PgOutputMessage::Relation(m) => m.xid,
        PgOutputMessage::Type(m) => m.xid,
        PgOutputMessage::Insert(m) => m.xid,
        PgOutputMessage::Update(m) => m.xid,
        PgOutputMessage::Delete(m) => m.xid,
        PgOutputMessage::Truncate(m) => m.xid,
        PgOutputMessage::Message(m) => m.xid,
        _ => None,
    }
}

/// The flush LSN an acknowledgement stands for (`0/0` before the first).
pub fn acknowledged_flush_lsn(acknowledgement: &Acknowledgement) -> Lsn {
    match acknowledgement {
        Some(RestartPoint::Postgres { flush_lsn }) => *flush_lsn,
        _ => Lsn::ZERO,
    }
}

/// The interleaved copy's next piece, or never without a copy.
async fn next_piece(copy: &mut Option<&mut StreamingCopy>) -> Option<RowsPiece> {
    match copy {
        Some(copy) => copy.next_piece().await,
        None => std::future::pending().await,
    }
}
