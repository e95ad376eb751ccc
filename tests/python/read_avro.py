"""Reads Wellhead's Avro object container files with fastavro, as any consumer would.

Usage: python3 read_avro.py <dir> [--raw-topic <topic>]...

Reads every `<dir>/<topic>/*.avro` file with `fastavro.reader` (the writer
schema is the one in the file) and prints one JSON line per column of every
`after` row:

    {"topic": t, "file": f, "op": "c", "row": <id>, "column": name, "value": <described>}

A described value keeps the Python type fastavro returned, so the caller can
check types, not just text:

    {"pytype": "NoneType"}
    {"pytype": "Decimal" | "int" | "float" | "str" | "UUID" | "date" | "time", "value": text}
        (Decimal str(d), int decimal text, float repr(f), date/time isoformat())
    {"pytype": "bool", "value": true}
    {"pytype": "bytes", "value": hex}
    {"pytype": "datetime", "value": isoformat(), "aware": tzinfo is not None}
    {"pytype": "str", "enum": <full name>, "value": symbol}       an enum branch
    {"pytype": "dict", "record": <full name>, "fields": [[name, described], ...]}
        fields in schema order; wellhead.VariableScaleDecimal records also get
        "decimal": the exact decimal text of {scale, value}
    {"pytype": "list", "items": [described, ...]}
    {"pytype": "special", "value": text}
        a column that is null in the row and whose value the envelope's
        special_values.after map holds (the value its plain type cannot carry)

Topics named with --raw-topic hold values a Python datetime/date/time cannot
hold (years outside 1..9999, 24:00:00): fastavro raises on them and then
cannot read the rest of the file. Those files are read with the temporal
logical types removed from the writer schema in the file header (fastavro
applies the writer schema's logical types whatever reader schema is given),
so their values arrive as the raw Avro int/long. Such a value is described as

    {"pytype": "int", "value": text, "stripped": <logical type>,
     "fastavro": null | "<Exception>: <message>"}

where "fastavro" is what fastavro does when it reads that one value with its
logical type. For each such file a line {"topic", "file", "plain_read": ...}
says what reading it unmodified gives ("ok" or the exception).
"""

import argparse
import decimal
import glob
import io
import json
import os
import sys

import fastavro

# What the Avro specification says a container file's header is.
HEADER_SCHEMA = {
    "type": "record",
    "name": "org.apache.avro.file.Header",
    "fields": [
        {"name": "magic", "type": {"type": "fixed", "name": "Magic", "size": 4}},
        {"name": "meta", "type": {"type": "map", "values": "bytes"}},
        {"name": "sync", "type": {"type": "fixed", "name": "Sync", "size": 16}},
    ],
}
# Logical types whose Python values (datetime, date, time) have a narrower range than Avro's.
TEMPORAL = {"date", "time-micros", "time-millis", "timestamp-micros", "timestamp-millis",
            "local-timestamp-micros", "local-timestamp-millis"}
STRIPPED = "wellhead.strippedLogicalType"
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def full_name(name, namespace):
    return name if "." in name or not namespace else f"{namespace}.{name}"


def index_named(schema, namespace, named):
    """Every named type of `schema` by full name, with the namespace its own names resolve in."""
    if isinstance(schema, list):
        for branch in schema:
            index_named(branch, namespace, named)
    elif isinstance(schema, dict):
        kind = schema["type"]
        if kind in ("record", "enum", "fixed"):
            name = full_name(schema["name"], schema.get("namespace", namespace))
            inner = name.rpartition(".")[0]
            named[name] = (schema, inner)
            for field in schema.get("fields", []):
                index_named(field["type"], inner, named)
        elif kind == "array":
            index_named(schema["items"], namespace, named)
        elif kind == "map":
            index_named(schema["values"], namespace, named)
        else:
            index_named(kind, namespace, named)


def resolve(schema, namespace, named):
    if isinstance(schema, str) and schema not in PRIMITIVES:
        return named[full_name(schema, namespace)]
    if isinstance(schema, dict):
        kind = schema["type"]
        if not isinstance(kind, str) or kind not in PRIMITIVES | {"record", "enum", "fixed", "array", "map"}:
            return resolve(kind, namespace, named)
    return schema, namespace


def union_branch(datum, branches, namespace, named):
    """The branch fastavro read `datum` from: null for None, an enum for one of its symbols, else the other branch."""
    candidates = []
    for branch in branches:
        schema, _ = resolve(branch, namespace, named)
        kind = schema if isinstance(schema, str) else schema["type"]
        if datum is None:
            matches = kind == "null"
        elif kind == "null":
            matches = False
        elif kind == "enum":
            matches = isinstance(datum, str) and datum in schema["symbols"]
        else:
            matches = True
        if matches:
            candidates.append((branch, kind))
    enums = [branch for branch, kind in candidates if kind == "enum"]
    chosen = enums if enums else [branch for branch, _ in candidates]
    if len(chosen) != 1:
        raise AssertionError(f"cannot tell the union branch of {datum!r} in {branches}")
    return chosen[0]


def exact_decimal(record):
    """{scale, value}: the unscaled integer in big-endian two's complement, as an exact Decimal."""
    unscaled = int.from_bytes(record["value"], byteorder="big", signed=True)
    digits = tuple(int(d) for d in str(abs(unscaled)))
    return decimal.Decimal((1 if unscaled < 0 else 0, digits, -record["scale"]))


def fastavro_outcome(raw, base, logical):
    """What fastavro makes of the raw value `raw` of type `base` under logical type `logical`."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, {"type": base}, raw)
    out.seek(0)
    try:
        fastavro.schemaless_reader(out, {"type": base, "logicalType": logical}, None)
    except Exception as error:  # the exception is what is being reported
        return f"{type(error).__name__}: {error}"
    return None


def describe(datum, schema, namespace, named):
    schema, namespace = resolve(schema, namespace, named)
    if isinstance(schema, list):
        branch = union_branch(datum, schema, namespace, named)
        return describe(datum, branch, namespace, named)
    kind = schema if isinstance(schema, str) else schema["type"]
    pytype = type(datum).__name__
    if kind == "record":
        record_name = full_name(schema["name"], schema.get("namespace", namespace))
        inner = record_name.rpartition(".")[0]
        fields = [[field["name"], describe(datum[field["name"]], field["type"], inner, named)]
                  for field in schema["fields"]]
        described = {"pytype": pytype, "record": record_name, "fields": fields}
        if record_name == "wellhead.VariableScaleDecimal":
            described["decimal"] = str(exact_decimal(datum))
        return described
    if kind == "array":
        return {"pytype": pytype, "items": [describe(item, schema["items"], namespace, named) for item in datum]}
    if kind == "enum":
        return {"pytype": pytype, "enum": full_name(schema["name"], schema.get("namespace", namespace)),
                "value": datum}
    if datum is None:
        return {"pytype": pytype}
    if isinstance(datum, bool):
        return {"pytype": pytype, "value": datum}
    if isinstance(datum, bytes):
        return {"pytype": pytype, "value": datum.hex()}
    if isinstance(datum, float):
        return {"pytype": pytype, "value": repr(datum)}
    if pytype == "datetime":
        return {"pytype": pytype, "value": datum.isoformat(), "aware": datum.tzinfo is not None}
    if pytype in ("date", "time"):
        return {"pytype": pytype, "value": datum.isoformat()}
    described = {"pytype": pytype, "value": str(datum)}
    if isinstance(schema, dict) and STRIPPED in schema:
        described["stripped"] = schema[STRIPPED]
        described["fastavro"] = fastavro_outcome(datum, kind, schema[STRIPPED])
    return described


def strip_temporal(schema):
    if isinstance(schema, list):
        return [strip_temporal(item) for item in schema]
    if isinstance(schema, dict):
        return {(STRIPPED if key == "logicalType" and value in TEMPORAL else key): strip_temporal(value)
                for key, value in schema.items()}
    return schema


def without_temporal_types(data):
    """The container file `data` with the temporal logical types taken out of its header's schema."""
    source = io.BytesIO(data)
    header = fastavro.schemaless_reader(source, HEADER_SCHEMA, None)
    blocks = data[source.tell():]
    schema = strip_temporal(json.loads(header["meta"]["avro.schema"]))
    header["meta"]["avro.schema"] = json.dumps(schema).encode()
    out = io.BytesIO()
    fastavro.schemaless_writer(out, HEADER_SCHEMA, header)
    return out.getvalue() + blocks


def emit(line):
    sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")


def read_file(path, topic, raw):
    with open(path, "rb") as handle:
        data = handle.read()
    if raw:
        try:
            for _ in fastavro.reader(io.BytesIO(data)):
                pass
            plain = "ok"
        except Exception as error:  # the exception is what is being reported
            plain = f"{type(error).__name__}: {error}"
        emit({"topic": topic, "file": os.path.basename(path), "plain_read": plain})
        data = without_temporal_types(data)
    reader = fastavro.reader(io.BytesIO(data))
    schema = reader.metadata["avro.schema"]
    schema = json.loads(schema if isinstance(schema, str) else schema.decode())
    context = envelope_context(schema)
    for envelope in reader:
        for line in after_columns(envelope, context):
            emit({"topic": topic, "file": os.path.basename(path), **line})


def envelope_context(schema):
    """What describing rows of envelopes written with `schema` (a dict) needs, worked out once."""
    named = {}
    index_named(schema, "", named)
    value_schema = next(field["type"] for field in schema["fields"] if field["name"] == "after")
    namespace = full_name(schema["name"], schema.get("namespace", "")).rpartition(".")[0]
    return named, value_schema, namespace


def after_columns(envelope, context):
    """One {"op", "row", "column", "value": described} per column of the envelope's `after` row,
    with the `envelope_context` of its writer schema; nothing for a row-less envelope."""
    after = envelope["after"]
    if after is None:
        return
    named, value_schema, namespace = context
    row_schema, row_namespace = resolve(union_branch(after, value_schema, namespace, named), namespace, named)
    inner = full_name(row_schema["name"], row_schema.get("namespace", row_namespace)).rpartition(".")[0]
    special = envelope["special_values"]["after"]
    for field in row_schema["fields"]:
        name = field["name"]
        if name in special:
            if after[name] is not None:
                raise AssertionError(f"{name} has both a value and a special value")
            value = {"pytype": "special", "value": special[name]}
        else:
            value = describe(after[name], field["type"], inner, named)
        yield {"op": envelope["op"], "row": after["id"], "column": name, "value": value}


def main():
    parser = argparse.ArgumentParser(description="Print every after-row column of Wellhead's Avro files, typed.")
    parser.add_argument("dir", help="the files sink's dir: <dir>/<topic>/*.avro")
    parser.add_argument("--raw-topic", action="append", default=[],
                        help="read this topic with the temporal logical types stripped")
    args = parser.parse_args()
    # Unconstrained numerics may have up to 147455 digits.
    sys.set_int_max_str_digits(0)
    for path in sorted(glob.glob(os.path.join(args.dir, "*", "*.avro"))):
        topic = os.path.basename(os.path.dirname(path))
        read_file(path, topic, topic in args.raw_topic)


if __name__ == "__main__":
    main()
