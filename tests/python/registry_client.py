"""Confluent's own Python client against Wellhead's embedded schema registry.

Usage: python3 registry_client.py http://user:password@127.0.0.1:<port>

The URL carries the credentials that changes need; a client without them must be
refused (401) and change nothing.

Uses `confluent_kafka.schema_registry` directly (no wrapper of ours): registers,
fetches, looks up, checks compatibility, changes config, gets a 409 for an
incompatible schema, round-trips a record through AvroSerializer /
AvroDeserializer, and deletes. Asserts everything itself; exits non-zero on the
first failure and prints a summary line on success.
"""

import json
import sys
import urllib.parse
import uuid

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext


def record(fields):
    return json.dumps({"type": "record", "name": "Item", "namespace": "wellhead.test", "fields": fields})


V1 = record([{"name": "id", "type": "long"}])
# Adds a nullable field with a default: BACKWARD compatible.
V2 = record([{"name": "id", "type": "long"}, {"name": "note", "type": ["null", "string"], "default": None}])
# Changes the type of `id` to string: incompatible in every direction.
INCOMPATIBLE = record([{"name": "id", "type": "string"}])


def expect_error(call, status, code):
    try:
        call()
    except SchemaRegistryError as error:
        assert error.http_status_code == status, (error.http_status_code, error.error_code, error.error_message)
        assert error.error_code == code, (error.http_status_code, error.error_code, error.error_message)
        return error
    raise AssertionError(f"expected SchemaRegistryError {status}/{code}")


def main(url):
    checks = 0
    run = uuid.uuid4().hex[:8]
    subject = f"client-{run}-value"
    client = SchemaRegistryClient({"url": url})
    parts = urllib.parse.urlsplit(url)
    anonymous = SchemaRegistryClient({"url": f"{parts.scheme}://{parts.hostname}:{parts.port}"})

    assert client.get_schema_types() == ["AVRO"], client.get_schema_types()
    expect_error(lambda: anonymous.register_schema(subject, Schema(V1, "AVRO")), 401, 40101)
    expect_error(lambda: anonymous.set_compatibility(level="NONE"), 401, 40101)
    expect_error(lambda: anonymous.get_versions(subject), 404, 40401)
    checks += 3

    id1 = client.register_schema(subject, Schema(V1, "AVRO"))
    assert isinstance(id1, int) and id1 >= 1, id1
    # Registering the same schema again gives the same id (a fresh client, no cache).
    assert SchemaRegistryClient({"url": url}).register_schema(subject, Schema(V1, "AVRO")) == id1
    checks += 2

    fetched = SchemaRegistryClient({"url": url}).get_schema(id1)
    assert json.loads(fetched.schema_str) == json.loads(V1), fetched.schema_str
    assert fetched.schema_type == "AVRO", fetched.schema_type
    checks += 1

    # Compatibility before registering: BACKWARD by default.
    assert client.test_compatibility(subject, Schema(V2, "AVRO")) is True
    assert client.test_compatibility(subject, Schema(INCOMPATIBLE, "AVRO")) is False
    assert client.test_compatibility(subject, Schema(INCOMPATIBLE, "AVRO"), version=1) is False
    assert client.test_compatibility_all_versions(subject, Schema(V2, "AVRO")) is True
    assert client.test_compatibility_all_versions(subject, Schema(INCOMPATIBLE, "AVRO")) is False
    checks += 5

    id2 = client.register_schema(subject, Schema(V2, "AVRO"))
    assert id2 != id1, (id1, id2)
    checks += 1

    latest = client.get_latest_version(subject)
    assert (latest.subject, latest.version, latest.schema_id) == (subject, 2, id2), latest
    assert json.loads(latest.schema.schema_str) == json.loads(V2)
    first = client.get_version(subject, 1)
    assert (first.subject, first.version, first.schema_id) == (subject, 1, id1), first
    assert client.get_versions(subject) == [1, 2], client.get_versions(subject)
    assert subject in client.get_subjects(), client.get_subjects()
    checks += 4

    found = SchemaRegistryClient({"url": url}).lookup_schema(subject, Schema(V1, "AVRO"))
    assert (found.subject, found.version, found.schema_id) == (subject, 1, id1), found
    expect_error(lambda: client.lookup_schema(subject, Schema(INCOMPATIBLE, "AVRO")), 404, 40403)
    expect_error(lambda: client.lookup_schema(f"missing-{run}", Schema(V1, "AVRO")), 404, 40401)
    expect_error(lambda: client.get_version(subject, 9), 404, 40402)
    expect_error(lambda: SchemaRegistryClient({"url": url}).get_schema(999_999), 404, 40403)
    checks += 5

    # 409 for an incompatible schema, error_code 409.
    error = expect_error(lambda: client.register_schema(subject, Schema(INCOMPATIBLE, "AVRO")), 409, 409)
    assert "incompatible" in error.error_message.lower(), error.error_message
    expect_error(lambda: client.register_schema(subject, Schema("{not avro", "AVRO")), 422, 42201)
    checks += 2

    # Config: subject level, then the global level is untouched.
    global_level = client.get_compatibility()
    assert global_level == "BACKWARD", global_level
    expect_error(lambda: client.get_compatibility(subject), 404, 40408)
    assert client.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    assert client.get_compatibility(subject) == "NONE"
    assert client.test_compatibility(subject, Schema(INCOMPATIBLE, "AVRO")) is True
    assert client.get_compatibility() == "BACKWARD"
    assert client.get_config(subject).compatibility_level.value == "NONE"
    expect_error(lambda: client.set_compatibility(subject, "SIDEWAYS"), 422, 42203)
    deleted_config = client.delete_config(subject)
    assert deleted_config.compatibility.value == "NONE", deleted_config
    assert client.test_compatibility(subject, Schema(INCOMPATIBLE, "AVRO")) is False
    checks += 9

    # Serializer and deserializer against the embedded registry.
    topic = f"orders-{run}"
    ctx = SerializationContext(topic, MessageField.VALUE)
    serializer = AvroSerializer(client, V2)
    payload = serializer({"id": 42, "note": "hello"}, ctx)
    assert payload[0] == 0, payload[:5]
    written_id = int.from_bytes(payload[1:5], "big")
    assert written_id == id2, (written_id, id2)  # the same schema has the same id in every subject
    assert client.get_latest_version(f"{topic}-value").schema_id == id2
    deserializer = AvroDeserializer(SchemaRegistryClient({"url": url}))
    assert deserializer(payload, ctx) == {"id": 42, "note": "hello"}
    checks += 4

    # Soft delete, then permanent delete.
    assert client.delete_version(subject, 2) == 2
    assert client.get_versions(subject) == [1]
    assert client.get_versions(subject, deleted=True) == [1, 2]
    assert client.delete_subject(subject) == [1]
    assert subject not in client.get_subjects()
    assert subject in client.get_subjects(deleted=True)
    expect_error(lambda: client.delete_subject(subject), 404, 40404)
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    assert subject not in client.get_subjects(deleted=True)
    expect_error(lambda: SchemaRegistryClient({"url": url}).get_versions(subject), 404, 40401)
    checks += 10

    print(f"confluent_kafka registry client: {checks} checks passed against {url}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: registry_client.py <registry url>")
    main(sys.argv[1])
