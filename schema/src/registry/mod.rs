//! The embedded schema registry's store and rules (in progress).
