//! The one scanner for the quoted fields of record (`(1,"a b",,)`) and range
//! (`["2020-01-01 00:00:00+00",)`) text, with `record_in`'s and
//! `range_parse_bound`'s rules:
//!
//! - a field runs to the first terminator outside double quotes;
//! - inside or outside quotes, `\x` is a literal `x`;
//! - inside quotes, `""` is a literal `"`; quotes may open and close anywhere;
//! - a field with no characters at all is `None` (NULL, or an unbounded end),
//!   while `""` is the empty string.
//!
//! Invariant: the rest returned starts at the terminator, not consumed.

use super::error::Problem;

/// Scans one field of `input` up to the first unquoted character of
/// `terminators`; returns its unescaped text and the rest from the terminator.
pub(crate) fn scan_field<'a>(input: &'a str, terminators: &[char]) -> Result<(Option<String>, &'a str), Problem> {
    if input.starts_with(terminators) {
        return Ok((None, input));
    }
    let mut value = String::new();
    let mut in_quotes = false;
    let mut chars = input.char_indices().peekable();
    while let Some((position, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, escaped) = chars.next().ok_or("input ends after a backslash")?;
                value.push(escaped);
            }
            '"' if in_quotes && chars.next_if(|(_, next)| *next == '"').is_some() => value.push('"'),
            '"' => in_quotes = !in_quotes,
            c if !in_quotes && terminators.contains(&c) => {
                return Ok((Some(value), input.get(position..).unwrap_or_default()));
            }
            c => value.push(c),
        }
    }
    Err(if in_quotes {
        "input ends inside double quotes".into()
    } else {
        "input ends before the closing delimiter".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &[char] = &[',', ')'];

    fn scan(input: &str) -> Result<(Option<String>, &str), Problem> {
        scan_field(input, RECORD)
    }

    #[test]
    fn empty_is_none_and_quoted_empty_is_a_string() {
        assert_eq!(scan(",x)"), Ok((None, ",x)")));
        assert_eq!(scan(")"), Ok((None, ")")));
        assert_eq!(scan("\"\")"), Ok((Some(String::new()), ")")));
    }

    #[test]
    fn quotes_and_escapes() {
        // SELECT ROW(ROW(1,'x'),ARRAY[1,2], 'a"b\c') → ("(1,x)","{1,2}","a""b\\c")
        assert_eq!(scan("\"(1,x)\",\"{1,2}\")"), Ok((Some("(1,x)".to_owned()), ",\"{1,2}\")")));
        assert_eq!(scan("\"a\"\"b\\\\c\")"), Ok((Some("a\"b\\c".to_owned()), ")")));
        assert_eq!(scan("a\\,b)"), Ok((Some("a,b".to_owned()), ")")));
        assert_eq!(scan("a\"b,c\"d)"), Ok((Some("ab,cd".to_owned()), ")")));
        assert_eq!(scan("\" a \")"), Ok((Some(" a ".to_owned()), ")")));
        assert_eq!(scan("😀\\😀,"), Ok((Some("😀😀".to_owned()), ",")));
    }

    #[test]
    fn unterminated_input_is_an_error() {
        assert!(scan("abc").is_err());
        assert!(scan("\"abc)").is_err());
        assert!(scan("abc\\").is_err());
        assert!(scan("").is_err());
    }
}
