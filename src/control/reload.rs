//! Configuration reload on SIGHUP: the config file is read again and each running
//! PostgreSQL pipeline whose `source.tables` changed captures the new list without a
//! restart — tables it adds are copied while the others keep streaming (the source takes
//! the list between two sessions, through [`SnapshotRequests::capture`]). Every other
//! setting, and new or removed pipelines, take effect at the next start; the log says so.
//! A config that does not load is refused whole: the pipelines keep what they run with.
//!
//! ```text
//!  SIGHUP ─► Config::load(path) ─┬─ error ─► logged, nothing changes
//!                                └─ per running pipeline: tables changed? ─► capture(pipeline, tables)
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::snapshot_requests::SnapshotRequests;
use crate::config::{Config, SourceConfig};

/// The table patterns each running pipeline captures, as last applied.
#[derive(Debug)]
pub struct ConfigReload {
    path: PathBuf,
    applied: BTreeMap<String, SourceTables>,
    requests: SnapshotRequests,
}

/// A pipeline's source kind and `source.tables`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SourceTables {
    Postgres(Vec<String>),
    Mysql(Vec<String>),
}

impl SourceTables {
    fn of(source: &SourceConfig) -> SourceTables {
        match source {
            SourceConfig::Postgres(postgres) => SourceTables::Postgres(postgres.tables.clone()),
            SourceConfig::Mysql(mysql) => SourceTables::Mysql(mysql.tables.clone()),
        }
    }
}

impl ConfigReload {
    /// Reloads of `path`, whose pipelines now run as `running` says.
    pub fn new(path: PathBuf, running: &Config, requests: SnapshotRequests) -> ConfigReload {
        let applied = running
            .pipelines
            .iter()
            .map(|pipeline| (pipeline.name.clone(), SourceTables::of(&pipeline.source)))
            .collect();
        ConfigReload { path, applied, requests }
    }

    /// Reads the config again and hands each running pipeline its changed table list.
    pub fn reload(&mut self) {
        let config = match Config::load(&self.path, std::env::vars()) {
            Ok(config) => config,
            Err(error) => {
                tracing::error!(path = %self.path.display(), %error, "Configuration reload refused: the pipelines keep the configuration they run with.");
                return;
            }
        };
        tracing::info!(path = %self.path.display(), "Configuration reloaded: source.tables changes apply to running PostgreSQL pipelines now; every other setting at the next start.");
        for pipeline in &config.pipelines {
            let tables = SourceTables::of(&pipeline.source);
            match self.applied.get(&pipeline.name) {
                None => {
                    tracing::warn!(pipeline = %pipeline.name, "A pipeline added to the configuration starts at the next start.");
                }
                Some(applied) if *applied == tables => {}
                Some(_) => match &tables {
                    SourceTables::Postgres(patterns) => {
                        self.requests.capture(&pipeline.name, patterns.clone());
                        self.applied.insert(pipeline.name.clone(), tables);
                    }
                    SourceTables::Mysql(_) => {
                        tracing::warn!(pipeline = %pipeline.name, "source.tables of a MySQL/MariaDB pipeline changes at the next start.");
                    }
                },
            }
        }
        for name in self.applied.keys().filter(|name| !config.pipelines.iter().any(|pipeline| &pipeline.name == *name))
        {
            tracing::warn!(pipeline = %name, "A pipeline removed from the configuration keeps running until the next start.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(tables: &str) -> String {
        format!(
            "[[pipelines]]\nname = \"p\"\n[pipelines.source]\ntype = \"postgres\"\nurl = \"postgres://u@h/d\"\n\
             tables = [{tables}]\nslot = \"s\"\npublication = \"s\"\n[pipelines.sink]\ntype = \"null\"\n"
        )
    }

    #[test]
    fn a_reload_hands_changed_tables_over_and_refuses_a_broken_config_whole() {
        let dir = std::env::temp_dir().join(format!("wellhead-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("wellhead.toml");
        std::fs::write(&path, pipeline("\"public.a\"")).expect("write");
        let running = Config::load(&path, std::iter::empty()).expect("config");
        let requests = SnapshotRequests::default();
        let mut reload = ConfigReload::new(path.clone(), &running, requests.clone());

        reload.reload();
        assert_eq!(requests.take_capture("p"), None, "an unchanged config changes nothing");
        std::fs::write(&path, pipeline("\"public.a\", \"public.b\"")).expect("write");
        reload.reload();
        assert!(requests.pending_for("p"), "the source is woken");
        assert_eq!(requests.take_capture("p"), Some(vec!["public.a".to_owned(), "public.b".to_owned()]));
        reload.reload();
        assert_eq!(requests.take_capture("p"), None, "applied once");

        std::fs::write(&path, pipeline("\"public.a\"").replace("type = \"null\"", "type = \"nowhere\""))
            .expect("write");
        reload.reload();
        assert_eq!(requests.take_capture("p"), None, "a config that does not load changes nothing");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
