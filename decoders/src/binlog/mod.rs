//! MySQL and MariaDB binlog events into typed events and change-model rows.
//!
//! ```text
//!   event bytes (one per replication packet, or split from a file by header::FileEvents)
//!        │  header::EventHeader, CRC32 checked when the format description says so
//!        ▼
//!   BinlogDecoder ── FORMAT_DESCRIPTION, TABLE_MAP, GTID, PREVIOUS_GTIDS, TRANSACTION_PAYLOAD: mysql_common
//!        │        ── QUERY, XID, ROTATE, rows events, MariaDB's events: query, rows, mariadb
//!        ▼
//!   BinlogEvent { header, body: EventBody }     rows: table::BinlogTable + rows::RowsEvent
//!                                               values: value (binary → change::Value), json, charset
//! ```
//!
//! Invariants: the decoder is pure (its state is the current format description and the
//! table maps seen); every length read from the input is checked before it is used;
//! a malformed event is an error naming the event type and offset, never a panic;
//! table maps are kept until a ROTATE, as the server does.

pub mod charset;
pub mod cursor;
pub mod error;
pub mod event_type;
pub mod gtid;
pub mod header;
pub mod json;
pub mod mariadb;
pub mod packed_decimal;
pub mod payload;
pub mod query;
pub mod rows;
pub mod table;
pub mod table_map;
pub mod value;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use mysql_common::binlog::consts::BinlogChecksumAlg;
use mysql_common::binlog::consts::BinlogVersion;
use mysql_common::binlog::events::{BinlogEventFooter, Event, FormatDescriptionEvent, GtidEvent};

pub use error::{BinlogError, EventName, Problem};
pub use header::{EventHeader, FileEvents};

pub use mariadb::{MariadbGtid, MariadbGtidEvent};
pub use payload::TransactionPayload;
pub use query::{QueryEvent, StatementKind};
pub use rows::{RowChange, RowsEvent, RowsKind};
pub use table::{BinlogColumn, BinlogTable};

use header::{CHECKSUM_LEN, HEADER_LEN, event_type as kind};

/// One decoded event.
#[derive(Debug, Clone, PartialEq)]
pub struct BinlogEvent {
    pub header: EventHeader,
    pub body: EventBody,
}

/// What an event says, as far as change capture is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// The binlog's format; the server that wrote it.
    FormatDescription {
        server_version: String,
    },
    /// The binlog continues in `next_file` at `position` (artificial ones start a dump).
    Rotate {
        next_file: String,
        position: u64,
    },
    /// MySQL: a transaction with this GTID (`uuid:n` or, tagged, `uuid:tag:n`) follows.
    Gtid {
        gtid: String,
        commit_micros: Option<u64>,
    },
    /// MySQL with `gtid_mode=OFF`: a transaction without a GTID follows.
    AnonymousGtid {
        commit_micros: Option<u64>,
    },
    /// MariaDB: an event group (a transaction, or one standalone statement) follows.
    MariadbGtid(MariadbGtidEvent),
    /// MySQL: the GTID set executed before this binlog file, as text (`uuid:1-5,uuid2:tag:1-3`).
    PreviousGtids(String),
    /// MariaDB: the binlog state at the start of this file.
    GtidList(Vec<MariadbGtid>),
    /// MariaDB: the oldest file crash recovery needs.
    BinlogCheckpoint(String),
    Query(QueryEvent),
    /// The commit of an InnoDB transaction.
    Xid(u64),
    TableMap(Arc<BinlogTable>),
    Rows {
        table: Arc<BinlogTable>,
        rows: RowsEvent,
    },
    /// MySQL 8 `binlog_transaction_compression`: a whole transaction's events, read with
    /// [`BinlogDecoder::payload_events`].
    TransactionPayload(TransactionPayload),
    /// The statement behind the next rows events (MySQL ROWS_QUERY, MariaDB ANNOTATE_ROWS).
    RowsQuery(String),
    /// The server is alive and has nothing new.
    Heartbeat,
    /// The server stopped writing this binlog.
    Stop,
    /// Events with nothing for change capture (INTVAR, RAND, USER_VAR, ...).
    Ignored,
}

/// Decodes one binlog's events in order. Keeps the format description and table maps.
#[derive(Debug)]
pub struct BinlogDecoder {
    format: FormatDescriptionEvent<'static>,
    /// Whether events carry a CRC32: `None` before the first FORMAT_DESCRIPTION, when a
    /// replication stream's artificial ROTATE may or may not carry one (it does when the
    /// replica announced checksum support): there a valid checksum is taken as one.
    checksums: Option<bool>,
    /// Per table id: the TABLE_MAP body it was read from, and the table.
    tables: HashMap<u64, (Vec<u8>, Arc<BinlogTable>)>,
}

impl Default for BinlogDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl BinlogDecoder {
    /// A decoder for a binlog file or a replication stream from its start.
    pub fn new() -> BinlogDecoder {
        BinlogDecoder {
            format: FormatDescriptionEvent::new(BinlogVersion::Version4),
            checksums: None,
            tables: HashMap::new(),
        }
    }

    /// The table map in force for `table_id`.
    pub fn table(&self, table_id: u64) -> Option<&Arc<BinlogTable>> {
        self.tables.get(&table_id).map(|(_, table)| table)
    }

    /// Decodes one whole event (header, body and checksum, if any).
    pub fn decode(&mut self, event: &[u8]) -> Result<BinlogEvent, BinlogError> {
        self.decode_event(event, true)
    }

    /// The events of a transaction payload, in order.
    pub fn payload_events(&mut self, payload: &TransactionPayload) -> Result<Vec<BinlogEvent>, BinlogError> {
        let mut events = Vec::new();
        for event in FileEvents::without_magic(&payload.events) {
            let (_, bytes) = event.map_err(|(offset, problem)| BinlogError {
                event: EventName(kind::TRANSACTION_PAYLOAD),
                offset,
                problem,
            })?;
            events.push(self.decode_event(bytes, false)?);
        }
        Ok(events)
    }

    fn decode_event(&mut self, event: &[u8], outer: bool) -> Result<BinlogEvent, BinlogError> {
        let fail = |event_type: u8, offset: u64| {
            move |problem: Problem| BinlogError { event: EventName(event_type), offset, problem }
        };
        let header = EventHeader::parse(event).map_err(fail(event.get(4).copied().unwrap_or(0), 0))?;
        let fail = fail(header.event_type, header.offset());
        if header.event_type == kind::FORMAT_DESCRIPTION {
            return self.format_description(header, event).map_err(fail);
        }
        let checksummed = outer
            && match self.checksums {
                Some(checksums) => {
                    if checksums {
                        header::verify_checksum(event).map_err(fail)?;
                    }
                    checksums
                }
                None => header::verify_checksum(event).is_ok(),
            };
        let body_end = event.len() - if checksummed { CHECKSUM_LEN } else { 0 };
        let body = event.get(HEADER_LEN..body_end).ok_or_else(|| {
            fail(Problem::Truncated { what: "the event body", needed: HEADER_LEN + CHECKSUM_LEN, left: event.len() })
        })?;
        let body = self.decode_body(&header, event, body, outer).map_err(fail)?;
        Ok(BinlogEvent { header, body })
    }

    fn decode_body(
        &mut self,
        header: &EventHeader,
        event: &[u8],
        body: &[u8],
        outer: bool,
    ) -> Result<EventBody, Problem> {
        Ok(match header.event_type {
            kind::ROTATE => {
                let mut cursor = cursor::ImageCursor::new(body);
                let position = cursor.uint_le(8, "the position").map_err(Problem::Malformed)?;
                let next_file = String::from_utf8_lossy(&body[8..]).into_owned();
                if header.flags & header::FLAG_ARTIFICIAL == 0 {
                    self.tables.clear();
                }
                EventBody::Rotate { next_file, position }
            }
            kind::QUERY | kind::MARIADB_QUERY_COMPRESSED => {
                EventBody::Query(query::parse_query(body, header.event_type == kind::MARIADB_QUERY_COMPRESSED)?)
            }
            kind::XID => match <[u8; 8]>::try_from(body) {
                Ok(xid) => EventBody::Xid(u64::from_le_bytes(xid)),
                Err(_) => return Err(Problem::malformed(format!("an XID body of {} bytes, not 8", body.len()))),
            },
            kind::TABLE_MAP => {
                // The server writes a transaction's table maps again before its rows: an
                // unchanged map (the same bytes) is not parsed again and keeps its Arc, so that
                // the caller can tell a schema change by pointer.
                let table_id = rows::rows_table_id(body, self.post_header_length(kind::TABLE_MAP))?;
                if let Some((known_body, known)) = self.tables.get(&table_id)
                    && known_body.as_slice() == body
                {
                    return Ok(EventBody::TableMap(Arc::clone(known)));
                }
                let map = table_map::TableMapEvent::parse(body, self.post_header_length(kind::TABLE_MAP))?;
                let table = Arc::new(BinlogTable::from_event(map)?);
                self.tables.insert(table.table_id, (body.to_vec(), Arc::clone(&table)));
                EventBody::TableMap(table)
            }
            rows_type if rows::rows_event_layout(rows_type).is_some() => {
                let post_header = self.post_header_length(rows_type);
                let table_id = rows::rows_table_id(body, post_header)?;
                let table = self.table(table_id).cloned().ok_or(Problem::UnknownTable { table_id })?;
                let rows = rows::decode_rows(rows_type, post_header, body, &table)?;
                EventBody::Rows { table, rows }
            }
            kind::GTID | kind::GTID_TAGGED => {
                let parsed = self.mysql_common_event(event, outer)?;
                let gtid: GtidEvent = parsed.read_event().map_err(Problem::malformed)?;
                let mut text = gtid::uuid_text(&gtid.sid());
                if let Some(tag) = gtid.tag() {
                    let _ = write!(text, ":{}", tag.as_str());
                }
                let _ = write!(text, ":{}", gtid.gno());
                EventBody::Gtid { gtid: text, commit_micros: commit_micros(gtid.original_commit_timestamp()) }
            }
            kind::ANONYMOUS_GTID => {
                let parsed = self.mysql_common_event(event, outer)?;
                let gtid: GtidEvent = parsed.read_event().map_err(Problem::malformed)?;
                EventBody::AnonymousGtid { commit_micros: commit_micros(gtid.original_commit_timestamp()) }
            }
            kind::PREVIOUS_GTIDS => EventBody::PreviousGtids(gtid::previous_gtids_text(body)?),
            kind::TRANSACTION_PAYLOAD => {
                if !outer {
                    return Err(Problem::malformed("a transaction payload inside a transaction payload"));
                }
                EventBody::TransactionPayload(payload::parse_payload(body)?)
            }
            kind::MARIADB_GTID => EventBody::MariadbGtid(MariadbGtidEvent::parse(body, header.server_id)?),
            kind::MARIADB_GTID_LIST => EventBody::GtidList(mariadb::parse_gtid_list(body)?),
            kind::MARIADB_BINLOG_CHECKPOINT => EventBody::BinlogCheckpoint(mariadb::parse_binlog_checkpoint(body)?),
            kind::MARIADB_ANNOTATE_ROWS => EventBody::RowsQuery(String::from_utf8_lossy(body).into_owned()),
            kind::ROWS_QUERY => {
                // One length byte (ignored by the server: the text runs to the end) then the text.
                EventBody::RowsQuery(String::from_utf8_lossy(body.get(1..).unwrap_or_default()).into_owned())
            }
            kind::MARIADB_START_ENCRYPTION => {
                return Err(Problem::Unsupported(
                    "an encrypted binlog file",
                    "read it through the server's replication protocol, which sends it decrypted",
                ));
            }
            kind::PRE_GA_WRITE_ROWS..=kind::PRE_GA_DELETE_ROWS => {
                return Err(Problem::Unsupported(
                    "the rows events of MySQL 5.1 betas",
                    "upgrade the server; these binlogs predate row-based replication's release",
                ));
            }
            kind::INCIDENT => {
                return Err(Problem::malformed(
                    "the server logged an INCIDENT: changes after this point may be missing from the binlog \
                     (the server says so itself); take a new snapshot of the affected tables",
                ));
            }
            kind::HEARTBEAT | kind::HEARTBEAT_V2 => EventBody::Heartbeat,
            kind::STOP => EventBody::Stop,
            _ => EventBody::Ignored,
        })
    }

    /// A FORMAT_DESCRIPTION: checked (CRC32 when it says so) and kept for the events after it.
    fn format_description(&mut self, header: EventHeader, event: &[u8]) -> Result<BinlogEvent, Problem> {
        let parsed = Event::read(&self.format, event).map_err(Problem::malformed)?;
        let format: FormatDescriptionEvent<'_> = parsed.read_event().map_err(Problem::malformed)?;
        let footer = parsed.footer();
        let algorithm = footer.get_checksum_alg().map_err(Problem::malformed)?;
        let checksums = algorithm == Some(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32);
        self.checksums = Some(checksums);
        if checksums {
            header::verify_checksum(event)?;
        }
        let server_version = format.server_version().trim_end_matches('\0').to_owned();
        self.format = format.into_owned().with_footer(footer);
        Ok(BinlogEvent { header, body: EventBody::FormatDescription { server_version } })
    }

    /// Parses `event` with mysql_common, whose readers need the format description (and,
    /// inside a payload, no checksum). The event's length was checked against its header.
    fn mysql_common_event(&self, event: &[u8], outer: bool) -> Result<Event, Problem> {
        if outer {
            return Event::read(&self.format, event).map_err(Problem::malformed);
        }
        let mut footer: BinlogEventFooter = self.format.footer();
        footer.set_checksum_enabled(false);
        let format = self.format.clone().with_footer(footer);
        Event::read(&format, event).map_err(Problem::malformed)
    }

    /// The post-header length the format description gives an event type.
    fn post_header_length(&self, event_type: u8) -> u8 {
        let lengths = self.format.event_type_header_lengths();
        lengths.get(usize::from(event_type).wrapping_sub(1)).copied().unwrap_or(if matches!(event_type, kind::WRITE_ROWS_V1..=kind::DELETE_ROWS_V1 | kind::MARIADB_WRITE_ROWS_COMPRESSED_V1..=kind::MARIADB_DELETE_ROWS_COMPRESSED_V1) { 8 } else { 10 })
    }
}

/// Reads a binlog file held in memory: every event in order, those of transaction
/// payloads in their place; after an error, nothing more (for tests, tools and fuzzing).
#[derive(Debug)]
pub struct BinlogFileReader<'a> {
    decoder: BinlogDecoder,
    events: FileEvents<'a>,
    /// The rest of the payload being read.
    pending: std::collections::VecDeque<BinlogEvent>,
    failed: bool,
}

impl<'a> BinlogFileReader<'a> {
    pub fn new(file: &'a [u8]) -> Result<BinlogFileReader<'a>, BinlogError> {
        let events =
            FileEvents::new(file).map_err(|problem| BinlogError { event: EventName(0), offset: 0, problem })?;
        Ok(BinlogFileReader { decoder: BinlogDecoder::new(), events, pending: Default::default(), failed: false })
    }

    fn read(&mut self) -> Option<Result<BinlogEvent, BinlogError>> {
        if let Some(event) = self.pending.pop_front() {
            return Some(Ok(event));
        }
        let (offset, bytes) = match self.events.next()? {
            Ok(event) => event,
            Err((offset, problem)) => return Some(Err(BinlogError { event: EventName(0), offset, problem })),
        };
        let event = match self.decoder.decode(bytes) {
            Ok(event) => event,
            Err(error) => {
                return Some(Err(BinlogError {
                    offset: if error.offset == 0 { offset } else { error.offset },
                    ..error
                }));
            }
        };
        if let EventBody::TransactionPayload(payload) = &event.body {
            match self.decoder.payload_events(payload) {
                Ok(inner) => self.pending.extend(inner),
                Err(error) => return Some(Err(error)),
            }
        }
        Some(Ok(event))
    }
}

impl Iterator for BinlogFileReader<'_> {
    type Item = Result<BinlogEvent, BinlogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.read();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

/// MySQL's `original_commit_timestamp` (microseconds; 0 when the server did not write one).
fn commit_micros(micros: u64) -> Option<u64> {
    (micros != 0).then_some(micros)
}
