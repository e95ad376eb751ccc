//! Exact decimals as Avro `decimal` bytes: the unscaled integer in big-endian
//! two's complement, in the fewest bytes that hold it (zero is one `0x00`).
//!
//! ```text
//!  Decimal { negative, digits: "12345", scale: 2 }  at column scale 3
//!      unscaled = 12345 × 10^(3-2) = 123450  ──►  0x01 0xE2 0x3A
//! ```
//!
//! Up to 38 decimal digits go through `u128`; longer values (PostgreSQL allows
//! 131072 digits before the point and 16383 after) through base-10^19 limbs.
//! Rescaling only ever appends zeros: the caller rejects a value whose scale is
//! larger than the column's, so nothing is rounded.

use super::binary::{write_bytes, write_count};

/// Decimal digits that always fit in a `u128`.
const FAST_DIGITS: usize = 38;
/// Decimal digits per base-10^19 limb step.
const LIMB_DIGITS: u32 = 19;

/// Why a decimal's digits are not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MalformedDigits;

/// Appends, as length-prefixed Avro decimal bytes, the integer `±digits × 10^extra_zeros`.
pub(crate) fn write_unscaled(
    out: &mut Vec<u8>,
    negative: bool,
    digits: &[u8],
    extra_zeros: usize,
) -> Result<(), MalformedDigits> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(MalformedDigits);
    }
    if digits.len() + extra_zeros <= FAST_DIGITS {
        let mut magnitude: u128 = 0;
        for &digit in digits.iter().chain(std::iter::repeat_n(&b'0', extra_zeros)) {
            magnitude = magnitude * 10 + u128::from(digit - b'0');
        }
        write_magnitude(out, negative, strip_zeros(&magnitude.to_be_bytes()));
        return Ok(());
    }
    let limbs = decimal_to_limbs(digits.iter().copied().chain(std::iter::repeat_n(b'0', extra_zeros)));
    let bytes: Vec<u8> = limbs.iter().rev().flat_map(|limb| limb.to_be_bytes()).collect();
    write_magnitude(out, negative, strip_zeros(&bytes));
    Ok(())
}

/// Appends a signed 128-bit integer as length-prefixed Avro decimal bytes.
pub(crate) fn write_i128(out: &mut Vec<u8>, value: i128) {
    write_magnitude(out, value < 0, strip_zeros(&value.unsigned_abs().to_be_bytes()));
}

/// Little-endian base-2^64 limbs of a decimal digit sequence.
fn decimal_to_limbs(digits: impl Iterator<Item = u8>) -> Vec<u64> {
    let mut limbs: Vec<u64> = Vec::new();
    let mut chunk: u64 = 0;
    let mut chunk_len: u32 = 0;
    for digit in digits {
        chunk = chunk * 10 + u64::from(digit - b'0');
        chunk_len += 1;
        if chunk_len == LIMB_DIGITS {
            multiply_add(&mut limbs, 10_u64.pow(LIMB_DIGITS), chunk);
            chunk = 0;
            chunk_len = 0;
        }
    }
    if chunk_len > 0 {
        multiply_add(&mut limbs, 10_u64.pow(chunk_len), chunk);
    }
    limbs
}

/// `limbs = limbs × factor + addend`.
fn multiply_add(limbs: &mut Vec<u64>, factor: u64, addend: u64) {
    let mut carry = u128::from(addend);
    for limb in limbs.iter_mut() {
        let product = u128::from(*limb) * u128::from(factor) + carry;
        *limb = product as u64;
        carry = product >> 64;
    }
    if carry > 0 {
        limbs.push(carry as u64);
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&byte| byte != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// Appends `±magnitude` (big-endian, no leading zero bytes) in minimal two's complement.
fn write_magnitude(out: &mut Vec<u8>, negative: bool, magnitude: &[u8]) {
    let Some(&top) = magnitude.first() else {
        write_bytes(out, &[0]);
        return;
    };
    if !negative {
        let pad = top & 0x80 != 0;
        write_count(out, magnitude.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(magnitude);
        return;
    }
    // -m fits in k bytes when m <= 2^(8k-1): the top byte is below 0x80, or exactly 0x80 followed by zeros.
    let fits = top < 0x80 || (top == 0x80 && magnitude.iter().skip(1).all(|&byte| byte == 0));
    write_count(out, magnitude.len() + usize::from(!fits));
    let start = out.len();
    if !fits {
        out.push(0xff);
    }
    out.extend(magnitude.iter().map(|byte| !byte));
    for byte in out.iter_mut().skip(start).rev() {
        let (sum, overflow) = byte.overflowing_add(1);
        *byte = sum;
        if !overflow {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The datum bytes after the length prefix.
    fn encoded(negative: bool, digits: &str, extra_zeros: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_unscaled(&mut out, negative, digits.as_bytes(), extra_zeros).expect("valid test data");
        let mut reader = &out[..];
        let length =
            apache_avro::from_avro_datum(&apache_avro::Schema::Bytes, &mut reader, None).expect("valid test data");
        match length {
            apache_avro::types::Value::Bytes(bytes) => bytes,
            other => panic!("{other:?}"),
        }
    }

    fn to_decimal(bytes: &[u8]) -> String {
        match crate::avro::tests::reader::twos_complement_to_digits(bytes) {
            (true, digits) => format!("-{digits}"),
            (false, digits) => digits,
        }
    }

    /// `value mod modulus` from big-endian two's complement bytes, as a non-negative residue.
    fn residue_of_bytes(bytes: &[u8], modulus: u128) -> u128 {
        let unsigned = bytes.iter().fold(0_u128, |acc, &b| (acc * 256 + u128::from(b)) % modulus);
        if bytes.first().is_some_and(|&b| b & 0x80 != 0) {
            // Subtract 2^(8 len) for a negative number.
            let power = bytes.iter().fold(1_u128, |acc, _| acc * 256 % modulus);
            (unsigned + modulus - power) % modulus
        } else {
            unsigned
        }
    }

    #[test]
    fn postgres_extreme_numeric_is_exact() {
        let digits = format!("9{}", "8".repeat(131_072 + 16_383 - 1));
        for negative in [false, true] {
            let bytes = encoded(negative, &digits, 0);
            assert_eq!(bytes[0] & 0x80 != 0, negative);
            // Minimal: the first byte is not a redundant sign extension.
            let redundant_sign = (bytes[0] == 0 && bytes[1] & 0x80 == 0) || (bytes[0] == 0xff && bytes[1] & 0x80 != 0);
            assert!(!redundant_sign);
            for modulus in [1_000_000_007_u128, 2_305_843_009_213_693_951, 4_294_967_291] {
                let magnitude = digits.bytes().fold(0_u128, |acc, d| (acc * 10 + u128::from(d - b'0')) % modulus);
                let expected = if negative { (modulus - magnitude) % modulus } else { magnitude };
                assert_eq!(residue_of_bytes(&bytes, modulus), expected);
            }
        }
        let prefix = format!("1{}", "0".repeat(60));
        assert_eq!(to_decimal(&encoded(false, "1", 60)), prefix);
        assert_eq!(to_decimal(&encoded(true, "1", 60)), format!("-{prefix}"));
    }

    proptest! {
        #[test]
        fn any_decimal_round_trips(negative: bool, digits in "[1-9][0-9]{0,120}", extra in 0usize..30) {
            let expected = format!("{}{digits}{}", if negative { "-" } else { "" }, "0".repeat(extra));
            prop_assert_eq!(to_decimal(&encoded(negative, &digits, extra)), expected);
        }

        #[test]
        fn fast_and_general_paths_agree(negative: bool, digits in "[1-9][0-9]{0,37}") {
            let magnitude: u128 = digits.parse().expect("valid test data");
            let mut fast = Vec::new();
            write_unscaled(&mut fast, negative, digits.as_bytes(), 0).expect("valid test data");
            let limbs = decimal_to_limbs(digits.bytes());
            let bytes: Vec<u8> = limbs.iter().rev().flat_map(|limb| limb.to_be_bytes()).collect();
            let mut general = Vec::new();
            write_magnitude(&mut general, negative, strip_zeros(&bytes));
            prop_assert_eq!(&fast, &general);
            let mut via_i128 = Vec::new();
            let signed = magnitude as i128;
            write_i128(&mut via_i128, if negative { -signed } else { signed });
            prop_assert_eq!(fast, via_i128);
        }
    }
}
