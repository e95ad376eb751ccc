//! The specification's resolution rules, one worked case (or pair) per rule.

use apache_avro::Schema;

use super::{Incompatibility, Rule, can_read};

fn schema(json: &str) -> Schema {
    match Schema::parse_str(json) {
        Ok(schema) => schema,
        Err(error) => panic!("test schema does not parse: {error}\n{json}"),
    }
}

fn incompatibility(reader: &str, writer: &str) -> Incompatibility {
    match can_read(&schema(reader), &schema(writer)) {
        Ok(()) => panic!("expected {reader} to be unable to read {writer}"),
        Err(incompatibility) => incompatibility,
    }
}

fn assert_reads(reader: &str, writer: &str) {
    if let Err(incompatibility) = can_read(&schema(reader), &schema(writer)) {
        panic!("expected {reader} to read {writer}, got: {incompatibility}");
    }
}

/// A record `r` with the given fields (JSON array text).
fn record(fields: &str) -> String {
    format!(r#"{{"type": "record", "name": "r", "namespace": "shop", "fields": {fields}}}"#)
}

const PRIMITIVES: [&str; 8] = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"];

#[test]
fn every_primitive_reads_itself() {
    for primitive in PRIMITIVES {
        assert_reads(&format!(r#""{primitive}""#), &format!(r#""{primitive}""#));
    }
}

#[test]
fn permitted_promotions_read_and_their_reverses_do_not() {
    let promotions = [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
    ];
    for (writer, reader) in promotions {
        assert_reads(&format!(r#""{reader}""#), &format!(r#""{writer}""#));
    }
    for (writer, reader) in promotions.into_iter().filter(|(writer, _)| !matches!(*writer, "string" | "bytes")) {
        let error = incompatibility(&format!(r#""{writer}""#), &format!(r#""{reader}""#));
        assert_eq!(error.rule, Rule::NotPromotable { writer: reader.to_owned(), reader: writer.to_owned() });
    }
}

#[test]
fn unrelated_primitives_do_not_read_each_other() {
    for reader in PRIMITIVES {
        for writer in PRIMITIVES {
            let permitted = reader == writer
                || matches!(
                    (reader, writer),
                    ("long", "int")
                        | ("float", "int" | "long")
                        | ("double", "int" | "long" | "float")
                        | ("bytes", "string")
                        | ("string", "bytes")
                );
            let verdict = can_read(&schema(&format!(r#""{reader}""#)), &schema(&format!(r#""{writer}""#)));
            assert_eq!(verdict.is_ok(), permitted, "reader {reader}, writer {writer}");
        }
    }
}

#[test]
fn a_field_type_change_is_reported_at_its_path() {
    let reader = record(r#"[{"name": "amount", "type": "int"}]"#);
    let writer = record(r#"[{"name": "amount", "type": "string"}]"#);
    let error = incompatibility(&reader, &writer);
    assert_eq!(error.path, "/fields/amount/type");
    assert_eq!(error.to_string(), "/fields/amount/type: writer type string cannot be promoted to reader type int");
}

#[test]
fn a_reader_field_missing_in_the_writer_needs_a_default() {
    let writer = record(r#"[{"name": "id", "type": "long"}]"#);
    let with_default = record(r#"[{"name": "id", "type": "long"}, {"name": "x", "type": "string", "default": ""}]"#);
    let without_default = record(r#"[{"name": "id", "type": "long"}, {"name": "x", "type": "string"}]"#);
    assert_reads(&with_default, &writer);
    let error = incompatibility(&without_default, &writer);
    assert_eq!(error.path, "/fields/x");
    assert_eq!(error.rule.to_string(), "reader field `x` has no default and is missing in the writer");
}

#[test]
fn writer_fields_missing_in_the_reader_are_ignored() {
    let reader = record(r#"[{"name": "id", "type": "long"}]"#);
    let writer = record(r#"[{"name": "id", "type": "long"}, {"name": "gone", "type": "bytes"}]"#);
    assert_reads(&reader, &writer);
}

#[test]
fn field_order_does_not_matter() {
    let reader = record(r#"[{"name": "b", "type": "string"}, {"name": "a", "type": "int"}]"#);
    let writer = record(r#"[{"name": "a", "type": "int"}, {"name": "b", "type": "string"}]"#);
    assert_reads(&reader, &writer);
}

#[test]
fn a_reader_field_alias_matches_the_writer_field_name() {
    let reader = record(r#"[{"name": "customer_id", "aliases": ["cust"], "type": "long"}]"#);
    let writer = record(r#"[{"name": "cust", "type": "int"}]"#);
    assert_reads(&reader, &writer);
    // Aliases are the reader's: a writer alias does not help.
    let error = incompatibility(
        &record(r#"[{"name": "cust", "type": "long"}]"#),
        &record(r#"[{"name": "customer_id", "aliases": ["cust"], "type": "long"}]"#),
    );
    assert_eq!(error.rule, Rule::MissingFieldWithoutDefault { field: "cust".to_owned() });
}

#[test]
fn records_match_by_unqualified_name_or_reader_alias() {
    let fields = r#"[{"name": "id", "type": "long"}]"#;
    let other_namespace = format!(r#"{{"type": "record", "name": "r", "namespace": "archive", "fields": {fields}}}"#);
    assert_reads(&record(fields), &other_namespace);

    let renamed = format!(r#"{{"type": "record", "name": "order", "namespace": "shop", "fields": {fields}}}"#);
    let error = incompatibility(&renamed, &record(fields));
    assert_eq!(
        error.rule,
        Rule::NameMismatch { kind: "record", writer: "shop.r".to_owned(), reader: "shop.order".to_owned() }
    );

    let aliased =
        format!(r#"{{"type": "record", "name": "order", "aliases": ["r"], "namespace": "shop", "fields": {fields}}}"#);
    assert_reads(&aliased, &record(fields));
}

#[test]
fn nested_records_report_the_full_path() {
    let reader = record(
        r#"[{"name": "customer", "type": {"type": "record", "name": "customer", "fields": [
            {"name": "id", "type": "long"}, {"name": "email", "type": "string"}]}}]"#,
    );
    let writer = record(
        r#"[{"name": "customer", "type": {"type": "record", "name": "customer", "fields": [
            {"name": "id", "type": "long"}]}}]"#,
    );
    let error = incompatibility(&reader, &writer);
    assert_eq!(error.path, "/fields/customer/type/fields/email");
    assert_eq!(error.rule, Rule::MissingFieldWithoutDefault { field: "email".to_owned() });
}

#[test]
fn enum_symbols_of_the_writer_must_be_known_to_the_reader_or_defaulted() {
    let abc = r#"{"type": "enum", "name": "status", "symbols": ["A", "B", "C"]}"#;
    let ab = r#"{"type": "enum", "name": "status", "symbols": ["A", "B"]}"#;
    let ab_with_default = r#"{"type": "enum", "name": "status", "symbols": ["A", "B"], "default": "A"}"#;
    // Symbol added: the new (wider) enum reads the old one, not the reverse.
    assert_reads(abc, ab);
    let error = incompatibility(ab, abc);
    assert_eq!(error.path, "/symbols");
    assert_eq!(
        error.rule.to_string(),
        "writer enum symbol `C` is missing in the reader and the reader enum has no default"
    );
    assert_reads(ab_with_default, abc);
}

#[test]
fn enum_names_must_match() {
    let error = incompatibility(
        r#"{"type": "enum", "name": "state", "symbols": ["A"]}"#,
        r#"{"type": "enum", "name": "status", "symbols": ["A"]}"#,
    );
    assert!(matches!(error.rule, Rule::NameMismatch { kind: "enum", .. }), "{error}");
}

#[test]
fn arrays_and_maps_resolve_their_items_and_values() {
    assert_reads(r#"{"type": "array", "items": "long"}"#, r#"{"type": "array", "items": "int"}"#);
    assert_reads(r#"{"type": "map", "values": "double"}"#, r#"{"type": "map", "values": "float"}"#);
    let error = incompatibility(r#"{"type": "map", "values": "int"}"#, r#"{"type": "map", "values": "long"}"#);
    assert_eq!(error.path, "/values");
    let error = incompatibility(r#"{"type": "array", "items": "int"}"#, r#"{"type": "map", "values": "int"}"#);
    assert_eq!(error.rule, Rule::TypeMismatch { writer: "map".to_owned(), reader: "array".to_owned() });
}

#[test]
fn arrays_of_records_resolve_field_by_field() {
    let line = |extra: &str| {
        format!(
            r#"{{"type": "array", "items": {{"type": "record", "name": "line", "fields": [
                {{"name": "sku", "type": "string"}}{extra}]}}}}"#
        )
    };
    assert_reads(&line(r#", {"name": "qty", "type": "int", "default": 1}"#), &line(""));
    let error = incompatibility(&line(r#", {"name": "qty", "type": "int"}"#), &line(""));
    assert_eq!(error.path, "/items/fields/qty");
}

#[test]
fn fixed_needs_the_same_name_and_size() {
    let error = incompatibility(
        r#"{"type": "fixed", "name": "hash", "size": 16}"#,
        r#"{"type": "fixed", "name": "hash", "size": 8}"#,
    );
    assert_eq!(error.rule, Rule::FixedSizeMismatch { writer: 8, reader: 16 });
    assert_eq!(error.rule.to_string(), "writer fixed size 8 != reader fixed size 16");
    let error = incompatibility(
        r#"{"type": "fixed", "name": "digest", "size": 16}"#,
        r#"{"type": "fixed", "name": "hash", "size": 16}"#,
    );
    assert!(matches!(error.rule, Rule::NameMismatch { kind: "fixed", .. }), "{error}");
    assert_reads(
        r#"{"type": "fixed", "name": "hash", "size": 16}"#,
        r#"{"type": "fixed", "name": "hash", "size": 16}"#,
    );
}

#[test]
fn union_widening_reads_and_narrowing_does_not() {
    let narrow = r#"["null", "string"]"#;
    let wide = r#"["null", "string", "long"]"#;
    assert_reads(wide, narrow);
    let error = incompatibility(narrow, wide);
    assert_eq!(error.rule.to_string(), "writer union branch long has no match in reader union");
    assert_eq!(error.path, "");
}

#[test]
fn a_reader_union_reads_a_writer_type_one_of_its_branches_reads() {
    assert_reads(r#"["null", "long"]"#, r#""int""#);
    let error = incompatibility(r#"["null", "long"]"#, r#""string""#);
    assert_eq!(error.rule, Rule::NoMatchingReaderBranch { writer: "string".to_owned() });
}

#[test]
fn a_writer_union_needs_every_branch_readable_by_a_plain_reader() {
    assert_reads(r#""long""#, r#"["int", "long"]"#);
    let error = incompatibility(r#""long""#, r#"["null", "long"]"#);
    assert_eq!(error.rule, Rule::NotPromotable { writer: "null".to_owned(), reader: "long".to_owned() });
}

#[test]
fn a_nullable_record_reports_the_field_not_just_the_union() {
    let row = |extra: &str| {
        format!(r#"["null", {{"type": "record", "name": "row", "fields": [{{"name": "id", "type": "long"}}{extra}]}}]"#)
    };
    let reader = record(&format!(r#"[{{"name": "after", "type": {}}}]"#, row(r#", {"name": "x", "type": "int"}"#)));
    let writer = record(&format!(r#"[{{"name": "after", "type": {}}}]"#, row("")));
    let error = incompatibility(&reader, &writer);
    assert_eq!(error.path, "/fields/after/type/1/fields/x");
    assert_eq!(error.rule, Rule::MissingFieldWithoutDefault { field: "x".to_owned() });
}

#[test]
fn named_type_references_resolve_within_each_schema() {
    let two_addresses = |extra: &str| {
        record(&format!(
            r#"[{{"name": "billing", "type": {{"type": "record", "name": "address", "fields": [
                    {{"name": "city", "type": "string"}}{extra}]}}}},
                {{"name": "shipping", "type": "address"}}]"#
        ))
    };
    let old = two_addresses("");
    let new = two_addresses(r#", {"name": "zip", "type": "string"}"#);
    assert_reads(&old, &new);
    assert_reads(&new, &new);
    let error = incompatibility(&new, &old);
    assert_eq!(error.path, "/fields/billing/type/fields/zip");
}

#[test]
fn a_reference_can_be_the_only_place_a_change_shows() {
    let old = record(
        r#"[{"name": "kind", "type": {"type": "enum", "name": "kind", "symbols": ["A", "B"]}},
            {"name": "previous", "type": "kind"}]"#,
    );
    let reader = schema(&old);
    // The writer defines the enum in the second field and refers to it in the first.
    let writer = schema(&record(
        r#"[{"name": "previous", "type": {"type": "enum", "name": "kind", "symbols": ["A", "B", "C"]}},
            {"name": "kind", "type": "kind"}]"#,
    ));
    let error = can_read(&reader, &writer).err();
    assert_eq!(error.map(|error| error.path), Some("/fields/kind/type/symbols".to_owned()));
}

#[test]
fn recursive_records_terminate() {
    let list = |extra: &str| {
        format!(
            r#"{{"type": "record", "name": "node", "fields": [
                {{"name": "value", "type": "long"}}{extra},
                {{"name": "next", "type": ["null", "node"], "default": null}}]}}"#
        )
    };
    assert_reads(&list(""), &list(""));
    assert_reads(&list(r#", {"name": "label", "type": "string", "default": ""}"#), &list(""));
    let error = incompatibility(&list(r#", {"name": "label", "type": "string"}"#), &list(""));
    assert_eq!(error.path, "/fields/label");
}

#[test]
fn a_decimal_scale_change_or_narrower_precision_is_incompatible() {
    let decimal = |precision: u32, scale: u32| {
        format!(r#"{{"type": "bytes", "logicalType": "decimal", "precision": {precision}, "scale": {scale}}}"#)
    };
    assert_reads(&decimal(10, 2), &decimal(10, 2));
    let error = incompatibility(&decimal(10, 3), &decimal(10, 2));
    assert_eq!(
        error.rule,
        Rule::DecimalMismatch { writer_precision: 10, writer_scale: 2, reader_precision: 10, reader_scale: 3 }
    );
    assert!(can_read(&schema(&decimal(10, 2)), &schema(&decimal(10, 3))).is_err());
    // A reader with a wider precision holds every value the writer can write; a narrower one does not.
    assert_reads(&decimal(12, 2), &decimal(10, 2));
    let error = incompatibility(&decimal(10, 2), &decimal(12, 2));
    assert_eq!(
        error.rule,
        Rule::DecimalMismatch { writer_precision: 12, writer_scale: 2, reader_precision: 10, reader_scale: 2 }
    );
    // Logical types are otherwise ignored: a decimal against plain bytes compares bytes.
    assert_reads(r#""bytes""#, &decimal(10, 2));
    assert_reads(&decimal(10, 2), r#""bytes""#);
}

#[test]
fn a_decimal_field_scale_change_names_the_field() {
    let price = |scale: u32| {
        record(&format!(
            r#"[{{"name": "price", "type": ["null", {{"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": {scale}}}], "default": null}}]"#
        ))
    };
    let error = incompatibility(&price(3), &price(2));
    assert_eq!(error.path, "/fields/price/type/1");
    assert!(matches!(error.rule, Rule::DecimalMismatch { .. }), "{error}");
}

#[test]
fn decimals_on_fixed_need_matching_fixed_types() {
    let on_fixed =
        r#"{"type": "fixed", "name": "money", "size": 8, "logicalType": "decimal", "precision": 10, "scale": 2}"#;
    let on_bytes = r#"{"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}"#;
    assert_reads(on_fixed, on_fixed);
    let error = incompatibility(on_bytes, on_fixed);
    assert!(matches!(error.rule, Rule::TypeMismatch { .. }), "{error}");
}

#[test]
fn other_logical_types_resolve_as_their_underlying_type() {
    let pairs = [
        (r#"{"type": "long", "logicalType": "timestamp-micros"}"#, r#""long""#),
        (
            r#"{"type": "long", "logicalType": "timestamp-millis"}"#,
            r#"{"type": "long", "logicalType": "timestamp-micros"}"#,
        ),
        (r#"{"type": "int", "logicalType": "date"}"#, r#""int""#),
        (r#"{"type": "long", "logicalType": "local-timestamp-micros"}"#, r#"{"type": "int", "logicalType": "date"}"#),
        (r#"{"type": "string", "logicalType": "uuid"}"#, r#""string""#),
        (r#""bytes""#, r#"{"type": "string", "logicalType": "uuid"}"#),
    ];
    for (reader, writer) in pairs {
        assert_reads(reader, writer);
    }
    let error = incompatibility(
        r#"{"type": "int", "logicalType": "date"}"#,
        r#"{"type": "long", "logicalType": "timestamp-micros"}"#,
    );
    assert_eq!(error.rule, Rule::NotPromotable { writer: "long".to_owned(), reader: "int".to_owned() });
}
