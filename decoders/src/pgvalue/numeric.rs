//! `numeric`: the text form (`-123.4500`, `NaN`, `Infinity`, `-Infinity`;
//! never an exponent) and the binary form (base-10000 digit groups).
//!
//! Invariants of every [`Decimal`] produced here: `digits` has no leading
//! zeros and is `"0"` for zero, `scale` is the number of digits the server
//! shows after the point (its `dscale`, trailing zeros included), and zero is
//! never negative. Any size PostgreSQL allows (131072 digits before the point,
//! 16383 after) is kept exactly.

use crate::change::{Decimal, Numeric};

use super::error::Problem;

pub(crate) fn parse_numeric(text: &str) -> Result<Numeric, Problem> {
    match text {
        "NaN" => return Ok(Numeric::NaN),
        "Infinity" => return Ok(Numeric::PositiveInfinity),
        "-Infinity" => return Ok(Numeric::NegativeInfinity),
        _ => {}
    }
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or_default()),
        Some(b'+') => (false, text.get(1..).unwrap_or_default()),
        _ => (false, text),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if integer.len() + fraction.len() == 0 || !all_digits(integer) || !all_digits(fraction) {
        return Err("expected [-]digits[.digits], NaN, Infinity or -Infinity".into());
    }
    let scale = u32::try_from(fraction.len()).map_err(|_| "too many decimals")?;
    Ok(Numeric::Finite(decimal(negative, integer, fraction, scale)))
}

/// Decodes `numeric_send`'s form: `ndigits`, `weight`, `sign`, `dscale` (each
/// 16 bits), then `ndigits` base-10000 groups, the first worth `10000^weight`.
pub(crate) fn decode_numeric_binary(bytes: &[u8]) -> Result<Numeric, Problem> {
    const POSITIVE: u16 = 0x0000;
    const NEGATIVE: u16 = 0x4000;
    const NAN: u16 = 0xC000;
    const POSITIVE_INFINITY: u16 = 0xD000;
    const NEGATIVE_INFINITY: u16 = 0xF000;
    const DSCALE_MASK: u16 = 0x3FFF;

    let word = |index: usize| -> Option<u16> {
        let start = index.checked_mul(2)?;
        let pair = bytes.get(start..start.checked_add(2)?)?;
        Some(u16::from_be_bytes([*pair.first()?, *pair.get(1)?]))
    };
    let header = (word(0), word(1), word(2), word(3));
    let (Some(group_count), Some(weight), Some(sign), Some(dscale)) = header else {
        return Err("shorter than the 8-byte header".into());
    };
    let group_count = usize::from(group_count);
    if bytes.len() != 8 + 2 * group_count {
        return Err(
            format!("header announces {group_count} digit groups, which needs {} bytes", 8 + 2 * group_count).into()
        );
    }
    let negative = match sign {
        POSITIVE => false,
        NEGATIVE => true,
        NAN => return Ok(Numeric::NaN),
        POSITIVE_INFINITY => return Ok(Numeric::PositiveInfinity),
        NEGATIVE_INFINITY => return Ok(Numeric::NegativeInfinity),
        other => return Err(format!("invalid sign word {other:#06x}").into()),
    };
    if dscale & !DSCALE_MASK != 0 {
        return Err(format!("invalid display scale {dscale}").into());
    }
    if (0..group_count).any(|index| word(4 + index).is_none_or(|group| group >= 10_000)) {
        return Err("a digit group is not below 10000".into());
    }
    let weight = i64::from(weight.cast_signed());
    let group_at = |index: i64| {
        usize::try_from(index).ok().filter(|&index| index < group_count).and_then(|index| word(4 + index)).unwrap_or(0)
    };
    let scale = u32::from(dscale);
    let integer_groups = usize::try_from(weight.saturating_add(1)).unwrap_or(0);
    let fraction_groups = i64::from(dscale.div_ceil(4));
    let mut digits = String::with_capacity(4 * integer_groups + usize::from(dscale) + 4);
    for index in 0..=weight {
        push_group(&mut digits, group_at(index));
    }
    let integer_len = digits.len();
    for index in 0..fraction_groups {
        push_group(&mut digits, group_at(weight + 1 + index));
    }
    digits.truncate(integer_len + usize::from(dscale));
    // Normalised: no leading zeros, "0" for zero.
    match digits.bytes().position(|digit| digit != b'0') {
        Some(first) => {
            digits.drain(..first);
        }
        None => digits = "0".to_owned(),
    }
    Ok(Numeric::Finite(Decimal { negative: negative && digits != "0", digits, scale }))
}

/// Appends a base-10000 digit group (below 10000) as four decimal digits.
fn push_group(digits: &mut String, group: u16) {
    for divisor in [1000, 100, 10, 1] {
        digits.push(char::from(b'0' + ((group / divisor) % 10) as u8));
    }
}

/// A normalised [`Decimal`] from its digits either side of the point.
fn decimal(negative: bool, integer: &str, fraction: &str, scale: u32) -> Decimal {
    let mut digits = String::with_capacity(integer.len() + fraction.len());
    digits.extend(integer.chars().chain(fraction.chars()).skip_while(|digit| *digit == '0'));
    if digits.is_empty() {
        digits.push('0');
    }
    Decimal { negative: negative && digits != "0", digits, scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finite(negative: bool, digits: &str, scale: u32) -> Numeric {
        Numeric::Finite(Decimal { negative, digits: digits.to_owned(), scale })
    }

    #[test]
    fn text_as_postgres_prints_it() {
        // SELECT 'NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric, 0.000::numeric,
        //        -0.0::numeric, 1.50::numeric, 123::numeric(10,2), 1e-20::numeric, 1e20::numeric
        assert_eq!(parse_numeric("NaN"), Ok(Numeric::NaN));
        assert_eq!(parse_numeric("Infinity"), Ok(Numeric::PositiveInfinity));
        assert_eq!(parse_numeric("-Infinity"), Ok(Numeric::NegativeInfinity));
        assert_eq!(parse_numeric("0.000"), Ok(finite(false, "0", 3)));
        assert_eq!(parse_numeric("0.0"), Ok(finite(false, "0", 1)));
        assert_eq!(parse_numeric("-0.0"), Ok(finite(false, "0", 1)));
        assert_eq!(parse_numeric("1.50"), Ok(finite(false, "150", 2)));
        assert_eq!(parse_numeric("123.00"), Ok(finite(false, "12300", 2)));
        assert_eq!(parse_numeric("0.00000000000000000001"), Ok(finite(false, "1", 20)));
        assert_eq!(parse_numeric("100000000000000000000"), Ok(finite(false, "100000000000000000000", 0)));
        assert_eq!(parse_numeric("-0.00000000010"), Ok(finite(true, "10", 11)));
        assert_eq!(parse_numeric("12300"), Ok(finite(false, "12300", 0)));
    }

    #[test]
    fn text_extremes() {
        let smallest = format!("0.{}1", "0".repeat(16_382));
        assert_eq!(parse_numeric(&smallest), Ok(finite(false, "1", 16_383)));
        let largest = format!("{}.{}", "9".repeat(131_072), "9".repeat(16_383));
        let Ok(Numeric::Finite(decimal)) = parse_numeric(&largest) else {
            panic!("largest numeric rejected");
        };
        assert_eq!((decimal.digits.len(), decimal.scale), (131_072 + 16_383, 16_383));
        assert_eq!(decimal.to_string(), largest);
    }

    #[test]
    fn text_rejects_what_numeric_out_never_prints() {
        for text in ["", "-", ".", "1e5", "1.2.3", "nan", " 1", "1 ", "--1", "0x10"] {
            assert!(parse_numeric(text).is_err(), "{text:?}");
        }
    }

    /// `numeric_send` bytes for a header and digit groups.
    fn wire(weight: i16, sign: u16, dscale: u16, groups: &[u16]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend((groups.len() as u16).to_be_bytes());
        bytes.extend(weight.to_be_bytes());
        bytes.extend(sign.to_be_bytes());
        bytes.extend(dscale.to_be_bytes());
        for group in groups {
            bytes.extend(group.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn binary_forms() {
        // 12345.678 = 1|2345|6780 with weight 1.
        assert_eq!(decode_numeric_binary(&wire(1, 0, 3, &[1, 2345, 6780])), Ok(finite(false, "12345678", 3)));
        // -0.0001: one group 1 at weight -1.
        assert_eq!(decode_numeric_binary(&wire(-1, 0x4000, 4, &[1])), Ok(finite(true, "1", 4)));
        // 0.00 has no groups.
        assert_eq!(decode_numeric_binary(&wire(0, 0, 2, &[])), Ok(finite(false, "0", 2)));
        // 1e20: group 1 at weight 5, trailing zero groups omitted.
        assert_eq!(decode_numeric_binary(&wire(5, 0, 0, &[1])), Ok(finite(false, "100000000000000000000", 0)));
        // 1e-20: 0.0000 0000 0000 0000 0001, one group 1 at weight -5.
        assert_eq!(decode_numeric_binary(&wire(-5, 0, 20, &[1])), Ok(finite(false, "1", 20)));
        // dscale cuts a group: 0.12 sent as 1200 at weight -1.
        assert_eq!(decode_numeric_binary(&wire(-1, 0, 2, &[1200])), Ok(finite(false, "12", 2)));
        assert_eq!(decode_numeric_binary(&wire(0, 0xC000, 0, &[])), Ok(Numeric::NaN));
        assert_eq!(decode_numeric_binary(&wire(0, 0xD000, 0, &[])), Ok(Numeric::PositiveInfinity));
        assert_eq!(decode_numeric_binary(&wire(0, 0xF000, 0, &[])), Ok(Numeric::NegativeInfinity));
    }

    #[test]
    fn binary_rejects_malformed() {
        assert!(decode_numeric_binary(&[0, 1]).is_err());
        assert!(decode_numeric_binary(&wire(0, 0, 0, &[10_000])).is_err());
        assert!(decode_numeric_binary(&wire(0, 0x1234, 0, &[1])).is_err());
        assert!(decode_numeric_binary(&wire(0, 0, 0x4000, &[1])).is_err());
        let mut truncated = wire(0, 0, 0, &[1, 2]);
        truncated.pop();
        assert!(decode_numeric_binary(&truncated).is_err());
    }
}
