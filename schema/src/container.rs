//! Avro object container files (the specification's "Object Container Files"):
//!
//! ```text
//!  header: "Obj" 0x01 | metadata map {avro.schema, avro.codec} | 16-byte sync marker
//!  block*: object count (long) | byte size (long) | datums (compressed per codec) | sync marker
//! ```
//!
//! [`ContainerWriter`] buffers datums into blocks and writes them to any
//! `Write`; durability (fsync, atomic rename) is the caller's business.

use std::io::{self, Write};

use crate::avro::binary::{write_bytes, write_long};

/// Magic bytes that open every container file.
pub const MAGIC: [u8; 4] = [b'O', b'b', b'j', 1];
/// A block is written once its uncompressed datums reach this size.
pub const BLOCK_BYTES: usize = 256 * 1024;

/// Block compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// No compression.
    Null,
    /// Raw DEFLATE (RFC 1951), as the specification requires.
    #[default]
    Deflate,
}

impl Codec {
    /// The `avro.codec` metadata value.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Null => "null",
            Codec::Deflate => "deflate",
        }
    }
}

/// Writes one container file: header at creation, then blocks of datums.
#[derive(Debug)]
pub struct ContainerWriter<W: Write> {
    out: W,
    codec: Codec,
    sync_marker: [u8; 16],
    block: Vec<u8>,
    block_count: u64,
    datum_count: u64,
    bytes_written: u64,
}

impl<W: Write> ContainerWriter<W> {
    /// Writes the header for `schema_json` (the writer schema) and returns the writer.
    pub fn new(mut out: W, schema_json: &str, codec: Codec, sync_marker: [u8; 16]) -> io::Result<ContainerWriter<W>> {
        let mut header = Vec::with_capacity(64 + schema_json.len());
        header.extend_from_slice(&MAGIC);
        write_long(&mut header, 2);
        for (key, value) in [("avro.schema", schema_json.as_bytes()), ("avro.codec", codec.name().as_bytes())] {
            write_bytes(&mut header, key.as_bytes());
            write_bytes(&mut header, value);
        }
        write_long(&mut header, 0);
        header.extend_from_slice(&sync_marker);
        out.write_all(&header)?;
        Ok(ContainerWriter {
            out,
            codec,
            sync_marker,
            block: Vec::with_capacity(BLOCK_BYTES),
            block_count: 0,
            datum_count: 0,
            bytes_written: header.len() as u64,
        })
    }

    /// Appends one Avro-encoded datum (of the writer schema).
    pub fn append(&mut self, datum: &[u8]) -> io::Result<()> {
        self.block.extend_from_slice(datum);
        self.block_count += 1;
        self.datum_count += 1;
        if self.block.len() >= BLOCK_BYTES {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Writes the buffered datums as a block.
    pub fn flush_block(&mut self) -> io::Result<()> {
        if self.block_count == 0 {
            return Ok(());
        }
        let compressed;
        let data: &[u8] = match self.codec {
            Codec::Null => &self.block,
            Codec::Deflate => {
                let mut encoder = flate2::write::DeflateEncoder::new(
                    Vec::with_capacity(self.block.len() / 2),
                    flate2::Compression::fast(),
                );
                encoder.write_all(&self.block)?;
                compressed = encoder.finish()?;
                &compressed
            }
        };
        let mut prefix = Vec::with_capacity(20);
        write_long(&mut prefix, i64::try_from(self.block_count).unwrap_or(i64::MAX));
        write_long(&mut prefix, i64::try_from(data.len()).unwrap_or(i64::MAX));
        self.out.write_all(&prefix)?;
        self.out.write_all(data)?;
        self.out.write_all(&self.sync_marker)?;
        self.bytes_written += (prefix.len() + data.len() + self.sync_marker.len()) as u64;
        self.block.clear();
        self.block_count = 0;
        Ok(())
    }

    /// Datums appended so far.
    pub fn datum_count(&self) -> u64 {
        self.datum_count
    }

    /// Bytes handed to the output so far, plus the buffered block.
    pub fn approximate_size(&self) -> u64 {
        self.bytes_written + self.block.len() as u64
    }

    /// Flushes the last block and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_block()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_avro_reads_what_the_writer_wrote() {
        let schema_json =
            r#"{"type":"record","name":"R","fields":[{"name":"n","type":"long"},{"name":"s","type":"string"}]}"#;
        for codec in [Codec::Null, Codec::Deflate] {
            let mut writer = ContainerWriter::new(Vec::new(), schema_json, codec, [7; 16]).expect("header");
            for n in 0..1000_i64 {
                let mut datum = Vec::new();
                write_long(&mut datum, n - 500);
                write_bytes(&mut datum, format!("row {n}").as_bytes());
                writer.append(&datum).expect("append");
                if n == 600 {
                    writer.flush_block().expect("block");
                }
            }
            let bytes = writer.finish().expect("finish");
            let reader = apache_avro::Reader::new(&bytes[..]).expect("reader");
            let values: Vec<apache_avro::types::Value> = reader.map(|v| v.expect("datum")).collect();
            assert_eq!(values.len(), 1000, "{codec:?}");
            assert_eq!(
                values[999],
                apache_avro::types::Value::Record(vec![
                    ("n".into(), apache_avro::types::Value::Long(499)),
                    ("s".into(), apache_avro::types::Value::String("row 999".into())),
                ])
            );
        }
    }
}
