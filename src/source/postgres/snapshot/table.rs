//! What a snapshot copies of one table: its shape as the replication stream
//! describes it, how each column is read, and the order the copy follows so
//! that it can resume after the last durable row.
//!
//! ```text
//!  pg_class + pg_attribute + pg_index ─► TableSchema (the same as a Relation message gives)
//!     ─► COPY (SELECT cols FROM t [WHERE (key) > (resume)] ORDER BY key) TO STDOUT (FORMAT binary)
//! ```
//!
//! Invariant: the schema equals the one the stream's relation map builds for
//! the table (same columns, types, modifiers and key flags), so snapshot rows
//! and streamed changes share one Avro schema. Generated columns are left
//! out, as pgoutput leaves them out.

use std::sync::Arc;

use tokio_postgres::Client;
use wellhead_decoders::change::{ColumnSchema, ColumnType, TableName, TableSchema};

use super::SnapshotError;
use crate::checkpoint::CopyRange;
use crate::source::postgres::catalog::TypeCatalog;
use crate::source::postgres::slot::quote_identifier;

/// How the copy is ordered, and so what its resume point is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyOrder {
    /// By the key columns (indices into the schema's columns): resumable exactly.
    Key(Vec<usize>),
    /// By physical position (`ctid`, read as an extra last column): a table without a key.
    Ctid,
}

/// One column as the copy reads it.
#[derive(Debug, Clone)]
struct ColumnRead {
    /// `format_type` of the column: the type its resume literal is cast to.
    type_sql: String,
    /// True when the column is read as text (its type has no binary decoder).
    as_text: bool,
}

/// A table ready to be copied.
#[derive(Debug, Clone)]
pub struct SnapshotTable {
    pub schema: Arc<TableSchema>,
    pub order: CopyOrder,
    /// The server's row estimate (`reltuples`; -1 when never analysed).
    pub estimated_rows: i64,
    partitioned: bool,
    reads: Vec<ColumnRead>,
}

impl SnapshotTable {
    /// Looks `table` up and resolves its column types with `catalog`.
    pub async fn describe(
        client: &Client,
        catalog: &mut TypeCatalog,
        table: &TableName,
    ) -> Result<SnapshotTable, SnapshotError> {
        let query_error =
            |error: tokio_postgres::Error| SnapshotError::sql(format!("describing table {table}"), &error);
        let relation = client
            .query_opt(
                "SELECT c.oid, c.relkind::text, c.relreplident::text, c.reltuples::int8
                   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE n.nspname = $1 AND c.relname = $2",
                &[&table.namespace, &table.name],
            )
            .await
            .map_err(query_error)?
            .ok_or_else(|| SnapshotError::TableGone { table: table.clone() })?;
        let oid: u32 = relation.get(0);
        let partitioned = relation.get::<_, String>(1) == "p";
        let identity: String = relation.get(2);
        let estimated_rows: i64 = relation.get(3);
        // The key flags pgoutput sends: the replica identity index's columns under USING INDEX,
        // the primary key's otherwise (FULL: the relation map takes the primary key too).
        let key_index = if identity == "i" { "i.indisreplident" } else { "i.indisprimary" };
        let columns = client
            .query(
                &format!(
                    "SELECT a.attname::text, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod),
                            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND {key_index}
                                       AND a.attnum = ANY (i.indkey)),
                            COALESCE((SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i
                                       WHERE i.indrelid = a.attrelid AND {key_index}), 0)
                       FROM pg_attribute a
                      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                      ORDER BY a.attnum"
                ),
                &[&oid],
            )
            .await
            .map_err(query_error)?;
        let mut schema_columns = Vec::with_capacity(columns.len());
        let mut reads = Vec::with_capacity(columns.len());
        let mut key_positions = Vec::new();
        for (index, column) in columns.iter().enumerate() {
            let type_oid: u32 = column.get(1);
            let type_modifier: i32 = column.get(2);
            let is_key = identity != "n" && column.get::<_, bool>(4);
            let column_type = catalog.resolve(client, type_oid, type_modifier).await?;
            let as_text = !has_binary_decoder(&column_type) || SEND_DIFFERS_FROM_TEXT.contains(&type_oid);
            reads.push(ColumnRead { type_sql: column.get(3), as_text });
            if is_key {
                key_positions.push((column.get::<_, i32>(5), index));
            }
            schema_columns.push(ColumnSchema { name: column.get(0), column_type, type_oid, type_modifier, is_key });
        }
        // Order by the key in its index's column order, which its btree sorts by.
        key_positions.sort();
        let order = if key_positions.is_empty() {
            CopyOrder::Ctid
        } else {
            CopyOrder::Key(key_positions.into_iter().map(|(_, index)| index).collect())
        };
        Ok(SnapshotTable {
            schema: Arc::new(TableSchema { table: table.clone(), columns: schema_columns }),
            order,
            estimated_rows,
            partitioned,
            reads,
        })
    }

    /// True when column `index` is read as text (its output function's) rather than in binary.
    pub fn reads_as_text(&self, index: usize) -> bool {
        self.reads.get(index).is_some_and(|read| read.as_text)
    }

    /// Columns in each copied row: the table's, plus `ctid` when the copy is in physical order.
    pub fn copied_fields(&self) -> usize {
        self.schema.columns.len() + usize::from(self.order == CopyOrder::Ctid)
    }

    /// Indices (into a copied row's fields) of the resume key's fields, in key order.
    pub fn resume_fields(&self) -> Vec<usize> {
        match &self.order {
            CopyOrder::Key(columns) => columns.clone(),
            CopyOrder::Ctid => vec![self.schema.columns.len()],
        }
    }

    /// For each resume field: the SQL type its copied bytes are in (`text` for a column read
    /// as text), which turns them into a literal, and the column's own type, which the
    /// literal is cast to where the copy resumes.
    pub fn resume_field_types(&self) -> Vec<(String, String)> {
        self.resume_fields()
            .into_iter()
            .map(|field| match self.reads.get(field) {
                Some(read) if read.as_text => ("text".to_owned(), read.type_sql.clone()),
                Some(read) => (read.type_sql.clone(), read.type_sql.clone()),
                None => ("tid".to_owned(), "tid".to_owned()),
            })
            .collect()
    }

    /// The first key column's SQL type, when the copy is in key order (what ranges split).
    pub fn range_column(&self) -> Option<(&str, &str)> {
        let CopyOrder::Key(columns) = &self.order else { return None };
        let first = *columns.first()?;
        Some((self.schema.columns.get(first)?.name.as_str(), self.reads.get(first)?.type_sql.as_str()))
    }

    /// Splits the copy into up to `wanted` ranges of the first key column at the bounds of
    /// the server's histogram for it (`pg_stats`, from the last ANALYZE); one range without
    /// a key, without statistics, or when one is wanted.
    pub async fn plan_ranges(&self, client: &Client, wanted: usize) -> Result<Vec<CopyRange>, SnapshotError> {
        let whole = vec![CopyRange::default()];
        let Some((column, type_sql)) = self.range_column() else { return Ok(whole) };
        let Ok(wanted) = i32::try_from(wanted) else { return Ok(whole) };
        if wanted <= 1 {
            return Ok(whole);
        }
        let table = &self.schema.table;
        let rows = client
            .query(
                &format!(
                    "SELECT (h.b[greatest(1, (array_length(h.b, 1) * i) / $4)])::text
                       FROM (SELECT histogram_bounds::text::{type_sql}[] AS b FROM pg_stats
                              WHERE schemaname = $1 AND tablename = $2 AND attname = $3) h,
                            generate_series(1, $4 - 1) i
                      ORDER BY i"
                ),
                &[&table.namespace, &table.name, &column, &wanted],
            )
            .await
            .map_err(|error| SnapshotError::sql(format!("reading the key statistics of {table}"), &error))?;
        let mut bounds: Vec<String> = rows.iter().filter_map(|row| row.get::<_, Option<String>>(0)).collect();
        bounds.dedup();
        if bounds.is_empty() {
            return Ok(whole);
        }
        let mut ranges = Vec::with_capacity(bounds.len() + 1);
        let mut after = None;
        for bound in bounds {
            ranges.push(CopyRange { after: after.take(), up_to: Some(bound.clone()), ..CopyRange::default() });
            after = Some(bound);
        }
        ranges.push(CopyRange { after, ..CopyRange::default() });
        Ok(ranges)
    }

    /// The COPY statement that reads every row of a range (`after`/`up_to`: SQL literals of
    /// the first key column, quoted by the server) after `resume_after` (one literal per
    /// resume field), in copy order.
    pub fn copy_statement(&self, bounds: &RangeLiterals, resume_after: Option<&[String]>) -> String {
        let mut select: Vec<String> = self
            .schema
            .columns
            .iter()
            .zip(&self.reads)
            .map(|(column, read)| {
                let name = quote_identifier(&column.name);
                // The type's output function, as the replication stream's text: `::text` is a
                // cast that rewrites some types (bool, inet, char(n), xml).
                if read.as_text {
                    format!("CASE WHEN {name} IS NULL THEN NULL ELSE format('%s', {name}) END")
                } else {
                    name
                }
            })
            .collect();
        if self.order == CopyOrder::Ctid {
            select.push("ctid".to_owned());
        }
        let table = format!(
            "{}{}.{}",
            if self.partitioned { "" } else { "ONLY " },
            quote_identifier(&self.schema.table.namespace),
            quote_identifier(&self.schema.table.name)
        );
        let mut statement = format!("COPY (SELECT {} FROM {table}", select.join(", "));
        let key_sql: Vec<String> = match &self.order {
            CopyOrder::Key(columns) => columns
                .iter()
                .filter_map(|&index| self.schema.columns.get(index))
                .map(|column| quote_identifier(&column.name))
                .collect(),
            CopyOrder::Ctid => vec!["ctid".to_owned()],
        };
        let mut conditions = Vec::new();
        if let Some((column, type_sql)) = self.range_column() {
            let column = quote_identifier(column);
            if let Some(after) = &bounds.after {
                conditions.push(format!("{column} > {after}::{type_sql}"));
            }
            if let Some(up_to) = &bounds.up_to {
                conditions.push(format!("{column} <= {up_to}::{type_sql}"));
            }
        }
        if let Some(literals) = resume_after {
            let values: Vec<String> = literals
                .iter()
                .zip(self.resume_field_types())
                .map(|(literal, (_, column_type))| format!("{literal}::{column_type}"))
                .collect();
            conditions.push(format!("({}) > ({})", key_sql.join(", "), values.join(", ")));
        }
        if !conditions.is_empty() {
            statement.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        // In physical order a plain scan is already sorted (synchronized scans are off).
        if let CopyOrder::Key(_) = self.order {
            statement.push_str(&format!(" ORDER BY {}", key_sql.join(", ")));
        }
        statement.push_str(") TO STDOUT (FORMAT binary)");
        statement
    }
}

/// A range's bounds as SQL literals (see [`SnapshotTable::copy_statement`]).
#[derive(Debug, Default)]
pub struct RangeLiterals {
    pub after: Option<String>,
    pub up_to: Option<String>,
}

/// Types whose binary form the decoders do not read as the type they map to: `"char"` (and
/// its array) sends a raw byte, its text form escapes bytes above 127.
const SEND_DIFFERS_FROM_TEXT: [u32; 2] = [18, 1002];

/// True when the decoders read `column_type` in binary (else the copy casts it to text,
/// which is also how the replication stream sends it).
fn has_binary_decoder(column_type: &ColumnType) -> bool {
    match column_type {
        ColumnType::TsVector | ColumnType::Other { .. } => false,
        ColumnType::Array { element } => has_binary_decoder(element),
        ColumnType::Range { subtype, .. } => has_binary_decoder(subtype),
        ColumnType::Composite { fields, .. } => fields.iter().all(|field| has_binary_decoder(&field.column_type)),
        _ => true,
    }
}
