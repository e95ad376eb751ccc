//! Config loading and validation: registry storage, secrets, prefixes, shared slots and directories.

use super::*;

fn config(sinks: &[&str]) -> Config {
    let mut text = String::from("[control]\nregistry_dir = \"/tmp/r\"\n");
    for (index, sink) in sinks.iter().enumerate() {
        text.push_str(&format!(
            "[[pipelines]]\nname = \"p{index}\"\n[pipelines.source]\ntype = \"postgres\"\nurl = \"postgres://h/d\"\n\
             tables = [\"public.t\"]\nslot = \"s{index}\"\npublication = \"s{index}\"\n[pipelines.sink]\n{sink}\n"
        ));
    }
    toml::from_str(&text).expect("config")
}

const PIPELINE: &str = "[[pipelines]]\nname = \"p\"\n[pipelines.source]\ntype = \"postgres\"\n\
    url = \"postgres://u@h/d\"\ntables = [\"public.t\"]\nslot = \"s\"\npublication = \"s\"\n\
    [pipelines.snapshot]\nmode = \"never\"\n[pipelines.sink]\ntype = \"null\"\n";

fn load(text: &str, environment: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = std::env::temp_dir().join(format!("wellhead-config-{}-{}", std::process::id(), text.len()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("wellhead.toml");
    std::fs::write(&path, text).expect("write");
    let environment = environment.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned()));
    let loaded = Config::load(&path, environment);
    let _ = std::fs::remove_dir_all(&dir);
    loaded
}

#[test]
fn secrets_never_show_in_configuration_errors() {
    let numeric = PIPELINE.replace("slot = \"s\"", "slot = \"s\"\npassword = 987654321987");
    let error = load(&numeric, &[]).expect_err("a number is not a password").to_string();
    assert!(!error.contains("987654321987"), "{error}");
    assert!(error.contains("write it in quotes"), "{error}");

    let broken = PIPELINE.replace("slot = \"s\"", "slot = \"s\"\npassword = \"hunter2-secret");
    let error = load(&broken, &[]).expect_err("unterminated string").to_string();
    assert!(!error.contains("hunter2-secret"), "{error}");
    assert!(error.contains("line 8"), "the error says where: {error}");
}

#[test]
fn topic_prefixes_must_make_legal_topics_and_registry_passwords_one_source() {
    let files = |prefix: &str| {
        PIPELINE.replace("type = \"null\"", &format!("type = \"files\"\ndir = \"/tmp/l\"\ntopic_prefix = \"{prefix}\""))
    };
    for good in ["shop", "eu.shop", "my-shop_2"] {
        load(&files(good), &[]).unwrap_or_else(|error| panic!("{good}: {error}"));
    }
    for bad in ["", "a/b", "a..b", ".a", "a.", "sp ace", &"x".repeat(201)] {
        let error = load(&files(bad), &[]).expect_err(bad).to_string();
        assert!(error.contains("sink.topic_prefix"), "{bad}: {error}");
    }
    let second = files("shop").replace("name = \"p\"", "name = \"q\"").replace("slot = \"s\"", "slot = \"t\"");
    let error = load(&format!("{}{second}", files("shop")), &[]).expect_err("one dir, one prefix").to_string();
    assert!(error.contains("prefix shop into /tmp/l"), "{error}");
    let own_prefix = second.replace("topic_prefix = \"shop\"", "topic_prefix = \"shop2\"");
    load(&format!("{}{own_prefix}", files("shop")), &[]).expect("a prefix each");
    let both = format!("[control]\nregistry_password = \"a\"\nregistry_password_file = \"/nonexistent\"\n{PIPELINE}");
    assert!(load(&both, &[]).expect_err("two sources").to_string().contains("not both"));
    let missing = format!("[control]\nregistry_password_file = \"/nonexistent/registry\"\n{PIPELINE}");
    assert!(load(&missing, &[]).expect_err("no such file").to_string().contains("/nonexistent/registry"));
    let secret = format!("[control]\nregistry_password = \"0123\"\n{PIPELINE}");
    let loaded = load(&secret, &[("WELLHEAD_CONTROL__REGISTRY_PASSWORD", "98765")]).expect("env password");
    assert_eq!(
        loaded.control.resolve_registry_password().expect("password").map(|p| p.expose().to_owned()).as_deref(),
        Some("98765")
    );
}

#[test]
fn check_and_run_refuse_a_bad_control_address_and_a_shared_slot() {
    let bad_address = format!("[control]\nhttp = \"localhost\"\n{PIPELINE}");
    assert!(load(&bad_address, &[]).expect_err("not host:port").to_string().contains("control.http"));
    let second = PIPELINE.replace("name = \"p\"", "name = \"q\"").replace("publication = \"s\"", "publication = \"t\"");
    let error = load(&format!("{PIPELINE}{second}"), &[]).expect_err("one slot, two pipelines").to_string();
    assert!(error.contains("replication slot s") && error.contains("(p, q)"), "{error}");
    let own_slot = second.replace("slot = \"s\"", "slot = \"t\"");
    load(&format!("{PIPELINE}{own_slot}"), &[]).expect("a slot each");
}

#[test]
fn an_all_digit_password_works_from_the_environment() {
    let config = load(PIPELINE, &[("WELLHEAD_PIPELINES__P__SOURCE__PASSWORD", "0123456789")]).expect("config");
    let SourceConfig::Postgres(source) = &config.pipelines[0].source else { panic!("postgres source") };
    assert_eq!(source.password.as_ref().map(Secret::expose), Some("0123456789"));
    let config = load(PIPELINE, &[("WELLHEAD_PIPELINES__P__SOURCE__PASSWORD", "987654321987")]).expect("config");
    let SourceConfig::Postgres(source) = &config.pipelines[0].source else { panic!("postgres source") };
    assert_eq!(source.password.as_ref().map(Secret::expose), Some("987654321987"));
}

#[test]
fn the_registry_lives_in_kafka_when_its_pipelines_stream_there_exactly_once() {
    let files = config(&["type = \"files\"\ndir = \"/tmp/lake\""]);
    assert!(matches!(files.embedded_registry_storage(), Ok(RegistryStorage::File { .. })));
    let kafka = config(&["type = \"files\"\ndir = \"/tmp/lake\"", "type = \"kafka\"\nbrokers = \"k:9092\""]);
    match kafka.embedded_registry_storage() {
        Ok(RegistryStorage::Kafka { cluster, topic, .. }) => {
            assert_eq!((cluster.brokers.as_str(), topic.as_str()), ("k:9092", "_wellhead_schemas"));
        }
        other => panic!("expected Kafka storage, got {other:?}"),
    }
    let at_least_once = config(&["type = \"kafka\"\nbrokers = \"k:9092\"\ndelivery = \"at_least_once\""]);
    assert!(matches!(at_least_once.embedded_registry_storage(), Ok(RegistryStorage::File { .. })));
}

#[test]
fn pipelines_sharing_the_registry_on_two_clusters_are_refused() {
    let two = config(&["type = \"kafka\"\nbrokers = \"a:9092\"", "type = \"kafka\"\nbrokers = \"b:9092\""]);
    let error = two.validate().expect_err("two clusters").to_string();
    assert!(error.contains("p0") && error.contains("p1") && error.contains("registry.url"), "{error}");
    let mut external = two.clone();
    external.pipelines[1].registry.url = "http://registry:8081".into();
    assert!(matches!(external.embedded_registry_storage(), Ok(RegistryStorage::Kafka { .. })));
    let mut bad_topic = config(&["type = \"kafka\"\nbrokers = \"a:9092\""]);
    bad_topic.control.registry_topic = "no spaces".into();
    assert!(bad_topic.validate().expect_err("topic").to_string().contains("control.registry_topic"));
}

#[test]
fn the_shipped_example_configs_load() {
    for example in ["demo.toml", "docker-compose.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(example);
        let text = std::fs::read_to_string(&path).expect("example config");
        let config = load(&text, &[]).unwrap_or_else(|error| panic!("examples/{example}: {error}"));
        assert!(!config.pipelines.is_empty(), "examples/{example} has pipelines");
    }
}

#[test]
fn a_mysql_source_needs_a_server_id_and_a_well_formed_start() {
    let mysql = |extra: &str| {
        format!(
            "[[pipelines]]\nname = \"m\"\n[pipelines.source]\ntype = \"mysql\"\nurl = \"mysql://root@h:3306\"\n\
             tables = [\"shop.*\"]\n{extra}\n[pipelines.snapshot]\nmode = \"never\"\n[pipelines.sink]\ntype = \"null\"\n"
        )
    };
    assert!(load(&mysql("server_id = 7"), &[]).is_ok());
    assert!(load(&mysql("server_id = 7\nstart_at = \"mariadb-bin.000003:4\""), &[]).is_ok());
    let zero = load(&mysql("server_id = 0"), &[]).expect_err("server_id 0");
    assert!(zero.to_string().contains("source.server_id"), "{zero}");
    let start = load(&mysql("server_id = 7\nstart_at = \"mariadb-bin.000003\""), &[]).expect_err("no offset");
    assert!(start.to_string().contains("source.start_at"), "{start}");
}
