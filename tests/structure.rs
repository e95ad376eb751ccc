//! The crate's structure, as STYLE.md draws it: modules import each other in one
//! direction only (no circles, at the depth of `kafka::client` or
//! `control::http`), and the source-agnostic core (`batch`, `pipeline`, `sink`,
//! `checkpoint`) names no PostgreSQL type.
//!
//! Read from the source text: `use crate::…` and `super::…` paths, resolved to
//! the module files that exist, outside comments and `#[cfg(test)]` code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module paths are compared at this depth (`kafka::client`, `source::postgres`).
const DEPTH: usize = 2;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// `src/kafka/client.rs` → `["kafka", "client"]`; `src/sink/mod.rs` → `["sink"]`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).expect("under root").with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its `#[cfg(test)]` tail.
fn code_of(text: &str) -> String {
    let production = text.split("#[cfg(test)]").next().unwrap_or_default();
    production.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The longest prefix of `path` (at most [`DEPTH`] long) that is a module file or directory.
fn existing_module(root: &Path, path: &[String]) -> Option<Vec<String>> {
    let mut prefix: Vec<String> = path.iter().take(DEPTH).cloned().collect();
    while !prefix.is_empty() {
        let base = prefix.iter().fold(root.to_path_buf(), |dir, part| dir.join(part));
        if base.with_extension("rs").is_file() || base.is_dir() {
            return Some(prefix);
        }
        prefix.pop();
    }
    None
}

/// The leading `a::b::c` of `text`, up to the first part that is not a plain name
/// (`{…}` groups after the first segment are not needed at [`DEPTH`]).
fn identifier_run(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for part in text.split("::") {
        let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if name.is_empty() {
            break;
        }
        let whole = name.len() == part.len();
        parts.push(name);
        if !whole {
            break;
        }
    }
    parts
}

/// Every module path a file's code refers to through `crate::` or `super::`.
fn referenced_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", module[..module.len().saturating_sub(1)].to_vec())] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let preceded_by_identifier =
                rest[..at].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            rest = &rest[at + prefix.len()..];
            if preceded_by_identifier {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                for item in inner.split(',') {
                    let item = identifier_run(item.trim());
                    paths.push(base.iter().cloned().chain(item).collect());
                }
            } else {
                paths.push(base.iter().cloned().chain(identifier_run(rest)).collect());
            }
        }
    }
    paths
}

/// Module (at [`DEPTH`]) → modules it refers to, with a file that does, for the message.
fn import_graph(root: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let module = module_of(root, &file);
        let from: Vec<String> = module.iter().take(DEPTH).cloned().collect();
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for path in referenced_paths(&module, &code_of(&text)) {
            let Some(to) = existing_module(root, &path) else { continue };
            // A module's own parts and its ancestors are not edges between modules.
            if to.starts_with(&from) || from.starts_with(&to) {
                continue;
            }
            graph
                .entry(from.join("::"))
                .or_default()
                .entry(to.join("::"))
                .or_insert_with(|| file.display().to_string());
        }
    }
    graph
}

/// A circle of imports, if there is one: `a -> b -> … -> a`, with the files.
fn find_circle(graph: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = stack.iter().position(|on_stack| on_stack == node) {
            let mut circle = stack[start..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if let Some(circle) = visit(next, graph, done, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

fn describe(circle: &[String], graph: &BTreeMap<String, BTreeMap<String, String>>) -> String {
    circle
        .windows(2)
        .map(|pair| format!("{} -> {} (in {})", pair[0], pair[1], graph[&pair[0]][&pair[1]]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn modules_import_each_other_in_one_direction_only() {
    for crate_root in ["src", "decoders/src", "schema/src"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_root);
        let graph = import_graph(&root);
        assert!(graph.len() > 3, "{crate_root}: the import graph was read ({} modules with imports)", graph.len());
        if let Some(circle) = find_circle(&graph) {
            panic!("{crate_root}: modules import each other in a circle:\n{}", describe(&circle, &graph));
        }
    }
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let edge = |from: &str, to: &str| (from.to_owned(), BTreeMap::from([(to.to_owned(), format!("src/{from}.rs"))]));
    let graph: BTreeMap<_, _> = [edge("config", "registry"), edge("registry", "kafka"), edge("kafka", "config")].into();
    let circle = find_circle(&graph).expect("a circle");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 4, "{circle:?}");
    let acyclic: BTreeMap<_, _> = [edge("config", "registry"), edge("registry", "kafka")].into();
    assert_eq!(find_circle(&acyclic), None);
}

#[test]
fn the_source_agnostic_core_names_no_postgresql_type() {
    const POSTGRES_NAMES: &[&str] = &["Lsn", "PgPosition", "PgRecordPosition", "source::postgres"];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offences = Vec::new();
    for module in ["batch", "pipeline", "sink", "checkpoint"] {
        let mut files = Vec::new();
        rust_files(&root.join(module), &mut files);
        assert!(!files.is_empty(), "src/{module} has files");
        for file in &files {
            let code = code_of(&std::fs::read_to_string(file).expect("read"));
            // (`#[cfg(test)]` parts are left out: a unit test may build a PostgreSQL position.)
            for name in POSTGRES_NAMES {
                let named = code.match_indices(name).any(|(at, _)| {
                    let before = code[..at].chars().next_back();
                    let after = code[at + name.len()..].chars().next();
                    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                    !is_word(before) && !is_word(after)
                });
                if named {
                    offences.push(format!("{} names {name}", file.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "PostgreSQL types in the source-agnostic core:\n{}", offences.join("\n"));
}
