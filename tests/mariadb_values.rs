//! The MariaDB value matrix: a table with a column of every MariaDB type (and generated,
//! virtual and stored, and invisible columns), rows of edge values, streamed from the binlog and read back by readers that are not ours:
//! fastavro from the files sink's Avro files, Confluent's DeserializingConsumer from
//! Kafka, and Kafka Connect's path (Confluent's AvroConverter, then Debezium's
//! ExtractNewRecordState: `support::connect`), which must also see each column as the plain
//! Connect type documented (no STRUCT but for geometry). Each value must come back as the Python type its Avro type promises and equal
//! what MariaDB itself returns for that cell (a SELECT of the cell in a canonical text
//! form: DATE_FORMAT, HEX, BIN, CAST AS DOUBLE, TIME_TO_SEC...).
//!
//! ```text
//!  INSERT edge rows ──► MariaDB ──binlog──► wellhead ─┬─ files ─► read_avro.py (fastavro)
//!                                                     └─ kafka ─► consume_kafka_avro.py (confluent-kafka)
//!      {row, column, pytype, value} ──must equal──► SELECT <canonical text of the cell> FROM matrix
//! ```
//!
//! Zero and partly zero dates name no day, so Avro's date and timestamp types cannot carry
//! them: they must be null in the row and the server's text in the envelope's
//! `special_values` (`"pytype": "special"`), never a made-up date;
//! `zero_dates_keep_the_servers_text_in_json` checks them in JSON lines.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::Value;
use support::calendar::civil_date;
use support::connect::{ConnectReader, connect_libs};
use support::mariadb::{self, MariadbDatabase};
use support::{Wellhead, free_port, read_jsonl, wait_for, wait_for_lines};

/// How a cell's Avro value and the server's text for it compare.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `int` in Python, the server's integer text.
    Integer,
    /// `Decimal`, the server's DECIMAL text (scale kept).
    Decimal,
    /// `float`, equal as single-precision floats (the server's text: CAST AS DOUBLE).
    Float32,
    /// `float`, equal as doubles.
    Float64,
    /// `str`, equal text.
    Text,
    /// `bytes`, the server's HEX().
    Hex,
    /// `list` of `str`, the server's comma-separated SET text.
    Set,
    /// `date`, DATE_FORMAT(%Y-%m-%d).
    Date,
    /// Naive `datetime` (a wall clock reading), DATE_FORMAT(%Y-%m-%d %H:%i:%s.%f).
    DateTime,
    /// Aware `datetime` in UTC, DATE_FORMAT in a +00:00 session.
    Timestamp,
    /// `int` microseconds, the server's TIME_TO_SEC × 10⁶.
    DurationMicros,
    /// `dict` {srid, wkb}, the server's ST_SRID and HEX(ST_AsWKB()).
    Geometry,
}

/// (column, its SQL type, the server's canonical text of a cell `{c}`, how to compare).
const COLUMNS: &[(&str, &str, &str, Kind)] = &[
    ("tiny", "tinyint", "{c}", Kind::Integer),
    ("tiny_u", "tinyint unsigned", "{c}", Kind::Integer),
    ("small", "smallint", "{c}", Kind::Integer),
    ("small_u", "smallint unsigned", "{c}", Kind::Integer),
    ("medium", "mediumint", "{c}", Kind::Integer),
    ("medium_u", "mediumint unsigned", "{c}", Kind::Integer),
    ("normal", "int", "{c}", Kind::Integer),
    ("normal_u", "int unsigned", "{c}", Kind::Integer),
    ("big", "bigint", "{c}", Kind::Integer),
    ("big_u", "bigint unsigned", "{c}", Kind::Decimal),
    ("money", "decimal(12,2)", "{c}", Kind::Decimal),
    ("widest", "decimal(65,30)", "{c}", Kind::Decimal),
    ("whole", "decimal(20,0)", "{c}", Kind::Decimal),
    ("single", "float", "CAST({c} AS DOUBLE)", Kind::Float32),
    ("double_", "double", "{c}", Kind::Float64),
    ("bit1", "bit(1)", "LPAD(BIN({c}), 1, '0')", Kind::Text),
    ("bit64", "bit(64)", "LPAD(BIN({c}), 64, '0')", Kind::Text),
    ("latin", "varchar(40) CHARACTER SET latin1", "{c}", Kind::Text),
    ("utf8mb3", "varchar(40) CHARACTER SET utf8mb3", "{c}", Kind::Text),
    ("utf8mb4", "varchar(40) CHARACTER SET utf8mb4", "{c}", Kind::Text),
    ("fixed", "char(5)", "{c}", Kind::Text),
    ("bin4", "binary(4)", "HEX({c})", Kind::Hex),
    ("varbin", "varbinary(300)", "HEX({c})", Kind::Hex),
    ("body", "text", "{c}", Kind::Text),
    ("longbody", "longtext", "{c}", Kind::Text),
    ("blob_", "blob", "HEX({c})", Kind::Hex),
    ("choice", "enum('red','green','blue')", "{c}", Kind::Text),
    ("flags", "set('a','b','c','d')", "{c}", Kind::Set),
    ("day", "date", "DATE_FORMAT({c}, '%Y-%m-%d')", Kind::Date),
    ("wall", "datetime(6)", "DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s.%f')", Kind::DateTime),
    ("wall0", "datetime", "DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s.%f')", Kind::DateTime),
    ("instant", "timestamp(6) NULL", "DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s.%f')", Kind::Timestamp),
    ("span", "time(6)", "CAST(TIME_TO_SEC({c}) * 1000000 AS SIGNED)", Kind::DurationMicros),
    ("span0", "time", "CAST(TIME_TO_SEC({c}) * 1000000 AS SIGNED)", Kind::DurationMicros),
    ("made", "year", "CAST({c} AS UNSIGNED)", Kind::Integer),
    ("doc", "json", "{c}", Kind::Text),
    ("shape", "geometry", "CONCAT(ST_SRID({c}), ':', HEX(ST_AsWKB({c})))", Kind::Geometry),
    // Generated (computed by the server, never inserted) and invisible columns.
    ("gen_virtual", "int AS (`tiny` + 1) VIRTUAL", "{c}", Kind::Integer),
    ("gen_stored", "bigint AS (`normal` * 2) PERSISTENT", "{c}", Kind::Integer),
    ("hidden", "int INVISIBLE", "{c}", Kind::Integer),
];

/// Rows of edge values (SQL literals by column; a column left out is NULL).
fn rows() -> Vec<Vec<(&'static str, String)>> {
    let long_text = format!("'{}'", "long text ".repeat(20_000));
    vec![
        // Every column NULL.
        vec![],
        // Minima.
        vec![
            ("tiny", "-128".into()),
            ("tiny_u", "0".into()),
            ("small", "-32768".into()),
            ("small_u", "0".into()),
            ("medium", "-8388608".into()),
            ("medium_u", "0".into()),
            ("normal", "-2147483648".into()),
            ("normal_u", "0".into()),
            ("big", "-9223372036854775808".into()),
            ("big_u", "0".into()),
            ("money", "-9999999999.99".into()),
            ("widest", "-99999999999999999999999999999999999.999999999999999999999999999999".into()),
            ("whole", "-99999999999999999999".into()),
            ("single", "-3.40282e38".into()),
            ("double_", "-1.7976931348623157e308".into()),
            ("bit1", "b'0'".into()),
            ("bit64", "b'0'".into()),
            ("latin", "''".into()),
            ("utf8mb3", "''".into()),
            ("utf8mb4", "''".into()),
            ("fixed", "''".into()),
            ("bin4", "x''".into()),
            ("varbin", "x''".into()),
            ("body", "''".into()),
            ("longbody", "''".into()),
            ("blob_", "x''".into()),
            ("choice", "'red'".into()),
            ("flags", "''".into()),
            ("day", "'1000-01-01'".into()),
            ("wall", "'1000-01-01 00:00:00.000000'".into()),
            ("wall0", "'1000-01-01 00:00:00'".into()),
            ("instant", "'1970-01-01 00:00:01.000000'".into()),
            ("span", "'-838:59:59.000000'".into()),
            ("span0", "'-838:59:59'".into()),
            ("made", "1901".into()),
            ("doc", "'{}'".into()),
            ("shape", "ST_GeomFromText('POINT(0 0)')".into()),
            ("hidden", "-1".into()),
        ],
        // Maxima.
        vec![
            ("tiny", "127".into()),
            ("tiny_u", "255".into()),
            ("small", "32767".into()),
            ("small_u", "65535".into()),
            ("medium", "8388607".into()),
            ("medium_u", "16777215".into()),
            ("normal", "2147483647".into()),
            ("normal_u", "4294967295".into()),
            ("big", "9223372036854775807".into()),
            ("big_u", "18446744073709551615".into()),
            ("money", "9999999999.99".into()),
            ("widest", "99999999999999999999999999999999999.999999999999999999999999999999".into()),
            ("whole", "99999999999999999999".into()),
            ("single", "3.40282e38".into()),
            ("double_", "1.7976931348623157e308".into()),
            ("bit1", "b'1'".into()),
            ("bit64", "b'1111111111111111111111111111111111111111111111111111111111111111'".into()),
            ("latin", "'caf\u{e9} \u{20ac}5 \u{2018}quoted\u{2019}'".into()),
            ("utf8mb3", "'na\u{ef}ve \u{4e2d}\u{6587}'".into()),
            ("utf8mb4", "'emoji \u{1f600} \u{1d11e} mix'".into()),
            ("fixed", "'abcde'".into()),
            ("bin4", "x'ff00ff00'".into()),
            ("varbin", format!("x'{}'", "ab".repeat(300))),
            ("body", "'line\\nbreak\\ttab \"quote\" \\\\ backslash'".into()),
            ("longbody", long_text),
            ("blob_", "x'00ff7f80'".into()),
            ("choice", "'blue'".into()),
            ("flags", "'a,b,c,d'".into()),
            ("day", "'9999-12-31'".into()),
            ("wall", "'9999-12-31 23:59:59.999999'".into()),
            ("wall0", "'9999-12-31 23:59:59'".into()),
            ("instant", "'2038-01-19 03:14:07.999999'".into()),
            ("span", "'838:59:59.000000'".into()),
            ("span0", "'838:59:59'".into()),
            ("made", "2155".into()),
            ("doc", "'{\"a\": [1, 2.5, \"x\"], \"b\": {\"c\": null}}'".into()),
            ("shape", "ST_GeomFromText('POLYGON((0 0, 4 0, 4 4, 0 4, 0 0))', 4326)".into()),
            ("hidden", "2147483647".into()),
        ],
        // In between: zero, fractions, binary padding, a partial set.
        vec![
            ("tiny", "0".into()),
            ("big_u", "9223372036854775808".into()),
            ("money", "0.00".into()),
            ("widest", "0.000000000000000000000000000001".into()),
            ("whole", "0".into()),
            ("single", "0.1".into()),
            ("double_", "-0.000001".into()),
            ("bit64", "b'1000000000000000000000000000000000000000000000000000000000000001'".into()),
            ("fixed", "'ab'".into()),
            ("bin4", "x'01'".into()),
            ("choice", "'green'".into()),
            ("flags", "'b,d'".into()),
            ("day", "'2024-02-29'".into()),
            ("wall", "'2024-02-29 12:34:56.000001'".into()),
            ("instant", "'2024-02-29 12:34:56.5'".into()),
            ("span", "'-00:00:00.000001'".into()),
            ("span0", "'00:00:00'".into()),
            ("made", "0".into()),
            ("doc", "'[]'".into()),
            ("shape", "ST_GeomFromText('LINESTRING(1 2, 3 4.5)')".into()),
        ],
        // Zero and partly zero dates (inserted with an empty sql_mode, see `insert_rows`).
        vec![
            ("day", "'0000-00-00'".into()),
            ("wall", "'2024-02-00 10:11:12.5'".into()),
            ("wall0", "'0000-00-00 00:00:00'".into()),
            ("instant", "'0000-00-00 00:00:00'".into()),
        ],
    ]
}

async fn create_matrix(db: &mut MariadbDatabase) {
    let columns: Vec<String> = COLUMNS.iter().map(|(name, sql, ..)| format!("`{name}` {sql}")).collect();
    db.execute(&format!("CREATE TABLE matrix (id int PRIMARY KEY, {})", columns.join(", "))).await;
}

async fn insert_rows(db: &mut MariadbDatabase) -> usize {
    let rows = rows();
    for (index, row) in rows.iter().enumerate() {
        let names: Vec<String> = row.iter().map(|(name, _)| format!("`{name}`")).collect();
        let values: Vec<&str> = row.iter().map(|(_, value)| value.as_str()).collect();
        let (names, values) = if row.is_empty() {
            (String::new(), String::new())
        } else {
            (format!(", {}", names.join(", ")), format!(", {}", values.join(", ")))
        };
        // Only a row of zero dates needs the permissive mode, which would hide a mistyped literal.
        let mode = if values.contains("0000-00-00") || values.contains("-00 ") { "SET sql_mode = '';" } else { "" };
        db.execute(&format!(
            "{mode} SET time_zone = '+00:00'; INSERT INTO matrix (id{names}) VALUES ({}{values})",
            index + 1
        ))
        .await;
    }
    rows.len()
}

/// The reader's lines as cells: (row id, column) → described value.
fn cells(output: &[u8]) -> BTreeMap<(i64, String), Value> {
    let mut cells = BTreeMap::new();
    for line in String::from_utf8_lossy(output).lines() {
        let line: Value = serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"));
        if line.get("column").is_none() {
            continue;
        }
        let key = (line["row"].as_i64().expect("row"), line["column"].as_str().expect("column").to_owned());
        cells.insert(key, line["value"].clone());
    }
    cells
}

/// Compares every cell with the server's text for it; returns the mismatches.
async fn mismatches(
    db: &mut MariadbDatabase,
    cells: &BTreeMap<(i64, String), Value>,
    rows: usize,
    reader: &str,
) -> Vec<String> {
    let expressions: Vec<String> =
        COLUMNS.iter().map(|(name, _, oracle, _)| oracle.replace("{c}", &format!("`{name}`"))).collect();
    db.execute("SET time_zone = '+00:00'").await;
    let statement = format!("SELECT id, {} FROM matrix ORDER BY id", expressions.join(", "));
    let results: Vec<mysql_async::Row> = db.conn.query(statement).await.expect("oracle query");
    assert_eq!(results.len(), rows);
    let mut mismatches = Vec::new();
    for result in results {
        let id: i64 = result.get(0).expect("id");
        for (index, (name, sql, _, kind)) in COLUMNS.iter().enumerate() {
            let expected: Option<String> = match result.as_ref(index + 1) {
                Some(mysql_async::Value::NULL) | None => None,
                Some(mysql_async::Value::Bytes(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
                Some(other) => Some(other.as_sql(true).trim_matches('\'').to_owned()),
            };
            let Some(value) = cells.get(&(id, (*name).to_owned())) else {
                mismatches.push(format!("{reader}: row {id} {name}: no value read"));
                continue;
            };
            if let Some(problem) = compare(*kind, value, expected.as_deref()) {
                mismatches
                    .push(format!("{reader}: row {id} {name} ({sql}): {problem}; read {value}, server {expected:?}"));
            }
        }
    }
    mismatches
}

/// Why a described value does not stand for the server's text, if it does not.
fn compare(kind: Kind, value: &Value, expected: Option<&str>) -> Option<String> {
    let pytype = value["pytype"].as_str().unwrap_or_default();
    let text = value["value"].as_str();
    let Some(expected) = expected else {
        return (pytype != "NoneType").then(|| "expected NULL".to_owned());
    };
    let want = |python: &str| (pytype != python).then(|| format!("expected a Python {python}"));
    if pytype == "special" {
        return match kind {
            // The server's text; DATE_FORMAT's %f always has six digits.
            Kind::Date | Kind::DateTime | Kind::Timestamp => {
                let read = text.unwrap_or_default();
                let read = match read.split_once('.') {
                    Some((whole, fraction)) => format!("{whole}.{fraction:0<6}"),
                    None if read.contains(' ') => format!("{read}.000000"),
                    None => read.to_owned(),
                };
                (read != expected).then(|| "differs".into())
            }
            _ => Some("a special value of a type that carries every value".into()),
        };
    }
    match kind {
        Kind::Integer | Kind::DurationMicros => {
            want("int").or_else(|| (text != Some(expected)).then(|| "differs".into()))
        }
        Kind::Decimal => want("Decimal").or_else(|| {
            let read = text.and_then(decimal_parts);
            (read.is_none() || read != decimal_parts(expected)).then(|| "differs as a decimal (value or scale)".into())
        }),
        Kind::Float32 => want("float").or_else(|| {
            let read = text.and_then(|text| text.parse::<f64>().ok()).map(|f| f as f32);
            let server = expected.parse::<f64>().ok().map(|f| f as f32);
            (read.is_none() || read != server).then(|| "differs as a float".into())
        }),
        Kind::Float64 => want("float").or_else(|| {
            let read = text.and_then(|text| text.parse::<f64>().ok());
            (read.is_none() || read != expected.parse::<f64>().ok()).then(|| "differs as a double".into())
        }),
        Kind::Text => want("str").or_else(|| (text != Some(expected)).then(|| "differs".into())),
        Kind::Hex => want("bytes")
            .or_else(|| (text.map(str::to_ascii_uppercase).as_deref() != Some(expected)).then(|| "differs".into())),
        Kind::Set => want("list").or_else(|| {
            let items: Vec<&str> =
                value["items"].as_array().into_iter().flatten().filter_map(|item| item["value"].as_str()).collect();
            (items.join(",") != expected).then(|| "differs".into())
        }),
        Kind::Date => want("date").or_else(|| (text != Some(expected)).then(|| "differs".into())),
        Kind::DateTime | Kind::Timestamp => {
            let aware = matches!(kind, Kind::Timestamp);
            want("datetime")
                .or_else(|| (value["aware"].as_bool() != Some(aware)).then(|| format!("expected aware = {aware}")))
                .or_else(|| {
                    // Python's isoformat leaves out a zero fraction and writes T and the offset.
                    let read = text.unwrap_or_default().replace('T', " ").replace("+00:00", "");
                    let read = if read.contains('.') { read } else { format!("{read}.000000") };
                    (read != expected).then(|| "differs".into())
                })
        }
        Kind::Geometry => want("dict").or_else(|| {
            let field = |name: &str| {
                value["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|field| field[0] == name)
                    .map(|field| field[1]["value"].clone())
            };
            let read = format!(
                "{}:{}",
                field("srid").and_then(|srid| srid.as_str().map(str::to_owned)).unwrap_or_default(),
                field("wkb").and_then(|wkb| wkb.as_str().map(str::to_ascii_uppercase)).unwrap_or_default()
            );
            (read != expected).then(|| "differs".into())
        }),
    }
}

/// A decimal's sign, unscaled digits (no leading zeros) and scale, from plain (`-0.50`) or
/// exponent (`1E-30`, Python's str of a small Decimal) notation.
fn decimal_parts(text: &str) -> Option<(bool, String, i64)> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['E', 'e']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    let significant = if significant.is_empty() { "0" } else { significant };
    Some((negative && significant != "0", significant.to_owned(), fraction.len() as i64 - exponent))
}

fn pipeline_toml(db: &MariadbDatabase, sink: &str, control: &str) -> String {
    format!(
        "{control}\n[[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"mysql\"\nurl = \"{url}\"\n\
         tables = [\"{name}.matrix\"]\nserver_id = {server_id}\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
         [pipelines.sink]\n{sink}\n\n[pipelines.checkpoint]\ndir = \"{state}\"\n",
        name = db.name,
        url = mariadb::url(),
        server_id = mariadb::server_id(),
        state = db.dir.join("state").display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastavro_reads_every_mariadb_value_typed_from_the_files_sink() {
    let mut db = MariadbDatabase::create("values_files").await;
    create_matrix(&mut db).await;
    let lake = db.dir.join("lake");
    let sink = format!("type = \"files\"\ndir = \"{}\"\nroll_seconds = 1", lake.display());
    let control = format!("[control]\nregistry_dir = \"{}\"\n", db.dir.join("registry").display());
    let config = db.write_config(&pipeline_toml(&db, &sink, &control));
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let rows = insert_rows(&mut db).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_avro.py");
    let read = || Command::new("python3").arg(&script).arg(&lake).output().expect("run read_avro.py");
    wait_for(Duration::from_secs(60), "every row in a final .avro file", || {
        let output = read();
        output.status.success()
            && cells(&output.stdout).keys().map(|(row, _)| *row).collect::<std::collections::BTreeSet<_>>().len()
                == rows
    })
    .await;
    wellhead.stop_cleanly("files value matrix");
    let output = read();
    assert!(output.status.success(), "read_avro.py: {}", String::from_utf8_lossy(&output.stderr));
    let cells = cells(&output.stdout);
    let mismatches = mismatches(&mut db, &cells, rows, "fastavro").await;
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    eprintln!("fastavro: {rows} rows, {} cells checked", cells.len());
    db.drop().await;
}

/// Creates the matrix, starts a pipeline of it into Kafka (registry API on a free port) and
/// inserts the rows; returns wellhead, the brokers, the registry's address and the row count.
async fn stream_matrix_to_kafka(db: &mut MariadbDatabase) -> (Wellhead, String, String, usize) {
    create_matrix(db).await;
    let brokers = support::kafka::brokers();
    let (checkpoints, schemas) =
        (format!("_wellhead_checkpoints_{}", db.name), format!("_wellhead_schemas_{}", db.name));
    support::kafka::create_kept_topics(&brokers, &[checkpoints.clone(), schemas.clone()]).await;
    let http = format!("127.0.0.1:{}", free_port());
    let sink = format!(
        "type = \"kafka\"\nbrokers = \"{brokers}\"\ntopic_prefix = \"{}\"\ncheckpoint_topic = \"{checkpoints}\"\n{}\n\
         properties = {{ \"message.max.bytes\" = \"8388608\" }}",
        db.name,
        support::kafka::KEEP_HISTORY
    );
    let control = format!(
        "[control]\nhttp = \"{http}\"\nregistry_dir = \"{}\"\nregistry_topic = \"{schemas}\"\n",
        db.dir.join("registry").display()
    );
    let config = db.write_config(&pipeline_toml(db, &sink, &control));
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    let rows = insert_rows(db).await;
    (wellhead, brokers, http, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_consumer_reads_every_mariadb_value_typed_from_kafka() {
    let mut db = MariadbDatabase::create("values_kafka").await;
    let (wellhead, brokers, http, rows) = stream_matrix_to_kafka(&mut db).await;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/consume_kafka_avro.py");
    let topic = format!("{0}.{0}.matrix", db.name);
    let output = Command::new("python3")
        .arg(&script)
        .args([&brokers, &format!("http://{http}"), &topic, &rows.to_string(), "90"])
        .output()
        .expect("run consume_kafka_avro.py");
    let log = wellhead.log_text();
    wellhead.stop_cleanly("kafka value matrix");
    assert!(
        output.status.success(),
        "consume_kafka_avro.py: {}\nwellhead's log:\n{log}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cells = cells(&output.stdout);
    let mismatches = mismatches(&mut db, &cells, rows, "DeserializingConsumer").await;
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    eprintln!("DeserializingConsumer: {rows} rows, {} cells checked", cells.len());
    db.drop().await;
}

/// Why the Connect schema of a column of `kind` is not the plain, documented one.
fn connect_type(kind: Kind, schema: &Value) -> Option<String> {
    let (connect, name) = (schema["type"].as_str().unwrap_or_default(), schema["name"].as_str());
    let fits = match kind {
        Kind::Integer => ["INT32", "INT64"].contains(&connect) && [None, Some("io.debezium.time.Year")].contains(&name),
        Kind::Decimal => connect == "BYTES" && name == Some("org.apache.kafka.connect.data.Decimal"),
        Kind::Float32 => connect == "FLOAT32" && name.is_none(),
        Kind::Float64 => connect == "FLOAT64" && name.is_none(),
        Kind::Text => {
            connect == "STRING" && [None, Some("io.debezium.data.Enum"), Some("io.debezium.data.Json")].contains(&name)
        }
        Kind::Hex => connect == "BYTES" && name.is_none(),
        Kind::Set => connect == "ARRAY" && schema["items"]["type"] == "STRING",
        Kind::Date => connect == "INT32" && name == Some("org.apache.kafka.connect.data.Date"),
        Kind::DateTime => connect == "INT64" && name == Some("io.debezium.time.MicroTimestamp"),
        Kind::Timestamp => connect == "INT64" && name.is_none(),
        Kind::DurationMicros => connect == "INT64" && name == Some("io.debezium.time.MicroTime"),
        Kind::Geometry => connect == "STRUCT" && name == Some("wellhead.Geometry"),
    };
    (!fits).then(|| format!("{kind:?} as {schema}"))
}

/// A Connect value in the form `compare` reads (the one `tests/python/read_avro.py` gives).
fn described(kind: Kind, value: &Value) -> Value {
    let text = |key: &str| value[key].as_str().map(str::to_owned).unwrap_or_else(|| format!("no {key} in {value}"));
    let wall_clock = |aware: bool| {
        let micros = value.as_i64().unwrap_or_default();
        let (days, of_day) = (micros.div_euclid(86_400_000_000), micros.rem_euclid(86_400_000_000));
        let seconds = of_day / 1_000_000;
        let time =
            format!("{:02}:{:02}:{:02}.{:06}", seconds / 3600, seconds / 60 % 60, seconds % 60, of_day % 1_000_000);
        serde_json::json!({"pytype": "datetime", "value": format!("{} {time}", civil_date(days)), "aware": aware})
    };
    if value.is_null() {
        return serde_json::json!({"pytype": "NoneType"});
    }
    match kind {
        Kind::Integer | Kind::DurationMicros => serde_json::json!({"pytype": "int", "value": value.to_string()}),
        Kind::Decimal => serde_json::json!({"pytype": "Decimal", "value": text("decimal")}),
        Kind::Float32 | Kind::Float64 => serde_json::json!({"pytype": "float", "value": text("float")}),
        Kind::Text => serde_json::json!({"pytype": "str", "value": value}),
        Kind::Hex => serde_json::json!({"pytype": "bytes", "value": text("hex")}),
        Kind::Set => serde_json::json!({"pytype": "list", "items": value.as_array().into_iter().flatten()
            .map(|item| serde_json::json!({"pytype": "str", "value": item})).collect::<Vec<_>>()}),
        Kind::Date => {
            serde_json::json!({"pytype": "date", "value": civil_date(value["days"].as_i64().unwrap_or_default())})
        }
        Kind::DateTime => wall_clock(false),
        Kind::Timestamp => wall_clock(true),
        Kind::Geometry => {
            let fields: Vec<Value> = value["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|field| {
                    let inner = match &field[1] {
                        Value::Number(number) => number.to_string(),
                        other => other["hex"].as_str().unwrap_or_default().to_owned(),
                    };
                    serde_json::json!([field[0], {"value": inner}])
                })
                .collect();
            serde_json::json!({"pytype": "dict", "fields": fields})
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_connect_reads_every_mariadb_value_plain() {
    let libs = connect_libs();
    let mut db = MariadbDatabase::create("values_connect").await;
    let reader = ConnectReader::compile(&libs, &db.dir);
    let (wellhead, brokers, http, rows) = stream_matrix_to_kafka(&mut db).await;

    let topic = format!("{0}.{0}.matrix", db.name);
    let records = reader.read(&brokers, &format!("http://{http}"), &topic, rows);
    let log = wellhead.log_text();
    wellhead.stop_cleanly("connect value matrix");
    let records = records.unwrap_or_else(|why| panic!("{why}\nwellhead's log:\n{log}"));
    let mut cells = BTreeMap::new();
    let mut problems = Vec::new();
    for record in &records {
        let columns = record["columns"].as_array().expect("columns");
        let id = columns[0]["value"].as_i64().expect("an integer id");
        for (name, _, _, kind) in COLUMNS {
            let Some(column) = columns.iter().find(|column| column["name"] == *name) else {
                problems.push(format!("row {id}: no column {name} in the unwrapped row"));
                continue;
            };
            if let Some(why) = connect_type(*kind, &column["schema"]) {
                problems.push(format!("row {id} {name}: Connect sees {why}"));
            }
            let value = match record["special"].get(*name) {
                Some(text) if column["value"].is_null() => serde_json::json!({"pytype": "special", "value": text}),
                Some(text) => {
                    problems.push(format!("row {id} {name}: both {} and the special value {text}", column["value"]));
                    continue;
                }
                None => described(*kind, &column["value"]),
            };
            cells.insert((id, (*name).to_owned()), value);
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    let mismatches = mismatches(&mut db, &cells, rows, "Kafka Connect").await;
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    let special = cells.values().filter(|value| value["pytype"] == "special").count();
    assert!(special > 0, "the zero dates reach Connect as special values");
    eprintln!("Kafka Connect: {rows} rows, {} cells ({special} special) checked", cells.len());
    db.drop().await;
}

/// MariaDB's zero and partly zero dates (sql_mode without NO_ZERO_DATE/NO_ZERO_IN_DATE)
/// name no day: the JSON output shows the server's own text, never a made-up date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_dates_keep_the_servers_text_in_json() {
    let mut db = MariadbDatabase::create("zero_dates").await;
    db.execute("CREATE TABLE z (id int PRIMARY KEY, d date, dt datetime(3), ts timestamp NULL)").await;
    let config = db.write_config(&db.pipeline_toml(&db.patterns(&["z"]), mariadb::server_id()));
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;
    db.execute(
        "SET sql_mode = ''; INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00.000', '0000-00-00 00:00:00'),
         (2, '2024-00-10', '2024-02-00 10:11:12.500', '2024-01-02 03:04:05');",
    )
    .await;
    let output = db.output_path();
    assert!(wait_for_lines(&output, 2, Duration::from_secs(30), Duration::from_secs(30)).await, "both rows arrive");
    wellhead.stop_cleanly("zero dates");
    let events = read_jsonl(&output);
    assert_eq!(events[0]["after"]["d"], "0000-00-00");
    assert_eq!(events[0]["after"]["dt"], "0000-00-00 00:00:00");
    assert_eq!(events[0]["after"]["ts"], "0000-00-00 00:00:00");
    assert_eq!(events[1]["after"]["d"], "2024-00-10");
    assert_eq!(events[1]["after"]["dt"], "2024-02-00 10:11:12.5");
    db.drop().await;
}
