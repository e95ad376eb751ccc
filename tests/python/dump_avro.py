#!/usr/bin/env python3
"""Reads every final Avro file of a files-sink directory with fastavro, an
independent reader, and prints one JSON line per record.

    python3 tests/python/dump_avro.py <dir>

Files are `<dir>/<topic>/<first position>.avro`; they are read per topic in
name order (names are zero-padded hexadecimal positions, so name order is
position order). Files being written (`.<name>.avro.tmp`) are skipped.

Each line: {"file": "<topic>/<name>.avro", "topic", "fields": [row field names
of the file's writer schema], "op", "before", "after", "table", "txid", "lsn",
"commit_lsn", "transaction"}. Values are made JSON-safe: Decimal, datetime,
date, time and UUID as their string form, bytes as hex.
"""

import datetime
import decimal
import json
import os
import sys
import uuid

import fastavro


def json_safe(value):
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    return value


def row_fields(writer_schema):
    """The field names of the envelope's row record (`before`/`after`)."""
    for field in writer_schema["fields"]:
        if field["name"] not in ("before", "after"):
            continue
        for branch in field["type"]:
            if isinstance(branch, dict) and branch.get("type") == "record":
                return [row_field["name"] for row_field in branch["fields"]]
    raise ValueError("writer schema has no row record in before/after")


def main(directory):
    out = sys.stdout
    for topic in sorted(os.listdir(directory)):
        topic_dir = os.path.join(directory, topic)
        if not os.path.isdir(topic_dir):
            continue
        for name in sorted(os.listdir(topic_dir)):
            if not name.endswith(".avro"):
                continue
            with open(os.path.join(topic_dir, name), "rb") as handle:
                reader = fastavro.reader(handle)
                fields = row_fields(reader.writer_schema)
                for record in reader:
                    source = record["source"]
                    line = {
                        "file": f"{topic}/{name}",
                        "topic": topic,
                        "fields": fields,
                        "op": record["op"],
                        "before": json_safe(record["before"]),
                        "after": json_safe(record["after"]),
                        "table": f"{source['schema']}.{source['table']}",
                        "txid": source.get("txId"),
                        "lsn": source.get("lsn"),
                        "commit_lsn": source.get("commit_lsn"),
                        "transaction": json_safe(record.get("transaction")),
                    }
                    out.write(json.dumps(line, sort_keys=True))
                    out.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: dump_avro.py <dir>")
    main(sys.argv[1])
