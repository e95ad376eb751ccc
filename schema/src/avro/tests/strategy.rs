//! Random column types (nested arrays, composites and ranges included) and values of them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use wellhead_decoders::change::{
    ArrayDimension, ArrayValue, ColumnType, CompositeField, Date, Decimal, Inet, Interval, Numeric, RangeBound,
    RangeValue, TimeTz, Timestamp, Value,
};

/// Names that collide once sanitised, to exercise the naming rule.
pub(crate) const NAMES: [&str; 7] = ["id", "a b", "a-b", "a_b", "a_b_2", "1x", "Größe"];

fn labels() -> Vec<String> {
    vec!["happy".to_owned(), "so so".to_owned(), "😀".to_owned()]
}

fn simple_types() -> Vec<ColumnType> {
    vec![
        ColumnType::Bool,
        ColumnType::Int16,
        ColumnType::Int32,
        ColumnType::Int64,
        ColumnType::Float32,
        ColumnType::Float64,
        ColumnType::Numeric { precision: None, scale: None },
        ColumnType::Numeric { precision: Some(3), scale: Some(5) },
        ColumnType::Text,
        ColumnType::Bytes,
        ColumnType::Date,
        ColumnType::Time,
        ColumnType::TimeTz,
        ColumnType::Timestamp,
        ColumnType::TimestampTz,
        ColumnType::Interval,
        ColumnType::Uuid,
        ColumnType::Json,
        ColumnType::Jsonb,
        ColumnType::Xml,
        ColumnType::Inet,
        ColumnType::Cidr,
        ColumnType::MacAddr,
        ColumnType::MacAddr8,
        ColumnType::Money,
        ColumnType::Bit { length: Some(3) },
        ColumnType::VarBit,
        ColumnType::Oid,
        ColumnType::TsVector,
        ColumnType::Enum { type_name: "mood".to_owned(), labels: labels() },
        ColumnType::UInt64,
        ColumnType::TimeDuration,
        ColumnType::Year,
        ColumnType::Set { labels: labels() },
        ColumnType::Geometry,
        ColumnType::Vector { dimensions: Some(3) },
        ColumnType::Other { type_name: "point".to_owned() },
    ]
}

pub(crate) fn scalar_type() -> BoxedStrategy<ColumnType> {
    let fixed_numeric = (1_u32..=60)
        .prop_flat_map(|precision| (Just(precision), 0..=precision))
        .prop_map(|(precision, scale)| ColumnType::Numeric { precision: Some(precision), scale: Some(scale) });
    prop_oneof![4 => select(simple_types()), 1 => fixed_numeric].boxed()
}

pub(crate) fn column_type() -> BoxedStrategy<ColumnType> {
    scalar_type()
        .prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(|element| ColumnType::Array { element: Box::new(element) }),
                (
                    select(vec!["pair", "public.pair", "my type"]),
                    subsequence(NAMES.to_vec(), 1..=4),
                    prop::collection::vec(inner.clone(), 4)
                )
                    .prop_map(|(type_name, names, types)| ColumnType::Composite {
                        type_name: type_name.to_owned(),
                        fields: names
                            .into_iter()
                            .zip(types)
                            .map(|(name, column_type)| CompositeField { name: name.to_owned(), column_type })
                            .collect(),
                    }),
                (select(vec!["int4range", "public.span"]), inner).prop_map(|(type_name, subtype)| ColumnType::Range {
                    type_name: type_name.to_owned(),
                    subtype: Box::new(subtype),
                }),
            ]
        })
        .boxed()
}

fn digits(max_len: u32) -> BoxedStrategy<String> {
    let nonzero = format!("[1-9][0-9]{{0,{}}}", max_len.saturating_sub(1));
    prop_oneof![1 => Just("0".to_owned()), 6 => proptest::string::string_regex(&nonzero).expect("valid test data")]
        .boxed()
}

fn decimal(max_digits: u32, scale: BoxedStrategy<u32>) -> BoxedStrategy<Numeric> {
    let finite = (any::<bool>(), digits(max_digits), scale).prop_map(|(negative, digits, scale)| {
        Numeric::Finite(Decimal { negative: negative && digits != "0", digits, scale })
    });
    prop_oneof![
        6 => finite,
        1 => select(vec![Numeric::NaN, Numeric::PositiveInfinity, Numeric::NegativeInfinity]),
    ]
    .boxed()
}

fn timestamp() -> BoxedStrategy<Timestamp> {
    prop_oneof![
        6 => any::<i64>().prop_map(|micros| Timestamp::Micros(i128::from(micros))),
        1 => select(vec![Timestamp::PositiveInfinity, Timestamp::NegativeInfinity]),
    ]
    .boxed()
}

fn inet(cidr: bool) -> BoxedStrategy<Inet> {
    prop_oneof![
        (any::<[u8; 4]>(), 0_u8..=32).prop_map(move |(octets, prefix_length)| Inet {
            address: IpAddr::V4(Ipv4Addr::from(octets)),
            prefix_length,
            cidr
        }),
        (any::<[u8; 16]>(), 0_u8..=128).prop_map(move |(octets, prefix_length)| Inet {
            address: IpAddr::V6(Ipv6Addr::from(octets)),
            prefix_length,
            cidr
        }),
    ]
    .boxed()
}

/// Any value of `column_type`, with the scale of a fixed decimal column.
pub(crate) fn value_of(column_type: &ColumnType) -> BoxedStrategy<Value> {
    match column_type {
        ColumnType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        ColumnType::Int16 => any::<i16>().prop_map(Value::Int16).boxed(),
        ColumnType::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
        ColumnType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        ColumnType::Float32 => any::<f32>().prop_map(Value::Float32).boxed(),
        ColumnType::Float64 => any::<f64>().prop_map(Value::Float64).boxed(),
        ColumnType::Numeric { precision: Some(precision), scale: Some(scale) } if scale <= precision => {
            decimal(*precision, Just(*scale).boxed()).prop_map(Value::Numeric).boxed()
        }
        ColumnType::Numeric { .. } => decimal(200, (0_u32..60).boxed()).prop_map(Value::Numeric).boxed(),
        ColumnType::Money => any::<i64>().prop_map(Value::Money).boxed(),
        ColumnType::Text => any::<String>().prop_map(Value::Text).boxed(),
        ColumnType::Xml => any::<String>().prop_map(Value::Xml).boxed(),
        ColumnType::Json | ColumnType::Jsonb => any::<String>().prop_map(Value::Json).boxed(),
        ColumnType::TsVector | ColumnType::Other { .. } => any::<String>().prop_map(Value::Other).boxed(),
        ColumnType::Bit { .. } | ColumnType::VarBit => "[01]{0,20}".prop_map(Value::Bits).boxed(),
        ColumnType::Bytes => prop::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes).boxed(),
        ColumnType::Date => prop_oneof![
            6 => any::<i32>().prop_map(Date::Days),
            1 => select(vec![Date::PositiveInfinity, Date::NegativeInfinity]),
        ]
        .prop_map(Value::Date)
        .boxed(),
        ColumnType::Time => (0_i64..=86_400_000_000).prop_map(Value::Time).boxed(),
        ColumnType::TimeTz => (0_i64..=86_400_000_000, -57_599_i32..=57_599)
            .prop_map(|(micros, utc_offset_seconds)| Value::TimeTz(TimeTz { micros, utc_offset_seconds }))
            .boxed(),
        ColumnType::Timestamp => timestamp().prop_map(Value::Timestamp).boxed(),
        ColumnType::TimestampTz => timestamp().prop_map(Value::TimestampTz).boxed(),
        ColumnType::Interval => (any::<i32>(), any::<i32>(), any::<i64>())
            .prop_map(|(months, days, micros)| Value::Interval(Interval { months, days, micros }))
            .boxed(),
        ColumnType::Uuid => any::<[u8; 16]>().prop_map(Value::Uuid).boxed(),
        ColumnType::Inet => inet(false).prop_map(Value::Inet).boxed(),
        ColumnType::Cidr => inet(true).prop_map(Value::Inet).boxed(),
        ColumnType::MacAddr => any::<[u8; 6]>().prop_map(Value::MacAddr).boxed(),
        ColumnType::MacAddr8 => any::<[u8; 8]>().prop_map(Value::MacAddr8).boxed(),
        ColumnType::Oid => any::<u32>().prop_map(Value::Oid).boxed(),
        ColumnType::Enum { labels, .. } => select(labels.clone()).prop_map(Value::Enum).boxed(),
        ColumnType::UInt64 => any::<u64>().prop_map(Value::UInt64).boxed(),
        ColumnType::TimeDuration => {
            let limit: i64 = 838 * 3_600_000_000 + 59 * 60_000_000 + 59_999_999;
            (-limit..=limit).prop_map(Value::TimeDuration).boxed()
        }
        ColumnType::Year => prop_oneof![Just(0_i16), 1901_i16..=2155].prop_map(Value::Year).boxed(),
        ColumnType::Set { labels } => subsequence(labels.clone(), 0..=labels.len()).prop_map(Value::Set).boxed(),
        ColumnType::Geometry => (any::<u32>(), prop::collection::vec(any::<u8>(), 0..30))
            .prop_map(|(srid, wkb)| Value::Geometry { srid, wkb })
            .boxed(),
        ColumnType::Vector { .. } => prop::collection::vec(any::<f32>(), 0..5).prop_map(Value::Vector).boxed(),
        ColumnType::Array { element } => {
            let element = element.as_ref().clone();
            prop::collection::vec((-2_i32..=2, 1_u32..=3), 0..=2)
                .prop_flat_map(move |shape| {
                    let count =
                        if shape.is_empty() { 0 } else { shape.iter().map(|(_, length)| *length as usize).product() };
                    let dimensions: Vec<ArrayDimension> =
                        shape.into_iter().map(|(lower_bound, length)| ArrayDimension { lower_bound, length }).collect();
                    (Just(dimensions), prop::collection::vec(prop::option::of(value_of(&element)), count))
                })
                .prop_map(|(dimensions, elements)| Value::Array(ArrayValue { dimensions, elements }))
                .boxed()
        }
        ColumnType::Composite { fields, .. } => {
            let names: Vec<String> = fields.iter().map(|field| field.name.clone()).collect();
            let values: Vec<_> = fields.iter().map(|field| prop::option::of(value_of(&field.column_type))).collect();
            values.prop_map(move |values| Value::Composite(names.iter().cloned().zip(values).collect())).boxed()
        }
        ColumnType::Range { subtype, .. } => {
            let bound = prop::option::of((value_of(subtype), any::<bool>()))
                .prop_map(|bound| bound.map(|(value, inclusive)| RangeBound { value, inclusive }));
            prop_oneof![
                1 => Just(RangeValue::Empty),
                4 => (bound.clone(), bound).prop_map(|(lower, upper)| RangeValue::Bounded { lower, upper }),
            ]
            .prop_map(|range| Value::Range(Box::new(range)))
            .boxed()
        }
    }
}
