//! The checkpoint's rules, shown with binlog positions (the model is the same for every
//! source); PostgreSQL's positions appear only as stored JSON, in the format-1 cases.

use std::fs;

use wellhead_decoders::change::{BinlogPosition, Position, RestartPoint, SourceOrigin, TableName};

use super::*;

/// The `row` of the rows event at `offset` in the first binlog file.
fn change(offset: u64, row: u32) -> Position {
    Position::Binlog(BinlogPosition {
        file_sequence: 1,
        event_offset: offset,
        row_index: row,
        file: "b.000001".into(),
        gtid: None,
        server_id: 1,
    })
}

fn restart(offset: u64) -> RestartPoint {
    RestartPoint::BinlogFile { file_sequence: 1, file: "b.000001".into(), offset }
}

fn temporary_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wellhead-checkpoint-{label}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn saves_reloads_and_refuses_to_go_back() {
    let dir = temporary_dir("store");
    let mut store = CheckpointStore::open(&dir, "shop").expect("open");
    assert!(store.current().is_none());
    let mut first = Checkpoint::default();
    first.record_written(&change(10, 5)).expect("forward");
    first.record_restart_point(&restart(9)).expect("forward");
    first.sink.offset = 100;
    store.save(first.clone()).expect("save");
    let reopened = CheckpointStore::open(&dir, "shop").expect("reopen");
    assert_eq!(reopened.current(), Some(&first));
    let behind = Checkpoint { last_written: Some(change(10, 4)), ..first.clone() };
    assert!(matches!(store.save(behind), Err(CheckpointError::Backwards { .. })));
    let restart_behind = Checkpoint { restart_point: Some(restart(8)), ..first.clone() };
    assert!(matches!(store.save(restart_behind), Err(CheckpointError::Backwards { .. })));
    assert!(CheckpointStore::open(&dir, "other").is_ok());
    fs::write(dir.join("bad.checkpoint.json"), b"{not json").expect("write");
    assert!(matches!(CheckpointStore::open(&dir, "bad"), Err(CheckpointError::Corrupt { .. })));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_checkpoint_only_moves_forward_change_by_change() {
    let mut checkpoint = Checkpoint::default();
    checkpoint.record_written(&change(100, 1)).expect("first");
    // The second row of one rows event: same offset, next row.
    checkpoint.record_written(&change(100, 2)).expect("next row");
    assert!(checkpoint.record_written(&change(100, 2)).is_err(), "the same change twice");
    assert!(checkpoint.record_written(&change(90, 7)).is_err(), "an earlier transaction");
    checkpoint.record_restart_point(&restart(50)).expect("restart");
    checkpoint.record_restart_point(&restart(50)).expect("unchanged");
    assert!(checkpoint.record_restart_point(&restart(40)).is_err());
    let postgres = decode(FORMAT_1_FILE.as_bytes(), "f1sample", "fixture").expect("format 1");
    let postgres_restart = postgres.restart_point.expect("a PostgreSQL restart point");
    assert!(matches!(checkpoint.record_restart_point(&postgres_restart), Err(CheckpointError::Mismatch(_))));
}

#[test]
fn table_states_and_the_origin_are_recorded_once() {
    let mut checkpoint = Checkpoint::default();
    let table = |name: &str| TableName { namespace: "public".into(), name: name.into() };
    assert!(checkpoint.record_update(&CheckpointUpdate::Table(table("b"), TableState::Streaming)));
    assert!(checkpoint.record_update(&CheckpointUpdate::Table(table("a"), TableState::Queued { reset: false })));
    assert!(!checkpoint.record_update(&CheckpointUpdate::Table(table("a"), TableState::Queued { reset: false })));
    assert!(checkpoint.record_update(&CheckpointUpdate::Table(table("a"), TableState::Streaming)));
    let names: Vec<&str> = checkpoint.tables.iter().map(|progress| progress.table.name.as_str()).collect();
    assert_eq!(names, ["a", "b"], "in table order");
    let origin = SourceOrigin::Binlog { server_uuid: None, server_id: 7 };
    assert!(checkpoint.record_update(&CheckpointUpdate::Origin(origin.clone())));
    assert!(!checkpoint.record_update(&CheckpointUpdate::Origin(origin)));
    assert!(checkpoint.advanced_beyond(&Checkpoint::default()));
    let with_other_sink_state =
        Checkpoint { sink: SinkState { offset: 9, ..SinkState::default() }, ..checkpoint.clone() };
    assert!(!with_other_sink_state.advanced_beyond(&checkpoint), "the sink's own state is not progress");
}

#[test]
fn format_2_round_trips() {
    let mut checkpoint = Checkpoint::default();
    checkpoint.record_written(&change(100, 3)).expect("forward");
    checkpoint.record_restart_point(&restart(90)).expect("forward");
    let origin: SourceOrigin = serde_json::from_value(serde_json::json!({
        "source": "postgres", "system_identifier": "7301", "timeline": 1, "database": "shop", "slot": "shop",
        "slot_consistent_point": "0/50",
    }))
    .expect("a PostgreSQL origin");
    checkpoint.record_update(&CheckpointUpdate::Origin(origin));
    checkpoint.sink.pending_renames.push(PendingRename { from: "a.tmp".into(), to: "a".into() });
    let bytes = encode(&checkpoint, "shop");
    assert_eq!(decode(&bytes, "shop", "test").expect("decode"), checkpoint);
    assert!(matches!(decode(&bytes, "other", "test"), Err(CheckpointError::WrongPipeline { .. })));
}

/// A checkpoint file written by Wellhead before format 2 (commit 398eaaf, a jsonl pipeline
/// stopped after three inserted rows).
const FORMAT_1_FILE: &str = include_str!("../../tests/fixtures/checkpoint-format-1/jsonl.checkpoint.json");

#[test]
fn a_format_1_checkpoint_is_read_as_it_was_meant() {
    let checkpoint = decode(FORMAT_1_FILE.as_bytes(), "f1sample", "fixture").expect("format 1 decodes");
    assert_eq!(
        serde_json::to_value(&checkpoint.last_written).expect("JSON"),
        serde_json::json!({"source": "postgres_record", "commit_lsn": "0/21AA960", "lsn": "0/21AA8E0"})
    );
    assert_eq!(
        serde_json::to_value(&checkpoint.restart_point).expect("JSON"),
        serde_json::json!({"source": "postgres", "flush_lsn": "0/21AA990"})
    );
    assert_eq!(checkpoint.sink.offset, 1038);
    assert_eq!(checkpoint.origin, None);
    // The next checkpoint, of format 2, follows it: the next transaction's first change.
    let mut next = checkpoint.clone();
    let following: Position = serde_json::from_value(serde_json::json!({
        "source": "postgres", "commit_lsn": "0/21AAB60", "change_ordinal": 1, "lsn": "0/21AAA60",
    }))
    .expect("a PostgreSQL position");
    next.record_written(&following).expect("forward from a format-1 position");
    next.check_follows(&checkpoint).expect("follows");
    let empty = br#"{"format": 1, "pipeline": "p", "last_position": null, "flush_lsn": "0/0", "sink_offset": 0}"#;
    assert_eq!(decode(empty, "p", "test").expect("decode"), Checkpoint::default());
    let future = br#"{"format": 9, "pipeline": "p"}"#;
    assert!(decode(future, "p", "test").expect_err("format 9").to_string().contains("formats 1 and 2"));
}
