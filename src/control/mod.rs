//! The control plane: what operators and tools ask a running Wellhead.

pub mod http;
mod registry_api;
pub mod reload;
pub mod snapshot_requests;

pub use self::registry_api::{DoorRefusal, RegistryDoor};
