//! MySQL's packed binary DECIMAL (MySQL source, `strings/decimal.cc`, `bin2decimal`), in row
//! images and in binary JSON.

use crate::change::Decimal;

use super::cursor::ImageCursor;

/// Bytes that hold 0..=9 decimal digits in MySQL's packed decimal.
const DIGIT_BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
const DIGITS_PER_GROUP: usize = 9;

/// MySQL's binary DECIMAL: the integer and fraction digits in groups of nine, each group a
/// big-endian integer (a shorter group first for the integer part, last for the fraction),
/// the sign as the inverted top bit, negative numbers with every bit inverted.
pub fn decode(cursor: &mut ImageCursor<'_>, precision: u8, scale: u8) -> Result<Decimal, String> {
    let (precision, scale) = (usize::from(precision), usize::from(scale));
    if scale > precision || precision == 0 {
        return Err(format!("DECIMAL({precision},{scale}) is not a valid precision and scale"));
    }
    let integer_digits = precision - scale;
    let (integer_groups, integer_rest) = (integer_digits / DIGITS_PER_GROUP, integer_digits % DIGITS_PER_GROUP);
    let (fraction_groups, fraction_rest) = (scale / DIGITS_PER_GROUP, scale % DIGITS_PER_GROUP);
    let size = DIGIT_BYTES[integer_rest] + integer_groups * 4 + fraction_groups * 4 + DIGIT_BYTES[fraction_rest];
    let mut bytes = cursor.take(size, "a DECIMAL")?.to_vec();
    let negative = bytes[0] & 0x80 == 0;
    bytes[0] ^= 0x80;
    if negative {
        bytes.iter_mut().for_each(|byte| *byte = !*byte);
    }
    let mut digits = String::with_capacity(precision);
    let mut at = 0;
    let mut group = |digit_count: usize, digits: &mut String| -> Result<(), String> {
        let width = if digit_count == DIGITS_PER_GROUP { 4 } else { DIGIT_BYTES[digit_count] };
        let value = bytes[at..at + width].iter().fold(0_u64, |value, byte| (value << 8) | u64::from(*byte));
        at += width;
        if value >= 10_u64.pow(digit_count as u32) {
            return Err(format!("a DECIMAL group holds {value}, more than {digit_count} digits"));
        }
        use std::fmt::Write as _;
        let _ = write!(digits, "{value:0digit_count$}");
        Ok(())
    };
    if integer_rest > 0 {
        group(integer_rest, &mut digits)?;
    }
    for _ in 0..integer_groups {
        group(DIGITS_PER_GROUP, &mut digits)?;
    }
    for _ in 0..fraction_groups {
        group(DIGITS_PER_GROUP, &mut digits)?;
    }
    if fraction_rest > 0 {
        group(fraction_rest, &mut digits)?;
    }
    let significant = digits.trim_start_matches('0');
    let digits = if significant.is_empty() { "0".to_owned() } else { significant.to_owned() };
    let negative = negative && digits != "0";
    Ok(Decimal { negative, digits, scale: scale as u32 })
}
