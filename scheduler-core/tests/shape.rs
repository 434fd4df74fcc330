//! The shape of the workspace, kept by a test: no module of any crate depends, through
//! others, on itself (a tree of modules, not a web), and the core's dependencies are pure:
//! no database, cache, HTTP, web, OS randomness or metrics-registry crate.
//!
//! A dependency is a `crate::…`, `super::…` or `self::…` path in a module's own code
//! (`use` statements and inline paths). Not counted: comments and doc links, the module's
//! `#[cfg(test)]` code, re-exports (`pub use` / `pub(crate) use`: a parent naming what its
//! children offer is their public surface, not a use), and a parent's `mod` declarations.
//! A parent that calls into its children and children that use the parent's helpers are a
//! cycle like any other: shared helpers belong in a module of their own.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The module path of a source file: `store/run_claim.rs` → `store::run_claim`,
/// `store/mod.rs` → `store`, `lib.rs` / `main.rs` → `` (the crate root).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a module that counts: comments, test code and re-exports removed.
fn counted_code(text: &str) -> String {
    let mut code = String::new();
    let mut in_block_comment = false;
    let mut in_reexport = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") && !line.starts_with(' ') {
            break;
        }
        if in_block_comment {
            if trimmed.contains("*/") {
                in_block_comment = false;
            }
            continue;
        }
        if trimmed.starts_with("/*") {
            in_block_comment = !trimmed.contains("*/");
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        if trimmed.starts_with("pub use ") || trimmed.starts_with("pub(crate) use ") {
            in_reexport = !trimmed.contains(';');
            continue;
        }
        if in_reexport {
            in_reexport = !trimmed.contains(';');
            continue;
        }
        // A trailing comment may hold a path too.
        let line = line.split(" // ").next().unwrap_or(line);
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// The child modules a module file declares (`mod a;`, `pub mod b;`, `pub(crate) mod c;`).
fn declared_children(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter_map(|line| {
            let rest = line
                .strip_prefix("pub(crate) mod ")
                .or_else(|| line.strip_prefix("pub mod "))
                .or_else(|| line.strip_prefix("mod "))?;
            let name = rest.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect()
}

/// Paths into a child module written relative to the module (`runs::run(...)`,
/// `use runs::X`): each `child::` not part of a longer path.
fn child_paths(module: &str, code: &str, children: &[String]) -> Vec<Vec<String>> {
    let own: Vec<String> = if module.is_empty() {
        vec![]
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let mut paths = Vec::new();
    for child in children {
        let needle = format!("{child}::");
        let mut from = 0;
        while let Some(found) = code[from..].find(&needle) {
            let at = from + found;
            let preceded = code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !preceded {
                let mut path = own.clone();
                path.push(child.clone());
                path.extend(segments_of(&code[at + needle.len()..]));
                paths.push(path);
            }
            from = at + needle.len();
        }
    }
    paths
}

/// The paths `code` names from the crate root: `crate::a::b`, `super::c` (resolved against
/// `module`), `self::d`; grouped imports (`crate::{a, b::c}`) expanded one level.
fn named_paths(module: &str, code: &str) -> Vec<Vec<String>> {
    let own: Vec<String> = if module.is_empty() {
        vec![]
    } else {
        module.split("::").map(str::to_string).collect()
    };
    let bytes = code.as_bytes();
    let mut paths = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &code[at..];
        let (base, skip): (Vec<String>, usize) = if rest.starts_with("crate::") {
            (vec![], "crate::".len())
        } else if rest.starts_with("super::") {
            let mut base = own.clone();
            let mut skip = 0;
            while code[at + skip..].starts_with("super::") {
                base.pop();
                skip += "super::".len();
            }
            (base, skip)
        } else if rest.starts_with("self::") {
            (own.clone(), "self::".len())
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // Not part of a longer identifier (`my_crate::`).
        let preceded = at > 0 && {
            let before = bytes[at - 1];
            before.is_ascii_alphanumeric() || before == b'_' || before == b':'
        };
        let tail = &code[at + skip..];
        if !preceded {
            if let Some(group) = tail.strip_prefix('{') {
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for item in inner.split(',') {
                    let segments = segments_of(item.trim());
                    if !segments.is_empty() {
                        paths.push([base.clone(), segments].concat());
                    }
                }
            } else {
                let segments = segments_of(tail);
                paths.push([base, segments].concat());
            }
        }
        at += skip;
    }
    paths
}

/// The `a::b::c` segments at the start of `text`.
fn segments_of(text: &str) -> Vec<String> {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    text[..end]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The module graph of the crate whose sources are in `src`: module → modules it uses.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(src);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = counted_code(&text);
        let children = declared_children(&text);
        let mut uses = BTreeSet::new();
        let paths = named_paths(&module, &code)
            .into_iter()
            .chain(child_paths(&module, &code, &children));
        for path in paths {
            // The deepest module the path names.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|candidate| modules.contains(candidate));
            if let Some(target) = target
                && target != module
                && !target.is_empty()
            {
                uses.insert(target);
            }
        }
        graph.insert(module, uses);
    }
    graph
}

/// The cycles of `graph` (strongly connected components of more than one module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iterative enough for a few hundred modules.
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        state.index.insert(node, state.next);
        state.low.insert(node, state.next);
        state.next += 1;
        state.stack.push(node);
        state.on_stack.insert(node);
        let graph = state.graph;
        if let Some(edges) = graph.get(node) {
            for next in edges {
                let next = next.as_str();
                if !graph.contains_key(next) {
                    continue;
                }
                if !state.index.contains_key(next) {
                    visit(state, next);
                    let low = state.low[next].min(state.low[node]);
                    state.low.insert(node, low);
                } else if state.on_stack.contains(next) {
                    let low = state.index[next].min(state.low[node]);
                    state.low.insert(node, low);
                }
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                component.push(top.to_string());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// The workspace's root directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The crates whose modules must form a tree: every member of the workspace (read from the
/// root `Cargo.toml`, so a new crate is checked without editing this test).
fn members() -> Vec<String> {
    let manifest = std::fs::read_to_string(workspace().join("Cargo.toml")).unwrap();
    let list = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap();
    list.split(',')
        .map(|item| item.trim().trim_matches('"').to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

#[test]
fn every_member_is_checked() {
    let members = members();
    assert!(members.len() >= 8, "{members:?}");
    for name in &members {
        assert!(
            workspace().join(name).join("src").is_dir(),
            "{name} has no src/"
        );
    }
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut report = String::new();
    for name in &members() {
        let src = workspace().join(name).join("src");
        for cycle in cycles(&module_graph(&src)) {
            let graph = module_graph(&src);
            let edges: Vec<String> = cycle
                .iter()
                .flat_map(|m| {
                    graph[m]
                        .iter()
                        .filter(|t| cycle.contains(t))
                        .map(move |t| format!("{m} → {t}"))
                })
                .collect();
            report.push_str(&format!("{name}: {}\n", edges.join(", ")));
        }
    }
    assert!(report.is_empty(), "module cycles:\n{report}");
}

/// The crates the core may depend on: values, time, cron, hashing, async plumbing and the
/// logging facade. Nothing that reaches a database, a cache, the network, the OS's random
/// numbers or a metrics registry: those come through ports.
const CORE_DEPENDENCIES: &[&str] = &[
    "async-trait",
    "base64",
    "chrono",
    "chrono-tz",
    "croner",
    "futures-util",
    "hex",
    "hmac",
    "ipnet",
    "serde_json",
    "sha2",
    "strum",
    "thiserror",
    "tokio",
    "tracing",
    "url",
];

/// Tokio features the core may use: tasks, timers and synchronisation, no I/O.
const CORE_TOKIO_FEATURES: &[&str] = &["rt", "time", "sync", "macros"];

#[test]
fn the_core_depends_on_no_io_randomness_or_metrics_crate() {
    let manifest = std::fs::read_to_string(workspace().join("scheduler-core/Cargo.toml")).unwrap();
    let mut section = "";
    let mut found = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section != "[dependencies]" || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', '.']).next().unwrap().trim();
        found.push(name.to_string());
        if name == "tokio" {
            let features = line.split("features").nth(1).unwrap_or_default();
            for feature in features.split('"').skip(1).step_by(2) {
                assert!(
                    CORE_TOKIO_FEATURES.contains(&feature),
                    "the core asks tokio for {feature:?} (I/O belongs in adapters)"
                );
            }
        }
    }
    let extra: Vec<&String> = found
        .iter()
        .filter(|name| !CORE_DEPENDENCIES.contains(&name.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "scheduler-core depends on {extra:?}: I/O, randomness and metrics reach the core \
         through ports (adapters live in scheduler-adapters)"
    );
}

#[test]
fn the_checker_finds_a_cycle_and_ignores_tests_comments_and_reexports() {
    let dir = std::env::temp_dir().join(format!("shape-check-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "pub mod a;\npub mod b;\npub mod c;\npub mod store;\npub use a::A;\n",
    )
    .unwrap();
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(src.join("b.rs"), "pub struct B(crate::c::C);\n").unwrap();
    std::fs::write(src.join("c.rs"), "use crate::{x, a::A};\npub struct C;\n").unwrap();
    std::fs::write(
        src.join("store/mod.rs"),
        "mod one;\nmod two;\npub use one::One;\n// uses crate::a in a comment\n#[cfg(test)]\nmod tests { use crate::c; }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("store/one.rs"),
        "use super::two::Two;\npub struct One;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("store/two.rs"),
        "use super::super::a::A;\npub struct Two;\n",
    )
    .unwrap();
    let graph = module_graph(&src);
    assert_eq!(
        graph["store::one"],
        BTreeSet::from(["store::two".to_string()])
    );
    assert_eq!(graph["store::two"], BTreeSet::from(["a".to_string()]));
    assert!(graph["store"].is_empty(), "{:?}", graph["store"]);
    assert_eq!(
        cycles(&graph),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
