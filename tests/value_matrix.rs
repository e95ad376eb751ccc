//! Every column type Wellhead decodes, with its edge values (the matrix of
//! `value_matrix/rows.rs`), streamed through the
//! real binary on PostgreSQL 15 and 18, with the database as the oracle: each
//! value Wellhead wrote is fed back to PostgreSQL's input function for the
//! column's type and must render exactly as the stored value does
//! (as the type's output function prints it, so `1.50` ≠ `1.5` and `-0` ≠ `0`;
//! not `::text`, which for xml, char(n), inet and bool is a cast that rewrites
//! the value). JSON null must be SQL NULL;
//! an unchanged TOASTed column must be left out and named, never invented.
//!
//! ```text
//!   INSERT edge rows ──► wellhead ──► out.jsonl ──literal()──► SELECT format('%s', ($1::text)::<type>)
//!                                                              = format('%s', <col>)
//! ```

mod support;

#[path = "value_matrix/literal.rs"]
mod literal;
#[path = "value_matrix/rows.rs"]
mod rows;

use std::time::Duration;

use literal::{Json, literal};
use rows::{COLUMNS, ORACLE_SETTINGS, db_message, matches_stored, truncated};
use support::{Server, TestDatabase, Wellhead, wait_for};
use tokio_postgres::Client;

async fn every_value_round_trips_through_postgres(server: Server) {
    let db = TestDatabase::create(server, "values").await;
    let rows = rows::create(&db.client, &["matrix"]).await;

    let config = db.write_config(&["public.matrix", "public.toasted"], "");
    let mut wellhead = Wellhead::start(&config);
    wellhead.wait_streaming().await;

    for (index, row) in rows.iter().enumerate() {
        rows::insert(&db.client, "matrix", index + 1, row).await;
    }
    // Incompressible and stored out of line; then only `counter` changes.
    db.client
        .batch_execute(
            "INSERT INTO toasted SELECT 1, string_agg(md5(i::text || random()::text), ''), 0 FROM generate_series(1, 400) i;
             UPDATE toasted SET counter = counter + 1 WHERE id = 1;",
        )
        .await
        .expect("toasted");

    let expected_events = rows.len() + 2;
    wait_for(Duration::from_secs(60), "every row's event", || {
        if let Some(status) = wellhead.child.try_wait().expect("try_wait") {
            panic!("wellhead exited early ({status}); log:\n{}", wellhead.log_text());
        }
        db.read_output().len() >= expected_events
    })
    .await;
    wellhead.signal("INT");
    assert_eq!(wellhead.wait(Duration::from_secs(30)), Some(0), "clean exit");

    assert_eq!(db.read_output().len(), expected_events, "one event per inserted row, the toasted insert and update");
    let text = std::fs::read_to_string(db.output_path()).expect("output");
    let events: Vec<Json> =
        text.lines().map(|line| Json::parse(line).unwrap_or_else(|e| panic!("{e}: {}", truncated(line)))).collect();

    let oracle = support::connect(&db.url()).await;
    oracle.batch_execute(ORACLE_SETTINGS).await.expect("oracle settings");
    let mut mismatches = Vec::new();
    let (matrix_events, toast_events) = events.split_at(rows.len());
    for (index, event) in matrix_events.iter().enumerate() {
        let id = i32::try_from(index + 1).expect("small id");
        let after = inserted_row(event, "matrix", id);
        for (column, sql_type) in COLUMNS {
            let value = after.get(column).unwrap_or_else(|| panic!("row {id}: no {column} in {}", after.render()));
            mismatches.extend(compare(&oracle, "matrix", id, column, sql_type, value).await);
        }
        // Composite fields are named as in the type, in its order (the literal only needs the order).
        if let Some(Json::Object(fields)) = after.get("c_pair") {
            let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(names, ["x", "label"], "row {id}: {}", after.render());
        }
    }

    // The insert carries the TOASTed text in full; the update leaves it out and names it.
    let after = inserted_row(&toast_events[0], "toasted", 1);
    mismatches.extend(compare(&oracle, "toasted", 1, "big", "text", after.get("big").expect("big")).await);
    let update = &toast_events[1];
    assert_eq!(update.get("op"), Some(&Json::String("u".to_owned())), "{}", truncated(&update.render()));
    let after = update.get("after").expect("after");
    assert_eq!(
        after.get("big"),
        None,
        "an unchanged TOASTed column is not given a value: {}",
        truncated(&after.render())
    );
    assert_eq!(after.get("counter"), Some(&Json::Number("1".to_owned())));
    assert_eq!(update.get("unchanged_columns"), Some(&Json::Array(vec![Json::String("big".to_owned())])));

    assert!(mismatches.is_empty(), "{} mismatches on {server:?}:\n{}", mismatches.len(), mismatches.join("\n"));
    db.drop().await;
}

/// The `after` object of the insert event of `table` row `id`.
fn inserted_row<'a>(event: &'a Json, table: &str, id: i32) -> &'a Json {
    let context = || truncated(&event.render());
    assert_eq!(event.get("op"), Some(&Json::String("c".to_owned())), "{}", context());
    assert_eq!(
        event.get("source").and_then(|s| s.get("table")),
        Some(&Json::String(table.to_owned())),
        "{}",
        context()
    );
    let after = event.get("after").unwrap_or_else(|| panic!("no after: {}", context()));
    assert_eq!(after.get("id"), Some(&Json::Number(id.to_string())), "events in insert order: {}", context());
    after
}

/// `None` when PostgreSQL renders Wellhead's `value` of `table.column` exactly as the stored value.
async fn compare(oracle: &Client, table: &str, id: i32, column: &str, sql_type: &str, value: &Json) -> Option<String> {
    let parameter = match (value, sql_type) {
        (Json::Null, _) => None,
        // A document is embedded as JSON: compare meaning (numbers as numeric, so exactly).
        (_, "json" | "jsonb") => Some(value.render()),
        _ => literal(value),
    };
    let (equal, stored) = match (&parameter, sql_type) {
        (Some(document), "json" | "jsonb") => {
            let query = format!(
                "SELECT coalesce($1::text::jsonb = {column}::jsonb, false), format('%s', {column}) FROM {table} WHERE id = $2"
            );
            match oracle.query_one(&query, &[document, &id]).await {
                Ok(row) => (row.get::<_, bool>(0), row.get::<_, Option<String>>(1)),
                Err(error) => (false, Some(format!("(input rejected: {})", db_message(&error)))),
            }
        }
        (literal, _) => matches_stored(oracle, table, id, column, sql_type, literal.as_deref()).await,
    };
    (!equal).then(|| {
        format!(
            "{table}.{column} ({sql_type}) row {id}: Wellhead wrote {} (literal {:?}); PostgreSQL has {:?}",
            truncated(&value.render()),
            parameter.as_deref().map(truncated),
            stored.as_deref().map(truncated)
        )
    })
}

#[tokio::test]
async fn postgres_15_every_value_round_trips() {
    every_value_round_trips_through_postgres(Server::Pg15).await;
}

#[tokio::test]
async fn postgres_18_every_value_round_trips() {
    every_value_round_trips_through_postgres(Server::Pg18).await;
}
