//! Tables as the binlog describes them, into the change model: which tables the pipeline
//! captures, and each captured table's shape as a `TableSchema` (the same `Arc` for as
//! long as its table map is unchanged, so that the sink sees a new shape exactly when the
//! table's definition changed).

use std::collections::HashMap;
use std::sync::Arc;

use globset::{Glob, GlobMatcher};
use wellhead_decoders::binlog::BinlogTable;
use wellhead_decoders::change::{ColumnSchema, TableName, TableSchema};

use super::MysqlError;

/// The captured tables' shapes, by table map.
#[derive(Debug)]
pub struct TableShapes {
    patterns: Vec<GlobMatcher>,
    /// Per table id: the map it was resolved from, and its schema when captured.
    known: HashMap<u64, (Arc<BinlogTable>, Option<Arc<TableSchema>>)>,
}

impl TableShapes {
    /// Captures the tables `patterns` (`database.table` globs) match.
    pub fn new(patterns: &[String]) -> Result<TableShapes, MysqlError> {
        let patterns = patterns
            .iter()
            .map(|pattern| {
                Glob::new(pattern)
                    .map(|glob| glob.compile_matcher())
                    .map_err(|error| MysqlError::Params(format!("source.tables {pattern:?}: {error}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(TableShapes { patterns, known: HashMap::new() })
    }

    /// Whether `table` is captured.
    pub fn captures(&self, table: &TableName) -> bool {
        let dotted = table.dotted();
        self.patterns.iter().any(|pattern| pattern.is_match(&dotted))
    }

    /// The schema of a captured table's map; `None` for a table the pipeline does not capture.
    pub fn schema(&mut self, table: &Arc<BinlogTable>) -> Result<Option<Arc<TableSchema>>, MysqlError> {
        if let Some((known, schema)) = self.known.get(&table.table_id)
            && Arc::ptr_eq(known, table)
        {
            return Ok(schema.clone());
        }
        let name = TableName { namespace: table.database.clone(), name: table.table.clone() };
        let schema = if self.captures(&name) { Some(Arc::new(table_schema(name, table)?)) } else { None };
        self.known.insert(table.table_id, (Arc::clone(table), schema.clone()));
        Ok(schema)
    }
}

/// A table map's columns as the change model's schema; every column must be named
/// (`binlog_row_metadata=FULL`).
fn table_schema(name: TableName, table: &BinlogTable) -> Result<TableSchema, MysqlError> {
    let columns = table
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let Some(column_name) = column.name.clone() else {
                return Err(MysqlError::Prerequisites(format!(
                    "the binlog does not name column {} of {name}: binlog_row_metadata is not FULL; \
                     SET GLOBAL binlog_row_metadata = 'FULL' (and in the server's configuration), then restart Wellhead",
                    index + 1
                )));
            };
            Ok(ColumnSchema {
                name: column_name,
                column_type: column.column_type.clone(),
                type_oid: 0,
                type_modifier: -1,
                is_key: column.is_key,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(TableSchema { table: name, columns })
}
