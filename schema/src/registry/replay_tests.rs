//! Replay equality: a random sequence of requests applied live gives the
//! same state as rebuilding from the events it emitted, through their JSON,
//! replaying every event twice changes nothing (idempotence), and a log
//! compacted by [`RegistryEvent::key`] rebuilds the same state.

use proptest::prelude::*;

use super::{Change, RegistryError, RegistryEvent, RegistryStore, VersionSelector};
use crate::compatibility::CompatibilityLevel;

#[derive(Debug, Clone)]
enum Request {
    Register { subject: usize, schema: usize },
    DeleteVersion { subject: usize, version: Option<u32>, permanent: bool },
    DeleteSubject { subject: usize, permanent: bool },
    SetLevel { subject: Option<usize>, level: CompatibilityLevel },
    DeleteLevel { subject: Option<usize> },
}

const SUBJECTS: [&str; 3] = ["orders-value", "orders-key", "users-value"];

/// Schemas chosen so that random levels accept some registrations and refuse others.
const SCHEMAS: [&str; 6] = [
    r#"{"type": "record", "name": "t", "fields": [{"name": "id", "type": "long"}]}"#,
    r#"{"type": "record", "name": "t", "fields": [{"name": "id", "type": "long"}, {"name": "n", "type": ["null", "string"], "default": null}]}"#,
    r#"{"type": "record", "name": "t", "fields": [{"name": "id", "type": "long"}, {"name": "r", "type": "string"}]}"#,
    r#"{"type": "record", "name": "t", "fields": [{"name": "id", "type": "int"}]}"#,
    r#"{"type": "record", "name": "t", "fields": [{"name": "id", "type": {"type": "long", "logicalType": "timestamp-micros"}}]}"#,
    r#""string""#,
];

fn request() -> impl Strategy<Value = Request> {
    let subject = 0..SUBJECTS.len();
    let level = prop::sample::select(CompatibilityLevel::ALL.to_vec());
    prop_oneof![
        4 => (subject.clone(), 0..SCHEMAS.len()).prop_map(|(subject, schema)| Request::Register { subject, schema }),
        2 => (subject.clone(), prop::option::of(1u32..5), any::<bool>())
            .prop_map(|(subject, version, permanent)| Request::DeleteVersion { subject, version, permanent }),
        1 => (subject.clone(), any::<bool>()).prop_map(|(subject, permanent)| Request::DeleteSubject { subject, permanent }),
        1 => (prop::option::of(subject.clone()), level).prop_map(|(subject, level)| Request::SetLevel { subject, level }),
        1 => prop::option::of(subject).prop_map(|subject| Request::DeleteLevel { subject }),
    ]
}

fn plan(store: &RegistryStore, request: &Request) -> Result<Vec<RegistryEvent>, RegistryError> {
    fn events<T>(change: Change<T>) -> Vec<RegistryEvent> {
        change.events
    }
    let name = |index: usize| SUBJECTS.get(index).copied().unwrap_or("unknown");
    Ok(match request {
        Request::Register { subject, schema } => {
            events(store.register(name(*subject), SCHEMAS.get(*schema).copied().unwrap_or("\"null\""))?)
        }
        Request::DeleteVersion { subject, version, permanent } => {
            let selector = version.map_or(VersionSelector::Latest, VersionSelector::Number);
            events(store.delete_version(name(*subject), selector, *permanent)?)
        }
        Request::DeleteSubject { subject, permanent } => events(store.delete_subject(name(*subject), *permanent)?),
        Request::SetLevel { subject, level } => events(store.set_level(subject.map(name), *level)),
        Request::DeleteLevel { subject } => events(store.delete_level(subject.map(name))?),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn replaying_the_log_rebuilds_the_live_state(requests in prop::collection::vec(request(), 0..40)) {
        let mut live = RegistryStore::new();
        let mut log: Vec<String> = Vec::new();
        for request in &requests {
            let Ok(events) = plan(&live, request) else { continue };
            for event in &events {
                let line = serde_json::to_string(event);
                prop_assert!(line.is_ok());
                log.extend(line.ok());
                prop_assert_eq!(live.apply(event), Ok(()));
            }
        }
        let parsed: Vec<RegistryEvent> = log.iter().filter_map(|line| serde_json::from_str(line).ok()).collect();
        prop_assert_eq!(parsed.len(), log.len());
        let rebuilt = RegistryStore::from_events(&parsed);
        prop_assert_eq!(rebuilt.as_ref().ok(), Some(&live));
        let doubled = RegistryStore::from_events(parsed.iter().flat_map(|event| [event, event]));
        prop_assert_eq!(doubled.as_ref().ok(), Some(&live));
        // A compacted topic keeps the newest event per key, in log order.
        let compacted = parsed.iter().enumerate().filter(|(index, event)| {
            parsed.iter().skip(index + 1).all(|later| later.key() != event.key())
        });
        let rebuilt_compacted = RegistryStore::from_events(compacted.map(|(_, event)| event));
        prop_assert_eq!(rebuilt_compacted.as_ref().ok(), Some(&live));
    }
}
