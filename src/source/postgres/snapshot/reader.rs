//! One snapshot reader: a SQL connection inside a transaction that imported the
//! snapshot exported with a replication slot, copying tables in binary and
//! handing their rows to the coordinator in pieces.
//!
//! ```text
//!  BEGIN REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT 'name'
//!    ─► COPY … TO STDOUT (FORMAT binary) ─► CopyBinaryDecoder ─► pgvalue ─► RowsPiece ─► coordinator
//! ```
//!
//! Memory: a piece is sent only once it holds permits for its bytes from the
//! run's memory budget (released when the coordinator has handed it to the
//! pipeline, whose queue bounds it from there), and the COPY stream is not
//! read while the piece waits: the server's COPY waits on its socket.

use std::sync::Arc;

use bytes::BytesMut;
use futures_util::{StreamExt, pin_mut};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_postgres::Client;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use wellhead_decoders::change::{ColumnValue, Identifier, Row};
use wellhead_decoders::pgcopy::{CopyBinaryDecoder, CopyTuple};
use wellhead_decoders::pgvalue::{decode_binary, decode_text};

use super::SnapshotError;
use super::table::{RangeLiterals, SnapshotTable};
use crate::checkpoint::CopyRange;
use crate::source::postgres::codec::CodecError;
use crate::source::postgres::params::ConnectionParams;
use crate::source::postgres::sql;

/// Rows per piece at most; a piece also ends at [`PIECE_BYTES`].
const PIECE_ROWS: usize = 2048;
/// Bytes of copied data per piece at most (one wider row makes a piece of its own).
const PIECE_BYTES: usize = 1 << 20;

/// Consecutive rows of one range of a table, in copy order.
#[derive(Debug)]
pub struct RowsPiece {
    /// The table's index in the run.
    pub table: usize,
    /// The range's index in the table's copy.
    pub range: usize,
    pub rows: Vec<Row>,
    /// The resume key of the last row (see [`encode_resume_key`]); `None` in an empty last piece.
    pub resume_after: Option<String>,
    /// The range's copy is complete with this piece.
    pub last: bool,
    _memory: Option<OwnedSemaphorePermit>,
}

impl RowsPiece {
    /// Gives the piece's bytes back to the readers' budget while the piece stays.
    pub fn release_memory(&mut self) {
        self._memory = None;
    }
}

/// A reader inside the exported snapshot.
#[derive(Debug)]
pub struct SnapshotReader {
    client: Client,
}

impl SnapshotReader {
    /// Connects and imports `snapshot_name`; must complete while the exporting replication
    /// connection is still open and idle.
    pub async fn import(params: &ConnectionParams, snapshot_name: &str) -> Result<SnapshotReader, SnapshotError> {
        let client = sql::connect_sql(params)
            .await
            .map_err(|error| SnapshotError::sql("connecting a snapshot reader", &error))?;
        let name = snapshot_name.replace('\'', "''");
        client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{name}';
                 SET LOCAL synchronize_seqscans = off"
            ))
            .await
            .map_err(|error| SnapshotError::sql(format!("importing snapshot {snapshot_name}"), &error))?;
        Ok(SnapshotReader { client })
    }

    /// Copies the rows of range `work.range` of `table` after its resume key into `pieces`,
    /// the last one marked.
    pub async fn copy(
        &self,
        work: CopyWork,
        table: &SnapshotTable,
        range: &CopyRange,
        pieces: &mpsc::Sender<RowsPiece>,
        memory: &PieceMemory,
    ) -> Result<(), SnapshotError> {
        let literals = match &range.resume_after {
            Some(key) => Some(self.resume_literals(table, key).await?),
            None => None,
        };
        let bounds = RangeLiterals {
            after: self.text_literal(table, range.after.as_deref()).await?,
            up_to: self.text_literal(table, range.up_to.as_deref()).await?,
        };
        let statement = table.copy_statement(&bounds, literals.as_deref());
        let copy_error =
            |error: tokio_postgres::Error| SnapshotError::sql(format!("copying {}", table.schema.table), &error);
        let stream = self.client.copy_out(&statement).await.map_err(copy_error)?;
        pin_mut!(stream);
        let mut decoder = CopyBinaryDecoder::new(table.copied_fields());
        let mut piece = PieceBuilder { resume_fields: table.resume_fields(), ..PieceBuilder::default() };
        while let Some(chunk) = stream.next().await {
            decoder.push(&chunk.map_err(copy_error)?);
            while let Some(tuple) = decoder
                .next_tuple()
                .map_err(|error| SnapshotError::Copy { table: table.schema.table.clone(), reason: error.to_string() })?
            {
                piece.bytes += tuple.byte_len();
                piece.rows.push(decode_row(table, &tuple)?);
                // Its key is encoded once, when the piece goes: only the last row's is kept.
                piece.last_tuple = Some(tuple);
                if piece.rows.len() >= PIECE_ROWS || piece.bytes >= PIECE_BYTES {
                    piece.send(work, false, pieces, memory).await?;
                }
            }
        }
        decoder
            .finish()
            .map_err(|error| SnapshotError::Copy { table: table.schema.table.clone(), reason: error.to_string() })?;
        piece.send(work, true, pieces, memory).await
    }

    /// The server's SQL literal of a text (a range bound), `None` for none.
    async fn text_literal(&self, table: &SnapshotTable, text: Option<&str>) -> Result<Option<String>, SnapshotError> {
        let Some(text) = text else { return Ok(None) };
        let row =
            self.client.query_one("SELECT quote_literal($1::text)", &[&text]).await.map_err(|error| {
                SnapshotError::sql(format!("quoting a range bound of {}", table.schema.table), &error)
            })?;
        Ok(Some(row.get(0)))
    }

    /// The server's SQL literals for an encoded resume key.
    async fn resume_literals(&self, table: &SnapshotTable, key: &str) -> Result<Vec<String>, SnapshotError> {
        let malformed = || SnapshotError::ResumeKey { table: table.schema.table.clone(), key: key.to_owned() };
        let fields: Vec<&str> = key.split(',').collect();
        let types = table.resume_field_types();
        if fields.len() != types.len() {
            return Err(malformed());
        }
        let mut literals = Vec::with_capacity(fields.len());
        for (field, (bytes_type, _)) in fields.into_iter().zip(types) {
            let bytes = decode_hex(field).ok_or_else(malformed)?;
            let row = self
                .client
                .query_one(&format!("SELECT quote_literal(($1::{bytes_type})::text)"), &[&RawBinary(&bytes)])
                .await
                .map_err(|error| {
                    SnapshotError::sql(format!("reading the resume key of {}", table.schema.table), &error)
                })?;
            literals.push(row.get::<_, String>(0));
        }
        Ok(literals)
    }
}

/// The bytes the readers of one copy may hold in pieces not yet handed to the pipeline.
#[derive(Debug, Clone)]
pub struct PieceMemory {
    permits: Arc<Semaphore>,
    total: u32,
}

impl PieceMemory {
    pub fn new(bytes: usize) -> PieceMemory {
        let total = u32::try_from(bytes.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
        PieceMemory { permits: Arc::new(Semaphore::new(total as usize)), total }
    }

    /// Waits for room for `bytes` (a piece larger than the whole budget waits for all of it).
    async fn acquire(&self, bytes: usize) -> Result<OwnedSemaphorePermit, SnapshotError> {
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX).clamp(1, self.total);
        self.permits.clone().acquire_many_owned(permits).await.map_err(|_| SnapshotError::Stopped)
    }
}

/// One unit of a copy: a range of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyWork {
    /// The table's index in the run.
    pub table: usize,
    /// The range's index in the table's copy.
    pub range: usize,
}

/// The piece being filled.
#[derive(Debug, Default)]
struct PieceBuilder {
    rows: Vec<Row>,
    bytes: usize,
    /// The last row as copied, whose key the piece resumes after.
    last_tuple: Option<CopyTuple>,
    resume_fields: Vec<usize>,
}

impl PieceBuilder {
    async fn send(
        &mut self,
        work: CopyWork,
        last: bool,
        pieces: &mpsc::Sender<RowsPiece>,
        memory: &PieceMemory,
    ) -> Result<(), SnapshotError> {
        let permit = memory.acquire(self.bytes).await?;
        let resume_after = self.last_tuple.take().map(|tuple| encode_resume_key(&self.resume_fields, &tuple));
        let piece = RowsPiece {
            table: work.table,
            range: work.range,
            rows: std::mem::take(&mut self.rows),
            resume_after,
            last,
            _memory: Some(permit),
        };
        self.bytes = 0;
        pieces.send(piece).await.map_err(|_| SnapshotError::Stopped)
    }
}

/// Decodes one copied row into the table's schema (the trailing `ctid` is not part of it).
fn decode_row(table: &SnapshotTable, tuple: &CopyTuple) -> Result<Row, SnapshotError> {
    table
        .schema
        .columns
        .iter()
        .zip(tuple.fields())
        .enumerate()
        .map(|(index, (column, field))| {
            let Some(bytes) = field else { return Ok(ColumnValue::Null) };
            let decoded = if table.reads_as_text(index) {
                decode_text(&column.column_type, bytes)
            } else {
                decode_binary(&column.column_type, bytes)
            };
            decoded.map(ColumnValue::Value).map_err(|source| {
                SnapshotError::Codec(CodecError::Value {
                    table: table.schema.table.to_string(),
                    column: Identifier(&column.name).to_string(),
                    source: Box::new(source),
                })
            })
        })
        .collect()
}

/// The resume key of a copied row: its resume fields' bytes as copied, in hex, joined by
/// commas (key columns are never NULL; a NULL is written as an empty field).
pub fn encode_resume_key(resume_fields: &[usize], tuple: &CopyTuple) -> String {
    let mut key = String::new();
    for (position, &field) in resume_fields.iter().enumerate() {
        if position > 0 {
            key.push(',');
        }
        if let Some(Some(bytes)) = tuple.field(field) {
            for byte in bytes.iter() {
                key.push(HEX_DIGITS[usize::from(byte >> 4)] as char);
                key.push(HEX_DIGITS[usize::from(byte & 0xF)] as char);
            }
        }
    }
    key
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The bytes of a field of [`encode_resume_key`]; `None` when it is not lowercase hex.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let digit =
        |byte: u8| HEX_DIGITS.iter().position(|&digit| digit == byte).and_then(|value| u8::try_from(value).ok());
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks_exact(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

/// A parameter sent as the exact bytes given, in binary, whatever its type: a copied key
/// value goes back to the server as the server sent it.
#[derive(Debug)]
struct RawBinary<'a>(&'a [u8]);

impl ToSql for RawBinary<'_> {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
