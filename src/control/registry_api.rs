//! The embedded schema registry's Confluent Schema Registry REST API, served
//! on the control address so that Confluent's own clients (serializers,
//! `SchemaRegistryClient`) work against it unchanged.
//!
//! ```text
//!  request ─► parse (path, query, JSON body) ─► EmbeddedRegistry::read / mutate ─► JSON answer
//!                                                  │ RegistryError  ─► its status, {"error_code", "message"}
//!                                                  └ log I/O failure ─► 500, error_code 50001
//! ```
//!
//! Invariants:
//! - Handlers only translate: every decision (ids, versions, compatibility,
//!   deletes, error codes) is the store's (`wellhead_schema::registry`).
//! - A mutation answers only after its events are durable (`EmbeddedRegistry::mutate`).
//! - Every answer, errors included, is JSON with Confluent's media type; request
//!   bodies are parsed here, whatever JSON media type the client declares
//!   (axum's `Json` refuses `application/vnd.schemaregistry.v1+json`).
//! - Shapes follow Confluent: `schemaType` is omitted for AVRO, registration
//!   answers `{"id"}`, config reads say `compatibilityLevel` and writes say
//!   `compatibility`; query flags accept `true` in any letter case (the Python
//!   client sends `True`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{MethodRouter, delete, get, post, put};
use wellhead_schema::registry::{
    Change, CompatibilityReport, ConfigRequest, ConfigUpdate, ConfigView, RegistryError, RegistryStore, SchemaId,
    SchemaType, VersionSelector,
};

use self::wire::{
    Answer, ApiError, IdBody, Params, SchemaBody, SchemaRequest, VersionBody, ok, parse_body, raw_text, schema_id,
};
use crate::registry::embedded::{EmbeddedRegistry, EmbeddedRegistryError};

pub mod door;
mod wire;

pub use self::door::{DoorRefusal, RegistryDoor};

/// The text of schema `id`. An id this process has not seen may have been registered by
/// another process sharing the registry's Kafka topic: the store catches up once before
/// the answer is 40403.
fn schema_text(registry: &EmbeddedRegistry, id: SchemaId) -> Result<String, ApiError> {
    let lookup = |store: &RegistryStore| store.schema_by_id(id).map(str::to_owned);
    match registry.read(lookup) {
        Ok(schema) => Ok(schema),
        Err(_) => {
            tokio::task::block_in_place(|| registry.catch_up())?;
            Ok(registry.read(lookup)?)
        }
    }
}

/// Runs a mutation off the async workers' turn: it may wait on disk or on a Kafka
/// transaction (the registry kept in a topic).
fn mutate<T>(
    registry: &EmbeddedRegistry,
    plan: impl Fn(&RegistryStore) -> Result<Change<T>, RegistryError>,
) -> Result<T, EmbeddedRegistryError> {
    tokio::task::block_in_place(|| registry.mutate(plan))
}

/// What the handlers share: the registry they answer for.
type Registry = Arc<EmbeddedRegistry>;

/// The registry's routes over `registry`, to be merged into the control router; the
/// routes that change it go through `door`.
pub(super) fn router(registry: Registry, door: RegistryDoor) -> Router {
    let guarded = |change: MethodRouter<Registry>| {
        change.route_layer(axum::middleware::from_fn_with_state(door.clone(), door::guard_change))
    };
    Router::new()
        .route("/", get(root))
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(versions_of_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_of_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).merge(guarded(delete(delete_subject))))
        .route("/subjects/{subject}/versions", get(versions).merge(guarded(post(register))))
        .route("/subjects/{subject}/versions/{version}", get(version).merge(guarded(delete(delete_version))))
        .route("/subjects/{subject}/versions/{version}/schema", get(raw_schema))
        .route("/subjects/{subject}/versions/{version}/referencedby", get(referenced_by))
        .route("/compatibility/subjects/{subject}/versions", post(check_against_all))
        .route("/compatibility/subjects/{subject}/versions/{version}", post(check_against_version))
        .route("/config", get(global_config).merge(guarded(put(set_global_config).delete(delete_global_config))))
        .route(
            "/config/{subject}",
            get(subject_config).merge(guarded(put(set_subject_config).delete(delete_subject_config))),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(registry)
}

async fn root() -> Answer {
    ok(&serde_json::json!({}))
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `GET /schemas/types`: the embedded registry stores Avro only.
async fn schema_types() -> Answer {
    ok(&[SchemaType::Avro])
}

/// `GET /schemas/ids/{id}` (`subject` and `format` are accepted and have no effect).
async fn schema_by_id(State(registry): State<Registry>, path: Result<Path<String>, PathRejection>) -> Answer {
    let id = schema_id(&path?.0)?;
    ok(&SchemaBody::new(schema_text(&registry, id)?, SchemaType::Avro))
}

/// `GET /schemas/ids/{id}/schema`: the schema text alone.
async fn raw_schema_by_id(State(registry): State<Registry>, path: Result<Path<String>, PathRejection>) -> Answer {
    let id = schema_id(&path?.0)?;
    Ok(raw_text(schema_text(&registry, id)?))
}

/// `GET /schemas/ids/{id}/versions[?deleted=true]`.
async fn versions_of_id(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (id, params) = (schema_id(&path?.0)?, Params::parse(query));
    let pairs = registry.read(|store| store.versions_of_id(id, params.flag("deleted")))?;
    ok(&params.page(pairs))
}

/// `GET /schemas/ids/{id}/subjects[?deleted=true]`.
async fn subjects_of_id(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (id, params) = (schema_id(&path?.0)?, Params::parse(query));
    let pairs = registry.read(|store| store.versions_of_id(id, params.flag("deleted")))?;
    let mut subjects: Vec<String> = pairs.into_iter().map(|pair| pair.subject).collect();
    subjects.dedup();
    ok(&params.page(subjects))
}

/// `GET /subjects[?deleted=true][&deleted_only=true][&subjectPrefix=p]`.
async fn subjects(State(registry): State<Registry>, RawQuery(query): RawQuery) -> Answer {
    let params = Params::parse(query);
    let (all, live) = registry.read(|store| {
        let owned = |names: Vec<&str>| names.into_iter().map(str::to_owned).collect::<Vec<_>>();
        (owned(store.subjects(true)), owned(store.subjects(false)))
    });
    let listed: Vec<String> = if params.flag("deleted_only") {
        all.into_iter().filter(|subject| !live.contains(subject)).collect()
    } else if params.flag("deleted") {
        all
    } else {
        live
    };
    // Confluent's default prefix `:*:` means every subject of the default context.
    let prefix = params.get("subjectPrefix").filter(|prefix| *prefix != ":*:").unwrap_or("");
    ok(&params.page(listed.into_iter().filter(|subject| subject.starts_with(prefix)).collect()))
}

/// `GET /subjects/{subject}/versions[?deleted=true][&deleted_only=true]`.
async fn versions(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (subject, params) = (path?.0, Params::parse(query));
    let listed = if params.flag("deleted_only") {
        let (all, live) = registry.read(|store| (store.versions(&subject, true), store.versions(&subject, false)));
        let live = live.unwrap_or_default();
        all?.into_iter().filter(|version| !live.contains(version)).collect()
    } else {
        registry.read(|store| store.versions(&subject, params.flag("deleted")))?
    };
    ok(&params.page(listed))
}

/// `GET /subjects/{subject}/versions/{version}[?deleted=true]`.
async fn version(
    State(registry): State<Registry>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (Path((subject, version)), params) = (path?, Params::parse(query));
    let selector = version.parse::<VersionSelector>()?;
    let registered = registry.read(|store| store.version(&subject, selector, params.flag("deleted")))?;
    ok(&VersionBody::from(registered))
}

/// `GET /subjects/{subject}/versions/{version}/schema[?deleted=true]`: the schema text alone.
async fn raw_schema(
    State(registry): State<Registry>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (Path((subject, version)), params) = (path?, Params::parse(query));
    let selector = version.parse::<VersionSelector>()?;
    let registered = registry.read(|store| store.version(&subject, selector, params.flag("deleted")))?;
    Ok(raw_text(registered.schema))
}

/// `GET /subjects/{subject}/versions/{version}/referencedby`: always empty
/// (references are refused at registration), but 40401/40402 as Confluent.
async fn referenced_by(
    State(registry): State<Registry>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let Path((subject, version)) = path?;
    let selector = version.parse::<VersionSelector>()?;
    registry.read(|store| store.version(&subject, selector, false))?;
    ok(&Vec::<SchemaId>::new())
}

/// `POST /subjects/{subject}/versions`: `{"id": N}`; 409 incompatible, 42201 invalid.
async fn register(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let subject = path?.0;
    let request: SchemaRequest = parse_body(&headers, &body)?;
    let schema = request.schema()?;
    let registration = mutate(&registry, |store| store.register(&subject, schema))?;
    if registration.created {
        tracing::info!(%subject, id = registration.id, version = registration.version, "Registered a schema.");
    }
    ok(&IdBody { id: registration.id })
}

/// `POST /subjects/{subject}[?deleted=true]`: is the schema registered under the subject?
async fn lookup(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let (subject, params) = (path?.0, Params::parse(query));
    let request: SchemaRequest = parse_body(&headers, &body)?;
    let schema = request.schema()?;
    let registered = registry.read(|store| store.lookup(&subject, schema, params.flag("deleted")))?;
    ok(&VersionBody::from(registered))
}

/// `DELETE /subjects/{subject}[?permanent=true]`: the deleted versions.
async fn delete_subject(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (subject, params) = (path?.0, Params::parse(query));
    let permanent = params.flag("permanent");
    ok(&mutate(&registry, |store| store.delete_subject(&subject, permanent))?)
}

/// `DELETE /subjects/{subject}/versions/{version}[?permanent=true]`: the deleted version.
async fn delete_version(
    State(registry): State<Registry>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (Path((subject, version)), params) = (path?, Params::parse(query));
    let selector = version.parse::<VersionSelector>()?;
    let permanent = params.flag("permanent");
    ok(&mutate(&registry, |store| store.delete_version(&subject, selector, permanent))?)
}

/// `POST /compatibility/subjects/{subject}/versions[?verbose=true]`: as a registration would be checked.
async fn check_against_all(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    check(&registry, path?.0, None, &Params::parse(query), &headers, &body)
}

/// `POST /compatibility/subjects/{subject}/versions/{version}[?verbose=true]`.
async fn check_against_version(
    State(registry): State<Registry>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let Path((subject, version)) = path?;
    let selector = version.parse::<VersionSelector>()?;
    check(&registry, subject, Some(selector), &Params::parse(query), &headers, &body)
}

/// `{"is_compatible": bool}`, with `messages` only when `verbose`.
fn check(
    registry: &EmbeddedRegistry,
    subject: String,
    against: Option<VersionSelector>,
    params: &Params,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let request: SchemaRequest = parse_body(headers, body)?;
    let schema = request.schema()?;
    let report = registry.read(|store| store.test_compatibility(&subject, schema, against))?;
    let messages = if params.flag("verbose") { report.messages } else { Vec::new() };
    ok(&CompatibilityReport { is_compatible: report.is_compatible, messages })
}

/// `GET /config`: `{"compatibilityLevel": ...}`.
async fn global_config(State(registry): State<Registry>) -> Answer {
    ok(&ConfigView { compatibility_level: registry.read(|store| store.global_level()) })
}

/// `PUT /config`: `{"compatibility": ...}`; 42203 for an unknown level.
async fn set_global_config(State(registry): State<Registry>, headers: HeaderMap, body: Bytes) -> Answer {
    let level = parse_body::<ConfigRequest>(&headers, &body)?.level()?;
    let compatibility = mutate(&registry, |store| Ok(store.set_level(None, level)))?;
    ok(&ConfigUpdate { compatibility })
}

/// `DELETE /config`: back to BACKWARD; answers the level that was set.
async fn delete_global_config(State(registry): State<Registry>) -> Answer {
    let compatibility = mutate(&registry, |store| store.delete_level(None))?;
    ok(&ConfigUpdate { compatibility })
}

/// `GET /config/{subject}[?defaultToGlobal=true]`: 40408 when the subject has no level of its own.
async fn subject_config(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Answer {
    let (subject, params) = (path?.0, Params::parse(query));
    let default_to_global = params.flag("defaultToGlobal");
    let compatibility_level = registry.read(|store| store.subject_level(&subject, default_to_global))?;
    ok(&ConfigView { compatibility_level })
}

/// `PUT /config/{subject}`: `{"compatibility": ...}`; 42203 for an unknown level.
async fn set_subject_config(
    State(registry): State<Registry>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let subject = path?.0;
    let level = parse_body::<ConfigRequest>(&headers, &body)?.level()?;
    let compatibility = mutate(&registry, |store| Ok(store.set_level(Some(&subject), level)))?;
    ok(&ConfigUpdate { compatibility })
}

/// `DELETE /config/{subject}`: back to the global level; answers the level that was set.
async fn delete_subject_config(State(registry): State<Registry>, path: Result<Path<String>, PathRejection>) -> Answer {
    let subject = path?.0;
    let compatibility = mutate(&registry, |store| store.delete_level(Some(&subject)))?;
    ok(&ConfigUpdate { compatibility })
}
