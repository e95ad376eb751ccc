//! Fuzzes the value decoders: the text and the binary form of every column type,
//! nested arrays, ranges and composites included. The first bytes pick the column
//! type (and its modifiers); the rest is the value. Any panic is a bug: a value the
//! decoders cannot read must come back as an error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wellhead_decoders::change::{ColumnType, CompositeField};
use wellhead_decoders::pgvalue::{decode_binary, decode_text};

fuzz_target!(|input: &[u8]| {
    let mut rest = input;
    let column_type = column_type(&mut rest, 0);
    let _ = decode_text(&column_type, rest);
    let _ = decode_binary(&column_type, rest);
});

/// The next selector byte (0 once the input is used up).
fn take(rest: &mut &[u8]) -> u8 {
    let Some((&first, tail)) = rest.split_first() else { return 0 };
    *rest = tail;
    first
}

/// A column type from the selector bytes; containers nest at most three deep.
fn column_type(selector: &mut &[u8], depth: u32) -> ColumnType {
    let byte = take(selector);
    let modifier = take(selector);
    let nested = |selector: &mut &[u8]| if depth < 3 { column_type(selector, depth + 1) } else { ColumnType::Int32 };
    match byte % 40 {
        0 => ColumnType::Bool,
        1 => ColumnType::Int16,
        2 => ColumnType::Int32,
        3 => ColumnType::Int64,
        4 => ColumnType::Float32,
        5 => ColumnType::Float64,
        6 => ColumnType::Numeric { precision: None, scale: None },
        7 => ColumnType::Numeric { precision: Some(u32::from(modifier % 40) + 1), scale: Some(u32::from(modifier % 7)) },
        8 => ColumnType::Text,
        9 => ColumnType::Bytes,
        10 => ColumnType::Date,
        11 => ColumnType::Time,
        12 => ColumnType::TimeTz,
        13 => ColumnType::Timestamp,
        14 => ColumnType::TimestampTz,
        15 => ColumnType::Interval,
        16 => ColumnType::Uuid,
        17 => ColumnType::Json,
        18 => ColumnType::Jsonb,
        19 => ColumnType::Xml,
        20 => ColumnType::Inet,
        21 => ColumnType::Cidr,
        22 => ColumnType::MacAddr,
        23 => ColumnType::MacAddr8,
        24 => ColumnType::Money,
        25 => ColumnType::Bit { length: (modifier > 0).then_some(u32::from(modifier)) },
        26 => ColumnType::VarBit,
        27 => ColumnType::Oid,
        28 => ColumnType::TsVector,
        29 => ColumnType::Enum { type_name: "mood".into(), labels: vec!["sad".into(), "ok".into(), "happy".into()] },
        30 | 31 => ColumnType::Array { element: Box::new(nested(selector)) },
        32 => ColumnType::Range { type_name: "range".into(), subtype: Box::new(nested(selector)) },
        33 => {
            let fields = (0..modifier % 4)
                .map(|index| CompositeField { name: format!("f{index}"), column_type: nested(selector) })
                .collect();
            ColumnType::Composite { type_name: "pair".into(), fields }
        }
        34 => ColumnType::UInt64,
        35 => ColumnType::TimeDuration,
        36 => ColumnType::Year,
        37 => ColumnType::Set { labels: vec!["a".into(), "b".into()] },
        38 => ColumnType::Vector { dimensions: (modifier > 0).then_some(u32::from(modifier)) },
        _ => ColumnType::Other { type_name: "point".into() },
    }
}
