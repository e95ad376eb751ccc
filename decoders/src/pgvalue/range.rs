//! Range values from `range_out`'s text: `[1,5)`, `(,5]`, `(,)`, `empty`,
//! `["2020-01-01 00:00:00+00","2021-01-01 00:00:00+00")`.
//!
//! Bounds are scanned with [`scan_field`] (`,`, `)` and `]` end a bound) and
//! decoded as the range's subtype. An empty unquoted bound is unbounded; its
//! bracket carries no meaning and is dropped, as PostgreSQL does.

use crate::change::{ColumnType, RangeBound, RangeValue};

use super::error::Problem;
use super::text_value;
use super::token::scan_field;

const BOUND_END: &[char] = &[',', ')', ']'];

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

pub(crate) fn parse_range(subtype: &ColumnType, text: &str) -> Result<RangeValue, Problem> {
    let text = text.trim_matches(is_space);
    if text.eq_ignore_ascii_case("empty") {
        return Ok(RangeValue::Empty);
    }
    let (lower_inclusive, rest) = match text.chars().next() {
        Some('[') => (true, text.get(1..).unwrap_or_default()),
        Some('(') => (false, text.get(1..).unwrap_or_default()),
        _ => return Err("expected '[', '(' or empty".into()),
    };
    let (lower, rest) = scan_field(rest, BOUND_END)?;
    let rest = rest.strip_prefix(',').ok_or("expected ',' between the bounds")?;
    let (upper, rest) = scan_field(rest, BOUND_END)?;
    let upper_inclusive = match rest {
        "]" => true,
        ")" => false,
        _ => return Err("expected ']' or ')' to end the range".into()),
    };
    let bound = |text: Option<String>, inclusive: bool, end: &str| -> Result<Option<RangeBound>, Problem> {
        text.map(|text| {
            text_value(subtype, &text)
                .map(|value| RangeBound { value, inclusive })
                .map_err(|error| format!("{end} bound: {error}").into())
        })
        .transpose()
    };
    Ok(RangeValue::Bounded {
        lower: bound(lower, lower_inclusive, "lower")?,
        upper: bound(upper, upper_inclusive, "upper")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{Timestamp, Value};

    fn bound(value: Value, inclusive: bool) -> Option<RangeBound> {
        Some(RangeBound { value, inclusive })
    }

    #[test]
    fn forms_range_out_prints() {
        // SELECT '[1,5)'::int4range, '(,5]'::int4range → (,6), 'empty'::int4range, int4range(NULL,NULL)
        let int = ColumnType::Int32;
        assert_eq!(
            parse_range(&int, "[1,5)"),
            Ok(RangeValue::Bounded { lower: bound(Value::Int32(1), true), upper: bound(Value::Int32(5), false) })
        );
        assert_eq!(
            parse_range(&int, "(,6)"),
            Ok(RangeValue::Bounded { lower: None, upper: bound(Value::Int32(6), false) })
        );
        assert_eq!(parse_range(&int, "(,)"), Ok(RangeValue::Bounded { lower: None, upper: None }));
        assert_eq!(parse_range(&int, "empty"), Ok(RangeValue::Empty));
        assert_eq!(parse_range(&int, "EMPTY"), Ok(RangeValue::Empty));
    }

    #[test]
    fn quoted_bounds() {
        // SELECT '[2020-01-01,2021-01-01)'::tstzrange
        let parsed = parse_range(&ColumnType::TimestampTz, "[\"2020-01-01 00:00:00+00\",\"2021-01-01 00:00:00+00\")");
        assert_eq!(
            parsed,
            Ok(RangeValue::Bounded {
                lower: bound(Value::TimestampTz(Timestamp::Micros(1_577_836_800_000_000)), true),
                upper: bound(Value::TimestampTz(Timestamp::Micros(1_609_459_200_000_000)), false),
            })
        );
        let text = ColumnType::Text;
        assert_eq!(
            parse_range(&text, "[\"a \"\"b\\\\\",\"\"]"),
            Ok(RangeValue::Bounded {
                lower: bound(Value::Text("a \"b\\".to_owned()), true),
                upper: bound(Value::Text(String::new()), true),
            })
        );
    }

    #[test]
    fn malformed() {
        for text in ["", "[1,5", "1,5)", "[1;5)", "[1,5)x", "[1,2,3)", "[x,5)", "[\"1,5)"] {
            assert!(parse_range(&ColumnType::Int32, text).is_err(), "{text:?}");
        }
    }
}
