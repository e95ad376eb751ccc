//! Fuzzes the binlog decoder with whole binlog files: the events are split by their
//! headers, every checksum after the format description is recomputed (so that changed
//! bytes reach the body decoders), and each event is decoded, transaction payloads
//! included. Any panic is a bug: a malformed event must come back as an error.
//! Seed: `mkdir -p corpus/binlog && cp ../../shared/fixtures/mysql-binlogs/*[0-9g] corpus/binlog/`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wellhead_decoders::binlog::BinlogFileReader;
use wellhead_decoders::binlog::header::{FILE_MAGIC, reseal_checksums};

fuzz_target!(|input: &[u8]| {
    let mut file: Vec<u8> =
        if input.starts_with(FILE_MAGIC) { input.to_vec() } else { [FILE_MAGIC.as_slice(), input].concat() };
    reseal_checksums(&mut file);
    let Ok(reader) = BinlogFileReader::new(&file) else { return };
    for event in reader {
        if let Err(error) = event {
            let _ = error.to_string();
        }
    }
});
