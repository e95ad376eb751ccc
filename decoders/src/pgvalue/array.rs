//! Arrays from `array_out`'s text, with `array_in`'s rules:
//!
//! ```text
//!   {1,2,NULL}   {}   {{1,2},{3,4}}   [0:2]={1,2,3}   [1:2][3:4]={{1,2},{3,4}}
//!   {"a b","c\"d",NULL,"NULL","","x\\y"}      box[]: {(1,1),(0,0);(3,3),(2,2)}
//! ```
//!
//! - Elements are separated by the element type's delimiter: `;` for `box`,
//!   `,` for every other built-in.
//! - A quoted element is text with `\` escapes; an unquoted one has its
//!   surrounding whitespace dropped, and is NULL when it reads `NULL` in any
//!   case (a quoted `"NULL"` is the string).
//! - Nested composites, ranges and arrays of other element types arrive quoted
//!   and are decoded as the element type.
//!
//! Invariants: at most [`MAX_DIMENSIONS`] dimensions (PostgreSQL's `MAXDIM`),
//! sub-arrays of one level all have the same length, explicit bounds agree
//! with the braces, lower bounds default to 1, and `{}` has no dimensions.

use crate::change::{ArrayDimension, ArrayValue, ColumnType};

use super::error::Problem;
use super::text_value;

/// PostgreSQL's `MAXDIM`.
const MAX_DIMENSIONS: usize = 6;

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// The element delimiter (`typdelim`) for an element type.
pub(crate) fn delimiter(element: &ColumnType) -> char {
    match element {
        ColumnType::Other { type_name } if type_name == "box" || type_name.ends_with(".box") => ';',
        _ => ',',
    }
}

pub(crate) fn parse_array(element: &ColumnType, text: &str) -> Result<ArrayValue, Problem> {
    let text = text.trim_matches(is_space);
    let (explicit_bounds, body) = match text.strip_prefix('[') {
        Some(_) => {
            let (bounds, body) = text.split_once('=').ok_or("expected '=' after the dimensions")?;
            (Some(parse_bounds(bounds)?), body.trim_start_matches(is_space))
        }
        None => (None, text),
    };
    let mut scanner = Scanner {
        rest: body,
        delimiter: delimiter(element),
        lengths: [None; MAX_DIMENSIONS],
        dimension_count: None,
        raw_elements: Vec::new(),
    };
    scanner.level(0)?;
    if !scanner.rest.trim_matches(is_space).is_empty() {
        return Err("unexpected text after the closing '}'".into());
    }
    let lengths = scanner.lengths.iter().map_while(|length| *length);
    let dimensions = match explicit_bounds {
        None => lengths.map(|length| ArrayDimension { lower_bound: 1, length }).collect(),
        Some(bounds) if bounds.iter().map(|dimension| dimension.length).eq(lengths) => bounds,
        Some(_) => return Err("the explicit dimensions do not match the elements".into()),
    };
    let elements = scanner
        .raw_elements
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            raw.map(|raw| text_value(element, &raw))
                .transpose()
                .map_err(|error| format!("element {}: {error}", index + 1).into())
        })
        .collect::<Result<_, Problem>>()?;
    Ok(ArrayValue { dimensions, elements })
}

/// `[lb:ub][lb:ub]` (or `[ub]`, lower bound 1) into dimensions.
fn parse_bounds(text: &str) -> Result<Vec<ArrayDimension>, Problem> {
    let malformed = "expected dimensions as [lower:upper] before '='";
    let inner =
        text.trim_end_matches(is_space).strip_prefix('[').and_then(|text| text.strip_suffix(']')).ok_or(malformed)?;
    let dimensions = inner
        .split("][")
        .map(|bounds| {
            let (lower, upper) = bounds.split_once(':').unwrap_or(("1", bounds));
            let lower: i32 = lower.trim().parse().map_err(|_| malformed)?;
            let upper: i32 = upper.trim().parse().map_err(|_| malformed)?;
            let length = u32::try_from(i64::from(upper) - i64::from(lower) + 1)
                .map_err(|_| "an upper bound is below its lower bound")?;
            Ok(ArrayDimension { lower_bound: lower, length })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(format!("more than {MAX_DIMENSIONS} dimensions").into());
    }
    Ok(dimensions)
}

/// Walks the braces, collecting each level's length and the raw elements.
struct Scanner<'a> {
    rest: &'a str,
    delimiter: char,
    /// Length of each level seen so far, outermost first.
    lengths: [Option<u32>; MAX_DIMENSIONS],
    /// Depth at which the first element was found, plus one.
    dimension_count: Option<usize>,
    raw_elements: Vec<Option<String>>,
}

impl Scanner<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start_matches(is_space);
    }

    fn take(&mut self, expected: char) -> bool {
        match self.rest.strip_prefix(expected) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// One `{...}` at `depth`, the `{` not yet consumed.
    fn level(&mut self, depth: usize) -> Result<(), Problem> {
        if depth >= MAX_DIMENSIONS {
            return Err(format!("more than {MAX_DIMENSIONS} dimensions").into());
        }
        self.skip_space();
        if !self.take('{') {
            return Err("expected '{'".into());
        }
        self.skip_space();
        if self.take('}') {
            return if depth == 0 { Ok(()) } else { Err("empty sub-array".into()) };
        }
        let mut length: u32 = 0;
        loop {
            self.skip_space();
            if self.rest.starts_with('{') {
                if self.dimension_count.is_some_and(|count| depth + 1 >= count) {
                    return Err("sub-arrays nested unevenly".into());
                }
                self.level(depth + 1)?;
            } else {
                match self.dimension_count {
                    None => self.dimension_count = Some(depth + 1),
                    Some(count) if count == depth + 1 => {}
                    Some(_) => return Err("elements and sub-arrays mixed at one level".into()),
                }
                let element = self.element()?;
                self.raw_elements.push(element);
            }
            length = length.checked_add(1).ok_or("too many elements")?;
            self.skip_space();
            if self.take('}') {
                break;
            }
            if !self.take(self.delimiter) {
                return Err(format!("expected '{}' or '}}' after an element", self.delimiter).into());
            }
        }
        match self.lengths.get_mut(depth) {
            Some(slot @ None) => *slot = Some(length),
            Some(Some(known)) if *known == length => {}
            _ => return Err("sub-arrays of one level differ in length".into()),
        }
        Ok(())
    }

    /// One element, quoted or not; `None` for an unquoted NULL.
    fn element(&mut self) -> Result<Option<String>, Problem> {
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        if self.rest.starts_with('"') {
            chars.next();
            while let Some((position, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().ok_or("input ends after a backslash")?.1),
                    '"' => {
                        self.rest = self.rest.get(position + 1..).unwrap_or_default();
                        return Ok(Some(value));
                    }
                    c => value.push(c),
                }
            }
            return Err("input ends inside double quotes".into());
        }
        let mut escaped = false;
        // Length of `value` up to its last character that is not trailing whitespace.
        let mut kept_length = 0;
        while let Some((position, c)) = chars.next() {
            match c {
                '\\' => {
                    value.push(chars.next().ok_or("input ends after a backslash")?.1);
                    escaped = true;
                    kept_length = value.len();
                }
                '}' => {
                    self.rest = self.rest.get(position..).unwrap_or_default();
                    break;
                }
                c if c == self.delimiter => {
                    self.rest = self.rest.get(position..).unwrap_or_default();
                    break;
                }
                '{' | '"' => return Err(format!("unexpected '{c}' in an unquoted element").into()),
                c => {
                    value.push(c);
                    if !is_space(c) {
                        kept_length = value.len();
                    }
                }
            }
        }
        value.truncate(kept_length);
        if value.is_empty() && !escaped {
            return Err("empty unquoted element".into());
        }
        Ok((escaped || !value.eq_ignore_ascii_case("NULL")).then_some(value))
    }
}

#[cfg(test)]
#[path = "array_tests.rs"]
mod tests;
