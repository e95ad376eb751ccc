#!/usr/bin/env python3
"""Checks a snapshot-then-stream run of one table from outside: its Avro files
are read with fastavro (an independent reader) and compared with what the
writer did and with the source table's final rows.

    python3 tests/python/snapshot_check.py <topic dir> <writer log> <source rows>

- topic dir: `<lake>/<topic>`, files read in name order (= position order).
- writer log: one committed change per line, in commit order, `k op id`
  (`op` is c, u or d; a c or u sets the row's `seq` to k). The writer runs one
  change per transaction, one transaction at a time.
- source rows: `id,seq,note` per line (COPY ... CSV), the table at the end.

Rules checked (each failure printed, exit status 1):
1. The changes streamed (ops c/u/d) are exactly the writer's changes from
   some k0 on, in commit order: no gap, no repeat, nothing missing at the end.
2. No row is read by the snapshot (op r) twice, and no snapshot row shows a
   change the stream delivers after it (its seq is below the k of the next
   streamed change).
3. Applying the output in order gives exactly the source's final rows.

Prints one JSON line with the counts on success.
"""

import json
import os
import sys

import fastavro


def records(topic_dir):
    for name in sorted(os.listdir(topic_dir)):
        if not name.endswith(".avro"):
            continue
        with open(os.path.join(topic_dir, name), "rb") as handle:
            for record in fastavro.reader(handle):
                yield record


def main(topic_dir, writer_log, source_rows):
    writer = []
    with open(writer_log) as handle:
        for line in handle:
            k, op, row_id = line.split()
            writer.append((int(k), op, int(row_id)))
    for index, (k, _, _) in enumerate(writer):
        if k != index + 1:
            sys.exit(f"writer log: line {index + 1} has k={k}")

    output = []  # (op, id, seq or None)
    for record in records(topic_dir):
        op = record["op"]
        row = record["after"] if op in ("r", "c", "u") else record["before"]
        output.append((op, row["id"], row.get("seq") if op != "d" else None, row.get("note")))

    errors = []
    stream = [(index, op, row_id, seq) for index, (op, row_id, seq, _) in enumerate(output) if op != "r"]
    # Rule 1: align the stream with the writer's log at its first c/u change.
    first_set = next((position for position, entry in enumerate(stream) if entry[1] != "d"), None)
    k0 = 1 if first_set is None and not stream else None
    if first_set is not None:
        k0 = stream[first_set][3] - first_set
    elif stream:
        errors.append("only deletes were streamed: cannot align the stream with the writer")
    stream_k = {}
    if k0 is not None:
        for position, (index, op, row_id, seq) in enumerate(stream):
            k = k0 + position
            if k < 1 or k > len(writer):
                errors.append(f"streamed change #{position} ({op} id {row_id}) has no writer change k={k}")
                break
            expected_k, expected_op, expected_id = writer[k - 1]
            if (op, row_id) != (expected_op, expected_id) or (op != "d" and seq != k):
                errors.append(
                    f"streamed change #{position} is {op} id {row_id} seq {seq}; the writer's change k={k} is "
                    f"{expected_op} id {expected_id}"
                )
                break
            stream_k[index] = k
        if not errors and k0 + len(stream) - 1 != len(writer):
            errors.append(
                f"the stream ends at writer change {k0 + len(stream) - 1}, the writer made {len(writer)}"
            )

    # Rule 2: snapshot rows read once, none from the future.
    read_ids = set()
    next_k = len(writer) + 1
    for index in range(len(output) - 1, -1, -1):
        op, row_id, seq, _ = output[index]
        if op != "r":
            next_k = stream_k.get(index, next_k)
            continue
        if row_id in read_ids:
            errors.append(f"id {row_id} was read by the snapshot twice")
        read_ids.add(row_id)
        if seq >= next_k:
            errors.append(f"snapshot row id {row_id} shows seq {seq}, but the next streamed change is k={next_k}")
        if len(errors) > 20:
            break

    # Rule 3: the final state equals the source.
    state = {}
    for op, row_id, seq, note in output:
        if op == "d":
            state.pop(row_id, None)
        else:
            state[row_id] = (seq, note)
    source = {}
    with open(source_rows) as handle:
        for line in handle:
            row_id, seq, note = line.rstrip("\n").split(",", 2)
            source[int(row_id)] = (int(seq), note)
    if state != source:
        missing = [row_id for row_id in source if row_id not in state][:5]
        extra = [row_id for row_id in state if row_id not in source][:5]
        different = [row_id for row_id in source if row_id in state and state[row_id] != source[row_id]][:5]
        errors.append(
            f"final state differs from the source ({len(state)} rows vs {len(source)}): missing ids {missing}, "
            f"extra ids {extra}, different ids {[(i, state[i], source[i]) for i in different]}"
        )

    if errors:
        for error in errors[:20]:
            print(error)
        sys.exit(1)
    print(
        json.dumps(
            {
                "snapshot_rows": len(read_ids),
                "streamed_changes": len(stream),
                "first_streamed_writer_change": k0,
                "writer_changes": len(writer),
                "rows": len(source),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
