//! Durable file operations shared by the checkpoint store and the file sinks:
//! a file replaced atomically, and a directory entry made durable.
//!
//! Why the directory fsync: a rename is durable only once the directory that
//! holds the new name is synced; without it a crash may bring the old name back.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` so that readers see either the old or the new content:
/// temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    sync_parent_dir(path)
}

/// Makes `path`'s entry in its directory durable (after a create or a rename).
pub fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}
