//! A PostgreSQL 15 server of the test's own (initdb in the test's directory, a free
//! port), for tests that restart or crash the server: the shared services must not
//! go down under the other tests. `WELLHEAD_TEST_PG_BIN` names the binaries
//! (default: Debian's PostgreSQL 15). As root, the server runs as `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How the server is stopped before it starts again.
#[derive(Debug, Clone, Copy)]
pub enum RestartMode {
    /// `pg_ctl restart -m fast`: sessions are ended, a shutdown checkpoint is written.
    Fast,
    /// `pg_ctl restart -m immediate`: the server quits at once and recovers at start (a crash).
    Immediate,
}

/// A running server of the test's own; stopped when dropped.
pub struct OwnPostgres {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

impl OwnPostgres {
    /// Creates a cluster in `dir/pgdata` with `wal_level = logical`, trust auth, and starts it.
    pub fn start(dir: &Path) -> OwnPostgres {
        let bin = PathBuf::from(
            std::env::var("WELLHEAD_TEST_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
        );
        let data = dir.join("pgdata");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).expect("data dir");
        let as_postgres = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"));
        let server = OwnPostgres { port: super::free_port(), data, bin, as_postgres };
        if as_postgres {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir).status().expect("chown");
            assert!(status.success(), "chown {} to postgres", dir.display());
        }
        server.run(&format!(
            "{} -D {} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null",
            server.bin.join("initdb").display(),
            server.data.display()
        ));
        server.pg_ctl("start");
        server
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server the way `mode` says and starts it again; returns once it accepts connections.
    pub fn restart(&self, mode: RestartMode) {
        let mode = match mode {
            RestartMode::Fast => "fast",
            RestartMode::Immediate => "immediate",
        };
        self.pg_ctl(&format!("-m {mode} restart"));
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c wal_level=logical -c max_replication_slots=8 \
             -c max_wal_senders=8 -c fsync=off",
            self.port,
            self.data.display()
        );
        self.run(&format!(
            "{} -D {data} -l {data}/server.log -o '{options}' -w {action} >/dev/null",
            self.bin.join("pg_ctl").display(),
            data = self.data.display()
        ));
    }

    fn run(&self, command: &str) {
        let status = if self.as_postgres {
            Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", command]).status()
        } else {
            Command::new("sh").args(["-c", command]).status()
        }
        .expect("run a PostgreSQL command");
        assert!(status.success(), "{command} failed; server log: {}", self.data.join("server.log").display());
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let command = format!(
            "{} -D {} -m immediate stop >/dev/null 2>&1",
            self.bin.join("pg_ctl").display(),
            self.data.display()
        );
        let _ = if self.as_postgres {
            Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", &command]).status()
        } else {
            Command::new("sh").args(["-c", &command]).status()
        };
    }
}
