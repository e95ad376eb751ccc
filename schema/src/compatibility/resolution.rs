//! The Avro specification's schema-resolution rules as a yes/no check: can a
//! reader schema read every datum a writer schema can produce?
//!
//! ```text
//!  (reader, writer) ──resolve Refs──► union? ──► each writer branch / some reader branch
//!                                       │
//!                                       └─► shape (logical types stripped) ──► rule per kind
//! ```
//!
//! Invariants:
//! - `Schema::Ref` is resolved by name inside the schema it came from (the
//!   reader's names for the reader, the writer's for the writer), aliases
//!   included; a reference that does not resolve is an incompatibility, never
//!   a panic.
//! - Recursive records terminate: a (reader record, writer record) pair that
//!   is already being checked higher up is assumed compatible (the usual
//!   coinductive reading of recursive types).
//! - Logical types are ignored (the underlying type decides), except that two
//!   decimals must have equal scales, and the reader's precision must be at least
//!   the writer's. The specification asks for equal precisions too ("match if
//!   their scales and precisions match"); Wellhead accepts a wider reader, which
//!   holds every value the writer can write, so that widening a numeric(p,s)
//!   column does not stop a pipeline (Confluent's Java checker ignores decimals
//!   altogether). A decimal against a non-decimal compares the
//!   underlying types only. Precision widening is deliberately *not* accepted,
//!   to follow the specification to the letter.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use apache_avro::Schema;
use apache_avro::schema::{Alias, EnumSchema, Name, RecordSchema, UnionSchema};

use super::incompatibility::{Incompatibility, Rule};

/// Checks that `reader` can read every datum written with `writer`, by the
/// specification's schema-resolution rules (see the module documentation for
/// logical types). The error names the first broken rule found, with its path
/// in the reader schema.
pub fn can_read(reader: &Schema, writer: &Schema) -> Result<(), Incompatibility> {
    let mut resolver = Resolver {
        reader_names: named_types(reader),
        writer_names: named_types(writer),
        records_in_progress: HashSet::new(),
    };
    resolver.check(reader, writer, "")
}

/// Named types (record, enum, fixed, decimal on fixed) of one schema, by full
/// name and by each alias's full name. The first definition of a name wins.
fn named_types(schema: &Schema) -> HashMap<Name, &Schema> {
    fn walk<'a>(schema: &'a Schema, names: &mut HashMap<Name, &'a Schema>) {
        let mut define = |name: &Name, aliases: Option<&[Alias]>| {
            names.entry(name.clone()).or_insert(schema);
            for alias in aliases.unwrap_or_default() {
                names.entry(alias.fully_qualified_name(&name.namespace)).or_insert(schema);
            }
        };
        match schema {
            Schema::Record(record) => {
                define(&record.name, record.aliases.as_deref());
                for field in &record.fields {
                    walk(&field.schema, names);
                }
            }
            Schema::Enum(enum_schema) => define(&enum_schema.name, enum_schema.aliases.as_deref()),
            Schema::Fixed(fixed) => define(&fixed.name, fixed.aliases.as_deref()),
            Schema::Decimal(decimal) => {
                if let Schema::Fixed(fixed) = decimal.inner.as_ref() {
                    define(&fixed.name, fixed.aliases.as_deref());
                }
            }
            Schema::Array(array) => walk(&array.items, names),
            Schema::Map(map) => walk(&map.types, names),
            Schema::Union(union) => {
                for variant in union.variants() {
                    walk(variant, names);
                }
            }
            _ => {}
        }
    }
    let mut names = HashMap::new();
    walk(schema, &mut names);
    names
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Reader,
    Writer,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
        }
    }
}

/// A primitive Avro type, the underlying type of every logical type but
/// decimal-on-fixed and duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Primitive {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
}

impl Primitive {
    fn name(self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean => "boolean",
            Self::Int => "int",
            Self::Long => "long",
            Self::Float => "float",
            Self::Double => "double",
            Self::Bytes => "bytes",
            Self::String => "string",
        }
    }

    /// Equal types, or a promotion the specification permits.
    fn reads(reader: Self, writer: Self) -> bool {
        use Primitive::{Bytes, Double, Float, Int, Long, String};
        reader == writer
            || matches!(
                (reader, writer),
                (Long, Int) | (Float, Int | Long) | (Double, Int | Long | Float) | (Bytes, String) | (String, Bytes)
            )
    }
}

/// A fixed type's identity; duration has no fixed of its own in
/// apache_avro, so it is the fixed named `duration` of size 12 it serialises as.
#[derive(Debug)]
struct FixedShape<'a> {
    name: Cow<'a, Name>,
    aliases: Option<&'a [Alias]>,
    size: usize,
}

/// The underlying type of a resolved, non-decimal-compared schema.
#[derive(Debug)]
enum Shape<'a> {
    Primitive(Primitive),
    Array(&'a Schema),
    Map(&'a Schema),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    Fixed(FixedShape<'a>),
    Union,
}

impl Shape<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Primitive(primitive) => primitive.name().to_owned(),
            Self::Array(_) => "array".to_owned(),
            Self::Map(_) => "map".to_owned(),
            Self::Record(record) => format!("record {}", record.name),
            Self::Enum(enum_schema) => format!("enum {}", enum_schema.name),
            Self::Fixed(fixed) => format!("fixed {}", fixed.name),
            Self::Union => "union".to_owned(),
        }
    }
}

/// Reader names match writer names by unqualified name, or by a reader alias
/// (compared unqualified as well, consistently with the primary name).
fn names_match(reader: &Name, reader_aliases: Option<&[Alias]>, writer: &Name) -> bool {
    reader.name == writer.name || reader_aliases.unwrap_or_default().iter().any(|alias| alias.name() == writer.name)
}

struct Resolver<'a> {
    reader_names: HashMap<Name, &'a Schema>,
    writer_names: HashMap<Name, &'a Schema>,
    /// (reader full name, writer full name) of the records being checked up the stack.
    records_in_progress: HashSet<(String, String)>,
}

impl<'a> Resolver<'a> {
    fn resolve(&self, schema: &'a Schema, side: Side, path: &str) -> Result<&'a Schema, Incompatibility> {
        let Schema::Ref { name } = schema else { return Ok(schema) };
        let names = match side {
            Side::Reader => &self.reader_names,
            Side::Writer => &self.writer_names,
        };
        names.get(name).copied().ok_or_else(|| {
            Incompatibility::new(path, Rule::UnresolvedReference { name: name.to_string(), side: side.label() })
        })
    }

    /// The shape of an already resolved schema; decimals become their underlying type.
    fn shape(&self, schema: &'a Schema, side: Side, path: &str) -> Result<Shape<'a>, Incompatibility> {
        let primitive = match self.resolve(schema, side, path)? {
            Schema::Null => Primitive::Null,
            Schema::Boolean => Primitive::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => Primitive::Int,
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Primitive::Long,
            Schema::Float => Primitive::Float,
            Schema::Double => Primitive::Double,
            Schema::Bytes | Schema::BigDecimal => Primitive::Bytes,
            Schema::String | Schema::Uuid => Primitive::String,
            Schema::Decimal(decimal) => return self.shape(&decimal.inner, side, path),
            Schema::Duration => {
                let name = Name { name: "duration".to_owned(), namespace: None };
                return Ok(Shape::Fixed(FixedShape { name: Cow::Owned(name), aliases: None, size: 12 }));
            }
            Schema::Fixed(fixed) => {
                let aliases = fixed.aliases.as_deref();
                return Ok(Shape::Fixed(FixedShape { name: Cow::Borrowed(&fixed.name), aliases, size: fixed.size }));
            }
            Schema::Array(array) => return Ok(Shape::Array(&array.items)),
            Schema::Map(map) => return Ok(Shape::Map(&map.types)),
            Schema::Record(record) => return Ok(Shape::Record(record)),
            Schema::Enum(enum_schema) => return Ok(Shape::Enum(enum_schema)),
            Schema::Union(_) => return Ok(Shape::Union),
            Schema::Ref { name } => {
                let rule = Rule::UnresolvedReference { name: name.to_string(), side: side.label() };
                return Err(Incompatibility::new(path, rule));
            }
        };
        Ok(Shape::Primitive(primitive))
    }

    fn check(&mut self, reader: &'a Schema, writer: &'a Schema, path: &str) -> Result<(), Incompatibility> {
        let reader = self.resolve(reader, Side::Reader, path)?;
        let writer = self.resolve(writer, Side::Writer, path)?;
        match (reader, writer) {
            (_, Schema::Union(writer_union)) => {
                for branch in writer_union.variants() {
                    match reader {
                        Schema::Union(reader_union) => self.read_with_union(reader_union, branch, path, true)?,
                        _ => self.check(reader, branch, path)?,
                    }
                }
                Ok(())
            }
            (Schema::Union(reader_union), _) => self.read_with_union(reader_union, writer, path, false),
            (Schema::Decimal(reader_decimal), Schema::Decimal(writer_decimal))
                // Same scale, and the reader holds every digit the writer can write: a wider
                // precision is safe (numeric(10,2) -> numeric(12,2) must not stop a pipeline).
                if reader_decimal.precision < writer_decimal.precision
                    || reader_decimal.scale != writer_decimal.scale =>
            {
                Err(Incompatibility::new(
                    path,
                    Rule::DecimalMismatch {
                        writer_precision: writer_decimal.precision,
                        writer_scale: writer_decimal.scale,
                        reader_precision: reader_decimal.precision,
                        reader_scale: reader_decimal.scale,
                    },
                ))
            }
            _ => self.check_shapes(reader, writer, path),
        }
    }

    /// Some branch of the reader union must read `writer`. When none does,
    /// the error of the first branch that failed for a deeper reason than
    /// "not the same kind or name" is reported, so that a nullable record
    /// that lost a default says which field, not just "no match".
    fn read_with_union(
        &mut self,
        reader_union: &'a UnionSchema,
        writer: &'a Schema,
        path: &str,
        writer_is_union_branch: bool,
    ) -> Result<(), Incompatibility> {
        let mut closest = None;
        for (index, branch) in reader_union.variants().iter().enumerate() {
            let branch_path = format!("{path}/{index}");
            match self.check(branch, writer, &branch_path) {
                Ok(()) => return Ok(()),
                Err(error) => {
                    let shallow = error.path == branch_path
                        && matches!(
                            error.rule,
                            Rule::NotPromotable { .. } | Rule::TypeMismatch { .. } | Rule::NameMismatch { .. }
                        );
                    if !shallow && closest.is_none() {
                        closest = Some(error);
                    }
                }
            }
        }
        if let Some(error) = closest {
            return Err(error);
        }
        let writer = self.shape(writer, Side::Writer, path)?.describe();
        let rule = if writer_is_union_branch {
            Rule::UnmatchedWriterUnionBranch { writer }
        } else {
            Rule::NoMatchingReaderBranch { writer }
        };
        Err(Incompatibility::new(path, rule))
    }

    fn check_shapes(&mut self, reader: &'a Schema, writer: &'a Schema, path: &str) -> Result<(), Incompatibility> {
        let reader = self.shape(reader, Side::Reader, path)?;
        let writer = self.shape(writer, Side::Writer, path)?;
        match (&reader, &writer) {
            (Shape::Primitive(reader_type), Shape::Primitive(writer_type)) => {
                if Primitive::reads(*reader_type, *writer_type) {
                    Ok(())
                } else {
                    let rule = Rule::NotPromotable {
                        writer: writer_type.name().to_owned(),
                        reader: reader_type.name().to_owned(),
                    };
                    Err(Incompatibility::new(path, rule))
                }
            }
            (Shape::Array(reader_items), Shape::Array(writer_items)) => {
                self.check(reader_items, writer_items, &format!("{path}/items"))
            }
            (Shape::Map(reader_values), Shape::Map(writer_values)) => {
                self.check(reader_values, writer_values, &format!("{path}/values"))
            }
            (Shape::Record(reader_record), Shape::Record(writer_record)) => {
                if !names_match(&reader_record.name, reader_record.aliases.as_deref(), &writer_record.name) {
                    return Err(name_mismatch("record", &reader_record.name, &writer_record.name, path));
                }
                self.check_record(reader_record, writer_record, path)
            }
            (Shape::Enum(reader_enum), Shape::Enum(writer_enum)) => {
                if !names_match(&reader_enum.name, reader_enum.aliases.as_deref(), &writer_enum.name) {
                    return Err(name_mismatch("enum", &reader_enum.name, &writer_enum.name, path));
                }
                check_enum_symbols(reader_enum, writer_enum, path)
            }
            (Shape::Fixed(reader_fixed), Shape::Fixed(writer_fixed)) => {
                if !names_match(&reader_fixed.name, reader_fixed.aliases, &writer_fixed.name) {
                    return Err(name_mismatch("fixed", &reader_fixed.name, &writer_fixed.name, path));
                }
                if reader_fixed.size != writer_fixed.size {
                    let rule = Rule::FixedSizeMismatch { writer: writer_fixed.size, reader: reader_fixed.size };
                    return Err(Incompatibility::new(&format!("{path}/size"), rule));
                }
                Ok(())
            }
            _ => {
                let rule = Rule::TypeMismatch { writer: writer.describe(), reader: reader.describe() };
                Err(Incompatibility::new(path, rule))
            }
        }
    }

    /// Reader fields are matched to writer fields by name, then by the reader
    /// field's aliases; writer-only fields are skipped by the reader.
    fn check_record(
        &mut self,
        reader: &'a RecordSchema,
        writer: &'a RecordSchema,
        path: &str,
    ) -> Result<(), Incompatibility> {
        let pair = (reader.name.fullname(None), writer.name.fullname(None));
        if !self.records_in_progress.insert(pair.clone()) {
            return Ok(());
        }
        let result = self.check_fields(reader, writer, path);
        self.records_in_progress.remove(&pair);
        result
    }

    fn check_fields(
        &mut self,
        reader: &'a RecordSchema,
        writer: &'a RecordSchema,
        path: &str,
    ) -> Result<(), Incompatibility> {
        for reader_field in &reader.fields {
            let field_path = format!("{path}/fields/{}", reader_field.name);
            let writer_field = writer.fields.iter().find(|field| field.name == reader_field.name).or_else(|| {
                let aliases = reader_field.aliases.as_deref().unwrap_or_default();
                writer.fields.iter().find(|field| aliases.contains(&field.name))
            });
            match writer_field {
                Some(writer_field) => {
                    self.check(&reader_field.schema, &writer_field.schema, &format!("{field_path}/type"))?;
                }
                None if reader_field.default.is_some() => {}
                None => {
                    let rule = Rule::MissingFieldWithoutDefault { field: reader_field.name.clone() };
                    return Err(Incompatibility::new(&field_path, rule));
                }
            }
        }
        Ok(())
    }
}

fn check_enum_symbols(reader: &EnumSchema, writer: &EnumSchema, path: &str) -> Result<(), Incompatibility> {
    if reader.default.is_some() {
        return Ok(());
    }
    match writer.symbols.iter().find(|symbol| !reader.symbols.contains(symbol)) {
        None => Ok(()),
        Some(symbol) => {
            let rule = Rule::MissingEnumSymbol { symbol: symbol.clone() };
            Err(Incompatibility::new(&format!("{path}/symbols"), rule))
        }
    }
}

fn name_mismatch(kind: &'static str, reader: &Name, writer: &Name, path: &str) -> Incompatibility {
    Incompatibility::new(path, Rule::NameMismatch { kind, writer: writer.to_string(), reader: reader.to_string() })
}
