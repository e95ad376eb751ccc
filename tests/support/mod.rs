//! Shared harness of the end-to-end tests: a fresh database per test on a real
//! PostgreSQL server, the real `wellhead` binary run against it, its JSON-lines
//! output read back.
//!
//! Servers come from environment variables with the services script's loopback
//! defaults: `WELLHEAD_TEST_PG15` (127.0.0.1:5432), `WELLHEAD_TEST_PG18`
//! (127.0.0.1:5433), `WELLHEAD_TEST_PG_REPLICA` (127.0.0.1:5434, wal_level=replica).
#![allow(dead_code)]

pub mod avro_files;
pub mod calendar;
pub mod connect;
pub mod kafka;
pub mod mariadb;
pub mod own_postgres;
pub mod proxy;
pub mod writer;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A PostgreSQL server the tests run against.
#[derive(Debug, Clone, Copy)]
pub enum Server {
    Pg15,
    Pg18,
    /// PostgreSQL 18 with wal_level=replica.
    Pg18Replica,
}

impl Server {
    pub fn address(self) -> String {
        let (variable, default) = match self {
            Server::Pg15 => ("WELLHEAD_TEST_PG15", "127.0.0.1:5432"),
            Server::Pg18 => ("WELLHEAD_TEST_PG18", "127.0.0.1:5433"),
            Server::Pg18Replica => ("WELLHEAD_TEST_PG_REPLICA", "127.0.0.1:5434"),
        };
        std::env::var(variable).unwrap_or_else(|_| default.to_owned())
    }

    pub fn url(self, database: &str) -> String {
        format!("postgres://postgres@{}/{database}", self.address())
    }
}

/// Connects a plain SQL client.
pub async fn connect(url: &str) -> Client {
    let (client, connection) =
        tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A name for one test's database (and slot): `wh_<label>_<pid>_<counter>_<clock bits>`.
/// Process ids repeat (pid_max is 32768 here), so a name of pid and counter alone can
/// meet a database an earlier run left behind; the clock's low bits tell them apart.
pub fn unique_name(label: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.subsec_nanos());
    format!("wh_{label}_{}_{}_{:06x}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), nanos & 0xff_ffff)
}

/// Lines in a file (0 when it does not exist yet).
pub fn line_count(path: &Path) -> usize {
    std::fs::read(path).map(|bytes| bytes.iter().filter(|b| **b == b'\n').count()).unwrap_or(0)
}

/// Waits until `path` holds `expected` lines, gives up after `timeout` or when it has not
/// grown for `stall`; true when it holds them. (A shortfall is for the caller's comparison
/// to explain.)
pub async fn wait_for_lines(path: &Path, expected: usize, timeout: Duration, stall: Duration) -> bool {
    let started = Instant::now();
    let (mut lines, mut last_growth) = (line_count(path), Instant::now());
    while lines < expected && started.elapsed() < timeout && last_growth.elapsed() < stall {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = line_count(path);
        if now != lines {
            (lines, last_growth) = (now, Instant::now());
        }
    }
    line_count(path) >= expected
}

/// A database created for one test, with unique slot and publication names. Dropped
/// with its slot by [`TestDatabase::drop`], or, when a test panics first, by `Drop`: a
/// leaked slot would pin the server's WAL for every later run on the machine.
pub struct TestDatabase {
    pub server: Server,
    pub name: String,
    pub client: Client,
    pub dir: PathBuf,
    dropped: bool,
}

impl TestDatabase {
    pub async fn create(server: Server, label: &str) -> TestDatabase {
        let name = unique_name(label);
        let admin = connect(&server.url("postgres")).await;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
        let client = connect(&server.url(&name)).await;
        let dir = std::env::temp_dir().join("wellhead-tests").join(&name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        TestDatabase { server, name, client, dir, dropped: false }
    }

    pub fn url(&self) -> String {
        self.server.url(&self.name)
    }

    /// Writes a config streaming `tables` into `<dir>/out/<pipeline>.jsonl`.
    pub fn write_config(&self, tables: &[&str], extra: &str) -> PathBuf {
        let config = format!("{}{extra}\n", self.pipeline_toml(&self.name, tables));
        let path = self.dir.join("wellhead.toml");
        std::fs::write(&path, config).expect("write config");
        path
    }

    /// One `[[pipelines]]` section named `name` (also its slot and publication) streaming
    /// `tables` of this database into `<dir>/out/<name>.jsonl`, checkpointed in `<dir>/state`.
    pub fn pipeline_toml(&self, name: &str, tables: &[&str]) -> String {
        let tables = tables.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
        format!(
            "[[pipelines]]\nname = \"{name}\"\n\n[pipelines.source]\ntype = \"postgres\"\nurl = \"{url}\"\n\
             tables = [{tables}]\nslot = \"{name}\"\npublication = \"{name}\"\n\n[pipelines.snapshot]\nmode = \"never\"\n\n\
             [pipelines.sink]\ntype = \"jsonl\"\ndir = \"{out}\"\n\n[pipelines.checkpoint]\ndir = \"{state}\"\n",
            url = self.url(),
            out = self.dir.join("out").display(),
            state = self.dir.join("state").display(),
        )
    }

    pub fn output_path(&self) -> PathBuf {
        self.dir.join("out").join(format!("{}.jsonl", self.name))
    }

    /// The envelopes written so far.
    pub fn read_output(&self) -> Vec<serde_json::Value> {
        read_jsonl(&self.output_path())
    }

    /// Drops the slot (if any) and the database.
    pub async fn drop(mut self) {
        drop_database_and_slot(self.server, &self.name).await;
        self.dropped = true;
    }
}

async fn drop_database_and_slot(server: Server, name: &str) {
    let admin = connect(&server.url("postgres")).await;
    let _ = admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '{name}' AND active;
             SELECT pg_sleep(0.2);
             SELECT pg_drop_replication_slot('{name}') FROM pg_replication_slots WHERE slot_name = '{name}';"
        ))
        .await;
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
}

impl Drop for TestDatabase {
    /// A test that panicked before [`TestDatabase::drop`]: the slot and database go all the
    /// same (on a thread of its own, as the test's runtime may be the one unwinding). The
    /// test's directory stays for the post-mortem.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server, self.name.clone());
        let cleanup = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(drop_database_and_slot(server, &name));
            }
        });
        let _ = cleanup.join();
    }
}

/// Sets `[pipelines.snapshot] mode` in a config the helpers wrote (they write `"never"`).
pub fn set_snapshot_mode(config: &Path, mode: &str) {
    let text = std::fs::read_to_string(config).expect("config");
    std::fs::write(config, text.replace("mode = \"never\"", &format!("mode = \"{mode}\""))).expect("config");
}

/// The complete lines of a JSON-lines file, parsed; a last line still being written (no
/// newline yet: a multi-MB line reaches the file in several writes) is left for later.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let complete = text.rfind('\n').map_or("", |end| &text[..=end]);
    complete
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}")))
        .collect()
}

/// A running `wellhead run`.
pub struct Wellhead {
    pub child: Child,
    pub log: PathBuf,
}

impl Wellhead {
    pub fn start(config: &Path) -> Wellhead {
        Wellhead::start_logging(config, "info")
    }

    /// Starts `wellhead run` with `WELLHEAD_LOG` set to `filter` (e.g. `trace`).
    pub fn start_logging(config: &Path, filter: &str) -> Wellhead {
        Wellhead::start_with(config, filter, &[])
    }

    /// Starts `wellhead run` with `WELLHEAD_LOG` set to `filter` and `options` after the config.
    pub fn start_with(config: &Path, filter: &str, options: &[&str]) -> Wellhead {
        let log = config.with_extension(format!("{}.log", COUNTER.fetch_add(1, Ordering::SeqCst)));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_wellhead"))
            .args(["run", "--config"])
            .arg(config)
            .args(options)
            .env("WELLHEAD_LOG", filter)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn wellhead");
        Wellhead { child, log }
    }

    /// Ends a run the way the crash tests do: SIGTERM (`graceful`), which must exit 0 within
    /// 60 s, or SIGKILL. Panics with `context` and the log if it had exited by itself.
    pub fn end(mut self, graceful: bool, context: &str) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("{context}: wellhead exited by itself ({status}); log:\n{}", self.log_text());
        }
        if graceful {
            self.signal("TERM");
            let log = self.log.clone();
            let code = self.wait(Duration::from_secs(60));
            let log = std::fs::read_to_string(log).unwrap_or_default();
            assert_eq!(code, Some(0), "{context}: SIGTERM exits cleanly; log:\n{log}");
        } else {
            self.signal("KILL");
            assert_eq!(self.wait(Duration::from_secs(10)), None, "{context}: killed");
        }
    }

    /// Stops the run with SIGINT; it must exit 0 within 30 s (`context` names the run).
    pub fn stop_cleanly(self, context: &str) {
        self.signal("INT");
        let log = self.log.clone();
        let code = self.wait(Duration::from_secs(30));
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(code, Some(0), "{context}: SIGINT exits cleanly; log:\n{log}");
    }

    /// Sends a signal (`INT`, `TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").arg(format!("-{name}")).arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for exit; returns the exit code (None when killed by a signal).
    pub fn wait(mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("wellhead did not exit within {timeout:?}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log says streaming started.
    pub async fn wait_streaming(&mut self) {
        let start = Instant::now();
        while !self.log_text().contains("Streaming changes.") {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("wellhead exited early ({status}); log:\n{}", self.log_text());
            }
            assert!(start.elapsed() < Duration::from_secs(60), "not streaming after 60 s; log:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Wellhead {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a `wellhead` subcommand that ran to completion printed, and how it exited.
#[derive(Debug)]
pub struct Finished {
    /// Exit code (None when ended by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `wellhead <args>` to completion with `env` added to its environment;
/// panics (after killing it) when it takes longer than `timeout`.
pub fn run_wellhead(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Finished {
    let child = Command::new(env!("CARGO_BIN_EXE_wellhead"))
        .args(args)
        .env("WELLHEAD_LOG", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wellhead");
    let pid = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(timeout) {
        Ok(output) => {
            let output = output.expect("wait for wellhead");
            Finished {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
            panic!("wellhead {args:?} did not finish within {timeout:?}");
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
pub async fn wait_for(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A plain HTTP/1.1 request on loopback; returns (status, body).
pub fn http(method: &str, address: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let response = http_request(method, address, path, "application/vnd.schemaregistry.v1+json", body);
    (response.status, response.body)
}

/// An HTTP answer: status, header lines (names lowercased) and body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// A plain HTTP/1.1 request on loopback with a chosen request Content-Type.
pub fn http_request(method: &str, address: &str, path: &str, content_type: &str, body: Option<&str>) -> HttpResponse {
    http_request_with(method, address, path, &[("Content-Type", content_type)], body)
}

/// The value of an `Authorization` header for HTTP basic auth.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// A plain HTTP/1.1 request on loopback with the given header lines.
pub fn http_request_with(
    method: &str,
    address: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("connect {address}: {e}"));
    let body = body.unwrap_or("");
    let header_lines: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{header_lines}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    HttpResponse { status, headers, body: if chunked { dechunk(body) } else { body.to_owned() } }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
