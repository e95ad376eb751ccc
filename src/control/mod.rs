//! The control plane: what operators and tools ask a running Wellhead.

pub mod http;
mod registry_api;

pub use self::registry_api::RegistryDoor;
