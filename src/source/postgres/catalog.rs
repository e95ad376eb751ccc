//! Resolves PostgreSQL type OIDs to [`ColumnType`]s: built-ins from the decoder's
//! table, user types (enums, domains, composites, ranges, arrays of these) from
//! `pg_type`, cached per OID for the life of the source.

use std::collections::HashMap;

use tokio_postgres::Client;
use wellhead_decoders::change::{ColumnType, CompositeField};
use wellhead_decoders::pgvalue::builtin_column_type;

use crate::failure::ErrorClass;

/// Nesting deeper than this (a composite of a domain of an array of ...) is refused.
const MAX_TYPE_DEPTH: usize = 16;

/// Type resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("looking up type {oid} in pg_type: {reason}")]
    Query { oid: u32, reason: String, class: ErrorClass },
    #[error("type {oid} is nested more than {MAX_TYPE_DEPTH} levels deep")]
    TooDeep { oid: u32 },
}

/// OID → column type, with a cache of user types.
#[derive(Debug, Default)]
pub struct TypeCatalog {
    user_types: HashMap<u32, ColumnType>,
}

impl TypeCatalog {
    /// The column type of `(type_oid, type_modifier)`.
    pub async fn resolve(
        &mut self,
        client: &Client,
        type_oid: u32,
        type_modifier: i32,
    ) -> Result<ColumnType, CatalogError> {
        self.resolve_at_depth(client, type_oid, type_modifier, 0).await
    }

    async fn resolve_at_depth(
        &mut self,
        client: &Client,
        type_oid: u32,
        type_modifier: i32,
        depth: usize,
    ) -> Result<ColumnType, CatalogError> {
        if let Some(builtin) = builtin_column_type(type_oid, type_modifier) {
            return Ok(builtin);
        }
        if let Some(cached) = self.user_types.get(&type_oid) {
            return Ok(cached.clone());
        }
        if depth > MAX_TYPE_DEPTH {
            return Err(CatalogError::TooDeep { oid: type_oid });
        }
        let query_error = |error: tokio_postgres::Error| CatalogError::Query {
            oid: type_oid,
            reason: super::sql::describe_sql_error(&error),
            class: super::sql::sql_error_class(&error),
        };
        let row = client
            .query_opt(
                "SELECT format_type(t.oid, NULL), t.typtype::text, t.typcategory::text, t.typbasetype, t.typtypmod,
                        t.typelem, t.typrelid, r.rngsubtype,
                        ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
                   FROM pg_type t LEFT JOIN pg_range r ON r.rngtypid = t.oid
                  WHERE t.oid = $1",
                &[&type_oid],
            )
            .await
            .map_err(query_error)?;
        let Some(row) = row else {
            return Ok(ColumnType::Other { type_name: format!("oid {type_oid}") });
        };
        let type_name: String = row.get(0);
        let kind: String = row.get(1);
        let category: String = row.get(2);
        let base_type: u32 = row.get(3);
        let base_modifier: i32 = row.get(4);
        let element: u32 = row.get(5);
        let relation: u32 = row.get(6);
        let range_subtype: Option<u32> = row.get(7);
        let labels: Vec<String> = row.get(8);
        let resolved = match (kind.as_str(), category.as_str()) {
            ("e", _) => ColumnType::Enum { type_name, labels },
            ("d", _) => Box::pin(self.resolve_at_depth(client, base_type, base_modifier, depth + 1)).await?,
            ("r", _) => {
                let subtype = match range_subtype {
                    Some(oid) => Box::pin(self.resolve_at_depth(client, oid, -1, depth + 1)).await?,
                    None => ColumnType::Other { type_name: type_name.clone() },
                };
                ColumnType::Range { type_name, subtype: Box::new(subtype) }
            }
            ("c", _) => {
                let attributes = client
                    .query(
                        "SELECT attname::text, atttypid, atttypmod FROM pg_attribute
                          WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                        &[&relation],
                    )
                    .await
                    .map_err(query_error)?;
                let mut fields = Vec::with_capacity(attributes.len());
                for attribute in attributes {
                    let column_type =
                        Box::pin(self.resolve_at_depth(client, attribute.get(1), attribute.get(2), depth + 1)).await?;
                    fields.push(CompositeField { name: attribute.get(0), column_type });
                }
                ColumnType::Composite { type_name, fields }
            }
            (_, "A") if element != 0 => {
                let element = Box::pin(self.resolve_at_depth(client, element, type_modifier, depth + 1)).await?;
                ColumnType::Array { element: Box::new(element) }
            }
            _ => ColumnType::Other { type_name },
        };
        // Domains carry their own modifier; cache only what does not depend on the column's.
        if kind != "d" {
            self.user_types.insert(type_oid, resolved.clone());
        }
        Ok(resolved)
    }

    /// Forgets cached user types (after a Relation or Type message says a type may have changed).
    pub fn invalidate(&mut self, type_oid: u32) {
        self.user_types.remove(&type_oid);
    }
}
