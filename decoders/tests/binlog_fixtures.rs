//! Every real binlog file in the shared fixtures through the binlog decoder: the valid
//! ones give the row changes an independent reader (`mariadb-binlog -v`) counts, with
//! values spot-checked; the broken ones give errors, never panics.

use std::path::PathBuf;
use std::process::Command;

use wellhead_decoders::binlog::{BinlogDecoder, BinlogFileReader, EventBody, FileEvents, RowsKind};
use wellhead_decoders::change::{ColumnValue, Row, Value};

fn fixtures() -> PathBuf {
    match std::env::var_os("WELLHEAD_FIXTURES") {
        Some(path) => PathBuf::from(path).join("mysql-binlogs"),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/mysql-binlogs")),
    }
}

/// What decoding one file gave.
#[derive(Debug, Default)]
struct Decoded {
    writes: usize,
    updates: usize,
    deletes: usize,
    /// Every row change as `table kind before -> after`, for spot checks.
    changes: Vec<(String, RowsKind, Option<Row>, Option<Row>)>,
    transactions: usize,
    error: Option<String>,
}

fn decode_file(name: &str) -> Decoded {
    let bytes = std::fs::read(fixtures().join(name)).unwrap_or_else(|error| panic!("read fixture {name}: {error}"));
    let mut decoded = Decoded::default();
    let reader = match BinlogFileReader::new(&bytes) {
        Ok(reader) => reader,
        Err(error) => {
            decoded.error = Some(error.to_string());
            return decoded;
        }
    };
    for event in reader {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                decoded.error = Some(error.to_string());
                return decoded;
            }
        };
        match event.body {
            EventBody::Rows { table, rows } => {
                for change in rows.rows {
                    match rows.kind {
                        RowsKind::Write => decoded.writes += 1,
                        RowsKind::Update => decoded.updates += 1,
                        RowsKind::Delete => decoded.deletes += 1,
                    }
                    decoded.changes.push((
                        format!("{}.{}", table.database, table.table),
                        rows.kind,
                        change.before,
                        change.after,
                    ));
                }
            }
            EventBody::Xid(_) => decoded.transactions += 1,
            _ => {}
        }
    }
    decoded
}

/// (file, writes, updates, deletes) for every file that decodes whole. The counts are
/// `mariadb-binlog -v --base64-output=decode-rows`'s `### INSERT/UPDATE/DELETE` lines
/// where it reads the file (checked again by [`mariadb_binlog_counts_the_same_rows`]); for
/// the MySQL 8/9 formats it cannot read, the statements the file logs (vector.binlog: two
/// rounds of two rows into each of two tables, a delete and one more insert).
const VALID: &[(&str, usize, usize, usize)] = &[
    ("binlog-invisible-columns.000001", 2, 1, 0),
    ("binlog_56_gtid_reserved_word.000001", 1, 0, 0),
    ("binlog_savepoint.000001", 0, 0, 0),
    ("binlog_transaction.000001", 0, 0, 0),
    ("binlog_transaction_previous_GTID_no_tag.000001", 0, 0, 0),
    ("binlog_transaction_with_GTID.000001", 0, 0, 0),
    ("binlog_transaction_with_GTID_TAG.000001", 1, 0, 0),
    ("binlog_transaction_with_anonymous_GTID.000001", 0, 0, 0),
    ("bug11747887-bin.000003", 0, 0, 0),
    ("bug16266.000001", 0, 0, 0),
    ("bug27213339-bin.000001", 0, 0, 0),
    ("bug32407.001", 2, 0, 0),
    ("bug33029-slave-relay-bin.000001", 0, 0, 0),
    ("json-opaque.binlog", 8, 0, 0),
    ("mariadb-bin.000001", 2, 0, 0),
    ("master-bin.000001", 0, 0, 0),
    ("minimal_row_metadata.000001", 1, 0, 0),
    ("mysql-enum-string-set.000001", 1, 1, 1),
    ("mysql_type_bit.000001", 1, 0, 0),
    ("rpl_atomic_ddl_rollback_full.000001", 0, 0, 0),
    ("rpl_atomic_ddl_rollback_table.000001", 0, 0, 0),
    ("rpl_atomic_ddl_rollback_view.000001", 0, 0, 0),
    ("rpl_cross_version_default_utf8mb4_collation.000001", 0, 0, 0),
    ("rpl_unfiltered_hidden_gcol.000001", 1, 0, 0),
    ("slave-relay-bin.000001", 0, 0, 0),
    ("time_issue.000001", 1, 0, 0),
    ("transaction_compression.000001", 1, 0, 0),
    ("update-full-row.binlog", 5, 1, 1),
    ("update-partial-row.binlog", 5, 1, 1),
    ("vector.binlog", 9, 0, 1),
    ("ver_5_1_23.001", 2, 2, 1),
    ("ver_trunk_row_v2.001", 2, 2, 1),
    ("write-full-row.binlog", 6, 0, 1),
    ("write-partial-row.binlog", 6, 0, 1),
];

/// (file, words the error must contain, (writes, updates, deletes) decoded before it).
const BROKEN: &[(&str, &str, (usize, usize, usize))] = &[
    ("binlog_truncated_event.000001", "event header", (0, 0, 0)),
    ("binlog_truncated_prev_gtid_event.000001", "event header", (0, 0, 0)),
    ("bug40482-bin.000001", "INCIDENT", (0, 0, 0)),
    ("corrupt-relay-bin.000624", "QUERY event", (0, 0, 0)),
    // Partial JSON updates with a minimal before image: the new document cannot be known.
    ("json.binlog.000001", "binlog_row_value_options", (6, 6, 0)),
    // Its XID event carries 11 bytes after the xid (mysql_common's tests call it broken too).
    ("ver_5_1-wl2325_r.001", "XID", (0, 0, 0)),
    ("ver_5_1-wl2325_s.001", "5.1 betas", (0, 0, 0)),
];

#[test]
fn valid_files_give_their_row_changes() {
    for (name, writes, updates, deletes) in VALID {
        let decoded = decode_file(name);
        assert_eq!(decoded.error, None, "{name}");
        assert_eq!((decoded.writes, decoded.updates, decoded.deletes), (*writes, *updates, *deletes), "{name}");
    }
}

#[test]
fn broken_files_give_errors_after_what_they_hold_whole() {
    for (name, words, (writes, updates, deletes)) in BROKEN {
        let decoded = decode_file(name);
        let error = decoded.error.unwrap_or_else(|| panic!("{name} decoded without an error"));
        assert!(error.contains(words), "{name}: {error}");
        assert_eq!((decoded.writes, decoded.updates, decoded.deletes), (*writes, *updates, *deletes), "{name}");
    }
}

#[test]
fn every_fixture_file_is_covered() {
    let listed: Vec<&str> = VALID.iter().map(|(name, ..)| *name).chain(BROKEN.iter().map(|(name, ..)| *name)).collect();
    let mut count = 0;
    for entry in std::fs::read_dir(fixtures()).expect("fixtures directory") {
        let name = entry.expect("directory entry").file_name().to_string_lossy().into_owned();
        if name != "README.md" {
            assert!(listed.contains(&name.as_str()), "{name} is in no list");
            count += 1;
        }
    }
    assert_eq!(count, listed.len());
}

/// Counts `### INSERT/UPDATE/DELETE` lines of `mariadb-binlog -v`, which reads MySQL's
/// older formats and MariaDB's: a reader that is not ours.
#[test]
fn mariadb_binlog_counts_the_same_rows() {
    let mut compared = 0;
    for (name, ..) in VALID {
        let output = match Command::new("mariadb-binlog")
            .args(["-v", "--base64-output=decode-rows"])
            .arg(fixtures().join(name))
            .output()
        {
            Ok(output) => output,
            Err(error) => panic!("mariadb-binlog (scripts/services up installs it): {error}"),
        };
        if !output.status.success() {
            continue; // A MySQL 8/9 format it cannot read.
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let count = |prefix: &str| text.lines().filter(|line| line.starts_with(prefix)).count();
        let decoded = decode_file(name);
        assert_eq!(
            (decoded.writes, decoded.updates, decoded.deletes),
            (count("### INSERT"), count("### UPDATE"), count("### DELETE")),
            "{name}"
        );
        compared += 1;
    }
    assert!(compared >= 25, "mariadb-binlog read only {compared} files");
}

fn after(decoded: &Decoded, index: usize) -> &Row {
    decoded.changes[index].3.as_ref().expect("an after image")
}

fn value(row: &Row, column: usize) -> &Value {
    match &row[column] {
        ColumnValue::Value(value) => value,
        other => panic!("column {column} is {other:?}"),
    }
}

#[test]
fn values_match_what_the_server_logged() {
    // CREATE TABLE foo(a BIT(3), b TEXT, c BIT(8)); mariadb-binlog: b'100', 'foo', b'00100000'.
    let bits = decode_file("mysql_type_bit.000001");
    assert_eq!(value(after(&bits, 0), 0), &Value::Bits("100".into()));
    assert_eq!(value(after(&bits, 0), 1), &Value::Text("foo".into()));
    assert_eq!(value(after(&bits, 0), 2), &Value::Bits("00100000".into()));

    // TIME '-507:48:27'.
    let time = decode_file("time_issue.000001");
    assert_eq!(value(after(&time, 0), 0), &Value::TimeDuration(-(507 * 3600 + 48 * 60 + 27) * 1_000_000));

    // ENUM('var1','variant2','foo') = 1 then 2; SET('one','two','three','four') = b'0101' then b'1010'.
    let enums = decode_file("mysql-enum-string-set.000001");
    assert_eq!(value(after(&enums, 0), 2), &Value::Enum("var1".into()));
    assert_eq!(value(after(&enums, 0), 3), &Value::Set(vec!["one".into(), "three".into()]));
    assert_eq!(value(after(&enums, 1), 2), &Value::Enum("variant2".into()));
    assert_eq!(value(after(&enums, 1), 3), &Value::Set(vec!["two".into(), "four".into()]));

    // f1 INT UNSIGNED INVISIBLE, f2 INT UNSIGNED INVISIBLE, f3 INT, f4 TEXT, f5 BLOB, f6 BIGINT UNSIGNED INVISIBLE.
    let invisible = decode_file("binlog-invisible-columns.000001");
    let row = after(&invisible, 0);
    assert_eq!(value(row, 0), &Value::Int64(1));
    assert_eq!(value(row, 2), &Value::Int32(-3));
    assert_eq!(value(row, 3), &Value::Text("4".into()));
    assert_eq!(value(row, 4), &Value::Bytes(vec![5]));
    assert_eq!(value(row, 5), &Value::UInt64(6_000_000_000));
    assert_eq!(after(&invisible, 1)[0], ColumnValue::Null);

    // Binary JSON with opaque values, as MySQL prints them.
    let json = decode_file("json-opaque.binlog");
    let texts: Vec<&Value> = (0..json.changes.len()).map(|index| value(after(&json, index), 0)).collect();
    for (index, expected) in [
        r#"{"a": "base64:type15:VQ=="}"#,
        r#"{"b": "2012-03-18"}"#,
        r#"{"c": "2012-03-18 11:30:45.000000"}"#,
        r#"{"c": "87:31:46.654321"}"#,
        r#"{"d": 123.456}"#,
        r#"{"e": 9.00}"#,
        r#"{"e": [0, 1, true, false]}"#,
        r#"{"e": null}"#,
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(texts[index], &Value::Json((*expected).to_owned()), "row {index}");
    }

    // VECTOR(3) and VECTOR(4) of the first bar row, a NULL TEXT between them.
    let vectors = decode_file("vector.binlog");
    assert_eq!(value(after(&vectors, 0), 1), &Value::Vector(vec![1.1, 2.2, 3.3]));
    assert_eq!(after(&vectors, 2)[2], ColumnValue::Null);
    assert_eq!(value(after(&vectors, 2), 3), &Value::Vector(vec![1.1, 2.2, 3.3, 4.4]));

    // MariaDB with binlog_row_metadata=FULL: names, the key, charsets, a TIMESTAMP.
    let mariadb = decode_file("mariadb-bin.000001");
    let (table, ..) = &mariadb.changes[0];
    assert_eq!(table, "toddy_test.outbox");
    assert_eq!(value(after(&mariadb, 0), 0), &Value::Int32(62));
    assert_eq!(value(after(&mariadb, 0), 1), &Value::Text("foo".into()));
    assert_eq!(value(after(&mariadb, 0), 3), &Value::Bytes(br#"{"foo":1}"#.to_vec()));
}

#[test]
fn gtids_and_table_metadata_come_through() {
    let bytes = std::fs::read(fixtures().join("binlog_transaction_with_GTID_TAG.000001")).expect("fixture");
    let mut decoder = BinlogDecoder::new();
    let mut gtids = Vec::new();
    let mut previous = Vec::new();
    for event in FileEvents::new(&bytes).expect("a binlog file") {
        let (_, bytes) = event.expect("whole events");
        match decoder.decode(bytes).expect("decodes").body {
            EventBody::Gtid { gtid, .. } => gtids.push(gtid),
            EventBody::PreviousGtids(set) => previous.push(set),
            _ => {}
        }
    }
    assert_eq!(gtids.len(), 1);
    let parts: Vec<&str> = gtids[0].split(':').collect();
    assert_eq!(parts.len(), 3, "uuid:tag:number, got {}", gtids[0]);
    assert_eq!(parts[0].len(), 36);
    assert!(parts[2].parse::<u64>().is_ok());
    assert_eq!(previous.len(), 1);

    let bytes = std::fs::read(fixtures().join("mariadb-bin.000001")).expect("fixture");
    let mut decoder = BinlogDecoder::new();
    let mut maps = Vec::new();
    let mut mariadb_gtids = Vec::new();
    for event in FileEvents::new(&bytes).expect("a binlog file") {
        let (_, bytes) = event.expect("whole events");
        match decoder.decode(bytes).expect("decodes").body {
            EventBody::TableMap(table) => maps.push(table),
            EventBody::MariadbGtid(gtid) => mariadb_gtids.push(gtid),
            _ => {}
        }
    }
    let names: Vec<Option<&str>> = maps[0].columns.iter().map(|column| column.name.as_deref()).collect();
    assert_eq!(names, [Some("id"), Some("topic"), Some("event_type"), Some("event"), Some("created")]);
    let keys: Vec<bool> = maps[0].columns.iter().map(|column| column.is_key).collect();
    assert_eq!(keys, [true, false, false, false, false]);
    assert!(!mariadb_gtids.is_empty());
    assert!(mariadb_gtids.iter().all(|gtid| gtid.gtid.to_string().split('-').count() == 3));

    // MySQL 8.0.23+ marks invisible columns.
    let bytes = std::fs::read(fixtures().join("binlog-invisible-columns.000001")).expect("fixture");
    let mut decoder = BinlogDecoder::new();
    for event in FileEvents::new(&bytes).expect("a binlog file") {
        let (_, bytes) = event.expect("whole events");
        if let EventBody::TableMap(table) = decoder.decode(bytes).expect("decodes").body {
            let visible: Vec<bool> = table.columns.iter().map(|column| column.visible).collect();
            assert_eq!(visible, [false, false, true, true, true, false]);
            return;
        }
    }
    panic!("no table map");
}

/// Every valid file cut short and with each byte flipped: errors, never a panic (a
/// quick stand-in for the fuzz target, on every test run).
#[test]
fn damaged_files_never_panic() {
    for (name, ..) in VALID {
        let bytes = std::fs::read(fixtures().join(name)).expect("fixture");
        let limit = bytes.len().min(4096);
        for cut in (4..limit).step_by(7) {
            decode_bytes(&bytes[..cut]);
        }
        for at in (4..limit).step_by(3) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x5a;
            wellhead_decoders::binlog::header::reseal_checksums(&mut damaged);
            decode_bytes(&damaged);
        }
    }
}

fn decode_bytes(bytes: &[u8]) {
    let Ok(reader) = BinlogFileReader::new(bytes) else { return };
    for event in reader {
        if event.is_err() {
            return;
        }
    }
}

/// A binlog MariaDB 10.11 wrote with `log_bin_compress=ON` (tests/fixtures): its larger rows
/// events are zlib-compressed (WRITE_ROWS_COMPRESSED_V1, UPDATE_ROWS_COMPRESSED_V1), the
/// small DELETE is not.
#[test]
fn mariadb_compressed_rows_events_decode() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/mariadb-compressed-bin.000001");
    let bytes = std::fs::read(path).expect("compressed binlog fixture");
    let types: Vec<u8> =
        FileEvents::new(&bytes).expect("a binlog file").map(|event| event.expect("whole events").1[4]).collect();
    assert!(types.contains(&0xa6) && types.contains(&0xa7), "compressed rows events in the file: {types:x?}");
    let mut changes = Vec::new();
    for event in BinlogFileReader::new(&bytes).expect("a binlog file") {
        if let EventBody::Rows { table, rows } = event.expect("decodes").body {
            assert_eq!((table.database.as_str(), table.table.as_str()), ("wh_compressed", "big"));
            changes.extend(rows.rows.into_iter().map(|change| (rows.kind, change)));
        }
    }
    let kinds: Vec<RowsKind> = changes.iter().map(|(kind, _)| *kind).collect();
    use RowsKind::{Delete, Update, Write};
    assert_eq!(kinds, [Write, Write, Write, Update, Delete, Write]);
    let text = |row: &Row, column: usize| match &row[column] {
        ColumnValue::Value(Value::Text(text)) => text.clone(),
        other => panic!("column {column}: {other:?}"),
    };
    let first = changes[0].1.after.as_ref().expect("after");
    assert_eq!(text(first, 1), "compressible text ".repeat(40));
    assert_eq!(
        value(first, 2),
        &Value::Numeric(wellhead_decoders::change::Numeric::Finite(wellhead_decoders::change::Decimal {
            negative: false,
            digits: "150".into(),
            scale: 2
        }))
    );
    let update = &changes[3].1;
    assert_eq!(text(update.before.as_ref().expect("before"), 1), "more text ".repeat(60));
    assert_eq!(text(update.after.as_ref().expect("after"), 1), "updated ".repeat(80));
}
