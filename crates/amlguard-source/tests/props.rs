//! The reader never panics, and what it accepts has consistent spans.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use amlguard_source::{Document, Node, NodeKind};
use proptest::prelude::*;

const VALID: &str = "\u{FEFF}{
  // An ARM-like document exercising every accepted extension.
  \"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\",
  \"parameters\": { \"name\": { \"type\": \"string\", \"defaultValue\": \"wé😀\\u00e9\\ud83d\\ude00\\n\" } },
  /* block
     comment */
  \"resources\": [
    {
      \"type\": \"Microsoft.MachineLearningServices/workspaces\",
      \"apiVersion\": \"2024-04-01\",
      \"properties\": { \"publicNetworkAccess\": \"Disabled\", \"count\": -12.5e-3, \"n\": 42, \"ok\": true, \"none\": null, },
      \"script\": \"line 1
line 2\",
    },
  ],
}
";

/// Checks what `parse` promises about an accepted document.
fn check(text: &str) {
    let doc = match Document::parse("p.json", text.to_owned()) {
        Ok(doc) => doc,
        Err(e) => {
            assert!(e.line >= 1 && e.column >= 1 && e.offset <= text.len());
            assert!(e.to_string().starts_with("p.json:"));
            return;
        }
    };
    check_node(&doc, &doc.root, 0);
    // Only trivia around the root.
    assert!(doc.root.span.end <= text.len());
    for offset in [
        0,
        doc.root.span.start,
        doc.root.span.end,
        text.len(),
        text.len() + 5,
    ] {
        let p = doc.position(offset);
        assert!(p.line >= 1 && p.line <= doc.line_count());
        assert!(p.column >= 1 && p.column_utf16 >= p.column);
        assert!(doc.line_text(p.line).is_some());
    }
}

fn check_node(doc: &Document, node: &Node, depth: usize) {
    assert!(depth <= 512);
    let slice = doc.slice(node.span).expect("span on character boundaries");
    assert!(!slice.is_empty());
    match &node.kind {
        NodeKind::String(_) => assert!(slice.starts_with('"') && slice.ends_with('"')),
        NodeKind::Array(items) => {
            assert!(slice.starts_with('[') && slice.ends_with(']'));
            let mut last = node.span.start;
            for item in items {
                assert!(item.span.start > last && item.span.end < node.span.end);
                last = item.span.end;
                check_node(doc, item, depth + 1);
            }
        }
        NodeKind::Object(members) => {
            assert!(slice.starts_with('{') && slice.ends_with('}'));
            let mut last = node.span.start;
            for m in members {
                assert!(m.key_span.start > last && m.key_span.end < m.value.span.start);
                assert!(m.value.span.end < node.span.end);
                last = m.value.span.end;
                check_node(doc, &m.value, depth + 1);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop_oneof![
        Just(b'"'),
        Just(b'\\'),
        Just(b'/'),
        Just(b'*'),
        Just(b'{'),
        Just(b'}'),
        Just(b'['),
        Just(b']'),
        Just(b','),
        Just(b':'),
        Just(b'\n'),
        Just(b'\r'),
        Just(b'u'),
        Just(b'0'),
        Just(b'-'),
        Just(b'e'),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len().max(1);
    match *edit {
        Edit::Set(i, b) => {
            if !bytes.is_empty() {
                bytes[i % len] = b;
            }
        }
        Edit::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Edit::Delete(i) => {
            if !bytes.is_empty() {
                bytes.remove(i % len);
            }
        }
        Edit::Duplicate(i, n) => {
            let start = i % (bytes.len() + 1);
            let end = (start + n).min(bytes.len());
            let copy = bytes[start..end].to_vec();
            bytes.splice(start..start, copy);
        }
    }
}

#[test]
fn the_valid_document_is_valid() {
    let doc = Document::parse("p.json", VALID.to_owned()).unwrap();
    assert_eq!(doc.root.as_object().unwrap().len(), 3);
    check(VALID);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_on_arbitrary_strings(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn never_panics_on_json_like_strings(text in "[\\[\\]{}\",:0-9a-z\\\\/*\n\r\t .eE+\\-\u{FEFF}é😀]{0,80}") {
        check(&text);
    }

    #[test]
    fn never_panics_on_mutated_documents(edits in prop::collection::vec(edit(), 1..6)) {
        let mut bytes = VALID.as_bytes().to_vec();
        for e in &edits {
            apply(&mut bytes, e);
        }
        let text = String::from_utf8_lossy(&bytes);
        check(&text);
    }
}
