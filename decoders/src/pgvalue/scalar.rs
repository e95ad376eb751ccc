//! Text forms of the simple scalars: bool, integers, floats, oid, money,
//! bytea, uuid and bit strings.
//!
//! Inputs are the output functions' text under the replication session's
//! settings (`extra_float_digits=3`, `lc_monetary=C`, `bytea_output=hex`):
//! - floats are shortest-exact (`1.5`, `1e+300`, `-0`, `NaN`, `-Infinity`)
//!   and parse back to the same bits (Rust's parser rounds correctly);
//! - money is `-$92,233,720,368,547,758.08`: sign, `$`, `,` groups, two
//!   decimals, kept as an exact count of cents;
//! - bytea is `\x` followed by hex pairs.

use std::num::IntErrorKind;
use std::str::FromStr;

use super::error::Problem;

pub(crate) fn parse_bool(text: &str) -> Result<bool, Problem> {
    match text {
        "t" | "true" => Ok(true),
        "f" | "false" => Ok(false),
        _ => Err("expected t or f".into()),
    }
}

/// A decimal integer of type `T` (`i16`, `i32`, `i64`, `u32`).
pub(crate) fn parse_integer<T: FromStr<Err = std::num::ParseIntError>>(text: &str) -> Result<T, Problem> {
    text.parse::<T>().map_err(|error| match error.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "integer out of range".into(),
        _ => "not a decimal integer".into(),
    })
}

pub(crate) fn parse_float64(text: &str) -> Result<f64, Problem> {
    match text {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => text.parse().map_err(|_| "not a floating-point number".into()),
    }
}

pub(crate) fn parse_float32(text: &str) -> Result<f32, Problem> {
    match text {
        "NaN" => Ok(f32::NAN),
        "Infinity" => Ok(f32::INFINITY),
        "-Infinity" => Ok(f32::NEG_INFINITY),
        _ => text.parse().map_err(|_| "not a floating-point number".into()),
    }
}

/// Money in cents from `[-]$d,ddd.cc`.
pub(crate) fn parse_money(text: &str) -> Result<i64, Problem> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let amount = unsigned.strip_prefix('$').ok_or("expected a '$' after the optional sign")?;
    let (whole, cents) = match amount.split_once('.') {
        Some((whole, cents)) => (whole, cents),
        None => (amount, ""),
    };
    if whole.is_empty() || whole.starts_with(',') || whole.ends_with(',') {
        return Err("expected digits before the decimal point".into());
    }
    let mut magnitude: i128 = 0;
    for byte in whole.bytes().filter(|byte| *byte != b',') {
        magnitude = push_digit(magnitude, byte).ok_or("expected digits and ',' separators before the point")?;
    }
    if cents.len() > 2 {
        return Err("more than two decimals".into());
    }
    for position in 0..2 {
        let byte = cents.as_bytes().get(position).copied().unwrap_or(b'0');
        magnitude = push_digit(magnitude, byte).ok_or("expected digits after the decimal point")?;
    }
    let cents = if negative { -magnitude } else { magnitude };
    i64::try_from(cents).map_err(|_| "amount out of range for money".into())
}

/// `value * 10 + digit`, or `None` for a non-digit or a value past 38 digits.
fn push_digit(value: i128, byte: u8) -> Option<i128> {
    if !byte.is_ascii_digit() {
        return None;
    }
    value.checked_mul(10)?.checked_add(i128::from(byte - b'0'))
}

pub(crate) fn parse_bytea(text: &str) -> Result<Vec<u8>, Problem> {
    let hex = text.strip_prefix("\\x").ok_or("expected hex format starting with \\x (bytea_output=hex)")?;
    decode_hex(hex).ok_or_else(|| "expected an even number of hex digits after \\x".into())
}

/// Bytes from pairs of hex digits; `None` for odd length or a non-hex digit.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    hex.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some(hex_value(*high)? << 4 | hex_value(*low)?),
            _ => None,
        })
        .collect()
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).and_then(|digit| u8::try_from(digit).ok())
}

/// `a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`.
pub(crate) fn parse_uuid(text: &str) -> Result<[u8; 16], Problem> {
    const HYPHENS: [usize; 4] = [8, 13, 18, 23];
    let well_formed = text.len() == 36
        && text.bytes().enumerate().all(|(position, byte)| (byte == b'-') == HYPHENS.contains(&position));
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    match decode_hex(&hex).map(<[u8; 16]>::try_from) {
        Some(Ok(bytes)) if well_formed => Ok(bytes),
        _ => Err("expected 32 hex digits grouped 8-4-4-4-12".into()),
    }
}

/// A bit string of `0`/`1` characters, kept as is.
pub(crate) fn parse_bits(text: &str) -> Result<String, Problem> {
    if text.bytes().all(|byte| byte == b'0' || byte == b'1') {
        Ok(text.to_owned())
    } else {
        Err("expected only 0 and 1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        assert_eq!(parse_bool("t"), Ok(true));
        assert_eq!(parse_bool("f"), Ok(false));
        assert!(parse_bool("yes").is_err());
        assert!(parse_bool("").is_err());
    }

    #[test]
    fn integer_extremes() {
        assert_eq!(parse_integer::<i16>("-32768"), Ok(i16::MIN));
        assert_eq!(parse_integer::<i16>("32767"), Ok(i16::MAX));
        assert_eq!(parse_integer::<i32>("-2147483648"), Ok(i32::MIN));
        assert_eq!(parse_integer::<i64>("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_integer::<i64>("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_integer::<u32>("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_integer::<i16>("32768"), Err("integer out of range".into()));
        assert_eq!(parse_integer::<i32>("1.5"), Err("not a decimal integer".into()));
        assert!(parse_integer::<i32>("").is_err());
    }

    #[test]
    fn floats_as_postgres_prints_them() {
        // SELECT 1.5::float4, 'NaN'::float8, '-0'::float8, '1e300'::float8, ... (extra_float_digits=3)
        assert_eq!(parse_float64("1e+300"), Ok(1e300));
        assert_eq!(parse_float64("1.7976931348623157e+308"), Ok(f64::MAX));
        assert_eq!(parse_float64("5e-324").map(f64::to_bits), Ok(1));
        assert_eq!(parse_float64("1.2345678901234568e+20"), Ok(123_456_789_012_345_680_000.0));
        assert_eq!(parse_float64("1e-05"), Ok(1e-5));
        assert_eq!(parse_float64("0.0001"), Ok(1e-4));
        assert_eq!(parse_float64("-0").map(f64::to_bits), Ok((-0.0f64).to_bits()));
        assert_eq!(parse_float64("Infinity"), Ok(f64::INFINITY));
        assert_eq!(parse_float64("-Infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_float64("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_float32("3.4028235e+38"), Ok(f32::MAX));
        assert_eq!(parse_float32("1e-45").map(f32::to_bits), Ok(1));
        assert_eq!(parse_float32("1.6777216e+07"), Ok(16_777_216.0));
        assert_eq!(parse_float32("0.1"), Ok(0.1));
        assert_eq!(parse_float32("-Infinity"), Ok(f32::NEG_INFINITY));
        assert!(parse_float64("1,5").is_err());
    }

    #[test]
    fn money_in_c_locale() {
        // SELECT (-1)::money, '-92233720368547758.08'::money, ... (lc_monetary=C)
        assert_eq!(parse_money("-$1.00"), Ok(-100));
        assert_eq!(parse_money("-$92,233,720,368,547,758.08"), Ok(i64::MIN));
        assert_eq!(parse_money("$92,233,720,368,547,758.07"), Ok(i64::MAX));
        assert_eq!(parse_money("$0.00"), Ok(0));
        assert_eq!(parse_money("$0.01"), Ok(1));
        assert_eq!(parse_money("-$0.50"), Ok(-50));
        assert_eq!(parse_money("$1,234,567.89"), Ok(123_456_789));
        assert_eq!(parse_money("$12"), Ok(1200));
        assert!(parse_money("$92,233,720,368,547,758.08").is_err());
        assert!(parse_money("1.00").is_err());
        assert!(parse_money("$1.001").is_err());
        assert!(parse_money("$").is_err());
        assert!(parse_money("$,1.00").is_err());
    }

    #[test]
    fn bytea_hex() {
        assert_eq!(parse_bytea("\\x00ff"), Ok(vec![0, 255]));
        assert_eq!(parse_bytea("\\x"), Ok(vec![]));
        assert_eq!(parse_bytea("\\xABcd"), Ok(vec![0xab, 0xcd]));
        assert!(parse_bytea("\\x0").is_err());
        assert!(parse_bytea("\\xzz").is_err());
        assert!(parse_bytea("\\000").is_err());
    }

    #[test]
    fn uuids() {
        assert_eq!(
            parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            Ok([0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11])
        );
        assert!(parse_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a11").is_err());
        assert!(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1").is_err());
        assert!(parse_uuid("a0eebc99-9c0b-4ef8-bb6d6-bb9bd380a11").is_err());
        assert!(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g").is_err());
    }

    #[test]
    fn bit_strings() {
        assert_eq!(parse_bits("0101"), Ok("0101".to_owned()));
        assert_eq!(parse_bits(""), Ok(String::new()));
        assert!(parse_bits("012").is_err());
    }
}
