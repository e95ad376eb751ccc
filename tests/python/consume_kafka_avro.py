"""Reads a Wellhead topic from Kafka as a downstream job would: confluent-kafka's
DeserializingConsumer with its AvroDeserializer for key and value, and its
SchemaRegistryClient pointed at Wellhead's embedded registry.

Usage: python3 consume_kafka_avro.py <brokers> <registry url> <topic> <records> <timeout s>

Prints, per `after` column of every record, the JSON line `read_avro.py` prints
for files ({"topic", "op", "row", "column", "value": described}), and checks
that each key is the row's primary key. Exits 1 when fewer than <records>
records arrive within the timeout.
"""
import json
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, DeserializingConsumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_avro import after_columns, emit, envelope_context  # noqa: E402  (the same description as for files)


class WriterSchemaRecorder:
    """Deserializes with the AvroDeserializer and remembers the writer schema id of the
    last value (its Confluent header), so the description can follow the writer schema."""

    def __init__(self, deserializer):
        self.deserializer = deserializer
        self.last_id = None

    def __call__(self, data, ctx):
        if data is not None:
            if data[0] != 0:
                raise ValueError(f"magic byte {data[0]}, not 0: not Confluent framing")
            self.last_id = int.from_bytes(data[1:5], "big")
        return self.deserializer(data, ctx)


def main():
    brokers, registry_url, topic, wanted, timeout = sys.argv[1:6]
    sys.set_int_max_str_digits(0)
    registry = SchemaRegistryClient({"url": registry_url})
    values = WriterSchemaRecorder(AvroDeserializer(registry))
    consumer = DeserializingConsumer({
        "bootstrap.servers": brokers,
        "group.id": f"wellhead-test-{os.getpid()}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "key.deserializer": AvroDeserializer(registry),
        "value.deserializer": values,
    })
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    schemas = {}
    received = 0
    deadline = time.monotonic() + float(timeout)
    while received < int(wanted) and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            raise RuntimeError(message.error())
        envelope = message.value()
        received += 1
        if envelope is None:
            continue
        if values.last_id not in schemas:
            schema = json.loads(registry.get_schema(values.last_id).schema_str)
            schemas[values.last_id] = envelope_context(schema)
        key = message.key()
        row = envelope["after"] if envelope["after"] is not None else envelope["before"]
        if key != {"id": row["id"]}:
            raise AssertionError(f"key {key} is not the row's primary key {row['id']}")
        for line in after_columns(envelope, schemas[values.last_id]):
            emit({"topic": topic, **line})
    consumer.close()
    if received < int(wanted):
        sys.exit(f"{received} of {wanted} records arrived within {timeout} s")


if __name__ == "__main__":
    main()
