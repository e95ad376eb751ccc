//! Replication slot and publication management: create when missing (names
//! from config), reuse when present, refuse a slot that belongs to another
//! database or plugin.

use globset::{Glob, GlobMatcher};
use tokio_postgres::Client;
use wellhead_decoders::change::{Lsn, TableName};

use super::connection::{ReplicationConnection, ReplicationConnectionError};
use super::sql::{describe_sql_error, sql_error_class};
use crate::failure::ErrorClass;

/// Slot or publication management failed.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error("{action}: {reason}")]
    Sql { action: String, reason: String, class: ErrorClass },
    #[error("creating replication slot {slot}: {source}")]
    Create { slot: String, source: Box<ReplicationConnectionError> },
    #[error(
        "replication slot {slot} exists but {problem}; drop it (SELECT pg_drop_replication_slot('{slot}')) or configure another source.slot"
    )]
    Unusable { slot: String, problem: String },
    /// Two-phase decoding sends a prepared transaction at PREPARE, before it is known to commit.
    #[error(
        "replication slot {slot} has two_phase enabled: the server would send prepared transactions at PREPARE, before \
         they are known to commit, and Wellhead streams committed transactions only. On PostgreSQL 18 and later turn it \
         off while no prepared transaction is pending, over a replication connection: \
         psql \"dbname={database} replication=database\" -c 'ALTER_REPLICATION_SLOT {slot} (TWO_PHASE false)'. \
         Before 18, drop it (SELECT pg_drop_replication_slot('{slot}')) and start again: the changes committed \
         meanwhile are then a gap (run with --accept-gap once), or configure another source.slot"
    )]
    TwoPhase { slot: String, database: String },
    #[error(
        "source.tables {patterns:?} match no table in database {database}; check the names (schema.table) and that the tables exist"
    )]
    NoTables { patterns: Vec<String>, database: String },
    #[error("source.tables pattern {pattern:?}: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("unexpected answer to CREATE_REPLICATION_SLOT: {0}")]
    Answer(String),
}

fn sql_error(action: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SlotError {
    let action = action.into();
    move |error| SlotError::Sql { action, reason: describe_sql_error(&error), class: sql_error_class(&error) }
}

/// A slot that already exists.
#[derive(Debug, Clone)]
pub struct ExistingSlot {
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub confirmed_flush_lsn: Option<Lsn>,
    pub active: bool,
    /// Created with two-phase decoding (PostgreSQL 14+; `false` before).
    pub two_phase: bool,
}

/// A slot just created.
#[derive(Debug, Clone)]
pub struct CreatedSlot {
    /// First LSN the slot will stream from.
    pub consistent_point: Lsn,
    /// Exported snapshot name, valid until the replication connection runs its next command.
    pub snapshot_name: Option<String>,
}

/// The tables of `database` that match `patterns` (`schema.table`, globs allowed), sorted.
pub async fn resolve_tables(client: &Client, patterns: &[String], database: &str) -> Result<Vec<TableName>, SlotError> {
    let matchers = patterns
        .iter()
        .map(|pattern| {
            Glob::new(pattern)
                .map(|glob| glob.compile_matcher())
                .map_err(|error| SlotError::Pattern { pattern: pattern.clone(), reason: error.to_string() })
        })
        .collect::<Result<Vec<GlobMatcher>, _>>()?;
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND NOT c.relispartition ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(sql_error("listing tables"))?;
    let tables: Vec<TableName> = rows
        .into_iter()
        .map(|row| TableName { namespace: row.get(0), name: row.get(1) })
        .filter(|table| matchers.iter().any(|m| m.is_match(table.dotted())))
        .collect();
    if tables.is_empty() {
        return Err(SlotError::NoTables { patterns: patterns.to_vec(), database: database.to_owned() });
    }
    Ok(tables)
}

/// Ends this source's own previous walsender (`pid`) when the server still holds `slot` for
/// it, and waits (up to 5 s) for the slot to be free; returns whether it did. After a
/// connection is lost without closing (a receive timeout), the server keeps that process,
/// and the slot with it, until its `wal_sender_timeout`: a new START_REPLICATION would be
/// refused as "active for PID" until then. Only that exact process is ended.
pub async fn end_stale_walsender(client: &Client, slot: &str, pid: i32) -> Result<bool, SlotError> {
    let holder = || async {
        client
            .query_opt("SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", &[&slot])
            .await
            .map(|row| row.and_then(|row| row.get::<_, Option<i32>>(0)))
            .map_err(sql_error("looking up who holds the slot"))
    };
    if holder().await? != Some(pid) {
        return Ok(false);
    }
    client
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .map_err(sql_error(format!("ending the previous walsender (pid {pid})")))?;
    for _ in 0..50 {
        if holder().await? != Some(pid) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(true)
}

/// Quotes an identifier for SQL.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the publication for `tables`, or adds the tables it lacks.
pub async fn ensure_publication(client: &Client, publication: &str, tables: &[TableName]) -> Result<(), SlotError> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&publication])
        .await
        .map_err(sql_error("looking up the publication"))?
        .is_some();
    let table_list = |tables: &[&TableName]| {
        tables
            .iter()
            .map(|t| format!("{}.{}", quote_identifier(&t.namespace), quote_identifier(&t.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !exists {
        let sql = format!(
            "CREATE PUBLICATION {} FOR TABLE {}",
            quote_identifier(publication),
            table_list(&tables.iter().collect::<Vec<_>>())
        );
        client.batch_execute(&sql).await.map_err(sql_error(format!("creating publication {publication}")))?;
        tracing::info!(%publication, table_count = tables.len(), "Created publication.");
        return Ok(());
    }
    let published = client
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1",
            &[&publication],
        )
        .await
        .map_err(sql_error("listing the publication's tables"))?
        .into_iter()
        .map(|row| TableName { namespace: row.get(0), name: row.get(1) })
        .collect::<Vec<_>>();
    let missing: Vec<&TableName> = tables.iter().filter(|t| !published.contains(t)).collect();
    if !missing.is_empty() {
        let sql = format!("ALTER PUBLICATION {} ADD TABLE {}", quote_identifier(publication), table_list(&missing));
        client.batch_execute(&sql).await.map_err(sql_error(format!("adding tables to publication {publication}")))?;
        tracing::info!(%publication, added = missing.len(), "Added tables to publication.");
    }
    Ok(())
}

/// The slot named `slot`, if it exists.
pub async fn find_slot(client: &Client, slot: &str) -> Result<Option<ExistingSlot>, SlotError> {
    let row = client
        .query_opt(
            "SELECT plugin::text, database::text, confirmed_flush_lsn::text, active,
                    coalesce((to_jsonb(s) ->> 'two_phase')::bool, false)
               FROM pg_replication_slots s WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(sql_error("looking up the replication slot"))?;
    Ok(row.map(|row| ExistingSlot {
        plugin: row.get(0),
        database: row.get(1),
        confirmed_flush_lsn: row.get::<_, Option<String>>(2).and_then(|text| text.parse().ok()),
        active: row.get(3),
        two_phase: row.get(4),
    }))
}

/// Checks that an existing slot can serve this source.
pub fn check_slot_usable(slot: &str, existing: &ExistingSlot, database: &str) -> Result<(), SlotError> {
    let unusable = |problem: String| SlotError::Unusable { slot: slot.to_owned(), problem };
    if existing.plugin.as_deref() != Some("pgoutput") {
        return Err(unusable(format!("uses plugin {:?}, not pgoutput", existing.plugin)));
    }
    if existing.database.as_deref() != Some(database) {
        return Err(unusable(format!("belongs to database {:?}, not {database:?}", existing.database)));
    }
    if existing.two_phase {
        return Err(SlotError::TwoPhase { slot: slot.to_owned(), database: database.to_owned() });
    }
    Ok(())
}

/// Drops `slot` if it exists and no process holds it; returns whether it did.
pub async fn drop_slot(client: &Client, slot: &str) -> Result<bool, SlotError> {
    client
        .query_opt(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
            &[&slot],
        )
        .await
        .map(|row| row.is_some())
        .map_err(sql_error(format!("dropping replication slot {slot}")))
}

/// What kind of slot to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewSlot {
    /// The pipeline's own slot, without a snapshot (nothing to copy).
    Plain,
    /// The pipeline's own slot, exporting the snapshot its tables are copied in.
    ExportingSnapshot,
    /// A slot that lives as long as its connection, made only for the snapshot it exports:
    /// a snapshot consistent with a known LSN when the pipeline's slot already exists.
    TemporaryForSnapshot,
}

/// Creates a logical slot with pgoutput on the replication connection (see [`NewSlot`]).
/// An exported snapshot stays importable until the connection runs its next command.
pub async fn create_slot(
    connection: &mut ReplicationConnection,
    slot: &str,
    kind: NewSlot,
    server_version_num: u32,
) -> Result<CreatedSlot, SlotError> {
    let export_snapshot = kind != NewSlot::Plain;
    let snapshot_option = match (server_version_num >= 150_000, export_snapshot) {
        (true, true) => "(SNAPSHOT 'export')",
        (true, false) => "(SNAPSHOT 'nothing')",
        (false, true) => "EXPORT_SNAPSHOT",
        (false, false) => "NOEXPORT_SNAPSHOT",
    };
    let temporary = if kind == NewSlot::TemporaryForSnapshot { " TEMPORARY" } else { "" };
    let command =
        format!("CREATE_REPLICATION_SLOT {}{temporary} LOGICAL pgoutput {snapshot_option}", quote_identifier(slot));
    let rows = connection
        .simple_query(&command)
        .await
        .map_err(|source| SlotError::Create { slot: slot.to_owned(), source: Box::new(source) })?;
    let row = rows.first().ok_or_else(|| SlotError::Answer("no row".into()))?;
    let consistent_point = row
        .get(1)
        .cloned()
        .flatten()
        .and_then(|text| text.parse::<Lsn>().ok())
        .ok_or_else(|| SlotError::Answer(format!("{row:?}")))?;
    let snapshot_name = row.get(2).cloned().flatten();
    if kind != NewSlot::TemporaryForSnapshot {
        tracing::info!(%slot, %consistent_point, "Created replication slot.");
    }
    Ok(CreatedSlot { consistent_point, snapshot_name })
}
