//! MariaDB's own events, which mysql_common leaves undecoded (MariaDB documentation,
//! "Replication Protocol" and "Binlog Event Type Codes"; MariaDB source `log_event.h`):
//!
//! ```text
//!   GTID (0xA2):              sequence:u64  domain_id:u32  flags:u8  [commit_id:u64 if FL_GROUP_COMMIT_ID] ...
//!   GTID_LIST (0xA3):         count:u32 (low 28 bits)  (domain_id:u32 server_id:u32 sequence:u64)*
//!   BINLOG_CHECKPOINT (0xA1): name_length:u32  name
//!   ANNOTATE_ROWS (0xA0):     the statement's text
//!   *_COMPRESSED (0xA5–0xAB): the query text or rows of the plain event as
//!                             0x80|algorithm<<4|length_bytes, uncompressed length (big endian), zlib data
//! ```

use std::fmt;
use std::io::Read as _;

use super::cursor::ImageCursor;
use super::error::Problem;

/// A MariaDB global transaction id, `domain-server-sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MariadbGtid {
    pub domain_id: u32,
    pub server_id: u32,
    pub sequence: u64,
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.sequence)
    }
}

/// A MariaDB GTID event: starts an event group (a transaction, or one DDL statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MariadbGtidEvent {
    pub gtid: MariadbGtid,
    pub flags: u8,
    /// Transactions committed together share it (parallel replication).
    pub commit_id: Option<u64>,
}

/// `FL_STANDALONE`: the group is one statement with no BEGIN/COMMIT around it (DDL).
const FLAG_STANDALONE: u8 = 1;
/// `FL_GROUP_COMMIT_ID`: a commit id follows the flags.
const FLAG_GROUP_COMMIT_ID: u8 = 2;

impl MariadbGtidEvent {
    /// A GTID event's body; the server id comes from the event header.
    pub fn parse(body: &[u8], server_id: u32) -> Result<MariadbGtidEvent, Problem> {
        let mut cursor = ImageCursor::new(body);
        let sequence = cursor.uint_le(8, "the sequence number").map_err(Problem::Malformed)?;
        let domain_id = cursor.uint_le(4, "the domain id").map_err(Problem::Malformed)? as u32;
        let flags = cursor.take(1, "the flags").map_err(Problem::Malformed)?[0];
        let commit_id = if flags & FLAG_GROUP_COMMIT_ID != 0 {
            Some(cursor.uint_le(8, "the commit id").map_err(Problem::Malformed)?)
        } else {
            None
        };
        Ok(MariadbGtidEvent { gtid: MariadbGtid { domain_id, server_id, sequence }, flags, commit_id })
    }

    /// True when no BEGIN and COMMIT surround the group's one statement.
    pub fn is_standalone(&self) -> bool {
        self.flags & FLAG_STANDALONE != 0
    }
}

/// A GTID_LIST event's body: the binlog state (last GTID per domain and server) at the start of a file.
pub fn parse_gtid_list(body: &[u8]) -> Result<Vec<MariadbGtid>, Problem> {
    let mut cursor = ImageCursor::new(body);
    let count = (cursor.uint_le(4, "the GTID count").map_err(Problem::Malformed)? & 0x0fff_ffff) as usize;
    if count.saturating_mul(16) > body.len() {
        return Err(Problem::malformed(format!("{count} GTIDs claimed in {} bytes", body.len())));
    }
    (0..count)
        .map(|_| {
            let domain_id = cursor.uint_le(4, "a domain id")? as u32;
            let server_id = cursor.uint_le(4, "a server id")? as u32;
            let sequence = cursor.uint_le(8, "a sequence number")?;
            Ok(MariadbGtid { domain_id, server_id, sequence })
        })
        .collect::<Result<_, String>>()
        .map_err(Problem::Malformed)
}

/// A BINLOG_CHECKPOINT event's body: the oldest binlog file crash recovery still needs.
pub fn parse_binlog_checkpoint(body: &[u8]) -> Result<String, Problem> {
    let mut cursor = ImageCursor::new(body);
    let length = cursor.uint_le(4, "the file name length").map_err(Problem::Malformed)? as usize;
    let name = cursor.take(length, "the file name").map_err(Problem::Malformed)?;
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// Largest uncompressed event part accepted: MariaDB's `max_allowed_packet` ceiling.
const MAX_UNCOMPRESSED: usize = 1 << 30;

/// The bytes of a compressed query text or rows block.
pub fn uncompress(compressed: &[u8]) -> Result<Vec<u8>, Problem> {
    let Some((&header, rest)) = compressed.split_first() else {
        return Err(Problem::malformed("an empty compressed block"));
    };
    if header & 0x80 == 0 {
        return Err(Problem::malformed(format!("compressed block header {header:#04x} lacks its marker bit")));
    }
    if header & 0x70 != 0 {
        return Err(Problem::Unsupported("a compression algorithm other than zlib", "MariaDB only writes zlib"));
    }
    let length_bytes = usize::from(header & 0x07);
    if !(1..=4).contains(&length_bytes) {
        return Err(Problem::malformed(format!("compressed block length of {length_bytes} bytes")));
    }
    let mut cursor = ImageCursor::new(rest);
    let length = cursor.uint_be(length_bytes, "the uncompressed length").map_err(Problem::Malformed)? as usize;
    if length > MAX_UNCOMPRESSED {
        return Err(Problem::malformed(format!("an uncompressed length of {length} bytes")));
    }
    let mut out = Vec::with_capacity(length.min(1 << 20));
    let mut decoder = flate2::read::ZlibDecoder::new(&rest[length_bytes..]).take(length as u64 + 1);
    decoder.read_to_end(&mut out).map_err(|error| Problem::malformed(format!("zlib: {error}")))?;
    if out.len() != length {
        return Err(Problem::malformed(format!("uncompressed to {} bytes, the header says {length}", out.len())));
    }
    Ok(out)
}
