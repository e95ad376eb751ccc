//! The Avro type of each column type, as schema JSON.
//!
//! Named types (records and enums) may be defined only once per schema: the
//! [`TypeBuilder`] defines each at its first use and refers to it by full name
//! afterwards. Names:
//! - Wellhead's own types live in the `wellhead` namespace (`wellhead.VariableScaleDecimal`, `wellhead.Geometry`, `wellhead.SpecialValues`).
//! - Composite and range types are named after the database type:
//!   `wellhead.composite.<type name>`, `wellhead.range.<type name>` (segments
//!   sanitised as in [`crate::naming`]), defined once however often they occur.
//! - Should two different types still arrive at one name, the later one gets
//!   `_2`, `_3`... (this cannot happen with one database's catalog).
//!
//! Every column type is plain: `T` or `["null", T]`, never a union of value
//! branches, so that Kafka Connect's `AvroConverter`, ClickHouse and Parquet
//! writers read it as one type. Values `T` cannot carry (numeric NaN,
//! infinite dates) are null in the column and kept in the envelope's
//! `special_values` (see [`super::envelope`]). Where Debezium gives a type a
//! Kafka Connect semantic name, the type carries it as `connect.name`, which
//! Connect's `AvroConverter` turns into the Connect schema name (e.g.
//! `io.debezium.time.MicroTimestamp`) — except on `date`, whose Avro logical
//! type Connect already maps to its own `Date` and would refuse a second name.

use std::collections::HashMap;

use serde_json::{Value as Json, json};
use wellhead_decoders::change::{ColumnType, CompositeField};

use crate::naming::{COLUMN_ATTRIBUTE, field_names, sanitize_dotted};

/// Namespace of Wellhead's own named types.
pub const WELLHEAD_NAMESPACE: &str = "wellhead";
/// Attribute with the labels of a PostgreSQL/MySQL enum column (carried as a string).
pub const ENUM_LABELS_ATTRIBUTE: &str = "wellhead.enum.labels";
/// Attribute with what a primitive carries beyond its Avro type (`json`, `duration-micros`).
pub const TYPE_ATTRIBUTE: &str = "wellhead.type";

/// Schema property with the Kafka Connect schema name (read by Connect's `AvroConverter`).
pub const CONNECT_NAME: &str = "connect.name";
/// Schema property with Kafka Connect schema parameters (an object of strings).
pub const CONNECT_PARAMETERS: &str = "connect.parameters";

const VARIABLE_SCALE_DECIMAL: &str = "VariableScaleDecimal";
const GEOMETRY: &str = "Geometry";

/// `(precision, scale)` when a numeric column becomes a fixed Avro `decimal`; `None` when its
/// values carry their own scale (unconstrained, or a scale beyond the precision, which Avro's
/// decimal cannot express).
pub(crate) fn fixed_decimal(precision: Option<u32>, scale: Option<u32>) -> Option<(u32, u32)> {
    match (precision, scale) {
        (Some(precision), Some(scale)) if precision >= 1 && scale <= precision => Some((precision, scale)),
        _ => None,
    }
}

/// Builds the Avro types of one schema, defining each named type once.
#[derive(Debug, Default)]
pub(crate) struct TypeBuilder {
    /// Full names defined so far, with the database type a composite or range name stands for.
    defined: HashMap<String, Option<ColumnType>>,
}

/// Whether a named type must be written out or only referenced.
enum Naming {
    Define(String),
    Refer(String),
}

impl TypeBuilder {
    /// `["null", T]` with the branches of `T` flattened when `T` is itself a union.
    pub(crate) fn nullable(avro_type: Json) -> Json {
        match avro_type {
            Json::Array(branches) => Json::Array(std::iter::once(json!("null")).chain(branches).collect()),
            other => json!(["null", other]),
        }
    }

    /// A record field; `original` is the database name, recorded when it differs from `name`.
    pub(crate) fn field(name: &str, original: &str, avro_type: Json, default_null: bool) -> Json {
        let mut field = serde_json::Map::new();
        field.insert("name".to_owned(), json!(name));
        field.insert("type".to_owned(), avro_type);
        if default_null {
            field.insert("default".to_owned(), Json::Null);
        }
        if name != original {
            field.insert(COLUMN_ATTRIBUTE.to_owned(), json!(original));
        }
        Json::Object(field)
    }

    /// A record definition of `full_name` (namespace and name split at the last dot).
    pub(crate) fn record(full_name: &str, fields: Vec<Json>) -> Json {
        let (namespace, name) = split_name(full_name);
        json!({"type": "record", "name": name, "namespace": namespace, "fields": fields})
    }

    /// The Avro type of a value of `column_type` (see the module docs).
    pub(crate) fn column_type(&mut self, column_type: &ColumnType) -> Json {
        match column_type {
            ColumnType::Bool => json!("boolean"),
            ColumnType::Int16 | ColumnType::Int32 => json!("int"),
            ColumnType::Year => json!({"type": "int", CONNECT_NAME: "io.debezium.time.Year"}),
            ColumnType::Int64 | ColumnType::Oid => json!("long"),
            ColumnType::UInt64 => decimal(20, 0),
            ColumnType::Float32 => json!("float"),
            ColumnType::Float64 => json!("double"),
            ColumnType::Numeric { precision, scale } => match fixed_decimal(*precision, *scale) {
                Some((precision, scale)) => decimal(precision, scale),
                None => self.variable_scale_decimal(),
            },
            ColumnType::Money => decimal(19, 2),
            ColumnType::Text
            | ColumnType::Inet
            | ColumnType::Cidr
            | ColumnType::MacAddr
            | ColumnType::MacAddr8
            | ColumnType::Bit { .. }
            | ColumnType::VarBit
            | ColumnType::TsVector
            | ColumnType::Other { .. } => json!("string"),
            ColumnType::Xml => json!({"type": "string", CONNECT_NAME: "io.debezium.data.Xml"}),
            ColumnType::Enum { labels, .. } => json!({
                "type": "string",
                ENUM_LABELS_ATTRIBUTE: labels,
                CONNECT_NAME: "io.debezium.data.Enum",
                CONNECT_PARAMETERS: {"allowed": labels.join(",")},
            }),
            ColumnType::Json | ColumnType::Jsonb => {
                json!({"type": "string", TYPE_ATTRIBUTE: "json", CONNECT_NAME: "io.debezium.data.Json"})
            }
            ColumnType::Uuid => json!({"type": "string", "logicalType": "uuid", CONNECT_NAME: "io.debezium.data.Uuid"}),
            ColumnType::Bytes => json!("bytes"),
            ColumnType::Date => json!({"type": "int", "logicalType": "date"}),
            ColumnType::Timestamp => json!({
                "type": "long",
                "logicalType": "local-timestamp-micros",
                CONNECT_NAME: "io.debezium.time.MicroTimestamp",
            }),
            ColumnType::TimestampTz => json!({"type": "long", "logicalType": "timestamp-micros"}),
            ColumnType::Time => {
                json!({"type": "long", "logicalType": "time-micros", CONNECT_NAME: "io.debezium.time.MicroTime"})
            }
            ColumnType::TimeTz => json!({"type": "string", CONNECT_NAME: "io.debezium.time.ZonedTime"}),
            ColumnType::TimeDuration => {
                json!({"type": "long", TYPE_ATTRIBUTE: "duration-micros", CONNECT_NAME: "io.debezium.time.MicroTime"})
            }
            ColumnType::Interval => json!({"type": "string", CONNECT_NAME: "io.debezium.time.Interval"}),
            ColumnType::Array { element } => {
                json!({"type": "array", "items": Self::nullable(self.column_type(element))})
            }
            ColumnType::Composite { type_name, fields } => self.composite(column_type, type_name, fields),
            ColumnType::Range { type_name, subtype } => self.range(column_type, type_name, subtype),
            ColumnType::Set { .. } => json!({"type": "array", "items": "string"}),
            ColumnType::Geometry => self.wellhead_record(GEOMETRY, |_| {
                vec![json!({"name": "srid", "type": "long"}), json!({"name": "wkb", "type": "bytes"})]
            }),
            ColumnType::Vector { .. } => json!({"type": "array", "items": "float"}),
        }
    }

    fn variable_scale_decimal(&mut self) -> Json {
        let mut record = self.wellhead_record(VARIABLE_SCALE_DECIMAL, |_| {
            vec![json!({"name": "scale", "type": "int"}), json!({"name": "value", "type": "bytes"})]
        });
        if let Json::Object(definition) = &mut record {
            definition.insert(CONNECT_NAME.to_owned(), json!("io.debezium.data.VariableScaleDecimal"));
        }
        record
    }

    fn wellhead_record(&mut self, name: &str, fields: impl FnOnce(&mut Self) -> Vec<Json>) -> Json {
        let full_name = format!("{WELLHEAD_NAMESPACE}.{name}");
        if self.defined.contains_key(&full_name) {
            return json!(full_name);
        }
        self.defined.insert(full_name.clone(), None);
        let fields = fields(self);
        Self::record(&full_name, fields)
    }

    /// Decides the name of a type named `base`: refer to it when `key` already defined it,
    /// otherwise reserve the first free name of `base`, `base_2`, ...
    fn name_for(&mut self, base: String, key: Option<&ColumnType>) -> Naming {
        let mut candidate = base.clone();
        let mut suffix = 2_u32;
        loop {
            match self.defined.get(&candidate) {
                None => {
                    self.defined.insert(candidate.clone(), key.cloned());
                    return Naming::Define(candidate);
                }
                Some(Some(existing)) if key == Some(existing) => return Naming::Refer(candidate),
                Some(_) => {
                    candidate = format!("{base}_{suffix}");
                    suffix += 1;
                }
            }
        }
    }

    fn composite(&mut self, column_type: &ColumnType, type_name: &str, fields: &[CompositeField]) -> Json {
        let full_name =
            match self.name_for(format!("wellhead.composite.{}", sanitize_dotted(type_name)), Some(column_type)) {
                Naming::Refer(full_name) => return json!(full_name),
                Naming::Define(full_name) => full_name,
            };
        let names = field_names(fields.iter().map(|field| field.name.as_str()));
        let avro_fields = fields
            .iter()
            .zip(&names)
            .map(|(field, name)| {
                let avro_type = Self::nullable(self.column_type(&field.column_type));
                Self::field(name, &field.name, avro_type, true)
            })
            .collect();
        Self::record(&full_name, avro_fields)
    }

    fn range(&mut self, column_type: &ColumnType, type_name: &str, subtype: &ColumnType) -> Json {
        let full_name = match self.name_for(format!("wellhead.range.{}", sanitize_dotted(type_name)), Some(column_type))
        {
            Naming::Refer(full_name) => return json!(full_name),
            Naming::Define(full_name) => full_name,
        };
        let lower = Self::nullable(self.column_type(subtype));
        let upper = reference_to(&lower);
        Self::record(
            &full_name,
            vec![
                json!({"name": "empty", "type": "boolean"}),
                json!({"name": "lower", "type": lower, "default": null}),
                json!({"name": "lower_inclusive", "type": "boolean"}),
                json!({"name": "upper", "type": upper, "default": null}),
                json!({"name": "upper_inclusive", "type": "boolean"}),
            ],
        )
    }
}

/// `avro_type` as written after its first occurrence: named types by full name only.
fn reference_to(avro_type: &Json) -> Json {
    match avro_type {
        Json::Array(branches) => Json::Array(branches.iter().map(reference_to).collect()),
        Json::Object(object) => match object.get("type").and_then(Json::as_str) {
            Some("record" | "enum" | "fixed") => {
                let name = object.get("name").and_then(Json::as_str).unwrap_or_default();
                match object.get("namespace").and_then(Json::as_str) {
                    Some(namespace) if !namespace.is_empty() => json!(format!("{namespace}.{name}")),
                    _ => json!(name),
                }
            }
            Some("array") => {
                let mut array = object.clone();
                if let Some(items) = object.get("items") {
                    array.insert("items".to_owned(), reference_to(items));
                }
                Json::Object(array)
            }
            _ => avro_type.clone(),
        },
        other => other.clone(),
    }
}

fn split_name(full_name: &str) -> (&str, &str) {
    full_name.rsplit_once('.').unwrap_or(("", full_name))
}

fn decimal(precision: u32, scale: u32) -> Json {
    json!({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale})
}
