//! Reviewed `.avsc` snapshots of representative tables (`snapshots/`); each schema also
//! parses with apache-avro.

use wellhead_decoders::change::{ColumnSchema, ColumnType, CompositeField, TableName, TableSchema};

use super::{SourceKind, envelope_schema, key_schema};

fn column(name: &str, column_type: ColumnType, is_key: bool) -> ColumnSchema {
    ColumnSchema { name: name.to_owned(), column_type, type_oid: 0, type_modifier: -1, is_key }
}

fn table(namespace: &str, name: &str, columns: Vec<ColumnSchema>) -> TableSchema {
    TableSchema { table: TableName { namespace: namespace.to_owned(), name: name.to_owned() }, columns }
}

fn array(element: ColumnType) -> ColumnType {
    ColumnType::Array { element: Box::new(element) }
}

fn labels(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|&label| label.to_owned()).collect()
}

fn pretty(schema: &serde_json::Value) -> String {
    apache_avro::Schema::parse(schema).expect("a valid Avro schema");
    serde_json::to_string_pretty(schema).expect("JSON")
}

fn snapshot(name: &str, table: &TableSchema, source: SourceKind) {
    let key = key_schema(table, "shop").map_or_else(|| "null".to_owned(), |key| pretty(&key));
    insta::assert_snapshot!(format!("{name}_key"), key);
    insta::assert_snapshot!(format!("{name}_value"), pretty(&envelope_schema(table, source, "shop")));
}

#[test]
fn postgres_orders() {
    let orders = table(
        "public",
        "orders",
        vec![
            column("id", ColumnType::Int64, true),
            column("customer_id", ColumnType::Int32, false),
            column("amount", ColumnType::Numeric { precision: Some(12), scale: Some(2) }, false),
            column("placed_at", ColumnType::TimestampTz, false),
            column("payload", ColumnType::Jsonb, false),
            column("tags", array(ColumnType::Text), false),
            column("shipping address", ColumnType::Text, false),
        ],
    );
    snapshot("postgres_orders", &orders, SourceKind::Postgres);
}

#[test]
fn postgres_every_type() {
    let address = ColumnType::Composite {
        type_name: "public.address".to_owned(),
        fields: vec![
            CompositeField { name: "street".to_owned(), column_type: ColumnType::Text },
            CompositeField { name: "zip code".to_owned(), column_type: ColumnType::Text },
            CompositeField { name: "lines".to_owned(), column_type: array(ColumnType::Text) },
        ],
    };
    let every_type = table(
        "public",
        "every type",
        vec![
            column("id", ColumnType::Uuid, true),
            column("created", ColumnType::Date, true),
            column("bool", ColumnType::Bool, false),
            column("int2", ColumnType::Int16, false),
            column("int4", ColumnType::Int32, false),
            column("int8", ColumnType::Int64, false),
            column("float4", ColumnType::Float32, false),
            column("float8", ColumnType::Float64, false),
            column("numeric_10_3", ColumnType::Numeric { precision: Some(10), scale: Some(3) }, false),
            column("numeric", ColumnType::Numeric { precision: None, scale: None }, false),
            column("numeric_2_5", ColumnType::Numeric { precision: Some(2), scale: Some(5) }, false),
            column("text", ColumnType::Text, false),
            column("bytea", ColumnType::Bytes, false),
            column("date", ColumnType::Date, false),
            column("time", ColumnType::Time, false),
            column("timetz", ColumnType::TimeTz, false),
            column("timestamp", ColumnType::Timestamp, false),
            column("timestamptz", ColumnType::TimestampTz, false),
            column("interval", ColumnType::Interval, false),
            column("json", ColumnType::Json, false),
            column("jsonb", ColumnType::Jsonb, false),
            column("xml", ColumnType::Xml, false),
            column("inet", ColumnType::Inet, false),
            column("cidr", ColumnType::Cidr, false),
            column("macaddr", ColumnType::MacAddr, false),
            column("macaddr8", ColumnType::MacAddr8, false),
            column("money", ColumnType::Money, false),
            column("bit", ColumnType::Bit { length: Some(4) }, false),
            column("varbit", ColumnType::VarBit, false),
            column("oid", ColumnType::Oid, false),
            column("tsvector", ColumnType::TsVector, false),
            column(
                "mood",
                ColumnType::Enum { type_name: "public.mood".to_owned(), labels: labels(&["sad", "ok", "so happy"]) },
                false,
            ),
            column("int4_array", array(ColumnType::Int32), false),
            column("numeric_array", array(ColumnType::Numeric { precision: Some(10), scale: Some(3) }), false),
            column("home", address.clone(), false),
            column("work", address.clone(), false),
            column("addresses", array(address), false),
            column(
                "during",
                ColumnType::Range { type_name: "tstzrange".to_owned(), subtype: Box::new(ColumnType::TimestampTz) },
                false,
            ),
            column(
                "prices",
                ColumnType::Range {
                    type_name: "numrange".to_owned(),
                    subtype: Box::new(ColumnType::Numeric { precision: None, scale: None }),
                },
                false,
            ),
            column("point", ColumnType::Other { type_name: "point".to_owned() }, false),
            column("2nd id", ColumnType::Int32, false),
        ],
    );
    snapshot("postgres_every_type", &every_type, SourceKind::Postgres);
}

#[test]
fn mysql_types() {
    let mysql = table(
        "inventory",
        "items",
        vec![
            column("id", ColumnType::UInt64, true),
            column("price", ColumnType::Numeric { precision: Some(65), scale: Some(30) }, false),
            column("tiny", ColumnType::Int16, false),
            column("flags", ColumnType::Set { labels: labels(&["red", "green", "blue"]) }, false),
            column(
                "status",
                ColumnType::Enum { type_name: "status".to_owned(), labels: labels(&["new", "old"]) },
                false,
            ),
            column("duration", ColumnType::TimeDuration, false),
            column("made_in", ColumnType::Year, false),
            column("shape", ColumnType::Geometry, false),
            column("embedding", ColumnType::Vector { dimensions: Some(3) }, false),
            column("bits", ColumnType::Bit { length: Some(8) }, false),
            column("created", ColumnType::Timestamp, false),
            column("updated", ColumnType::TimestampTz, false),
            column("day", ColumnType::Date, false),
            column("data", ColumnType::Json, false),
            column("blob", ColumnType::Bytes, false),
            column("score", ColumnType::Float64, false),
        ],
    );
    snapshot("mysql_types", &mysql, SourceKind::Mysql);
}
