//! The files sink seen from outside: a config that writes Avro files into
//! `<test dir>/lake`, and the files read back by an independent reader
//! (`tests/python/dump_avro.py`, fastavro).
//!
//! ```text
//!  wellhead ─► <dir>/lake/<topic>/<first position>.avro ─► dump_avro.py ─► AvroRecord per record
//!           └► <dir>/state/<pipeline>.checkpoint.json, <dir>/registry/registry.events.jsonl
//! ```
//!
//! [`record_count`] only walks the container files' block headers (no decoding),
//! cheap enough to poll while waiting for wellhead to catch up.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TestDatabase;

/// What a files-sink config sets besides the source and the paths.
#[derive(Debug, Default)]
pub struct FilesConfig<'a> {
    /// Lines added to `[pipelines.sink]` (e.g. `roll_seconds = 1`).
    pub sink: &'a str,
    /// Whole sections added to the pipeline (e.g. `[pipelines.registry]` …).
    pub pipeline: &'a str,
    /// `[control] http`, when the registry API is needed.
    pub http: Option<&'a str>,
}

/// Where the files sink of `db`'s config writes.
pub fn lake_dir(db: &TestDatabase) -> PathBuf {
    db.dir.join("lake")
}

/// The pipeline's checkpoint file.
pub fn checkpoint_path(db: &TestDatabase) -> PathBuf {
    db.dir.join("state").join(format!("{}.checkpoint.json", db.name))
}

/// The topic of `table` (`public.t`): the pipeline (= database) name is the topic prefix.
pub fn topic(db: &TestDatabase, table: &str) -> String {
    format!("{}.{table}", db.name)
}

/// Writes (or rewrites) the config streaming `tables` into Avro files; returns its path.
pub fn write_files_config(db: &TestDatabase, tables: &[&str], options: &FilesConfig<'_>) -> PathBuf {
    let tables = tables.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
    let http = options.http.map(|address| format!("http = \"{address}\"\n")).unwrap_or_default();
    let config = format!(
        "[[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"postgres\"\nurl = \"{url}\"\n\
         tables = [{tables}]\nslot = \"{name}\"\npublication = \"{name}\"\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
         [pipelines.sink]\ntype = \"files\"\ndir = \"{lake}\"\n{sink}\n\n[pipelines.checkpoint]\ndir = \"{state}\"\n\n\
         {pipeline}\n\n[control]\nregistry_dir = \"{registry}\"\n{http}",
        name = db.name,
        url = db.url(),
        lake = lake_dir(db).display(),
        sink = options.sink,
        state = db.dir.join("state").display(),
        pipeline = options.pipeline,
        registry = db.dir.join("registry").display(),
    );
    let path = db.dir.join("wellhead.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

/// One record of a final file, as fastavro decoded it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AvroRecord {
    /// `<topic>/<name>.avro`.
    pub file: String,
    pub topic: String,
    /// Field names of the row record in the file's writer schema.
    pub fields: Vec<String>,
    pub op: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// `schema.table`.
    pub table: String,
    pub txid: Option<i64>,
    pub lsn: Option<u64>,
    pub commit_lsn: Option<u64>,
    pub transaction: serde_json::Value,
}

impl AvroRecord {
    /// The change's position `(commit_lsn, place in its transaction)`: unique, unlike the
    /// LSN, which the rows of one COPY page share.
    pub fn position(&self) -> (u64, u64) {
        let place = self.transaction["total_order"].as_u64().expect("transaction.total_order");
        (self.commit_lsn.expect("source.commit_lsn"), place)
    }

    /// `after`, or `before` for a delete.
    pub fn row(&self) -> &serde_json::Value {
        if self.after.is_null() { &self.before } else { &self.after }
    }

    /// The file's name without directory and extension (its first record's position).
    pub fn file_stem(&self) -> &str {
        let name = self.file.rsplit('/').next().unwrap_or(&self.file);
        name.strip_suffix(".avro").unwrap_or(name)
    }
}

/// The position a file is named after: `{commit_lsn:016X}-{lsn:016X}`.
pub fn position_name((commit_lsn, place): (u64, u64)) -> String {
    format!("{commit_lsn:016X}-{place:016X}")
}

/// Every record of every final file under `dir`, per topic in file-name order.
pub fn read_files(dir: &Path) -> Vec<AvroRecord> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/dump_avro.py");
    let output = Command::new("python3").arg(&script).arg(dir).output().expect("run python3 dump_avro.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dump_avro.py {} failed ({}):\n{}",
        dir.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad dump line {line:?}: {e}")))
        .collect()
}

/// Files still being written (`.<name>.avro.tmp`) under `dir`.
pub fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir).into_iter().filter(|path| path.to_string_lossy().ends_with(".avro.tmp")).collect()
}

/// Final `.avro` files under `dir`.
pub fn final_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir).into_iter().filter(|path| path.extension().is_some_and(|e| e == "avro")).collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(topics) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files = Vec::new();
    for topic in topics.flatten() {
        if let Ok(entries) = std::fs::read_dir(topic.path()) {
            files.extend(entries.flatten().map(|entry| entry.path()));
        }
    }
    files.sort();
    files
}

/// How many records the final files under `dir` hold, from their block headers.
/// A file that cannot be read (renamed away meanwhile) counts as empty.
pub fn record_count(dir: &Path) -> u64 {
    final_files(dir).iter().filter_map(|path| std::fs::read(path).ok()).map(|bytes| container_count(&bytes)).sum()
}

/// Records in one object container file: the header (magic, metadata map, sync
/// marker), then blocks of (count, size, data, sync marker).
fn container_count(bytes: &[u8]) -> u64 {
    fn long(bytes: &[u8], at: &mut usize) -> Option<i64> {
        let (mut value, mut shift) = (0u64, 0);
        loop {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Some((value >> 1) as i64 ^ -((value & 1) as i64));
            }
            shift += 7;
        }
    }
    let mut at = 4;
    if bytes.get(..4) != Some(b"Obj\x01") {
        return 0;
    }
    loop {
        let Some(count) = long(bytes, &mut at) else { return 0 };
        if count == 0 {
            break;
        }
        if count < 0 {
            let _ = long(bytes, &mut at);
        }
        for _ in 0..count.unsigned_abs() * 2 {
            let Some(length) = long(bytes, &mut at) else { return 0 };
            at += length as usize;
        }
    }
    at += 16;
    let mut records = 0;
    while at < bytes.len() {
        let (Some(count), Some(size)) = (long(bytes, &mut at), long(bytes, &mut at)) else { break };
        records += count as u64;
        at += size as usize + 16;
    }
    records
}

/// The saved checkpoint's JSON (`Null` when none exists yet).
pub fn read_checkpoint(db: &TestDatabase) -> serde_json::Value {
    match std::fs::read_to_string(checkpoint_path(db)) {
        Ok(text) => serde_json::from_str(&text).expect("checkpoint JSON"),
        Err(_) => serde_json::Value::Null,
    }
}

/// `0/16B3748` → 0x16B3748.
pub fn parse_lsn(text: &str) -> u64 {
    let (high, low) = text.split_once('/').unwrap_or_else(|| panic!("LSN text {text:?}"));
    (u64::from_str_radix(high, 16).expect("LSN") << 32) | u64::from_str_radix(low, 16).expect("LSN")
}

/// The checkpoint's `last_written` as `(commit_lsn, place in its transaction)`.
pub fn checkpoint_position(checkpoint: &serde_json::Value) -> Option<(u64, u64)> {
    let position = &checkpoint["last_written"];
    if position.is_null() {
        return None;
    }
    let commit_lsn =
        position["commit_lsn"].as_str().map(parse_lsn).unwrap_or_else(|| panic!("commit_lsn in {position}"));
    let place = position["change_ordinal"].as_u64().unwrap_or_else(|| panic!("change_ordinal in {position}"));
    Some((commit_lsn, place))
}

/// The checkpoint's restart LSN (`restart_point.flush_lsn`), if it has one.
pub fn checkpoint_restart_lsn(checkpoint: &serde_json::Value) -> Option<u64> {
    checkpoint["restart_point"]["flush_lsn"].as_str().map(parse_lsn)
}
