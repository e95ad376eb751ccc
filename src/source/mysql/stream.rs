//! One binlog session: events in, change events out through the pipeline's outlet.
//!
//! ```text
//!  binlog connection ─► event bytes ─► BinlogDecoder ─┬─ GTID / BEGIN ─► open a transaction
//!                                                     ├─ rows ─► ChangeEvent per row ─► Outlet
//!                                                     ├─ XID / COMMIT / DDL ─► restart point after it
//!                                                     └─ ROTATE ─► the next file
//! ```
//!
//! A change's position is its rows event's file and offset and its row in the event:
//! the same every time the server sends the event again, increasing through the binlog.
//! A restart point is only ever the end of a whole transaction (or DDL), so that a
//! restart replays no part-transaction; within a transaction the outlet may still hand
//! batches over (a transaction of millions of rows does not pile up in memory), and the
//! outlet drops what a restart sends again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use wellhead_decoders::binlog::{BinlogDecoder, BinlogEvent, EventBody, EventHeader, RowsKind, StatementKind};
use wellhead_decoders::change::{
    BinlogPosition, ChangeEvent, Operation, Position, RestartPoint, SnapshotFlag, TableName, TransactionInfo,
};

use super::MysqlError;
use super::connection::BinlogConnection;
use super::schema::TableShapes;
use crate::batch::{AckReceiver, Outlet, sleep_until, wait_until_acknowledged};
use crate::telemetry::{Metrics, PipelineLabel};

/// How long a clean shutdown waits for the sink to acknowledge the last batch.
const FINAL_ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The transaction whose changes are being read.
#[derive(Debug)]
struct OpenTransaction {
    /// The GTID, or the file and offset where the transaction starts.
    id: String,
    gtid: Option<String>,
    commit_time_micros: i64,
    /// A BEGIN was seen: a DDL statement inside does not end the group.
    began: bool,
    changes: u64,
    per_table: HashMap<TableName, u64>,
}

impl OpenTransaction {
    fn next_order(&mut self, table: &TableName) -> TransactionInfo {
        self.changes += 1;
        let per_table = self.per_table.entry(table.clone()).or_insert(0);
        *per_table += 1;
        TransactionInfo { id: self.id.clone(), total_order: self.changes, data_collection_order: *per_table }
    }
}

/// Where the session reads: the binlog file, for positions and restart points.
#[derive(Debug, Clone)]
pub struct BinlogFile {
    pub name: String,
    /// The file's numeric suffix (`mysql-bin.000042` → 42).
    pub sequence: u64,
}

impl BinlogFile {
    pub fn new(name: &str) -> BinlogFile {
        let sequence = name.rsplit('.').next().and_then(|suffix| suffix.parse().ok()).unwrap_or(0);
        BinlogFile { name: name.to_owned(), sequence }
    }
}

/// Why a session ended without an error.
#[derive(Debug)]
pub enum SessionEnd {
    Shutdown,
}

/// One binlog session's state and ends.
pub struct Session<'a> {
    pub connection: BinlogConnection,
    pub decoder: BinlogDecoder,
    pub shapes: &'a mut TableShapes,
    pub outlet: &'a mut Outlet,
    pub acks: &'a mut AckReceiver,
    pub shutdown: &'a mut watch::Receiver<bool>,
    pub file: BinlogFile,
    pub receive_timeout: Option<Duration>,
    pub metrics: Metrics,
    pub pipeline_label: PipelineLabel,
    transaction: Option<OpenTransaction>,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("file", &self.file).finish_non_exhaustive()
    }
}

/// What woke the session.
enum Wake {
    Shutdown,
    Acked,
    Event(Option<Vec<u8>>),
    Deadline,
    Idle,
}

impl<'a> Session<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        connection: BinlogConnection,
        shapes: &'a mut TableShapes,
        outlet: &'a mut Outlet,
        acks: &'a mut AckReceiver,
        shutdown: &'a mut watch::Receiver<bool>,
        file: BinlogFile,
        receive_timeout: Option<Duration>,
        metrics: Metrics,
        pipeline_label: PipelineLabel,
    ) -> Session<'a> {
        Session {
            connection,
            decoder: BinlogDecoder::new(),
            shapes,
            outlet,
            acks,
            shutdown,
            file,
            receive_timeout,
            metrics,
            pipeline_label,
            transaction: None,
        }
    }

    /// Reads the binlog until shutdown or an error.
    pub async fn run(mut self) -> Result<SessionEnd, MysqlError> {
        loop {
            let deadline = self.outlet.deadline();
            let cut_when_idle = self.outlet.cut_when_idle();
            let timeout = self.receive_timeout;
            let wake = tokio::select! {
                biased;
                changed = self.shutdown.changed() => match changed {
                    Ok(()) if !*self.shutdown.borrow() => continue,
                    _ => Wake::Shutdown,
                },
                changed = self.acks.changed() => match changed {
                    Ok(()) => Wake::Acked,
                    Err(_) => return Err(MysqlError::SinkStopped),
                },
                _ = sleep_until(deadline), if deadline.is_some() => Wake::Deadline,
                event = next_event(&mut self.connection, timeout) => Wake::Event(event?),
                () = std::future::ready(()), if cut_when_idle => Wake::Idle,
            };
            match wake {
                Wake::Event(None) => return Err(MysqlError::StreamEnded),
                Wake::Event(Some(bytes)) => {
                    let event = self.decoder.decode(&bytes)?;
                    self.handle_event(event, None).await?;
                }
                Wake::Idle | Wake::Deadline => self.flush_batch().await?,
                Wake::Acked => {
                    if let Some(RestartPoint::BinlogFile { file_sequence, offset, .. }) = &*self.acks.borrow() {
                        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
                        self.metrics
                            .checkpoint_binlog_file
                            .get_or_create(&self.pipeline_label)
                            .set(gauge(*file_sequence));
                        self.metrics.checkpoint_binlog_offset.get_or_create(&self.pipeline_label).set(gauge(*offset));
                    }
                }
                Wake::Shutdown => return self.finish().await,
            }
        }
    }

    /// Handles one event; `payload` is the TRANSACTION_PAYLOAD it came in, when it did.
    async fn handle_event(
        &mut self,
        event: BinlogEvent,
        payload: Option<(&EventHeader, &mut u32)>,
    ) -> Result<(), MysqlError> {
        let header = event.header;
        match event.body {
            EventBody::Rotate { next_file, position } => {
                self.file = BinlogFile::new(&next_file);
                if self.transaction.is_none() {
                    self.restart_at(position)?;
                }
            }
            EventBody::Gtid { gtid, commit_micros } => {
                let time = commit_micros.map_or(i64::from(header.timestamp) * 1_000_000, |micros| micros as i64);
                self.open_transaction(Some(gtid), time, &header);
            }
            EventBody::AnonymousGtid { commit_micros } => {
                let time = commit_micros.map_or(i64::from(header.timestamp) * 1_000_000, |micros| micros as i64);
                self.open_transaction(None, time, &header);
            }
            EventBody::MariadbGtid(gtid) => {
                self.open_transaction(Some(gtid.gtid.to_string()), i64::from(header.timestamp) * 1_000_000, &header);
            }
            EventBody::Query(query) => match query.kind {
                StatementKind::Begin => match self.transaction.as_mut() {
                    Some(transaction) => transaction.began = true,
                    None => {
                        self.open_transaction(None, i64::from(header.timestamp) * 1_000_000, &header);
                        if let Some(transaction) = self.transaction.as_mut() {
                            transaction.began = true;
                        }
                    }
                },
                StatementKind::Commit | StatementKind::Rollback => {
                    self.end_transaction(&header, payload.map(|(outer, _)| outer)).await?
                }
                StatementKind::Savepoint => {}
                StatementKind::Other => {
                    // DDL is a group of its own (a GTID, then the statement); inside BEGIN..COMMIT
                    // a statement (CREATE TEMPORARY TABLE, ...) ends nothing.
                    if !self.transaction.as_ref().is_some_and(|transaction| transaction.began) {
                        tracing::debug!(pipeline = %self.pipeline_label.pipeline, database = %query.database, statement = %query.statement, "DDL");
                        self.end_transaction(&header, payload.map(|(outer, _)| outer)).await?;
                    }
                }
            },
            EventBody::Xid(_) => self.end_transaction(&header, payload.map(|(outer, _)| outer)).await?,
            EventBody::Rows { table, rows } => {
                let Some(schema) = self.shapes.schema(&table)? else { return Ok(()) };
                if self.transaction.is_none() {
                    self.open_transaction(None, i64::from(header.timestamp) * 1_000_000, &header);
                }
                let (event_offset, mut row_base) = match &payload {
                    Some((outer, rows_so_far)) => (outer.offset(), **rows_so_far),
                    None => (header.offset(), 0),
                };
                let operation = match rows.kind {
                    RowsKind::Write => Operation::Insert,
                    RowsKind::Update => Operation::Update,
                    RowsKind::Delete => Operation::Delete,
                };
                let row_count = rows.rows.len() as u32;
                for change in rows.rows {
                    let Some(transaction) = self.transaction.as_mut() else { break };
                    let order = transaction.next_order(&schema.table);
                    let position = BinlogPosition {
                        file_sequence: self.file.sequence,
                        event_offset,
                        row_index: row_base,
                        file: self.file.name.clone(),
                        gtid: transaction.gtid.clone(),
                        server_id: header.server_id,
                    };
                    row_base += 1;
                    let event = ChangeEvent {
                        schema: Arc::clone(&schema),
                        operation,
                        before: change.before,
                        after: change.after,
                        position: Position::Binlog(position),
                        commit_time_micros: transaction.commit_time_micros,
                        transaction: Some(order),
                        snapshot: SnapshotFlag::False,
                    };
                    self.outlet.push(event)?;
                }
                if let Some((_, rows_so_far)) = payload {
                    *rows_so_far += row_count;
                }
                // A long transaction goes to the sink in batches; its restart point waits for its end.
                self.cut_if_full().await?;
            }
            EventBody::TransactionPayload(transaction_payload) => {
                if payload.is_some() {
                    return Err(MysqlError::Protocol("a transaction payload inside a transaction payload".into()));
                }
                let inner = self.decoder.payload_events(&transaction_payload)?;
                self.connection.skip_payload_events(inner.len());
                let mut rows_so_far = 0_u32;
                for event in inner {
                    Box::pin(self.handle_event(event, Some((&header, &mut rows_so_far)))).await?;
                }
            }
            EventBody::FormatDescription { .. }
            | EventBody::PreviousGtids(_)
            | EventBody::GtidList(_)
            | EventBody::BinlogCheckpoint(_)
            | EventBody::TableMap(_)
            | EventBody::RowsQuery(_)
            | EventBody::Heartbeat
            | EventBody::Stop
            | EventBody::Ignored => {}
        }
        Ok(())
    }

    fn open_transaction(&mut self, gtid: Option<String>, commit_time_micros: i64, header: &EventHeader) {
        let id = gtid.clone().unwrap_or_else(|| format!("{}:{}", self.file.name, header.offset()));
        self.transaction =
            Some(OpenTransaction { id, gtid, commit_time_micros, began: false, changes: 0, per_table: HashMap::new() });
    }

    /// The transaction (or DDL) ends with the event `header` describes (or, in a payload,
    /// with the payload event `outer`): the binlog may be read again from after it.
    async fn end_transaction(&mut self, header: &EventHeader, outer: Option<&EventHeader>) -> Result<(), MysqlError> {
        self.transaction = None;
        let next = outer.unwrap_or(header).next_position;
        if next != 0 {
            self.restart_at(u64::from(next))?;
        }
        self.cut_if_full().await
    }

    fn restart_at(&mut self, offset: u64) -> Result<(), MysqlError> {
        let point =
            RestartPoint::BinlogFile { file_sequence: self.file.sequence, file: self.file.name.clone(), offset };
        self.outlet.restart_point(point)?;
        Ok(())
    }

    async fn cut_if_full(&mut self) -> Result<(), MysqlError> {
        if self.outlet.is_full() {
            self.flush_batch().await?;
        }
        Ok(())
    }

    async fn flush_batch(&mut self) -> Result<(), MysqlError> {
        self.outlet.flush().await.map_err(|_| MysqlError::SinkStopped)
    }

    async fn finish(&mut self) -> Result<SessionEnd, MysqlError> {
        self.outlet.stop_after_next_flush();
        self.flush_batch().await?;
        let queued = self.outlet.queued_restart_point().cloned();
        if tokio::time::timeout(FINAL_ACK_TIMEOUT, wait_until_acknowledged(self.acks, queued.as_ref())).await.is_err() {
            tracing::warn!(
                "The sink did not acknowledge the last batch in time; it will be read again after a restart."
            );
        }
        Ok(SessionEnd::Shutdown)
    }
}

/// The next event, or a timeout error after `timeout` of silence (heartbeats count).
async fn next_event(
    connection: &mut BinlogConnection,
    timeout: Option<Duration>,
) -> Result<Option<Vec<u8>>, MysqlError> {
    match timeout {
        Some(timeout) => match tokio::time::timeout(timeout, connection.next_event()).await {
            Ok(event) => event,
            Err(_) => Err(MysqlError::ReceiveTimeout { seconds: timeout.as_secs() }),
        },
        None => connection.next_event().await,
    }
}
