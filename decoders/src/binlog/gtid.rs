//! MySQL's PREVIOUS_GTIDS event: the GTID set executed before a binlog file (MySQL source,
//! `libbinlogevents` "Previous_gtids_event"; MySQL 8.4 adds tagged GTIDs).
//!
//! ```text
//!   header:u64   untagged: the sid count;  tagged: format (top byte, non-zero) | count << 8
//!   per sid:     uuid[16]  [tagged: tag_length:varlen tag]  interval_count:u64  (start:u64 end:u64)*
//! ```
//!
//! Intervals end exclusive on the wire; the text form (`uuid:1-5:7,uuid:tag:1-3`) shows
//! them inclusive, as MySQL prints `gtid_executed`.

use std::fmt::Write as _;

use mysql_common::io::ParseBuf;
use mysql_common::misc::read_varlen_uint;

use super::cursor::ImageCursor;
use super::error::Problem;

/// Bytes of one sid without tag and intervals: the uuid and the interval count.
const SID_FIXED_LEN: usize = 16 + 8;
const INTERVAL_LEN: usize = 16;

/// A PREVIOUS_GTIDS body as a GTID set's text.
pub fn previous_gtids_text(body: &[u8]) -> Result<String, Problem> {
    let m = Problem::Malformed;
    let mut cursor = ImageCursor::new(body);
    let header = cursor.uint_le(8, "the sid count").map_err(m)?;
    let tagged = header >> 56 != 0;
    let count = if tagged { (header >> 8) & ((1 << 48) - 1) } else { header & ((1 << 56) - 1) };
    if count.saturating_mul(SID_FIXED_LEN as u64) > body.len() as u64 {
        return Err(Problem::malformed(format!("{count} GTID sids claimed in {} bytes", body.len())));
    }
    let mut text = String::new();
    for index in 0..count {
        if index > 0 {
            text.push(',');
        }
        text.push_str(&uuid_text(cursor.take(16, "a server uuid").map_err(m)?));
        if tagged {
            let rest = &body[cursor.offset()..];
            let mut parse = ParseBuf(rest);
            let length = read_varlen_uint(&mut parse).map_err(Problem::malformed)? as usize;
            cursor.take(rest.len() - parse.0.len(), "a tag length").map_err(m)?;
            let tag = cursor.take(length, "a tag").map_err(m)?;
            if !tag.is_empty() {
                let _ = write!(text, ":{}", String::from_utf8_lossy(tag));
            }
        }
        let intervals = cursor.uint_le(8, "the interval count").map_err(m)?;
        if intervals.saturating_mul(INTERVAL_LEN as u64) > (body.len() - cursor.offset()) as u64 {
            return Err(Problem::malformed(format!("{intervals} GTID intervals claimed")));
        }
        for _ in 0..intervals {
            let start = cursor.uint_le(8, "an interval start").map_err(m)?;
            let end = cursor.uint_le(8, "an interval end").map_err(m)?.saturating_sub(1);
            if start == end {
                let _ = write!(text, ":{start}");
            } else {
                let _ = write!(text, ":{start}-{end}");
            }
        }
    }
    Ok(text)
}

/// A server UUID in its usual text form.
pub fn uuid_text(uuid: &[u8]) -> String {
    let mut text = String::with_capacity(36);
    for (index, byte) in uuid.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{byte:02x}");
    }
    text
}
