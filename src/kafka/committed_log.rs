//! Reads one partition's *committed view* straight from the Kafka log: the
//! records a `read_committed` consumer must see, worked out here from the raw
//! record batches (producer id and epoch) and the COMMIT/ABORT control batches,
//! instead of trusting the broker's aborted-transaction index.
//!
//! ```text
//!  ApiVersions ─► Metadata (leader) ─► ListOffsets (start, end) ─► Fetch … (read_uncommitted)
//!     ─► record batches ─► transaction markers applied ─► committed records in offset order
//! ```
//!
//! Why not librdkafka's consumer: a broker that leaves the aborted-transaction
//! list empty (nisshi, the broker of our tests) makes `read_committed` return
//! aborted records, and resuming from an aborted checkpoint would lose changes.
//! This reader is right on any broker that writes transaction markers. It speaks
//! PLAINTEXT only (TLS and SASL are open work, refused with a clear error).
//!
//! Which records count as committed is `super::transactions`' to say.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
    fetch_request::{FetchPartition, FetchTopic},
    list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic},
    metadata_request::MetadataRequestTopic,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes, encode_request_header_into_buffer};
use kafka_protocol::records::RecordBatchDecoder;

pub use super::transactions::CommittedRecord;
use super::transactions::TransactionResolver;

/// How long one request may take before the reader gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes asked for per fetch (small enough that a slow broker answers well within the timeout).
const FETCH_MAX_BYTES: i32 = 4 * 1024 * 1024;
/// Empty fetches in a row below the end offset before the reader gives up with an error
/// (a slow broker may answer a fetch empty after its wait; at 100 ms each, 60 s).
const EMPTY_FETCHES: usize = 600;
const CLIENT_ID: &str = "wellhead-committed-log";

/// Reading the log failed.
#[derive(Debug, thiserror::Error)]
pub enum CommittedLogError {
    #[error("Kafka broker {address}: {source}")]
    Io { address: String, source: std::io::Error },
    #[error("Kafka broker {address}: {reason}")]
    Protocol { address: String, reason: String },
    #[error("Kafka broker {address}: {request} failed with error code {code} ({name})")]
    Broker { address: String, request: &'static str, code: i16, name: String },
    #[error(
        "Kafka broker {address} supports {request} only in versions {min}..={max}; Wellhead needs {ours_min}..={ours_max} (Kafka 2.1 or later)"
    )]
    Version { address: String, request: &'static str, min: i16, max: i16, ours_min: i16, ours_max: i16 },
    #[error("none of the Kafka brokers {brokers} could be reached: {last}")]
    Unreachable { brokers: String, last: String },
    #[error("topic {topic} partition {partition} has no leader right now")]
    NoLeader { topic: String, partition: i32 },
}

/// The committed records from an offset on, as far as the log is settled: see
/// [`CommittedLogReader::read_settled_from`].
#[derive(Debug, Clone, Default)]
pub struct SettledRead {
    /// Committed records, in offset order, all before `next_offset`.
    pub committed: Vec<CommittedRecord>,
    /// Where the next read starts: the first record whose transaction is still
    /// open, or the end of the log.
    pub next_offset: i64,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy)]
enum ReadStart {
    /// The last this many offsets (`None`: the whole log).
    Tail(Option<i64>),
    /// This offset (or the log's start, if that is later).
    Offset(i64),
}

/// What the log of one partition holds, transactions resolved.
#[derive(Debug, Clone, Default)]
pub struct PartitionLog {
    /// Committed records, in offset order.
    pub committed: Vec<CommittedRecord>,
    /// Records of aborted (or fenced) transactions.
    pub aborted: usize,
    /// Records of transactions without a marker at the end of the log.
    pub pending: usize,
    /// The end of the log when reading started.
    pub end_offset: i64,
}

/// One broker connection speaking the requests this reader needs.
#[derive(Debug)]
struct BrokerConnection {
    address: String,
    stream: TcpStream,
    correlation_id: i32,
    versions: HashMap<i16, (i16, i16)>,
}

impl BrokerConnection {
    fn open(address: &str) -> Result<BrokerConnection, CommittedLogError> {
        let io = |source| CommittedLogError::Io { address: address.to_owned(), source };
        let target =
            address.to_socket_addrs().map_err(io)?.next().ok_or_else(|| {
                io(std::io::Error::new(std::io::ErrorKind::NotFound, "the name resolves to no address"))
            })?;
        let stream = TcpStream::connect_timeout(&target, REQUEST_TIMEOUT).map_err(io)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT)).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        let mut connection =
            BrokerConnection { address: address.to_owned(), stream, correlation_id: 0, versions: HashMap::new() };
        // Version 0 is understood by every broker; it lists what the broker supports.
        let response: ApiVersionsResponse = connection.call(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())?;
        connection.check(response.error_code, "ApiVersions")?;
        connection.versions =
            response.api_keys.iter().map(|api| (api.api_key, (api.min_version, api.max_version))).collect();
        Ok(connection)
    }

    /// The highest version both sides speak, within `ours`.
    fn version(&self, api: ApiKey, name: &'static str, ours: (i16, i16)) -> Result<i16, CommittedLogError> {
        let (min, max) = self.versions.get(&(api as i16)).copied().unwrap_or((-1, -1));
        let chosen = max.min(ours.1);
        if chosen < ours.0 || chosen < min {
            return Err(CommittedLogError::Version {
                address: self.address.clone(),
                request: name,
                min,
                max,
                ours_min: ours.0,
                ours_max: ours.1,
            });
        }
        Ok(chosen)
    }

    fn call<Q: Encodable + HeaderVersion, R: Decodable + HeaderVersion>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &Q,
    ) -> Result<R, CommittedLogError> {
        let address = self.address.clone();
        let protocol = |reason: String| CommittedLogError::Protocol { address: address.clone(), reason };
        let io = |source| CommittedLogError::Io { address: self.address.clone(), source };
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let mut body = BytesMut::new();
        encode_request_header_into_buffer(&mut body, &header).map_err(|e| protocol(e.to_string()))?;
        request.encode(&mut body, version).map_err(|e| protocol(e.to_string()))?;
        let size = u32::try_from(body.len()).map_err(|_| protocol("request too large".into()))?;
        self.stream.write_all(&size.to_be_bytes()).map_err(io)?;
        self.stream.write_all(&body).map_err(io)?;
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).map_err(io)?;
        let size = usize::try_from(u32::from_be_bytes(size)).map_err(|_| protocol("response size".into()))?;
        if size > 256 * 1024 * 1024 {
            return Err(protocol(format!("response of {size} bytes is implausible")));
        }
        let mut response = vec![0u8; size];
        self.stream.read_exact(&mut response).map_err(io)?;
        let mut response = Bytes::from(response);
        let header = ResponseHeader::decode(&mut response, R::header_version(version))
            .map_err(|e| protocol(format!("response header: {e}")))?;
        if header.correlation_id != self.correlation_id {
            return Err(protocol(format!(
                "response to request {} arrived for request {}",
                header.correlation_id, self.correlation_id
            )));
        }
        R::decode(&mut response, version).map_err(|e| protocol(format!("{api:?} response: {e}")))
    }

    fn check(&self, code: i16, request: &'static str) -> Result<(), CommittedLogError> {
        if code == 0 {
            return Ok(());
        }
        let name = kafka_protocol::ResponseError::try_from_code(code)
            .map_or_else(|| "unknown".to_owned(), |error| format!("{error:?}"));
        Err(CommittedLogError::Broker { address: self.address.clone(), request, code, name })
    }
}

/// A reader of committed views, bootstrapped from a broker list like `host:9092,host2:9092`.
#[derive(Debug)]
pub struct CommittedLogReader {
    /// The bootstrap list, to connect again after a broker restart broke the connection.
    brokers: String,
    bootstrap: BrokerConnection,
    /// Leader connections by partition, kept between reads.
    leaders: HashMap<(String, i32), BrokerConnection>,
}

impl PartitionLog {
    /// The last committed record with `key`, if any: the current value of a compacted key.
    pub fn latest_with_key(&self, key: &[u8]) -> Option<&CommittedRecord> {
        self.committed.iter().rev().find(|record| record.key.as_deref() == Some(key))
    }
}

impl CommittedLogReader {
    pub fn connect(brokers: &str) -> Result<CommittedLogReader, CommittedLogError> {
        let bootstrap = connect_bootstrap(brokers)?;
        Ok(CommittedLogReader { brokers: brokers.to_owned(), bootstrap, leaders: HashMap::new() })
    }

    /// The topic's metadata; a bootstrap connection that broke (the broker restarted)
    /// is opened again once.
    fn metadata(&mut self, topic: &str) -> Result<MetadataResponse, CommittedLogError> {
        match self.metadata_once(topic) {
            Err(CommittedLogError::Io { .. }) => {
                self.bootstrap = connect_bootstrap(&self.brokers)?;
                self.metadata_once(topic)
            }
            answered => answered,
        }
    }

    fn metadata_once(&mut self, topic: &str) -> Result<MetadataResponse, CommittedLogError> {
        let version = self.bootstrap.version(ApiKey::Metadata, "Metadata", (4, 12))?;
        let request = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(topic.to_owned())))),
            ]))
            .with_allow_auto_topic_creation(false);
        self.bootstrap.call(ApiKey::Metadata, version, &request)
    }

    /// The topic's partition count, or `None` when the topic does not exist.
    pub fn partition_count(&mut self, topic: &str) -> Result<Option<i32>, CommittedLogError> {
        let metadata = self.metadata(topic)?;
        let Some(found) = metadata.topics.iter().find(|t| t.name.as_ref().is_some_and(|name| &*name.0 == topic)) else {
            return Ok(None);
        };
        // 3 = UNKNOWN_TOPIC_OR_PARTITION.
        if found.error_code == 3 {
            return Ok(None);
        }
        self.bootstrap.check(found.error_code, "Metadata")?;
        Ok(Some(i32::try_from(found.partitions.len()).unwrap_or(i32::MAX)))
    }

    /// Reads `topic`/`partition` from its start to the end it has now; transactions resolved.
    pub fn read_partition(&mut self, topic: &str, partition: i32) -> Result<PartitionLog, CommittedLogError> {
        self.read_partition_tail(topic, partition, None)
    }

    /// Reads the last `tail` offsets (all with `None`) of `topic`/`partition` up to
    /// the end it has now; transactions resolved. A transaction's markers come after
    /// its records, so every record read is resolved as well as the whole log would.
    pub fn read_partition_tail(
        &mut self,
        topic: &str,
        partition: i32,
        tail: Option<i64>,
    ) -> Result<PartitionLog, CommittedLogError> {
        let (records, end_offset) = self.read(topic, partition, ReadStart::Tail(tail))?;
        let resolved = TransactionResolver::resolve_all(records);
        Ok(PartitionLog {
            committed: resolved.committed,
            aborted: resolved.aborted,
            pending: resolved.pending,
            end_offset,
        })
    }

    /// Reads `topic`/`partition` from `offset` to its end and returns what is settled:
    /// the committed records before the first record of a still-open transaction, and
    /// that record's offset to read from next time (else the end). Reading on from
    /// `next_offset` again and again sees every committed record once, in order, as a
    /// `read_committed` consumer stopping at the last stable offset would.
    pub fn read_settled_from(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Result<SettledRead, CommittedLogError> {
        let (records, end_offset) = self.read(topic, partition, ReadStart::Offset(offset))?;
        let resolved = TransactionResolver::resolve_all(records);
        let next_offset = resolved.first_pending.unwrap_or(end_offset);
        let mut committed = resolved.committed;
        committed.retain(|record| record.offset < next_offset);
        Ok(SettledRead { committed, next_offset })
    }

    /// Every record from `start` to the end, control records included, as the log holds
    /// them, with the end offset.
    fn read(
        &mut self,
        topic: &str,
        partition: i32,
        start: ReadStart,
    ) -> Result<(Vec<kafka_protocol::records::Record>, i64), CommittedLogError> {
        let key = (topic.to_owned(), partition);
        let mut connection = match self.leaders.remove(&key) {
            Some(connection) => connection,
            None => self.connect_to_leader(topic, partition)?,
        };
        let read = read_from(&mut connection, topic, partition, start);
        // A connection that answered stays for the next read (the sink reads its checkpoint back
        // after every commit); one that failed is dropped, and the next read asks for the leader again.
        if read.is_ok() {
            self.leaders.insert(key, connection);
        }
        read
    }

    fn connect_to_leader(&mut self, topic: &str, partition: i32) -> Result<BrokerConnection, CommittedLogError> {
        let metadata = self.metadata(topic)?;
        let no_leader = || CommittedLogError::NoLeader { topic: topic.to_owned(), partition };
        let found = metadata
            .topics
            .iter()
            .find(|t| t.name.as_ref().is_some_and(|name| &*name.0 == topic))
            .ok_or_else(no_leader)?;
        self.bootstrap.check(found.error_code, "Metadata")?;
        let leader = found
            .partitions
            .iter()
            .find(|p| p.partition_index == partition)
            .map(|p| p.leader_id)
            .filter(|leader| leader.0 >= 0)
            .ok_or_else(no_leader)?;
        let broker = metadata.brokers.iter().find(|b| b.node_id == leader).ok_or_else(no_leader)?;
        let address = format!("{}:{}", &*broker.host, broker.port);
        match BrokerConnection::open(&address) {
            Ok(connection) => Ok(connection),
            // An advertised address that does not resolve from here: the bootstrap
            // address is the leader whenever the cluster has one broker.
            Err(_) if metadata.brokers.len() == 1 => BrokerConnection::open(&self.bootstrap.address),
            Err(error) => Err(error),
        }
    }
}

/// A connection to the first broker of `brokers` that answers.
fn connect_bootstrap(brokers: &str) -> Result<BrokerConnection, CommittedLogError> {
    let mut last = String::from("no broker given");
    for address in brokers.split(',').map(str::trim).filter(|address| !address.is_empty()) {
        match BrokerConnection::open(address) {
            Ok(connection) => return Ok(connection),
            Err(error) => last = error.to_string(),
        }
    }
    Err(CommittedLogError::Unreachable { brokers: brokers.to_owned(), last })
}

/// Reads `topic`/`partition` on its leader's connection: see `CommittedLogReader::read`.
fn read_from(
    connection: &mut BrokerConnection,
    topic: &str,
    partition: i32,
    start: ReadStart,
) -> Result<(Vec<kafka_protocol::records::Record>, i64), CommittedLogError> {
    let end = list_offset(connection, topic, partition, -1)?;
    let log_start = list_offset(connection, topic, partition, -2)?;
    let start = match start {
        ReadStart::Tail(None) => log_start,
        ReadStart::Tail(Some(tail)) => log_start.max(end.saturating_sub(tail)),
        ReadStart::Offset(offset) => log_start.max(offset),
    };
    let mut raw = Vec::new();
    let mut next = start;
    let version = connection.version(ApiKey::Fetch, "Fetch", (4, 12))?;
    let mut empty = 0;
    // Past `end` too, while records come: a broker's reported end may lag its log.
    loop {
        // At the end the broker would hold the fetch for its whole wait before answering
        // empty; every checkpoint read-back would pay that. Below the end, records are there.
        let max_wait_ms = if next >= end { 0 } else { 100 };
        let request = FetchRequest::default()
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(FETCH_MAX_BYTES)
            .with_isolation_level(0)
            .with_topics(vec![
                FetchTopic::default().with_topic(TopicName(StrBytes::from_string(topic.to_owned()))).with_partitions(
                    vec![
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(next)
                            .with_partition_max_bytes(FETCH_MAX_BYTES),
                    ],
                ),
            ]);
        let response: FetchResponse = connection.call(ApiKey::Fetch, version, &request)?;
        connection.check(response.error_code, "Fetch")?;
        // A response without the partition is an empty one (nisshi answers so when it has nothing yet).
        let data = response.responses.iter().flat_map(|t| t.partitions.iter()).find(|p| p.partition_index == partition);
        if let Some(data) = data {
            connection.check(data.error_code, "Fetch")?;
        }
        let records = data.and_then(|data| data.records.clone()).unwrap_or_default();
        let before = next;
        for batch in complete_batches(records) {
            let mut batch = batch;
            let set = RecordBatchDecoder::decode(&mut batch).map_err(|error| CommittedLogError::Protocol {
                address: connection.address.clone(),
                reason: format!("record batch at offset {next}: {error}"),
            })?;
            for record in set.records {
                if record.offset < next {
                    continue;
                }
                next = record.offset + 1;
                raw.push(record);
            }
        }
        if next == before {
            if next >= end {
                break;
            }
            empty += 1;
            if empty >= EMPTY_FETCHES {
                return Err(CommittedLogError::Protocol {
                    address: connection.address.clone(),
                    reason: format!(
                        "{topic} partition {partition}: no records at offset {next} although the log ends at {end}"
                    ),
                });
            }
        } else {
            empty = 0;
        }
    }
    Ok((raw, end.max(next)))
}

impl CommittedLogReader {
    /// True when the bootstrap broker serves the request `api_key` (Kafka's numbering: 22
    /// InitProducerId, 24 AddPartitionsToTxn, 26 EndTxn).
    pub fn supports(&self, api_key: i16) -> bool {
        self.bootstrap.versions.contains_key(&api_key)
    }
}

fn list_offset(
    connection: &mut BrokerConnection,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<i64, CommittedLogError> {
    let version = connection.version(ApiKey::ListOffsets, "ListOffsets", (1, 7))?;
    let request =
        ListOffsetsRequest::default().with_replica_id(BrokerId(-1)).with_isolation_level(0).with_topics(vec![
            ListOffsetsTopic::default().with_name(TopicName(StrBytes::from_string(topic.to_owned()))).with_partitions(
                vec![ListOffsetsPartition::default().with_partition_index(partition).with_timestamp(timestamp)],
            ),
        ]);
    let response: ListOffsetsResponse = connection.call(ApiKey::ListOffsets, version, &request)?;
    let found =
        response.topics.iter().flat_map(|t| t.partitions.iter()).find(|p| p.partition_index == partition).ok_or_else(
            || CommittedLogError::Protocol {
                address: connection.address.clone(),
                reason: format!("list offsets response without partition {partition}"),
            },
        )?;
    connection.check(found.error_code, "ListOffsets")?;
    Ok(found.offset)
}

/// Splits fetched bytes into whole record batches; a fetch may end inside a batch.
fn complete_batches(mut records: Bytes) -> Vec<Bytes> {
    let mut batches = Vec::new();
    // A batch starts with base offset (8 bytes) and the length of the rest (4 bytes).
    while records.len() >= 12 {
        let length = i32::from_be_bytes([records[8], records[9], records[10], records[11]]);
        let Ok(length) = usize::try_from(length) else { break };
        let total = 12 + length;
        if records.len() < total {
            break;
        }
        batches.push(records.split_to(total));
    }
    records.advance(records.len());
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_batches_at_the_end_of_a_fetch_are_left_for_the_next() {
        let mut bytes = vec![0u8; 8];
        bytes.extend_from_slice(&4i32.to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes.extend_from_slice(&[0u8; 8]);
        bytes.extend_from_slice(&100i32.to_be_bytes());
        bytes.extend_from_slice(&[9; 10]);
        let batches = complete_batches(Bytes::from(bytes));
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].len(), 16);
    }
}
