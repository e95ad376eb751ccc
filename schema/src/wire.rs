//! The Confluent wire format of a Kafka message key or value:
//!
//! ```text
//!  byte 0: magic 0 | bytes 1-4: schema id, big-endian | Avro binary datum
//! ```

/// The magic byte of the Confluent wire format.
pub const MAGIC_BYTE: u8 = 0;
/// Bytes before the Avro datum.
pub const HEADER_LEN: usize = 5;

/// Appends the 5-byte header for `schema_id`; the Avro datum follows it.
pub fn write_header(out: &mut Vec<u8>, schema_id: u32) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// A framed message that is not in the Confluent wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("message of {0} bytes is shorter than the 5-byte Confluent header")]
    TooShort(usize),
    #[error("magic byte is {0:#04x}, not 0: not in the Confluent wire format")]
    BadMagic(u8),
}

/// Splits a framed message into its schema id and Avro datum.
pub fn read_header(message: &[u8]) -> Result<(u32, &[u8]), FramingError> {
    match message {
        [MAGIC_BYTE, a, b, c, d, datum @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), datum)),
        [magic, _, _, _, _, ..] => Err(FramingError::BadMagic(*magic)),
        _ => Err(FramingError::TooShort(message.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_foreign_bytes() {
        let mut message = Vec::new();
        write_header(&mut message, 0x0102_0304);
        message.extend_from_slice(b"datum");
        assert_eq!(message[..5], [0, 1, 2, 3, 4]);
        assert_eq!(read_header(&message), Ok((0x0102_0304, &b"datum"[..])));
        assert_eq!(read_header(&[1, 0, 0, 0, 1]), Err(FramingError::BadMagic(1)));
        assert_eq!(read_header(&[0, 0]), Err(FramingError::TooShort(2)));
    }
}
