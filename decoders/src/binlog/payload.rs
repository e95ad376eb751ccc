//! MySQL 8's TRANSACTION_PAYLOAD event (`binlog_transaction_compression`): a whole
//! transaction's events, zstd-compressed (MySQL source, `libbinlogevents`
//! "Transaction_payload_event").
//!
//! ```text
//!   header fields: (type:lenenc length:lenenc value:lenenc)*  until type 0 (end mark)
//!                  1 payload size, 2 compression type (0 zstd, 255 none), 3 uncompressed size
//!   payload:       payload size bytes: events with headers and no checksums
//! ```

use std::io::Read as _;

use super::cursor::ImageCursor;
use super::error::Problem;

/// The events of one TRANSACTION_PAYLOAD, uncompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionPayload {
    pub(crate) events: Vec<u8>,
}

/// The largest uncompressed transaction payload accepted (MySQL's own limit for one event is 1 GiB).
const MAX_PAYLOAD_BYTES: u64 = 1 << 30;

mod field {
    pub const END_MARK: u64 = 0;
    pub const PAYLOAD_SIZE: u64 = 1;
    pub const COMPRESSION_TYPE: u64 = 2;
    pub const UNCOMPRESSED_SIZE: u64 = 3;
}

const COMPRESSION_ZSTD: u64 = 0;
const COMPRESSION_NONE: u64 = 255;

/// Reads a payload event's header fields and uncompresses its events.
pub fn parse_payload(body: &[u8]) -> Result<TransactionPayload, Problem> {
    let m = Problem::Malformed;
    let mut cursor = ImageCursor::new(body);
    let (mut size, mut compression, mut uncompressed) = (None, None, 0);
    loop {
        let field_type = cursor.length_encoded("a payload field type").map_err(m)?;
        if field_type == field::END_MARK {
            break;
        }
        let length = cursor.length_encoded("a payload field length").map_err(m)? as usize;
        let value = cursor.take(length, "a payload field").map_err(m)?;
        let number = || ImageCursor::new(value).length_encoded("a payload field value").map_err(m);
        match field_type {
            field::PAYLOAD_SIZE => size = Some(number()?),
            field::COMPRESSION_TYPE => compression = Some(number()?),
            field::UNCOMPRESSED_SIZE => uncompressed = number()?,
            _ => {} // Fields newer than this decoder.
        }
    }
    let (Some(size), Some(compression)) = (size, compression) else {
        return Err(Problem::malformed("a transaction payload header without its size or compression type"));
    };
    let compressed = cursor.take(usize::try_from(size).unwrap_or(usize::MAX), "the payload").map_err(m)?;
    match compression {
        COMPRESSION_NONE => Ok(TransactionPayload { events: compressed.to_vec() }),
        COMPRESSION_ZSTD => {
            if uncompressed > MAX_PAYLOAD_BYTES {
                return Err(Problem::malformed(format!("a transaction payload of {uncompressed} bytes uncompressed")));
            }
            let decoder = zstd::stream::read::Decoder::new(compressed)
                .map_err(|error| Problem::malformed(format!("zstd: {error}")))?;
            let mut events = Vec::with_capacity(uncompressed.min(1 << 24) as usize);
            decoder
                .take(MAX_PAYLOAD_BYTES + 1)
                .read_to_end(&mut events)
                .map_err(|error| Problem::malformed(format!("zstd: {error}")))?;
            if events.len() as u64 > MAX_PAYLOAD_BYTES {
                return Err(Problem::malformed("a transaction payload uncompresses past 1 GiB"));
            }
            Ok(TransactionPayload { events })
        }
        other => Err(Problem::malformed(format!("transaction payload compression type {other} is unknown"))),
    }
}
