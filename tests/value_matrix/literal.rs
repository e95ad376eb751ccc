//! The oracle's side of the value matrix: read Wellhead's JSON lines without
//! losing what the comparison needs, and turn each JSON value back into the
//! text PostgreSQL's input function takes.
//!
//! ```text
//!   output line ──Json::parse──► Json (numbers as written, members in order)
//!                                  │
//!                   literal() ─────┴──► '…' ──($1::text)::<type>::text──► PostgreSQL
//! ```
//!
//! serde_json's `Value` cannot serve here: without `arbitrary_precision` it
//! keeps no number text and its default float parser is not correctly
//! rounded, and without `preserve_order` objects lose their member order, which
//! a composite's row literal needs (fields are positional).

// Shared by the JSON-lines matrix and the Avro ones (for special values); each uses a part.
#![allow(dead_code)]

/// A JSON value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text, exactly as written.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in the order written.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses one complete JSON text.
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut reader = Reader { text, at: 0 };
        let value = reader.value()?;
        reader.skip_whitespace();
        if reader.at != text.len() {
            return Err(format!("unexpected text at byte {}", reader.at));
        }
        Ok(value)
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(name, _)| name == key).map(|(_, value)| value),
            _ => None,
        }
    }

    /// Compact JSON text: numbers as written, strings re-escaped.
    pub fn render(&self) -> String {
        match self {
            Json::Null => "null".to_owned(),
            Json::Bool(b) => b.to_string(),
            Json::Number(text) => text.clone(),
            Json::String(text) => serde_json::to_string(text).expect("a string serialises"),
            Json::Array(items) => format!("[{}]", items.iter().map(Json::render).collect::<Vec<_>>().join(",")),
            Json::Object(members) => {
                let members: Vec<String> = members
                    .iter()
                    .map(|(name, value)| format!("{}:{}", Json::String(name.clone()).render(), value.render()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_whitespace();
        if self.peek() != Some(byte) {
            return Err(format!("expected {:?} at byte {}", char::from(byte), self.at));
        }
        self.at += 1;
        Ok(())
    }

    /// After an item of a list: `true` when `close` ended it, `false` after a `,`.
    fn list_end(&mut self, close: u8) -> Result<bool, String> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(format!("expected ',' or {:?} at byte {}", char::from(close), self.at)),
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                let mut members = Vec::new();
                self.skip_whitespace();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.skip_whitespace();
                    let name = self.string()?;
                    self.expect(b':')?;
                    members.push((name, self.value()?));
                    if self.list_end(b'}')? {
                        return Ok(Json::Object(members));
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_whitespace();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    if self.list_end(b']')? {
                        return Ok(Json::Array(items));
                    }
                }
            }
            Some(b'"') => self.string().map(Json::String),
            _ => {
                let start = self.at;
                while matches!(self.peek(), Some(b'0'..=b'9' | b'a'..=b'z' | b'E' | b'+' | b'-' | b'.')) {
                    self.at += 1;
                }
                match &self.text[start..self.at] {
                    "null" => Ok(Json::Null),
                    "true" => Ok(Json::Bool(true)),
                    "false" => Ok(Json::Bool(false)),
                    number if !number.is_empty() && number.parse::<f64>().is_ok() => {
                        Ok(Json::Number(number.to_owned()))
                    }
                    other => Err(format!("unexpected {other:?} at byte {start}")),
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        let mut utf16: Vec<u16> = Vec::new();
        loop {
            let c = self.text[self.at..].chars().next().ok_or("unterminated string")?;
            self.at += c.len_utf8();
            let c = match c {
                '"' => break,
                '\\' => {
                    let escape = self.text[self.at..].chars().next().ok_or("unterminated escape")?;
                    self.at += 1;
                    match escape {
                        'u' => {
                            let hex = self.text.get(self.at..self.at + 4).ok_or("short \\u escape")?;
                            utf16.push(u16::from_str_radix(hex, 16).map_err(|e| format!("\\u{hex}: {e}"))?);
                            self.at += 4;
                            continue;
                        }
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        '"' | '\\' | '/' => escape,
                        other => return Err(format!("bad escape \\{other}")),
                    }
                }
                c => c,
            };
            flush_utf16(&mut out, &mut utf16)?;
            out.push(c);
        }
        flush_utf16(&mut out, &mut utf16)?;
        Ok(out)
    }
}

fn flush_utf16(out: &mut String, units: &mut Vec<u16>) -> Result<(), String> {
    for c in char::decode_utf16(units.drain(..)) {
        out.push(c.map_err(|e| format!("lone surrogate in \\u escape: {e}"))?);
    }
    Ok(())
}

/// PostgreSQL input text for a value of Wellhead's documented JSON mapping, or
/// `None` for JSON null (SQL NULL). A string is its content, a number its text,
/// a bool `true`/`false`, an array an array literal; an object is a range
/// (`{"empty":true}` or with `lower_inclusive`), an array with lower bounds
/// (`{"lower_bounds":..,"elements":..}`), or else a composite in field order.
/// json/jsonb documents are not literals: compare them with [`Json::render`].
pub fn literal(value: &Json) -> Option<String> {
    Some(match value {
        Json::Null => return None,
        Json::Bool(b) => b.to_string(),
        Json::Number(text) | Json::String(text) => text.clone(),
        Json::Array(_) => array_literal(&[], value),
        Json::Object(members) => {
            if value.get("empty") == Some(&Json::Bool(true)) {
                "empty".to_owned()
            } else if let (Some(Json::Array(bounds)), Some(elements)) =
                (value.get("lower_bounds"), value.get("elements"))
            {
                array_literal(bounds, elements)
            } else if let Some(Json::Bool(lower_inclusive)) = value.get("lower_inclusive") {
                let bound = |key: &str| value.get(key).and_then(literal).map(|text| quote(&text)).unwrap_or_default();
                let upper_inclusive = value.get("upper_inclusive") == Some(&Json::Bool(true));
                format!(
                    "{}{},{}{}",
                    if *lower_inclusive { '[' } else { '(' },
                    bound("lower"),
                    bound("upper"),
                    if upper_inclusive { ']' } else { ')' }
                )
            } else {
                // An empty unquoted field is NULL, `""` the empty string.
                let fields: Vec<String> = members
                    .iter()
                    .map(|(_, field)| literal(field).map(|text| quote(&text)).unwrap_or_default())
                    .collect();
                format!("({})", fields.join(","))
            }
        }
    })
}

/// `{…}`, prefixed with `[lower:upper]…=` when lower bounds are given.
fn array_literal(lower_bounds: &[Json], elements: &Json) -> String {
    let mut out = String::new();
    let mut level = elements;
    for bound in lower_bounds {
        let (Json::Number(lower), Json::Array(items)) = (bound, level) else {
            panic!("lower_bounds {lower_bounds:?} do not match elements {elements:?}");
        };
        let lower: i64 = lower.parse().expect("an integer lower bound");
        out.push_str(&format!("[{lower}:{}]", lower + items.len() as i64 - 1));
        level = items.first().unwrap_or(&Json::Null);
    }
    if !lower_bounds.is_empty() {
        out.push('=');
    }
    write_elements(&mut out, elements);
    out
}

fn write_elements(out: &mut String, value: &Json) {
    let Json::Array(items) = value else { panic!("expected a JSON array, got {value:?}") };
    out.push('{');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        match item {
            Json::Array(_) => write_elements(out, item),
            _ => out.push_str(&literal(item).map(|text| quote(&text)).unwrap_or_else(|| "NULL".to_owned())),
        }
    }
    out.push('}');
}

/// Double-quoted with backslash escapes: valid inside array, row and range literals.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
