//! On-disk spill of streamed in-progress transactions (pgoutput protocol v2+).
//!
//! A transaction bigger than the server's `logical_decoding_work_mem` arrives in
//! chunks before it commits, and may still abort. Wellhead must not emit it
//! before the commit, and must not hold it in memory: each chunk's messages go
//! to `<dir>/<xid>.spill` as they arrive, and are replayed from disk at Stream
//! Commit (skipping subtransactions that aborted), or deleted at Stream Abort.
//!
//! Record layout: `subxid u32 | wal_start u64 | length u32 | pgoutput message bytes`.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use wellhead_decoders::change::Lsn;

const RECORD_HEADER_BYTES: usize = 16;

/// Spill I/O failed.
#[derive(Debug, thiserror::Error)]
#[error("spill file {path}: {source}")]
pub struct SpillError {
    path: PathBuf,
    source: std::io::Error,
}

#[derive(Debug)]
struct SpillFile {
    path: PathBuf,
    writer: BufWriter<File>,
    aborted_subtransactions: HashSet<u32>,
}

/// Spill files of the streamed transactions that are still open.
#[derive(Debug)]
pub struct SpillStore {
    dir: PathBuf,
    open: HashMap<u32, SpillFile>,
}

impl SpillStore {
    /// Uses `dir`, removing spill files a previous run left behind (the server streams those transactions again).
    pub fn open(dir: &Path) -> Result<SpillStore, SpillError> {
        let error = |source| SpillError { path: dir.to_owned(), source };
        if dir.exists() {
            fs::remove_dir_all(dir).map_err(error)?;
        }
        fs::create_dir_all(dir).map_err(error)?;
        Ok(SpillStore { dir: dir.to_owned(), open: HashMap::new() })
    }

    /// True while any streamed transaction is neither committed nor aborted.
    pub fn has_open_transactions(&self) -> bool {
        !self.open.is_empty()
    }

    /// Appends one message of transaction `xid` (sent by subtransaction `subxid`).
    pub fn append(&mut self, xid: u32, subxid: u32, wal_start: Lsn, message: &[u8]) -> Result<(), SpillError> {
        let file = match self.open.entry(xid) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let path = self.dir.join(format!("{xid}.spill"));
                let handle = File::create(&path).map_err(|source| SpillError { path: path.clone(), source })?;
                entry.insert(SpillFile {
                    path,
                    writer: BufWriter::with_capacity(256 * 1024, handle),
                    aborted_subtransactions: HashSet::new(),
                })
            }
        };
        let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
        let mut header = [0u8; RECORD_HEADER_BYTES];
        header[..4].copy_from_slice(&subxid.to_be_bytes());
        header[4..12].copy_from_slice(&wal_start.0.to_be_bytes());
        header[12..].copy_from_slice(&length.to_be_bytes());
        let write = |writer: &mut BufWriter<File>| -> std::io::Result<()> {
            writer.write_all(&header)?;
            writer.write_all(message)
        };
        write(&mut file.writer).map_err(|source| SpillError { path: file.path.clone(), source })
    }

    /// Stream Abort: the whole transaction when `subxid == xid`, else one subtransaction.
    pub fn abort(&mut self, xid: u32, subxid: u32) -> Result<(), SpillError> {
        if xid == subxid {
            if let Some(file) = self.open.remove(&xid) {
                drop(file.writer);
                fs::remove_file(&file.path).map_err(|source| SpillError { path: file.path.clone(), source })?;
            }
        } else if let Some(file) = self.open.get_mut(&xid) {
            file.aborted_subtransactions.insert(subxid);
        }
        Ok(())
    }

    /// Stream Commit: the transaction's surviving messages, in the order they arrived.
    /// The file is deleted when the returned reader is dropped.
    pub fn take_for_replay(&mut self, xid: u32) -> Result<SpillReplay, SpillError> {
        let Some(file) = self.open.remove(&xid) else {
            return Ok(SpillReplay { path: None, reader: None, aborted_subtransactions: HashSet::new() });
        };
        let SpillFile { path, writer, aborted_subtransactions } = file;
        let handle =
            writer.into_inner().map_err(|error| SpillError { path: path.clone(), source: error.into_error() })?;
        drop(handle);
        let reader = File::open(&path).map_err(|source| SpillError { path: path.clone(), source })?;
        Ok(SpillReplay {
            reader: Some(BufReader::with_capacity(256 * 1024, reader)),
            path: Some(path),
            aborted_subtransactions,
        })
    }
}

/// Reads a committed streamed transaction back from disk.
#[derive(Debug)]
pub struct SpillReplay {
    path: Option<PathBuf>,
    reader: Option<BufReader<File>>,
    aborted_subtransactions: HashSet<u32>,
}

impl SpillReplay {
    /// The next surviving message and its WAL position, or `None` at the end.
    pub fn next_message(&mut self) -> Result<Option<(Lsn, Bytes)>, SpillError> {
        let Some(reader) = self.reader.as_mut() else { return Ok(None) };
        let path = self.path.clone().unwrap_or_default();
        loop {
            let mut header = [0u8; RECORD_HEADER_BYTES];
            match reader.read_exact(&mut header) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(source) => return Err(SpillError { path, source }),
            }
            let [s0, s1, s2, s3, w0, w1, w2, w3, w4, w5, w6, w7, l0, l1, l2, l3] = header;
            let subxid = u32::from_be_bytes([s0, s1, s2, s3]);
            let wal_start = Lsn(u64::from_be_bytes([w0, w1, w2, w3, w4, w5, w6, w7]));
            let length = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
            let mut message = vec![0u8; length];
            reader.read_exact(&mut message).map_err(|source| SpillError { path: path.clone(), source })?;
            if !self.aborted_subtransactions.contains(&subxid) {
                return Ok(Some((wal_start, Bytes::from(message))));
            }
        }
    }
}

impl Drop for SpillReplay {
    fn drop(&mut self) {
        self.reader = None;
        if let Some(path) = &self.path {
            let _ = fs::remove_file(path);
        }
    }
}
