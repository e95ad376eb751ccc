//! The common header of every binlog event and the checks made before a body is read:
//! MySQL's "Binary Log Event Header" (MySQL source, `libbinlogevents/include/binlog_event.h`),
//! which MariaDB shares.
//!
//! ```text
//!   timestamp:u32  type:u8  server_id:u32  event_size:u32  log_pos:u32  flags:u16   (19 bytes, little endian)
//!   body[event_size - 19]  (its last 4 bytes a CRC32 of the rest when the server writes checksums)
//! ```

use super::error::Problem;

/// Length of the common event header (binlog version 4).
pub const HEADER_LEN: usize = 19;
/// Length of a CRC32 event checksum.
pub const CHECKSUM_LEN: usize = 4;
/// A binlog file starts with these 4 bytes.
pub const FILE_MAGIC: &[u8; 4] = b"\xfebin";

pub use super::event_type;

/// The common header of one event, as the server wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    /// When the statement began, seconds since the Unix epoch.
    pub timestamp: u32,
    pub event_type: u8,
    /// The server that first wrote the event.
    pub server_id: u32,
    /// The whole event's length: header, body and checksum.
    pub event_size: u32,
    /// Offset of the next event in the binlog file (0 for events not in a file:
    /// inside a transaction payload, or artificial ones from the server).
    pub next_position: u32,
    pub flags: u16,
}

/// `LOG_EVENT_ARTIFICIAL_F`: made up by the server for the replica (a fake ROTATE), not in the file.
pub const FLAG_ARTIFICIAL: u16 = 0x20;

impl EventHeader {
    /// Reads the header of `event`, which must be exactly one whole event.
    pub fn parse(event: &[u8]) -> Result<EventHeader, Problem> {
        let Some(header) = event.get(..HEADER_LEN) else {
            return Err(Problem::Truncated { what: "the event header", needed: HEADER_LEN, left: event.len() });
        };
        let u32_at = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        let parsed = EventHeader {
            timestamp: u32_at(0),
            event_type: header[4],
            server_id: u32_at(5),
            event_size: u32_at(9),
            next_position: u32_at(13),
            flags: u16::from_le_bytes([header[17], header[18]]),
        };
        if u64::from(parsed.event_size) != event.len() as u64 {
            return Err(Problem::SizeMismatch { claimed: u64::from(parsed.event_size), actual: event.len() });
        }
        Ok(parsed)
    }

    /// The event's offset in its file, from where the next one starts (0 when unknown).
    pub fn offset(&self) -> u64 {
        u64::from(self.next_position).saturating_sub(u64::from(self.event_size))
    }
}

/// `LOG_EVENT_BINLOG_IN_USE_F`: set in a file's FORMAT_DESCRIPTION while the server writes
/// the file and cleared in place when it closes it, so the checksum is computed without it.
pub const FLAG_BINLOG_IN_USE: u16 = 0x1;

/// Checks the CRC32 that ends `event` (the header and body before it are covered).
pub fn verify_checksum(event: &[u8]) -> Result<(), Problem> {
    let Some(split) = event.len().checked_sub(CHECKSUM_LEN).filter(|split| *split >= HEADER_LEN) else {
        return Err(Problem::Truncated {
            what: "an event with a checksum",
            needed: HEADER_LEN + CHECKSUM_LEN,
            left: event.len(),
        });
    };
    let (covered, carried) = event.split_at(split);
    let carried = u32::from_le_bytes([carried[0], carried[1], carried[2], carried[3]]);
    let computed = if covered[4] == event_type::FORMAT_DESCRIPTION {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&covered[..17]);
        hasher.update(&[covered[17] & !(FLAG_BINLOG_IN_USE as u8)]);
        hasher.update(&covered[18..]);
        hasher.finalize()
    } else {
        crc32fast::hash(covered)
    };
    if carried != computed {
        return Err(Problem::Checksum { carried, computed });
    }
    Ok(())
}

/// Recomputes the CRC32 of every event after the FORMAT_DESCRIPTION of a binlog file
/// whose format description says CRC32, so that bytes changed on purpose (tests, fuzzing)
/// reach the body decoders instead of stopping at the checksum.
pub fn reseal_checksums(file: &mut [u8]) {
    let mut at = FILE_MAGIC.len();
    let mut checksums = false;
    while at + HEADER_LEN <= file.len() {
        let size = u32::from_le_bytes([file[at + 9], file[at + 10], file[at + 11], file[at + 12]]) as usize;
        if size < HEADER_LEN + CHECKSUM_LEN + 1 || at + size > file.len() {
            return;
        }
        if file[at + 4] == event_type::FORMAT_DESCRIPTION {
            checksums = file[at + size - CHECKSUM_LEN - 1] == 1;
        } else if checksums {
            let crc = crc32fast::hash(&file[at..at + size - CHECKSUM_LEN]);
            file[at + size - CHECKSUM_LEN..at + size].copy_from_slice(&crc.to_le_bytes());
        }
        at += size;
    }
}

/// Splits bytes holding whole events one after the other into events, by their sizes:
/// a binlog file (after its 4-byte magic), for tests, tools and local files, or the
/// uncompressed events of a transaction payload. (A replication stream hands over one
/// event per packet.)
#[derive(Debug)]
pub struct FileEvents<'a> {
    rest: &'a [u8],
    offset: u64,
}

impl<'a> FileEvents<'a> {
    /// A binlog file: checks the magic and starts after it.
    pub fn new(file: &'a [u8]) -> Result<FileEvents<'a>, Problem> {
        match file.strip_prefix(FILE_MAGIC.as_slice()) {
            Some(rest) => Ok(FileEvents { rest, offset: FILE_MAGIC.len() as u64 }),
            None => Err(Problem::malformed("not a binlog file: it does not start with \\xfebin")),
        }
    }

    /// Events with no file magic before them (a transaction payload's).
    pub fn without_magic(events: &'a [u8]) -> FileEvents<'a> {
        FileEvents { rest: events, offset: 0 }
    }
}

impl<'a> Iterator for FileEvents<'a> {
    /// The event's offset and bytes, or why the file cannot be split further.
    type Item = Result<(u64, &'a [u8]), (u64, Problem)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let offset = self.offset;
        let Some(size) = self.rest.get(9..13).map(|size| u32::from_le_bytes([size[0], size[1], size[2], size[3]]))
        else {
            let left = self.rest.len();
            self.rest = &[];
            return Some(Err((offset, Problem::Truncated { what: "the event header", needed: HEADER_LEN, left })));
        };
        let size = size as usize;
        if size < HEADER_LEN || size > self.rest.len() {
            let left = self.rest.len();
            self.rest = &[];
            return Some(Err((offset, Problem::Truncated { what: "the event", needed: size.max(HEADER_LEN), left })));
        }
        let (event, rest) = self.rest.split_at(size);
        self.rest = rest;
        self.offset += size as u64;
        Some(Ok((offset, event)))
    }
}
