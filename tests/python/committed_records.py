"""Prints what a Kafka topic holds as COMMITTED, worked out from its raw record batches.

Usage: python3 committed_records.py <brokers> <topic> [--fetch-bytes N] [--batches]

An independent judge of Wellhead's Kafka output: it shares no code with Wellhead's own
reader (src/kafka/committed_log.rs, src/kafka/transactions.rs), and speaks the Kafka
protocol through a library we did not write, kafka-python 2.x (its protocol classes
`ApiVersionsRequest`, `MetadataRequest`, `ListOffsetsRequest`, `FetchRequest`, its
framing `KafkaProtocol`, and its record-batch decoder `MemoryRecords`, which checks CRCs
and decompresses gzip, snappy, lz4 and zstd). A test that used Wellhead's reader to check
Wellhead's output would pass whenever both shared a mistake.

Why the raw batches and not a `read_committed` consumer: the broker of our tests, nisshi,
sends an empty aborted-transaction list in every fetch response, so its `read_committed`
consumers also receive the records of ABORTED transactions. This script therefore fetches
with `read_uncommitted` (everything the log holds) and applies the transaction control
markers itself:

- a record of a non-transactional batch (plain or idempotent producer) is committed as
  written;
- a record of a transactional batch is open in the transaction of its producer id until a
  control batch of that producer id (with a producer epoch at or above the record's) carries
  a marker: COMMIT commits the producer's open records, ABORT discards them (counted as
  aborted);
- open records of a producer id whose later transactional batch has a HIGHER epoch, with no
  marker between, were fenced (Kafka's coordinator would have written an ABORT marker
  before handing out the new epoch): discarded, counted as aborted;
- records still open at the end of the log (no marker yet) are not committed: counted as
  pending;
- control records themselves are never output.

For every partition (in partition order) the log is read from its start (offset 0 unless
the log was truncated) to its end: the high watermark, or further while the broker still
returns records (nisshi's reported high watermark can lag the log on memory storage). A
fetch returns at most --fetch-bytes (default 1 MiB); as many rounds as needed are made, a
batch cut off at the end of a fetch response is fetched again in the next round, and a
single batch larger than the fetch size makes the next round ask for more.

Output, one JSON line per committed record in partition then offset order:

    {"partition": p, "offset": o, "key": "<hex>" | null, "value": "<hex>" | null}

then one closing line (also alone, with partitions 0, when the topic does not exist):

    {"summary": {"partitions": N, "committed": C, "aborted": A, "pending": P}}

--batches also prints, on stderr, one JSON line per record batch as the log holds it
(offsets, producer id and epoch, transactional/control flags, codec, marker type).

Exits 1 with a message on stderr on any error (broker unreachable, a broker error code, a
corrupt batch, a codec library missing). PLAINTEXT connections only.
"""
import argparse
import json
import socket
import sys
import time

import kafka
import kafka.errors
from kafka.protocol.api_versions import ApiVersionsRequest
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.list_offsets import ListOffsetsRequest
from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.parser import KafkaProtocol
from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatch

if not kafka.__version__.startswith("2."):
    sys.exit(f"committed_records.py: needs kafka-python 2.x (<3), found {kafka.__version__}")

CLIENT_ID = "wellhead-test-committed-records"
REQUEST_TIMEOUT_S = 60.0
DEFAULT_FETCH_BYTES = 1024 * 1024
# The largest response frame accepted; a fetch never asks for more than this.
MAX_FRAME_BYTES = 256 * 1024 * 1024
# Fetches in a row that bring nothing although the log reaches further, before giving up.
EMPTY_FETCH_LIMIT = 300
EMPTY_FETCH_WAIT_MS = 100
# At the end of the log: long enough that a broker answers with what it has (nisshi answers a
# fetch with max_wait_time 0 with no partition at all, even when it holds records), short
# enough that a broker holding the fetch for its whole wait costs little.
END_FETCH_WAIT_MS = 10

API_FETCH, API_LIST_OFFSETS, API_METADATA, API_VERSIONS = 1, 2, 3, 18
CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
CONTROL_ABORT, CONTROL_COMMIT = 0, 1


class ReadError(Exception):
    pass


def error_name(code):
    return kafka.errors.for_code(code).__name__


class Broker:
    """One PLAINTEXT connection; requests are encoded and framed by kafka-python."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ReadError(f"broker address {address!r} is not host:port")
        self.address = address
        try:
            self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=REQUEST_TIMEOUT_S)
        except OSError as error:
            raise ReadError(f"cannot connect to {address}: {error}") from error
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.protocol = KafkaProtocol(client_id=CLIENT_ID, max_frame_size=MAX_FRAME_BYTES)
        # Version 0 of ApiVersions is understood by every broker.
        response = self.call(ApiVersionsRequest[0]())
        if response.error_code != 0:
            raise ReadError(f"{address}: ApiVersions failed: {error_name(response.error_code)}")
        self.versions = {api: (low, high) for api, low, high in response.api_versions}

    def version(self, api, name, classes, lowest):
        """The highest version of `api` both the broker and kafka-python speak, at least `lowest`."""
        low, high = self.versions.get(api, (-1, -1))
        chosen = min(high, len(classes) - 1)
        if chosen < max(low, lowest):
            raise ReadError(
                f"{self.address}: the broker speaks {name} versions {low}..{high}, "
                f"this reader needs {lowest}..{len(classes) - 1}"
            )
        return chosen

    def call(self, request):
        self.protocol.send_request(request)
        try:
            self.sock.sendall(self.protocol.send_bytes())
            while True:
                data = self.sock.recv(4 * 1024 * 1024)
                if not data:
                    raise ReadError(f"{self.address}: the broker closed the connection")
                responses = self.protocol.receive_bytes(data)
                if responses:
                    return responses[0][1]
        except (OSError, kafka.errors.KafkaError) as error:
            raise ReadError(f"{self.address}: {type(request).__name__}: {error!r}") from error

    def close(self):
        self.sock.close()


def bootstrap(brokers):
    failures = []
    for address in [a.strip() for a in brokers.split(",") if a.strip()]:
        try:
            return Broker(address)
        except ReadError as error:
            failures.append(str(error))
    raise ReadError(f"no broker of {brokers!r} answered: {'; '.join(failures) or 'none given'}")


def topic_metadata(broker, topic):
    """(leader address by partition) for `topic`, or None if the topic does not exist."""
    version = broker.version(API_METADATA, "Metadata", MetadataRequest, 4)  # 4: allow_auto_topic_creation
    fields = {"topics": [topic], "allow_auto_topic_creation": False}
    if version >= 8:
        fields.update(include_cluster_authorized_operations=False, include_topic_authorized_operations=False)
    response = broker.call(MetadataRequest[version](**fields)).to_object()
    brokers = {b["node_id"]: f"{b['host']}:{b['port']}" for b in response["brokers"]}
    found = [t for t in response["topics"] if t["topic"] == topic]
    if not found or found[0]["error_code"] == kafka.errors.UnknownTopicOrPartitionError.errno:
        return None
    if found[0]["error_code"] != 0:
        raise ReadError(f"Metadata for {topic}: {error_name(found[0]['error_code'])}")
    leaders = {}
    for partition in found[0]["partitions"]:
        index = partition["partition"]
        if partition["error_code"] not in (0, kafka.errors.ReplicaNotAvailableError.errno):
            raise ReadError(f"Metadata for {topic} partition {index}: {error_name(partition['error_code'])}")
        if partition["leader"] not in brokers:
            raise ReadError(f"{topic} partition {index} has no leader (leader id {partition['leader']})")
        leaders[index] = brokers[partition["leader"]]
    return leaders


def list_offset(broker, topic, partition, timestamp):
    """-1: the end of the log (high watermark); -2: its start."""
    version = broker.version(API_LIST_OFFSETS, "ListOffsets", ListOffsetsRequest, 1)
    entry = (partition, -1, timestamp) if version >= 4 else (partition, timestamp)
    fields = {"replica_id": -1, "topics": [(topic, [entry])]}
    if version >= 2:
        fields["isolation_level"] = 0
    response = broker.call(ListOffsetsRequest[version](**fields)).to_object()
    for t in response["topics"]:
        for p in t["partitions"]:
            if t["topic"] == topic and p["partition"] == partition:
                if p["error_code"] != 0:
                    raise ReadError(f"ListOffsets {topic}/{partition}: {error_name(p['error_code'])}")
                return p["offset"]
    raise ReadError(f"ListOffsets {topic}/{partition}: the response lacks the partition")


def fetch(broker, topic, partition, offset, max_bytes, max_wait_ms):
    """(high watermark, raw record bytes) of one read_uncommitted fetch."""
    version = broker.version(API_FETCH, "Fetch", FetchRequest, 4)  # 4: record batches (magic 2)
    if version >= 9:
        entry = (partition, -1, offset, -1, max_bytes)
    elif version >= 5:
        entry = (partition, offset, -1, max_bytes)
    else:
        entry = (partition, offset, max_bytes)
    fields = {
        "replica_id": -1,
        "max_wait_time": max_wait_ms,
        "min_bytes": 1,
        "max_bytes": max_bytes,
        "isolation_level": 0,  # read_uncommitted: every record, markers resolved here
        "topics": [(topic, [entry])],
    }
    if version >= 7:
        fields.update(session_id=0, session_epoch=-1, forgotten_topics_data=[])
    if version >= 11:
        fields["rack_id"] = ""
    response = broker.call(FetchRequest[version](**fields))
    if version >= 7 and response.error_code != 0:
        raise ReadError(f"Fetch {topic}/{partition}: {error_name(response.error_code)}")
    for name, partitions in response.topics:
        for p in partitions:
            # partition, error_code, highwater_offset, last_stable_offset, [log_start_offset,]
            # [aborted_transactions,] [preferred_read_replica,] records
            if name == topic and p[0] == partition:
                if p[1] != 0:
                    raise ReadError(f"Fetch {topic}/{partition} at offset {offset}: {error_name(p[1])}")
                return p[2], p[-1] or b""
    # No entry for the partition: an empty answer (nisshi answers so when it has nothing).
    return -1, b""


class Partition:
    """The records of one partition's log, transactions resolved as they are read."""

    def __init__(self):
        self.records = []  # [offset, key, value, fate] in log order; fate "committed" | "aborted" | "open"
        self.open = {}  # producer id -> {producer epoch -> indexes into self.records still open}
        self.aborted = 0

    def plain(self, record):
        self.records.append([record.offset, record.key, record.value, "committed"])

    def transactional(self, producer_id, epoch, record):
        # Open records of a lower epoch with no marker before this batch were fenced.
        self._resolve(producer_id, lambda older: older < epoch, "aborted")
        self.open.setdefault(producer_id, {}).setdefault(epoch, []).append(len(self.records))
        self.records.append([record.offset, record.key, record.value, "open"])

    def marker(self, producer_id, epoch, commit):
        # At or below: the classic protocol writes the marker with the transaction's epoch, the
        # coordinator's abort of a fenced producer and KIP-890 (transactions v2) with a higher one.
        self._resolve(producer_id, lambda older: older <= epoch, "committed" if commit else "aborted")

    def _resolve(self, producer_id, applies, fate):
        epochs = self.open.get(producer_id, {})
        for epoch in [e for e in epochs if applies(e)]:
            indexes = epochs.pop(epoch)
            for index in indexes:
                self.records[index][3] = fate
            if fate == "aborted":
                self.aborted += len(indexes)
        if not epochs:
            self.open.pop(producer_id, None)

    def committed(self):
        return [r for r in self.records if r[3] == "committed"]

    def pending(self):
        return sum(len(indexes) for epochs in self.open.values() for indexes in epochs.values())


def describe_batch(partition, batch, markers):
    line = {"partition": partition, "magic": batch.magic, "base_offset": batch.base_offset}
    if isinstance(batch, DefaultRecordBatch):
        line.update(
            last_offset=batch.last_offset,
            records=batch.records_count,
            producer_id=batch.producer_id,
            producer_epoch=batch.producer_epoch,
            base_sequence=batch.base_sequence,
            transactional=batch.is_transactional,
            control=batch.is_control_batch,
            codec=CODECS.get(batch.compression_type, batch.compression_type),
        )
        if markers:
            line["markers"] = markers
    return line


def read_partition(broker, topic, partition, fetch_bytes, dump_batches):
    log = Partition()
    start = list_offset(broker, topic, partition, -2)
    end = list_offset(broker, topic, partition, -1)
    next_offset = start
    max_bytes = fetch_bytes
    empty = 0
    while True:
        wait = END_FETCH_WAIT_MS if next_offset >= end else EMPTY_FETCH_WAIT_MS
        high_watermark, data = fetch(broker, topic, partition, next_offset, max_bytes, wait)
        end = max(end, high_watermark)
        before = next_offset
        complete = 0
        # MemoryRecords yields whole batches only; a batch cut off at the end is left out.
        for batch in MemoryRecords(data):
            complete += 1
            next_offset = read_batch(log, partition, batch, next_offset, dump_batches)
        if next_offset > before:
            empty = 0
            max_bytes = fetch_bytes
            continue
        if data and complete == 0:
            # One batch larger than what was asked for (a broker may cut it off).
            if max_bytes >= MAX_FRAME_BYTES // 2:
                raise ReadError(
                    f"{topic}/{partition}: no whole record batch at offset {next_offset} within {max_bytes} bytes"
                )
            max_bytes *= 2
            continue
        if next_offset >= end:
            break
        empty += 1
        if empty >= EMPTY_FETCH_LIMIT:
            raise ReadError(
                f"{topic}/{partition}: no records at offset {next_offset} although the log ends at {end} "
                f"({empty} fetches in a row)"
            )
        time.sleep(EMPTY_FETCH_WAIT_MS / 1000)
    return log


def read_batch(log, partition, batch, next_offset, dump_batches):
    """Adds the records of `batch` at or after `next_offset`; returns the next offset to fetch."""
    if not isinstance(batch, DefaultRecordBatch):
        # Message format v0/v1: no transactions; committed as written.
        last = next_offset
        for record in batch:
            if record.offset >= next_offset:
                log.plain(record)
                last = record.offset + 1
        if dump_batches:
            print(json.dumps(describe_batch(partition, batch, None)), file=sys.stderr)
        return max(next_offset, last)
    if not batch.validate_crc():
        raise ReadError(f"partition {partition}: record batch at offset {batch.base_offset} fails its CRC")
    # A fetch may start inside a batch (the broker sends the whole batch holding the offset).
    if batch.next_offset <= next_offset:
        return next_offset
    markers = []
    producer_id, epoch = batch.producer_id, batch.producer_epoch
    try:
        records = list(batch)
    except Exception as error:  # struct.error of a malformed control key, codec errors, corruption
        raise ReadError(
            f"partition {partition}: record batch at offset {batch.base_offset} "
            f"({CODECS.get(batch.compression_type, batch.compression_type)}): {error!r}"
        ) from error
    for record in records:
        if record.offset < next_offset:
            continue
        if batch.is_control_batch:
            # ControlRecord: key = version (int16), type (int16): 0 ABORT, 1 COMMIT; others are
            # not transaction markers and are skipped, as a consumer does.
            markers.append({"offset": record.offset, "type": record.type})
            if record.type in (CONTROL_ABORT, CONTROL_COMMIT):
                log.marker(producer_id, epoch, record.type == CONTROL_COMMIT)
        elif batch.is_transactional:
            log.transactional(producer_id, epoch, record)
        else:
            log.plain(record)
    if dump_batches:
        print(json.dumps(describe_batch(partition, batch, markers)), file=sys.stderr)
    # The batch's last offset delta covers records removed by compaction too.
    return max(next_offset, batch.next_offset)


def hex_or_null(data):
    return None if data is None else bytes(data).hex()


def main():
    parser = argparse.ArgumentParser(description="Print a Kafka topic's committed records (see the module docstring).")
    parser.add_argument("brokers", help="bootstrap brokers, host:port[,host:port...]")
    parser.add_argument("topic")
    parser.add_argument("--fetch-bytes", type=int, default=DEFAULT_FETCH_BYTES, help="bytes asked for per fetch")
    parser.add_argument("--batches", action="store_true", help="describe every record batch on stderr")
    args = parser.parse_args()
    if not 1024 <= args.fetch_bytes <= MAX_FRAME_BYTES // 2:
        parser.error(f"--fetch-bytes must be between 1024 and {MAX_FRAME_BYTES // 2}")

    connections = {}
    lines = []  # written only once every partition is read: on an error, stdout stays empty
    try:
        bootstrap_broker = bootstrap(args.brokers)
        connections[bootstrap_broker.address] = bootstrap_broker
        leaders = topic_metadata(bootstrap_broker, args.topic)
        totals = {"partitions": 0, "committed": 0, "aborted": 0, "pending": 0}
        for partition in sorted(leaders or {}):
            address = leaders[partition]
            if address not in connections:
                try:
                    connections[address] = Broker(address)
                except ReadError:
                    # An advertised address not reachable from here: with one broker, it is the bootstrap one.
                    if len(set(leaders.values())) != 1:
                        raise
                    connections[address] = bootstrap_broker
            log = read_partition(connections[address], args.topic, partition, args.fetch_bytes, args.batches)
            committed = log.committed()
            for offset, key, value, _ in committed:
                lines.append(json.dumps({"partition": partition, "offset": offset, "key": hex_or_null(key),
                                         "value": hex_or_null(value)}))
            totals["partitions"] += 1
            totals["committed"] += len(committed)
            totals["aborted"] += log.aborted
            totals["pending"] += log.pending()
        lines.append(json.dumps({"summary": totals}))
    except (ReadError, kafka.errors.KafkaError) as error:
        print(f"committed_records.py: {args.topic}: {error}", file=sys.stderr)
        return 1
    finally:
        for connection in set(connections.values()):
            connection.close()
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
