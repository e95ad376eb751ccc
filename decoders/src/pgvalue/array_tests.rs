//! Array text against the exact strings PostgreSQL 15 prints (`SELECT ARRAY[...]`).

use super::*;
use crate::change::{Numeric, Timestamp, Value};

fn dimensions(bounds: &[(i32, u32)]) -> Vec<ArrayDimension> {
    bounds.iter().map(|&(lower_bound, length)| ArrayDimension { lower_bound, length }).collect()
}

fn ints(values: &[Option<i32>]) -> Vec<Option<Value>> {
    values.iter().map(|value| value.map(Value::Int32)).collect()
}

fn texts(values: &[Option<&str>]) -> Vec<Option<Value>> {
    values.iter().map(|value| value.map(|text| Value::Text(text.to_owned()))).collect()
}

fn parsed(element: &ColumnType, text: &str) -> ArrayValue {
    match parse_array(element, text) {
        Ok(array) => array,
        Err(problem) => panic!("{text:?} rejected: {problem}"),
    }
}

#[test]
fn one_dimension_with_nulls() {
    let array = parsed(&ColumnType::Int32, "{1,2,NULL}");
    assert_eq!(array.dimensions, dimensions(&[(1, 3)]));
    assert_eq!(array.elements, ints(&[Some(1), Some(2), None]));
}

#[test]
fn empty_has_no_dimensions() {
    let array = parsed(&ColumnType::Int32, "{}");
    assert_eq!((array.dimensions, array.elements), (vec![], vec![]));
}

#[test]
fn several_dimensions_and_bounds() {
    let array = parsed(&ColumnType::Int32, "{{1,2},{3,4}}");
    assert_eq!(array.dimensions, dimensions(&[(1, 2), (1, 2)]));
    assert_eq!(array.elements, ints(&[Some(1), Some(2), Some(3), Some(4)]));
    let array = parsed(&ColumnType::Int32, "[0:2]={1,2,3}");
    assert_eq!(array.dimensions, dimensions(&[(0, 3)]));
    let array = parsed(&ColumnType::Int32, "[1:2][3:4]={{1,2},{3,4}}");
    assert_eq!(array.dimensions, dimensions(&[(1, 2), (3, 2)]));
    assert_eq!(array.elements, ints(&[Some(1), Some(2), Some(3), Some(4)]));
    let array = parsed(&ColumnType::Int32, "[-5:-4]={1,2}");
    assert_eq!(array.dimensions, dimensions(&[(-5, 2)]));
    let array = parsed(&ColumnType::Int32, "{{{1}}}");
    assert_eq!(array.dimensions, dimensions(&[(1, 1), (1, 1), (1, 1)]));
    let array = parsed(&ColumnType::Int32, "[3]={1,2,3}");
    assert_eq!(array.dimensions, dimensions(&[(1, 3)]));
    let array = parsed(&ColumnType::Int32, "{{{{{{1}}}}}}");
    assert_eq!(array.dimensions.len(), 6);
}

#[test]
fn quoting_and_escapes() {
    // SELECT ARRAY['a b','c"d',NULL,'NULL','', 'x\y', ' s ', 'a,b', '{', 'null']
    let array = parsed(&ColumnType::Text, r#"{"a b","c\"d",NULL,"NULL","","x\\y"," s ","a,b","{","null"}"#);
    assert_eq!(
        array.elements,
        texts(&[
            Some("a b"),
            Some("c\"d"),
            None,
            Some("NULL"),
            Some(""),
            Some("x\\y"),
            Some(" s "),
            Some("a,b"),
            Some("{"),
            Some("null")
        ])
    );
    // SELECT ARRAY[E'a\nb'], ARRAY['😀'], ARRAY[' '::"char"], ARRAY['"'::"char"], ARRAY[ARRAY['']]
    assert_eq!(parsed(&ColumnType::Text, "{\"a\nb\"}").elements, texts(&[Some("a\nb")]));
    assert_eq!(parsed(&ColumnType::Text, "{😀}").elements, texts(&[Some("😀")]));
    assert_eq!(parsed(&ColumnType::Text, "{\" \"}").elements, texts(&[Some(" ")]));
    assert_eq!(parsed(&ColumnType::Text, "{\"\\\"\"}").elements, texts(&[Some("\"")]));
    let nested_empty = parsed(&ColumnType::Text, "{{\"\"}}");
    assert_eq!(nested_empty.dimensions, dimensions(&[(1, 1), (1, 1)]));
    assert_eq!(nested_empty.elements, texts(&[Some("")]));
}

#[test]
fn whitespace_as_array_in_accepts_it() {
    // '{ 1 , 2 }'::int[], '{ "a" , b c }'::text[], '{NuLl, "NULL"}'::text[], '{a\ ,\ b}'::text[]
    assert_eq!(parsed(&ColumnType::Int32, " { 1 , 2 } ").elements, ints(&[Some(1), Some(2)]));
    assert_eq!(parsed(&ColumnType::Text, "{ \"a\" , b c }").elements, texts(&[Some("a"), Some("b c")]));
    assert_eq!(parsed(&ColumnType::Text, "{NuLl, \"NULL\"}").elements, texts(&[None, Some("NULL")]));
    assert_eq!(parsed(&ColumnType::Text, "{a\\ ,\\ b}").elements, texts(&[Some("a "), Some(" b")]));
}

#[test]
fn element_types_decode() {
    // SELECT ARRAY['NaN'::float8,'-0'], ARRAY['2020-01-01 00:00'::timestamptz], ARRAY['\x00'::bytea], ...
    let floats = parsed(&ColumnType::Float64, "{NaN,-0}");
    assert!(matches!(floats.elements.first(), Some(Some(Value::Float64(value))) if value.is_nan()));
    assert!(
        matches!(floats.elements.get(1), Some(Some(Value::Float64(value))) if value.to_bits() == (-0.0f64).to_bits())
    );
    assert_eq!(
        parsed(&ColumnType::TimestampTz, "{\"2020-01-01 00:00:00+00\"}").elements,
        vec![Some(Value::TimestampTz(Timestamp::Micros(1_577_836_800_000_000)))]
    );
    assert_eq!(parsed(&ColumnType::Bytes, "{\"\\\\x00\"}").elements, vec![Some(Value::Bytes(vec![0]))]);
    assert_eq!(parsed(&ColumnType::VarBit, "{101}").elements, vec![Some(Value::Bits("101".to_owned()))]);
    assert_eq!(
        parsed(&ColumnType::Jsonb, "{\"{\\\"a\\\": 1}\"}").elements,
        vec![Some(Value::Json("{\"a\": 1}".to_owned()))]
    );
    assert_eq!(parsed(&ColumnType::TsVector, "{'a':1}").elements, vec![Some(Value::Other("'a':1".to_owned()))]);
    assert_eq!(parsed(&ColumnType::Money, "{$1.50}").elements, vec![Some(Value::Money(150))]);
    let numeric = ColumnType::Numeric { precision: None, scale: None };
    assert!(matches!(parsed(&numeric, "{1.5}").elements.first(), Some(Some(Value::Numeric(Numeric::Finite(_))))));
}

#[test]
fn box_arrays_use_semicolons() {
    // SELECT ARRAY['(0,0),(1,1)'::box, '(2,2),(3,3)']
    let box_type = ColumnType::Other { type_name: "box".to_owned() };
    assert_eq!(delimiter(&box_type), ';');
    let array = parsed(&box_type, "{(1,1),(0,0);(3,3),(2,2)}");
    assert_eq!(
        array.elements,
        vec![Some(Value::Other("(1,1),(0,0)".to_owned())), Some(Value::Other("(3,3),(2,2)".to_owned()))]
    );
    // SELECT ARRAY['(1,2)'::point]
    let point = ColumnType::Other { type_name: "point".to_owned() };
    assert_eq!(parsed(&point, "{\"(1,2)\"}").elements, vec![Some(Value::Other("(1,2)".to_owned()))]);
}

#[test]
fn ranges_and_composites_as_elements() {
    // SELECT ARRAY['[1,5)'::int4range, 'empty'], ARRAY[ROW(1,'a')]
    let range = ColumnType::Range { type_name: "int4range".to_owned(), subtype: Box::new(ColumnType::Int32) };
    let array = parsed(&range, "{\"[1,5)\",empty}");
    assert_eq!(array.elements.get(1), Some(&Some(Value::Range(Box::new(crate::change::RangeValue::Empty)))));
    let composite = ColumnType::Composite {
        type_name: "pair".to_owned(),
        fields: vec![
            crate::change::CompositeField { name: "n".to_owned(), column_type: ColumnType::Int32 },
            crate::change::CompositeField { name: "s".to_owned(), column_type: ColumnType::Text },
        ],
    };
    assert_eq!(
        parsed(&composite, "{\"(1,a)\"}").elements,
        vec![Some(Value::Composite(vec![
            ("n".to_owned(), Some(Value::Int32(1))),
            ("s".to_owned(), Some(Value::Text("a".to_owned()))),
        ]))]
    );
}

#[test]
fn malformed_arrays() {
    for text in [
        "",
        "{",
        "}",
        "{1,2",
        "{1,,2}",
        "{,}",
        "{{1,2},{3}}",
        "{1,{2}}",
        "{{1},2}",
        "{{},{}}",
        "[1:2]={1}",
        "[2:1]={}",
        "[1:1]={}",
        "[1:1]{1}",
        "[x]={1}",
        "{1}x",
        "{a\"b}",
        "{\"a\"b}",
        "{\"a}",
        "{a\\",
        "{{{{{{{1}}}}}}}",
        "[1:1][1:1][1:1][1:1][1:1][1:1][1:1]={{{{{{{1}}}}}}}",
        "{1 2}",
        "[2147483647:2147483648]={1}",
    ] {
        assert!(parse_array(&ColumnType::Int32, text).is_err(), "{text:?}");
    }
}

#[test]
fn element_errors_name_the_element() {
    let Err(problem) = parse_array(&ColumnType::Int32, "{1,x}") else {
        panic!("bad element accepted");
    };
    assert_eq!(problem, "element 2: invalid int4 text \"x\": not a decimal integer");
}
