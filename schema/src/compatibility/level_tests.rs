//! Compatibility levels: worked histories per level, the level names, and
//! properties over generated schemas.

use apache_avro::Schema;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{CheckContext, CompatibilityLevel, Direction, check};

fn schema(json: &str) -> Schema {
    match Schema::parse_str(json) {
        Ok(schema) => schema,
        Err(error) => panic!("test schema does not parse: {error}\n{json}"),
    }
}

fn record(fields: &str) -> Schema {
    schema(&format!(r#"{{"type": "record", "name": "t", "fields": [{{"name": "id", "type": "long"}}{fields}]}}"#))
}

fn verdicts(new: &Schema, existing_newest_first: &[Schema]) -> Vec<(CompatibilityLevel, bool)> {
    CompatibilityLevel::ALL.into_iter().map(|level| (level, check(level, new, existing_newest_first).is_ok())).collect()
}

fn expect(new: &Schema, existing_newest_first: &[Schema], compatible_levels: &[CompatibilityLevel]) {
    let expected: Vec<_> =
        CompatibilityLevel::ALL.into_iter().map(|level| (level, compatible_levels.contains(&level))).collect();
    assert_eq!(verdicts(new, existing_newest_first), expected);
}

use CompatibilityLevel::{
    Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None as NoCheck,
};

#[test]
fn adding_a_field_with_a_default_is_fully_compatible() {
    let v1 = record("");
    let v2 = record(r#", {"name": "note", "type": "string", "default": ""}"#);
    expect(&v2, &[v1], &CompatibilityLevel::ALL);
}

#[test]
fn adding_a_field_without_a_default_is_forward_only() {
    let v1 = record("");
    let v2 = record(r#", {"name": "note", "type": "string"}"#);
    expect(&v2, &[v1], &[Forward, ForwardTransitive, NoCheck]);
}

#[test]
fn removing_a_field_without_a_default_is_backward_only() {
    let v1 = record(r#", {"name": "note", "type": "string"}"#);
    let v2 = record("");
    expect(&v2, &[v1], &[Backward, BackwardTransitive, NoCheck]);
}

#[test]
fn removing_a_field_with_a_default_is_fully_compatible() {
    let v1 = record(r#", {"name": "note", "type": "string", "default": "n/a"}"#);
    let v2 = record("");
    expect(&v2, &[v1], &CompatibilityLevel::ALL);
}

#[test]
fn widening_a_field_is_backward_and_narrowing_is_forward() {
    let int = record(r#", {"name": "n", "type": "int"}"#);
    let long = record(r#", {"name": "n", "type": "long"}"#);
    expect(&long, std::slice::from_ref(&int), &[Backward, BackwardTransitive, NoCheck]);
    expect(&int, &[long], &[Forward, ForwardTransitive, NoCheck]);
}

#[test]
fn adding_an_enum_symbol_is_backward_and_removing_one_is_forward() {
    let status = |symbols: &str| {
        record(&format!(r#", {{"name": "s", "type": {{"type": "enum", "name": "status", "symbols": {symbols}}}}}"#))
    };
    let ab = status(r#"["A", "B"]"#);
    let abc = status(r#"["A", "B", "C"]"#);
    expect(&abc, std::slice::from_ref(&ab), &[Backward, BackwardTransitive, NoCheck]);
    expect(&ab, &[abc], &[Forward, ForwardTransitive, NoCheck]);
}

#[test]
fn widening_a_union_is_backward_and_narrowing_is_forward() {
    let narrow = record(r#", {"name": "v", "type": ["null", "string"], "default": null}"#);
    let wide = record(r#", {"name": "v", "type": ["null", "string", "long"], "default": null}"#);
    expect(&wide, std::slice::from_ref(&narrow), &[Backward, BackwardTransitive, NoCheck]);
    expect(&narrow, &[wide], &[Forward, ForwardTransitive, NoCheck]);
}

#[test]
fn changing_a_decimal_scale_is_compatible_only_under_none() {
    let price = |scale: u32| {
        record(&format!(
            r#", {{"name": "p", "type": {{"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": {scale}}}}}"#
        ))
    };
    expect(&price(3), &[price(2)], &[NoCheck]);
}

#[test]
fn non_transitive_backward_looks_at_the_newest_only() {
    // v1 had `f` as a string, v2 dropped it, v3 brings it back as an int with a default.
    let v1 = record(r#", {"name": "f", "type": "string"}"#);
    let v2 = record("");
    let v3 = record(r#", {"name": "f", "type": "int", "default": 0}"#);
    let existing = [v2, v1];
    expect(&v3, &existing, &[Backward, Forward, Full, NoCheck]);
    let error = check(BackwardTransitive, &v3, &existing).err();
    assert_eq!(
        error.as_ref().and_then(|error| error.context),
        Some(CheckContext { existing_index: 1, direction: Direction::NewReadsExisting })
    );
    assert_eq!(
        error.map(|error| error.to_string()),
        Some(
            "the new schema cannot read data written with the existing schema 1 versions before the newest: \
             /fields/f/type: writer type string cannot be promoted to reader type int"
                .to_owned()
        )
    );
    let error = check(ForwardTransitive, &v3, &existing).err();
    assert_eq!(
        error.and_then(|error| error.context),
        Some(CheckContext { existing_index: 1, direction: Direction::ExistingReadsNew })
    );
    assert!(check(FullTransitive, &v3, &existing).is_err());
}

#[test]
fn an_empty_history_is_compatible_under_every_level() {
    expect(&record(""), &[], &CompatibilityLevel::ALL);
}

#[test]
fn level_names_are_confluents() {
    for level in CompatibilityLevel::ALL {
        let json = serde_json::to_string(&level).ok();
        assert_eq!(json, Some(format!("\"{level}\"")));
        assert_eq!(level.to_string().parse::<CompatibilityLevel>().ok(), Some(level));
        assert_eq!(level.to_string().to_lowercase().parse::<CompatibilityLevel>().ok(), Some(level));
    }
    assert_eq!(serde_json::from_str::<CompatibilityLevel>("\"FULL_TRANSITIVE\"").ok(), Some(FullTransitive));
    assert_eq!(CompatibilityLevel::default(), Backward);
    assert!("SIDEWAYS".parse::<CompatibilityLevel>().is_err());
}

/// A generated Avro type, rendered to JSON with unique names for named types.
#[derive(Debug, Clone)]
enum Generated {
    Primitive(&'static str),
    Logical(&'static str, &'static str),
    Decimal(u32, u32),
    Array(Box<Generated>),
    Map(Box<Generated>),
    Nullable(Box<Generated>),
    Record(Vec<Generated>),
    Enum(usize),
    Fixed(usize),
    /// The most recently defined named type, by reference (`int` when none yet).
    Reference,
}

fn generated() -> impl Strategy<Value = Generated> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["null", "boolean", "int", "long", "float", "double", "bytes", "string"])
            .prop_map(Generated::Primitive),
        prop::sample::select(vec![
            ("int", "date"),
            ("long", "timestamp-micros"),
            ("long", "timestamp-millis"),
            ("long", "time-micros"),
            ("string", "uuid"),
        ])
        .prop_map(|(base, logical)| Generated::Logical(base, logical)),
        (1u32..=38)
            .prop_flat_map(|precision| (Just(precision), 0..=precision))
            .prop_map(|(p, s)| Generated::Decimal(p, s)),
        (1usize..5).prop_map(Generated::Enum),
        (1usize..20).prop_map(Generated::Fixed),
        Just(Generated::Reference),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|item| Generated::Array(Box::new(item))),
            inner.clone().prop_map(|value| Generated::Map(Box::new(value))),
            inner.clone().prop_map(|value| Generated::Nullable(Box::new(value))),
            prop::collection::vec(inner, 1..4).prop_map(Generated::Record),
        ]
    })
}

#[derive(Default)]
struct Renderer {
    next_name: usize,
    last_named: Option<String>,
}

impl Renderer {
    fn name(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        let name = format!("{prefix}{}", self.next_name);
        self.last_named = Some(name.clone());
        name
    }

    fn render(&mut self, generated: &Generated) -> Value {
        match generated {
            Generated::Primitive(name) => json!(name),
            Generated::Logical(base, logical) => json!({"type": base, "logicalType": logical}),
            Generated::Decimal(precision, scale) => {
                json!({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale})
            }
            Generated::Array(items) => json!({"type": "array", "items": self.render(items)}),
            Generated::Map(values) => json!({"type": "map", "values": self.render(values)}),
            Generated::Nullable(inner) => match inner.as_ref() {
                Generated::Primitive("null") | Generated::Nullable(_) => self.render(inner),
                _ => json!(["null", self.render(inner)]),
            },
            Generated::Record(fields) => self.record(fields),
            Generated::Enum(count) => {
                let symbols: Vec<String> = (0..*count).map(|index| format!("S{index}")).collect();
                json!({"type": "enum", "name": self.name("E"), "symbols": symbols})
            }
            Generated::Fixed(size) => json!({"type": "fixed", "name": self.name("F"), "size": size}),
            Generated::Reference => self.last_named.clone().map_or_else(|| json!("int"), |name| json!(name)),
        }
    }

    fn record(&mut self, fields: &[Generated]) -> Value {
        let name = self.name("R");
        let fields: Vec<Value> = fields
            .iter()
            .enumerate()
            .map(|(index, field)| json!({"name": format!("f{index}"), "type": self.render(field)}))
            .collect();
        json!({"type": "record", "name": name, "fields": fields})
    }
}

fn top_level_record(fields: &[Generated]) -> Value {
    Renderer::default().record(fields)
}

proptest! {
    #[test]
    fn a_schema_is_compatible_with_itself_under_every_level(fields in prop::collection::vec(generated(), 1..5)) {
        let parsed = schema(&top_level_record(&fields).to_string());
        for level in CompatibilityLevel::ALL {
            let verdict = check(level, &parsed, std::slice::from_ref(&parsed));
            prop_assert!(verdict.is_ok(), "{level}: {:?}", verdict.err().map(|error| error.to_string()));
        }
    }

    #[test]
    fn adding_a_nullable_field_with_default_null_is_backward_and_forward(
        fields in prop::collection::vec(generated(), 1..5),
        added in generated(),
    ) {
        let old = top_level_record(&fields);
        let mut new = old.clone();
        let mut renderer = Renderer { next_name: 1000, last_named: None };
        let added_type = match renderer.render(&Generated::Nullable(Box::new(added))) {
            Value::Array(branches) => Value::Array(branches),
            Value::String(null) if null == "null" => json!("null"),
            other => json!(["null", other]),
        };
        if let Some(Value::Array(new_fields)) = new.get_mut("fields") {
            new_fields.push(json!({"name": "added", "type": added_type, "default": null}));
        }
        let (old, new) = (schema(&old.to_string()), schema(&new.to_string()));
        for level in [Backward, Forward, Full, BackwardTransitive, ForwardTransitive, FullTransitive] {
            let verdict = check(level, &new, std::slice::from_ref(&old));
            prop_assert!(verdict.is_ok(), "{level}: {:?}", verdict.err().map(|error| error.to_string()));
        }
    }
}
