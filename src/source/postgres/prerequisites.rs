//! What a PostgreSQL server must offer before Wellhead can stream from it, each
//! finding with the fix an operator can apply (`wellhead check`, and before
//! every `run`).

use tokio_postgres::Client;

use super::slot::{SlotError, check_slot_usable, find_slot, resolve_tables};
use super::sql::describe_sql_error;
use crate::config::PostgresSourceConfig;

pub use crate::source::finding::{Finding, Severity};

/// Checks the server, the role, the tables and the slot for `config`.
pub async fn check_prerequisites(client: &Client, config: &PostgresSourceConfig, database: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    let settings = match client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('wal_level'),
                    current_setting('max_replication_slots')::int, current_setting('max_wal_senders')::int,
                    (SELECT count(*) FROM pg_replication_slots)::int,
                    (SELECT count(*) FROM pg_stat_replication)::int,
                    r.rolsuper, r.rolreplication, current_user::text,
                    has_database_privilege(current_database(), 'CREATE')
               FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
    {
        Ok(row) => row,
        Err(failure) => {
            findings.push(Finding::error(
                format!("cannot read server settings: {}", describe_sql_error(&failure)),
                "connect as a role that can read pg_settings and pg_roles",
            ));
            return findings;
        }
    };
    let version: i32 = settings.get(0);
    let wal_level: String = settings.get(1);
    let max_slots: i32 = settings.get(2);
    let max_senders: i32 = settings.get(3);
    let slot_count: i32 = settings.get(4);
    let sender_count: i32 = settings.get(5);
    let superuser: bool = settings.get(6);
    let replication: bool = settings.get(7);
    let role: String = settings.get(8);
    let can_create: bool = settings.get(9);

    if version < 100_000 {
        findings.push(Finding::error(
            format!("server version {version} is older than PostgreSQL 10, which has no pgoutput"),
            "upgrade PostgreSQL",
        ));
    }
    if wal_level != "logical" {
        findings.push(Finding::error(
            format!("wal_level is '{wal_level}'; logical decoding needs 'logical'"),
            "run ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL",
        ));
    }
    if !superuser && !replication {
        findings.push(Finding::error(
            format!("role {role} has neither the REPLICATION attribute nor superuser"),
            format!("run ALTER ROLE {role} WITH REPLICATION;"),
        ));
    }
    let existing_slot = match find_slot(client, &config.slot).await {
        Ok(slot) => slot,
        Err(failure) => {
            findings.push(Finding::error(failure.to_string(), "check the role's privileges on pg_replication_slots"));
            None
        }
    };
    match &existing_slot {
        Some(slot) => {
            if let Err(problem) = check_slot_usable(&config.slot, slot, database) {
                let fix = match problem {
                    SlotError::TwoPhase { .. } => "turn two_phase off as above, or choose another source.slot".into(),
                    _ => format!("choose another source.slot, or drop slot {}", config.slot),
                };
                findings.push(Finding::error(problem.to_string(), fix));
            }
            if slot.active {
                findings.push(Finding::warning(
                    format!("replication slot {} is in use by another connection", config.slot),
                    "stop the other consumer (another Wellhead with the same slot?) before running",
                ));
            }
        }
        None => {
            if slot_count >= max_slots {
                findings.push(Finding::error(
                    format!("all {max_slots} replication slots are taken (max_replication_slots)"),
                    "raise max_replication_slots (restart needed) or drop unused slots",
                ));
            }
        }
    }
    if sender_count >= max_senders {
        findings.push(Finding::error(
            format!("all {max_senders} WAL senders are busy (max_wal_senders)"),
            "raise max_wal_senders (restart needed) or stop other replication consumers",
        ));
    }
    let tables = match resolve_tables(client, &config.tables, database).await {
        Ok(tables) => tables,
        Err(problem) => {
            findings.push(Finding::error(problem.to_string(), "fix source.tables"));
            return findings;
        }
    };
    let publication_exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[&config.publication])
        .await
        .map(|row| row.is_some())
        .unwrap_or(false);
    if !publication_exists && !superuser && !can_create {
        findings.push(Finding::error(
            format!("publication {} does not exist and role {role} may not create it", config.publication),
            format!(
                "create it: CREATE PUBLICATION {} FOR TABLE ...; or GRANT CREATE ON DATABASE {database} TO {role};",
                config.publication
            ),
        ));
    }
    for table in &tables {
        let identity = client
            .query_one(
                "SELECT c.relreplident::text, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                &[&table.namespace, &table.name],
            )
            .await;
        match identity {
            Ok(row) => {
                let replica_identity: String = row.get(0);
                let has_primary_key: bool = row.get(1);
                if replica_identity == "n" || (replica_identity == "d" && !has_primary_key) {
                    findings.push(Finding::warning(
                        format!("table {table} has no primary key and REPLICA IDENTITY {}: its updates and deletes carry no old key (and PostgreSQL rejects them while it is published)",
                            if replica_identity == "n" { "NOTHING" } else { "DEFAULT" }),
                        format!("add a primary key, or run ALTER TABLE {table} REPLICA IDENTITY FULL;"),
                    ));
                }
            }
            Err(failure) => findings.push(Finding::error(
                format!("table {table}: {}", describe_sql_error(&failure)),
                "check the role's privileges",
            )),
        }
    }
    findings
}
