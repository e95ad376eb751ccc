//! The relation map of a replication session: relation OID → table schema, as
//! the latest Relation message for it described the table.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_postgres::Client;
use wellhead_decoders::change::{ColumnSchema, TableName, TableSchema};
use wellhead_decoders::pgoutput::Relation;

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
        let mut columns = Vec::with_capacity(relation.columns.len());
        for column in &relation.columns {
            let column_type = catalog.resolve(client, column.type_oid, column.type_modifier).await?;
            columns.push(ColumnSchema {
                name: column.name.clone(),
                column_type,
                type_oid: column.type_oid,
                type_modifier: column.type_modifier,
                is_key: column.is_key,
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
