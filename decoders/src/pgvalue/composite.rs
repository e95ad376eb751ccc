//! Composite (row type) values from `record_out`'s text: `(1,"a b",,"")`.
//!
//! Fields are scanned with [`scan_field`] (`,` and `)` end a field), then each
//! is decoded as its own type: an empty unquoted field is NULL, `""` is the
//! empty string, nested composites and arrays arrive quoted and are decoded
//! recursively.
//!
//! Invariant: the text must have exactly one field per attribute of the type;
//! `()` is one NULL field for a one-attribute type and no field for a
//! zero-attribute type, as in `record_in`.

use crate::change::{CompositeField, Value};

use super::error::Problem;
use super::text_value;
use super::token::scan_field;

/// `record_in`'s whitespace: around the parentheses only.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

pub(crate) fn parse_record(fields: &[CompositeField], text: &str) -> Result<Vec<(String, Option<Value>)>, Problem> {
    split_record(text, fields.len())?
        .into_iter()
        .zip(fields)
        .map(|(raw, field)| {
            let value = raw
                .map(|raw| text_value(&field.column_type, &raw))
                .transpose()
                .map_err(|error| format!("field {:?}: {error}", field.name))?;
            Ok((field.name.clone(), value))
        })
        .collect()
}

/// The unescaped text of each of `field_count` fields, `None` for NULL.
fn split_record(text: &str, field_count: usize) -> Result<Vec<Option<String>>, Problem> {
    let mut rest =
        text.trim_start_matches(is_space).strip_prefix('(').ok_or("expected '(' at the start of a record")?;
    let mut fields = Vec::with_capacity(field_count.min(text.len()));
    for index in 0..field_count {
        if index > 0 {
            rest = rest.strip_prefix(',').ok_or_else(|| format!("expected {field_count} fields, found {index}"))?;
        }
        let (field, after) = scan_field(rest, &[',', ')'])?;
        fields.push(field);
        rest = after;
    }
    let rest = rest.strip_prefix(')').ok_or_else(|| format!("expected {field_count} fields, found more"))?;
    if !rest.trim_matches(is_space).is_empty() {
        return Err("unexpected text after ')'".into());
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::ColumnType;

    fn field(name: &str, column_type: ColumnType) -> CompositeField {
        CompositeField { name: name.to_owned(), column_type }
    }

    fn strings(fields: &[Option<&str>]) -> Vec<Option<String>> {
        fields.iter().map(|field| field.map(str::to_owned)).collect()
    }

    #[test]
    fn splits_as_record_out_prints() {
        // SELECT ROW(1,'a b',NULL,''), ROW(NULL,NULL), ROW(''), ROW(' a ')
        assert_eq!(split_record("(1,\"a b\",,\"\")", 4), Ok(strings(&[Some("1"), Some("a b"), None, Some("")])));
        assert_eq!(split_record("(,)", 2), Ok(strings(&[None, None])));
        assert_eq!(split_record("(\"\")", 1), Ok(strings(&[Some("")])));
        assert_eq!(split_record("(\" a \")", 1), Ok(strings(&[Some(" a ")])));
        assert_eq!(split_record("()", 1), Ok(strings(&[None])));
        assert_eq!(split_record("()", 0), Ok(vec![]));
        assert_eq!(split_record(" (1) ", 1), Ok(strings(&[Some("1")])));
        // SELECT ROW(ROW(ROW('x y'))) → ("(""(""""x y"""")"")")
        assert_eq!(
            split_record("(\"(\"\"(\"\"\"\"x y\"\"\"\")\"\")\")", 1),
            Ok(strings(&[Some("(\"(\"\"x y\"\")\")")]))
        );
    }

    #[test]
    fn field_count_must_match() {
        assert!(split_record("(1,2)", 1).is_err());
        assert!(split_record("(1)", 2).is_err());
        assert!(split_record("(1)x", 1).is_err());
        assert!(split_record("1", 1).is_err());
        assert!(split_record("(1", 1).is_err());
    }

    #[test]
    fn decodes_nested_fields() {
        // SELECT ROW(ROW(1,'x'),ARRAY[1,2], 'a"b\c') → ("(1,x)","{1,2}","a""b\\c")
        let inner = ColumnType::Composite {
            type_name: "inner".to_owned(),
            fields: vec![field("n", ColumnType::Int32), field("s", ColumnType::Text)],
        };
        let fields = [
            field("inner", inner),
            field("list", ColumnType::Array { element: Box::new(ColumnType::Int32) }),
            field("text", ColumnType::Text),
        ];
        let Ok(decoded) = parse_record(&fields, "(\"(1,x)\",\"{1,2}\",\"a\"\"b\\\\c\")") else {
            panic!("record rejected");
        };
        assert_eq!(
            decoded.first(),
            Some(&(
                "inner".to_owned(),
                Some(Value::Composite(vec![
                    ("n".to_owned(), Some(Value::Int32(1))),
                    ("s".to_owned(), Some(Value::Text("x".to_owned()))),
                ]))
            ))
        );
        assert_eq!(decoded.get(2), Some(&("text".to_owned(), Some(Value::Text("a\"b\\c".to_owned())))));
        let Err(problem) = parse_record(&fields[..1], "(\"(x,y)\")") else {
            panic!("bad nested field accepted");
        };
        assert!(problem.contains("field \"inner\"") && problem.contains("field \"n\""), "{problem}");
    }
}
