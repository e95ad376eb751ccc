//! pgoutput tuples → rows of typed values: the conversion from the protocol's
//! spelling (text or binary bytes per column) into the change model.

use wellhead_decoders::change::{ColumnValue, Identifier, Row, TableSchema};
use wellhead_decoders::pgoutput::{TupleColumn, TupleData};
use wellhead_decoders::pgvalue::{ValueError, decode_binary, decode_text};

/// A tuple does not fit its table's schema, or a value does not parse.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("table {table}: tuple has {found} columns, the relation {expected}")]
    ColumnCount { table: String, found: usize, expected: usize },
    #[error("table {table}, column {column}: {source}")]
    Value { table: String, column: String, source: Box<ValueError> },
}

/// Decodes every column of `tuple` by its column type in `schema`.
pub fn decode_row(schema: &TableSchema, tuple: &TupleData) -> Result<Row, CodecError> {
    if tuple.columns.len() != schema.columns.len() {
        return Err(CodecError::ColumnCount {
            table: schema.table.to_string(),
            found: tuple.columns.len(),
            expected: schema.columns.len(),
        });
    }
    schema
        .columns
        .iter()
        .zip(&tuple.columns)
        .map(|(column, data)| {
            let decoded = match data {
                TupleColumn::Null => return Ok(ColumnValue::Null),
                TupleColumn::UnchangedToast => return Ok(ColumnValue::UnchangedToast),
                TupleColumn::Text(bytes) => decode_text(&column.column_type, bytes),
                TupleColumn::Binary(bytes) => decode_binary(&column.column_type, bytes),
            };
            decoded.map(ColumnValue::Value).map_err(|source| CodecError::Value {
                table: schema.table.to_string(),
                column: Identifier(&column.name).to_string(),
                source: Box::new(source),
            })
        })
        .collect()
}
