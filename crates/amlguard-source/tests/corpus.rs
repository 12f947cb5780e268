//! Every `.json` file of the shared corpus of real ARM templates, parameter
//! files, REST examples and service-tag files parses; the root span covers the
//! content; files that are strict JSON read the same as with `serde_json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use amlguard_source::{Document, Node, NodeKind, Number};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Whether `s` is only whitespace and comments (and, at the start, a BOM).
fn only_trivia(s: &str) -> bool {
    let mut s = s.strip_prefix('\u{FEFF}').unwrap_or(s);
    loop {
        s = s.trim_start_matches([' ', '\t', '\n', '\r']);
        if s.is_empty() {
            return true;
        }
        if let Some(rest) = s.strip_prefix("//") {
            s = rest.find(['\n', '\r']).map_or("", |i| &rest[i..]);
        } else if let Some(rest) = s.strip_prefix("/*") {
            match rest.find("*/") {
                Some(i) => s = &rest[i + 2..],
                None => return false,
            }
        } else {
            return false;
        }
    }
}

/// Compares our tree with `serde_json`'s (whose objects keep the last of
/// duplicate keys).
fn same(node: &Node, value: &serde_json::Value, at: &str) -> Result<(), String> {
    use serde_json::Value;
    let ok = match (&node.kind, value) {
        (NodeKind::Null, Value::Null) => true,
        (NodeKind::Bool(a), Value::Bool(b)) => a == b,
        (NodeKind::String(a), Value::String(b)) => a == b,
        (NodeKind::Number(Number::Int(a)), Value::Number(b)) => b.as_i64() == Some(*a),
        (NodeKind::Number(Number::Float(a)), Value::Number(b)) => {
            let b = b.as_f64().unwrap();
            a == &b || ((a - b) / b).abs() < 1e-15
        }
        (NodeKind::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Err(format!("{at}: array lengths differ"));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same(x, y, &format!("{at}[{i}]"))?;
            }
            true
        }
        (NodeKind::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&str> = a.iter().map(|m| m.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            if keys.len() != b.len() {
                return Err(format!("{at}: member counts differ"));
            }
            for (k, v) in b {
                let Some(m) = a.iter().rev().find(|m| &m.key == k) else {
                    return Err(format!("{at}: missing key {k:?}"));
                };
                same(&m.value, v, &format!("{at}.{k}"))?;
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{at}: {:?} vs {value}", node.kind))
    }
}

#[test]
fn corpus_parses() {
    let dir = corpus_dir();
    if !dir.is_dir() {
        eprintln!("note: no corpus at {}; skipping", dir.display());
        return;
    }
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    assert!(!files.is_empty(), "no .json files under {}", dir.display());
    let mut failures = Vec::new();
    let mut strict = 0;
    let mut bytes = 0;
    let start = Instant::now();
    for path in &files {
        let doc = match Document::load(path) {
            Ok(doc) => doc,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        bytes += doc.text.len();
        let span = doc.root.span;
        if !(only_trivia(&doc.text[..span.start]) && only_trivia(&doc.text[span.end..])) {
            failures.push(format!(
                "{}: root span {span:?} does not cover the content",
                doc.path
            ));
        }
        if !matches!(doc.root.kind, NodeKind::Object(_) | NodeKind::Array(_)) {
            failures.push(format!("{}: root is a {}", doc.path, doc.root.type_name()));
        }
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&doc.text) {
            strict += 1;
            if let Err(e) = same(&doc.root, &value, "$") {
                failures.push(format!("{}: differs from serde_json at {e}", doc.path));
            }
        }
    }
    eprintln!(
        "parsed {} files ({bytes} bytes, {strict} strict JSON) in {:?}",
        files.len(),
        start.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
