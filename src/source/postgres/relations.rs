//! The relation map of a replication session: relation OID → table schema, as
//! the latest Relation message for it described the table.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_postgres::Client;
use wellhead_decoders::change::{ColumnSchema, TableName, TableSchema};
use wellhead_decoders::pgoutput::{Relation, ReplicaIdentity};

use super::catalog::{CatalogError, TypeCatalog};

/// Relation OID → the table's current shape.
#[derive(Debug, Default)]
pub struct RelationMap {
    relations: HashMap<u32, Arc<TableSchema>>,
}

impl RelationMap {
    /// Records (or replaces) a relation, resolving its column types.
    pub async fn apply(
        &mut self,
        relation: &Relation,
        catalog: &mut TypeCatalog,
        client: &Client,
    ) -> Result<(), CatalogError> {
        let namespace =
            if relation.namespace.is_empty() { "pg_catalog".to_owned() } else { relation.namespace.clone() };
        let full_identity_key = match relation.replica_identity {
            ReplicaIdentity::Full => Some(primary_key_columns(client, relation.relation_oid).await?),
            _ => None,
        };
        let mut columns = Vec::with_capacity(relation.columns.len());
        for column in &relation.columns {
            // Under REPLICA IDENTITY FULL pgoutput flags every column as key. The message key is
            // the primary key then; a table with neither a primary key nor an index identity has
            // no key (its columns may be NULL, which a key must not be).
            let is_key = match &full_identity_key {
                Some(primary_key) => primary_key.contains(&column.name),
                None => column.is_key,
            };
            let column_type = catalog.resolve(client, column.type_oid, column.type_modifier).await?;
            columns.push(ColumnSchema {
                name: column.name.clone(),
                column_type,
                type_oid: column.type_oid,
                type_modifier: column.type_modifier,
                is_key,
            });
        }
        let schema = TableSchema { table: TableName { namespace, name: relation.name.clone() }, columns };
        let changed = self.relations.get(&relation.relation_oid).is_none_or(|known| **known != schema);
        if changed {
            tracing::debug!(table = %schema.table, column_count = schema.columns.len(), "Relation schema recorded.");
            self.relations.insert(relation.relation_oid, Arc::new(schema));
        }
        Ok(())
    }

    /// The schema of a relation announced earlier in the session.
    pub fn get(&self, relation_oid: u32) -> Option<&Arc<TableSchema>> {
        self.relations.get(&relation_oid)
    }
}

/// Names of the primary-key columns of a relation (empty without a primary key).
async fn primary_key_columns(client: &Client, relation_oid: u32) -> Result<Vec<String>, CatalogError> {
    client
        .query(
            "SELECT a.attname::text FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = $1 AND i.indisprimary",
            &[&relation_oid],
        )
        .await
        .map(|rows| rows.into_iter().map(|row| row.get(0)).collect())
        .map_err(|error| CatalogError::Query {
            oid: relation_oid,
            reason: super::sql::describe_sql_error(&error),
            class: super::sql::sql_error_class(&error),
        })
}
