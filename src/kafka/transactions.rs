//! Which records of a partition's log are committed: the transaction markers
//! applied to the records before them, the way a `read_committed` consumer
//! would see them (see [`super::committed_log`] for why Wellhead works this out
//! itself). Pure: records in, fates out.
//!
//! Rules: a non-transactional record is committed. A transactional record is
//! pending until a marker of its producer id with an epoch at or above its own
//! resolves it (equal under the classic protocol; one above under KIP-890).
//! Records of a producer id that later writes with a higher epoch before any
//! marker are aborted (the coordinator fenced them). Still pending at the end:
//! not committed (what `read_committed` hides behind the last stable offset).

use std::collections::HashMap;

use bytes::Bytes;

/// A record of a committed (or non-transactional) write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Control record type of a commit marker (the key's second i16); 0 is abort.
const CONTROL_COMMIT: i16 = 1;

/// Outcome of a transactional record, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Committed,
    Aborted,
    Pending,
}

/// A log's records with their transactions resolved.
#[derive(Debug, Default)]
pub(super) struct ResolvedRecords {
    pub(super) committed: Vec<CommittedRecord>,
    pub(super) aborted: usize,
    pub(super) pending: usize,
    /// The offset of the first record whose transaction has no marker yet.
    pub(super) first_pending: Option<i64>,
}

/// Applies transaction markers to the records before them.
#[derive(Debug, Default)]
pub(super) struct TransactionResolver {
    records: Vec<(kafka_protocol::records::Record, Fate)>,
    /// Indices of unresolved records per producer id.
    open: HashMap<i64, Vec<usize>>,
}

impl TransactionResolver {
    pub(super) fn resolve_all(records: Vec<kafka_protocol::records::Record>) -> ResolvedRecords {
        let mut resolver = TransactionResolver::default();
        for record in records {
            resolver.add(record);
        }
        resolver.finish()
    }

    fn add(&mut self, record: kafka_protocol::records::Record) {
        if record.control {
            let commit = record
                .key
                .as_ref()
                .filter(|key| key.len() >= 4)
                .map(|key| i16::from_be_bytes([key[2], key[3]]) == CONTROL_COMMIT)
                .unwrap_or(false);
            let fate = if commit { Fate::Committed } else { Fate::Aborted };
            self.resolve(record.producer_id, |epoch| epoch <= record.producer_epoch, fate);
            return;
        }
        if !record.transactional {
            self.records.push((record, Fate::Committed));
            return;
        }
        // A higher epoch writing while lower-epoch records wait: those were fenced.
        let epoch = record.producer_epoch;
        self.resolve(record.producer_id, |older| older < epoch, Fate::Aborted);
        let index = self.records.len();
        self.open.entry(record.producer_id).or_default().push(index);
        self.records.push((record, Fate::Pending));
    }

    fn resolve(&mut self, producer_id: i64, applies: impl Fn(i16) -> bool, fate: Fate) {
        let Some(open) = self.open.get_mut(&producer_id) else { return };
        let records = &mut self.records;
        open.retain(|&index| {
            let (record, slot) = &mut records[index];
            if applies(record.producer_epoch) {
                *slot = fate;
                false
            } else {
                true
            }
        });
    }

    fn finish(self) -> ResolvedRecords {
        let mut resolved = ResolvedRecords { committed: Vec::with_capacity(self.records.len()), ..Default::default() };
        for (record, fate) in self.records {
            match fate {
                Fate::Committed => resolved.committed.push(CommittedRecord {
                    offset: record.offset,
                    timestamp: record.timestamp,
                    key: record.key,
                    value: record.value,
                }),
                Fate::Aborted => resolved.aborted += 1,
                Fate::Pending => {
                    resolved.pending += 1;
                    resolved.first_pending.get_or_insert(record.offset);
                }
            }
        }
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{Record, TimestampType};

    fn record(offset: i64, producer_id: i64, epoch: i16, transactional: bool, value: &str) -> Record {
        Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: 0,
            timestamp: 0,
            key: None,
            value: Some(Bytes::from(value.to_owned())),
            headers: IndexMap::new(),
        }
    }

    fn marker(offset: i64, producer_id: i64, epoch: i16, commit: bool) -> Record {
        let mut marker = record(offset, producer_id, epoch, true, "");
        marker.control = true;
        marker.value = None;
        marker.key = Some(Bytes::from(vec![0, 0, 0, i16::from(commit) as u8]));
        marker
    }

    fn committed_values(records: Vec<Record>) -> (Vec<String>, usize, usize) {
        let resolved = TransactionResolver::resolve_all(records);
        let (committed, aborted, pending) = (resolved.committed, resolved.aborted, resolved.pending);
        let values = committed
            .into_iter()
            .map(|r| String::from_utf8(r.value.map(|v| v.to_vec()).unwrap_or_default()).unwrap_or_default())
            .collect();
        (values, aborted, pending)
    }

    #[test]
    fn markers_commit_and_abort_interleaved_transactions() {
        let (values, aborted, pending) = committed_values(vec![
            record(0, 7, 0, true, "a1"),
            record(1, 8, 0, true, "b1"),
            record(2, 9, 0, false, "plain"),
            record(3, 7, 0, true, "a2"),
            marker(4, 8, 0, false),
            marker(5, 7, 0, true),
            record(6, 7, 0, true, "open"),
        ]);
        assert_eq!(values, ["a1", "plain", "a2"]);
        assert_eq!((aborted, pending), (1, 1));
    }

    #[test]
    fn the_first_open_transaction_is_where_a_settled_read_stops() {
        let resolved = TransactionResolver::resolve_all(vec![
            record(0, 7, 0, true, "a1"),
            record(1, 8, 0, true, "open"),
            marker(2, 7, 0, true),
            record(3, 9, 0, false, "plain"),
        ]);
        assert_eq!(resolved.first_pending, Some(1));
        assert_eq!(resolved.committed.iter().map(|r| r.offset).collect::<Vec<_>>(), [0, 3]);
    }

    #[test]
    fn a_higher_epoch_fences_records_left_without_a_marker() {
        let (values, aborted, pending) = committed_values(vec![
            record(0, 7, 3, true, "fenced"),
            record(1, 7, 4, true, "new"),
            marker(2, 7, 4, true),
        ]);
        assert_eq!(values, ["new"]);
        assert_eq!((aborted, pending), (1, 0));
    }

    #[test]
    fn a_marker_with_the_next_epoch_resolves_the_transaction_before_it() {
        // KIP-890 (transactions v2): the coordinator bumps the epoch when it ends a transaction.
        let (values, _, _) = committed_values(vec![record(0, 7, 3, true, "x"), marker(1, 7, 4, true)]);
        assert_eq!(values, ["x"]);
    }
}
