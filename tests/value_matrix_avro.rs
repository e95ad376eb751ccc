//! The value matrix (`value_matrix/rows.rs`) through the Avro files sink on
//! PostgreSQL 15 and 18, read by an independent reader: `fastavro` reads every
//! `.avro` file with the writer schema the file carries, and each value must
//! come back as the Python type the documented representation promises
//! (`Decimal`, timezone-aware `datetime` for timestamptz, naive for timestamp,
//! `date`, `UUID`, `bytes`, `dict` records…), not as strings, and equal the
//! source value: the typed value is turned back into PostgreSQL input text and
//! PostgreSQL compares its rendering with the stored value's.
//!
//! ```text
//!  INSERT edge rows ──► wellhead (files sink) ──► <dir>/<topic>/*.avro
//!      ──read_avro.py (fastavro)──► {row, column, pytype, value}
//!      ──typed::literal (type asserted)──► SELECT format('%s', ($1::text)::<type>) = format('%s', <col>)
//! ```
//!
//! Values beyond Python: a `datetime`/`date` holds years 1..9999 and a `time`
//! stops at 23:59:59.999999, while PostgreSQL (and Avro's int/long) reach
//! 4714 BC, 294276 AD and 24:00:00. fastavro raises on such a value, and then
//! cannot read the rest of its file. Those cells ([`BEYOND_PYTHON`]) are
//! inserted into a second table with the same columns, `matrix_beyond` (own
//! topic, own files), and left NULL in `matrix`; the script reads that topic
//! with the temporal logical types removed from the file's schema, so the
//! values arrive as raw days/microseconds, which are checked against
//! PostgreSQL the same way. For each such value the test asserts the exact
//! exception fastavro raises when it reads it with its logical type, and that
//! a plain read of each `matrix_beyond` file fails.

mod support;

#[path = "value_matrix/literal.rs"]
mod literal;
#[path = "value_matrix/rows.rs"]
mod rows;
#[path = "value_matrix/typed.rs"]
mod typed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rows::{COLUMNS, ORACLE_SETTINGS, truncated};
use serde_json::Value;
use support::{Server, TestDatabase, Wellhead, wait_for};
use typed::{BEYOND_PYTHON, beyond_python, cell_mismatch, fastavro_errors};

/// The table of cells fastavro can read, and the table of those it cannot.
const TABLES: [&str; 2] = ["matrix", "matrix_beyond"];

/// How long the rows may take to reach final files.
const OUTPUT_TIMEOUT: Duration = Duration::from_secs(90);

async fn fastavro_reads_every_value_typed(server: Server) {
    let started = Instant::now();
    let db = TestDatabase::create(server, "avro_values").await;
    let rows = rows::create(&db.client, &TABLES).await;
    for (id, column, _) in BEYOND_PYTHON {
        assert!(rows[id - 1].iter().any(|(name, _)| name == column), "row {id} sets no {column}");
    }

    let out = db.dir.join("out");
    let config = write_files_config(&db, &out);
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    let mut expected_rows: BTreeSet<(String, i64)> = BTreeSet::new();
    for (index, row) in rows.iter().enumerate() {
        let id = index + 1;
        let (beyond, within): (Vec<_>, Vec<_>) =
            row.iter().copied().partition(|(column, _)| beyond_python(id, column).is_some());
        rows::insert(&db.client, "matrix", id, &within).await;
        expected_rows.insert((topic(&db, "matrix"), id as i64));
        if !beyond.is_empty() {
            rows::insert(&db.client, "matrix_beyond", id, &beyond).await;
            expected_rows.insert((topic(&db, "matrix_beyond"), id as i64));
        }
    }

    let raw_topic = topic(&db, "matrix_beyond");
    wait_for(OUTPUT_TIMEOUT, "every row in a final .avro file", || {
        if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
            panic!("wellhead exited early ({status}); log:\n{}", wellhead.log_text());
        }
        let read: BTreeSet<(String, i64)> = read_avro(&out, &raw_topic)
            .iter()
            .filter_map(|line| Some((line["topic"].as_str()?.to_owned(), line["row"].as_i64()?)))
            .collect();
        read.is_superset(&expected_rows)
    })
    .await;
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "clean exit");
    let unfinished = files_under(&out, ".tmp");
    assert!(unfinished.is_empty(), "a clean stop leaves no unfinished file: {unfinished:?}");

    let lines = read_avro(&out, &raw_topic);
    let mut cells: BTreeMap<(String, i64, String), Value> = BTreeMap::new();
    for line in &lines {
        if let Some(plain) = line.get("plain_read") {
            // The reason for matrix_beyond: a plain read of its files raises on the first such value.
            let error = plain.as_str().expect("plain_read text");
            assert!(
                BEYOND_PYTHON.iter().any(|(_, _, errors)| errors.contains(&error)),
                "a plain fastavro read of {line} must fail on a value beyond Python"
            );
            continue;
        }
        assert_eq!(line["op"], "c", "only inserts: {}", truncated(&line.to_string()));
        let key = (
            line["topic"].as_str().expect("topic").to_owned(),
            line["row"].as_i64().expect("row"),
            line["column"].as_str().expect("column").to_owned(),
        );
        let previous = cells.insert(key.clone(), line["value"].clone());
        assert!(previous.is_none(), "{key:?} read twice: no row is in two files");
    }
    let read_rows: BTreeSet<(String, i64)> = cells.keys().map(|(topic, row, _)| (topic.clone(), *row)).collect();
    assert_eq!(read_rows, expected_rows, "every inserted row, and nothing else");

    let oracle = support::connect(&db.url()).await;
    oracle.batch_execute(ORACLE_SETTINGS).await.expect("oracle settings");
    let mut mismatches = Vec::new();
    for (topic, id) in &expected_rows {
        let table = if *topic == raw_topic { "matrix_beyond" } else { "matrix" };
        let cell = |column: &str| {
            cells
                .get(&(topic.clone(), *id, column.to_owned()))
                .unwrap_or_else(|| panic!("{table} row {id}: no {column}"))
        };
        assert_eq!(cell("id"), &serde_json::json!({"pytype": "int", "value": id.to_string()}), "{table} row {id}");
        let id = i32::try_from(*id).expect("small id");
        for (column, sql_type) in COLUMNS {
            let value = cell(column);
            let errors = fastavro_errors(value);
            let expected_errors: &[&str] =
                if table == "matrix_beyond" { beyond_python(id as usize, column).unwrap_or(&[]) } else { &[] };
            if errors != expected_errors {
                mismatches.push(format!(
                    "{table}.{column} row {id}: fastavro raises {errors:?} on its values, expected {expected_errors:?}"
                ));
            }
            mismatches.extend(cell_mismatch(&oracle, table, id, (column, sql_type), value, "fastavro").await);
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches on {server:?}:\n{}", mismatches.len(), mismatches.join("\n"));
    eprintln!("{server:?}: {} rows, {} cells checked in {:?}", expected_rows.len(), cells.len(), started.elapsed());
    db.drop().await;
}

/// The topic (and directory) of `table`: `<pipeline>.public.<table>`.
fn topic(db: &TestDatabase, table: &str) -> String {
    format!("{}.public.{table}", db.name)
}

/// A pipeline of both tables into Avro files under `out`, rolled every second,
/// with the embedded registry's log inside the test directory.
fn write_files_config(db: &TestDatabase, out: &Path) -> PathBuf {
    let tables = TABLES.iter().map(|table| format!("\"public.{table}\"")).collect::<Vec<_>>().join(", ");
    let config = format!(
        "[control]\nregistry_dir = \"{registry}\"\n\n[[pipelines]]\nname = \"{name}\"\n\n\
         [pipelines.source]\ntype = \"postgres\"\nurl = \"{url}\"\ntables = [{tables}]\nslot = \"{name}\"\n\
         publication = \"{name}\"\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
         [pipelines.sink]\ntype = \"files\"\ndir = \"{out}\"\nroll_seconds = 1\n\n\
         [pipelines.checkpoint]\ndir = \"{state}\"\n",
        registry = db.dir.join("registry").display(),
        name = db.name,
        url = db.url(),
        out = out.display(),
        state = db.dir.join("state").display(),
    );
    let path = db.dir.join("wellhead.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

/// Every line `tests/python/read_avro.py` prints for the final files under `out`.
fn read_avro(out: &Path, raw_topic: &str) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_avro.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(out)
        .args(["--raw-topic", raw_topic])
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(output.status.success(), "read_avro.py failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {}", truncated(line))))
        .collect()
}

/// Files anywhere under `dir` whose name ends with `suffix`.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_under(&path, suffix)
            } else if path.to_string_lossy().ends_with(suffix) {
                vec![path]
            } else {
                Vec::new()
            }
        })
        .collect()
}

#[tokio::test]
async fn postgres_15_fastavro_reads_every_value_typed() {
    fastavro_reads_every_value_typed(Server::Pg15).await;
}

#[tokio::test]
async fn postgres_18_fastavro_reads_every_value_typed() {
    fastavro_reads_every_value_typed(Server::Pg18).await;
}
