//! What the reader accepts, and where it says things are.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use amlguard_source::{Document, Node, NodeKind, Number, Position, Route, Seg, Span};

fn parse(text: &str) -> Document {
    match Document::parse("t.json", text.to_owned()) {
        Ok(doc) => doc,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

fn pos(line: usize, column: usize, column_utf16: usize) -> Position {
    Position {
        line,
        column,
        column_utf16,
    }
}

/// Every node's span, sliced out of the text and parsed alone, gives the same
/// value; every key span slices to a string that parses to the key.
fn check_spans(doc: &Document, node: &Node) {
    let slice = doc.slice(node.span).unwrap();
    let alone = Document::parse("slice", slice.to_owned()).unwrap();
    assert_eq!(strip(&alone.root), strip(node), "span {:?}", node.span);
    if let NodeKind::Object(members) = &node.kind {
        for m in members {
            let key = doc.slice(m.key_span).unwrap();
            let alone = Document::parse("key", key.to_owned()).unwrap();
            assert_eq!(alone.root.as_str(), Some(m.key.as_str()));
            check_spans(doc, &m.value);
        }
    }
    if let NodeKind::Array(items) = &node.kind {
        for item in items {
            check_spans(doc, item);
        }
    }
}

/// The value with all spans zeroed, to compare values only.
fn strip(node: &Node) -> Node {
    let kind = match &node.kind {
        NodeKind::Array(items) => NodeKind::Array(items.iter().map(strip).collect()),
        NodeKind::Object(members) => NodeKind::Object(
            members
                .iter()
                .map(|m| amlguard_source::Member {
                    key: m.key.clone(),
                    key_span: Span::default(),
                    value: strip(&m.value),
                })
                .collect(),
        ),
        other => other.clone(),
    };
    Node::new(kind, Span::default())
}

#[test]
fn comments_wherever_whitespace_goes() {
    let text = "// leading\r\n/* block\n comment */{ /* a */ \"a\" /* b */ : /* c */ 1 /* d */, // e\n \"b\": [ /* f */ 1 /**/, 2, /***/ ] // g\r, } // end";
    let doc = parse(text);
    assert_eq!(doc.root.get("a").unwrap().as_i64(), Some(1));
    let b = doc.root.get("b").unwrap().as_array().unwrap();
    assert_eq!(b.len(), 2);
    assert_eq!(doc.slice(doc.root.span).unwrap().chars().next(), Some('{'));
    assert!(doc.slice(doc.root.span).unwrap().ends_with('}'));
    check_spans(&doc, &doc.root);
    // Comment markers inside strings are text.
    let doc = parse("[\"// not a comment\", \"/* nor this */\"]");
    let items = doc.root.as_array().unwrap();
    assert_eq!(items[0].as_str(), Some("// not a comment"));
    assert_eq!(items[1].as_str(), Some("/* nor this */"));
    // A comment at the very end, without a newline.
    assert_eq!(parse("1 // one").root.as_i64(), Some(1));
    assert_eq!(parse("1 /* one */").root.as_i64(), Some(1));
    assert_eq!(parse("/**/1").root.as_i64(), Some(1));
}

#[test]
fn raw_control_characters_in_strings() {
    let doc = parse("{\"script\": \"line 1\nline 2\r\n\tindented\u{1}\u{7f}\"}");
    assert_eq!(
        doc.root.get("script").unwrap().as_str(),
        Some("line 1\nline 2\r\n\tindented\u{1}\u{7f}")
    );
    check_spans(&doc, &doc.root);
    // Positions after a raw newline in a string are on the next line.
    let doc = parse("[\"a\nb\", x]".replace('x', "true").as_str());
    let t = &doc.root.as_array().unwrap()[1];
    assert_eq!(doc.position(t.span.start), pos(2, 5, 5));
}

#[test]
fn byte_order_mark() {
    let doc = parse("\u{FEFF}{\"a\": 1}");
    assert_eq!(doc.root.span, Span::new(3, 11));
    assert_eq!(doc.position(0), pos(1, 1, 1));
    assert_eq!(doc.position(3), pos(1, 1, 1));
    assert_eq!(doc.position(4), pos(1, 2, 2));
    assert_eq!(doc.line_text(1), Some("{\"a\": 1}"));
    assert_eq!(doc.text.len(), 11);
}

#[test]
fn trailing_commas() {
    let doc = parse("{\"a\": [1, 2,], \"b\": {\"c\": true,}, \"d\": [[], {},],}");
    assert_eq!(doc.root.as_object().unwrap().len(), 3);
    assert_eq!(doc.root.get("a").unwrap().as_array().unwrap().len(), 2);
    assert_eq!(doc.root.get("b").unwrap().as_object().unwrap().len(), 1);
    assert_eq!(doc.root.get("d").unwrap().as_array().unwrap().len(), 2);
    assert_eq!(parse("[1 , // c\n ]").root.as_array().unwrap().len(), 1);
    check_spans(&doc, &doc.root);
}

#[test]
fn scalars() {
    let doc = parse(
        "[null, true, false, 0, -0, 12, -12, 9223372036854775807, -9223372036854775808, \
         9223372036854775808, 1.5, 1e3, 1E-2, -0.5e+1, 1e400, \"\"]",
    );
    let items = doc.root.as_array().unwrap();
    let kinds: Vec<&NodeKind> = items.iter().map(|n| &n.kind).collect();
    assert_eq!(kinds[0], &NodeKind::Null);
    assert_eq!(kinds[1], &NodeKind::Bool(true));
    assert_eq!(kinds[2], &NodeKind::Bool(false));
    assert_eq!(kinds[3], &NodeKind::Number(Number::Int(0)));
    assert_eq!(kinds[4], &NodeKind::Number(Number::Int(0)));
    assert_eq!(kinds[5], &NodeKind::Number(Number::Int(12)));
    assert_eq!(kinds[6], &NodeKind::Number(Number::Int(-12)));
    assert_eq!(kinds[7], &NodeKind::Number(Number::Int(i64::MAX)));
    assert_eq!(kinds[8], &NodeKind::Number(Number::Int(i64::MIN)));
    assert_eq!(
        kinds[9],
        &NodeKind::Number(Number::Float(9_223_372_036_854_775_808.0))
    );
    assert_eq!(kinds[10], &NodeKind::Number(Number::Float(1.5)));
    assert_eq!(kinds[11], &NodeKind::Number(Number::Float(1000.0)));
    assert_eq!(kinds[12], &NodeKind::Number(Number::Float(0.01)));
    assert_eq!(kinds[13], &NodeKind::Number(Number::Float(-5.0)));
    assert_eq!(kinds[14], &NodeKind::Number(Number::Float(f64::INFINITY)));
    assert_eq!(kinds[15], &NodeKind::String(String::new()));
    let names: Vec<&str> = items.iter().map(Node::type_name).collect();
    assert_eq!(&names[..4], &["null", "boolean", "boolean", "number"]);
    assert_eq!(names[15], "string");
    assert_eq!(parse("[]").root.type_name(), "array");
    assert_eq!(parse("{}").root.type_name(), "object");
    assert_eq!(items[1].as_bool(), Some(true));
    assert_eq!(items[10].as_f64(), Some(1.5));
    assert_eq!(items[10].as_i64(), None);
    assert!(items[0].is_null());
    check_spans(&doc, &doc.root);
}

#[test]
fn escapes() {
    let doc = parse(
        r#"["\" \\ \/ \b \f \n \r \t", "\u00e9\u00E9", "\ud83d\ude00", "\ud83dx", "\ude00", "\ud83d\u0041", "\ud83d\ud83d\ude00", "a\u0000b"]"#,
    );
    let s: Vec<&str> = doc
        .root
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(s[0], "\" \\ / \u{8} \u{c} \n \r \t");
    assert_eq!(s[1], "éé");
    assert_eq!(s[2], "😀");
    assert_eq!(s[3], "\u{FFFD}x");
    assert_eq!(s[4], "\u{FFFD}");
    assert_eq!(s[5], "\u{FFFD}A");
    assert_eq!(s[6], "\u{FFFD}😀");
    assert_eq!(s[7], "a\u{0}b");
    check_spans(&doc, &doc.root);
}

#[test]
fn spans_are_exact() {
    let text = "{\n  \"name\": \"wé😀\",\n  \"n\" : -1.5e3 ,\n  \"list\": [ true, null, {\"k\\u0041\": []} ]\n}\n";
    let doc = parse(text);
    let slice = |span: Span| &text[span.start..span.end];
    assert_eq!(slice(doc.root.span), &text[..text.len() - 1]);
    let name = doc.root.member("name").unwrap();
    assert_eq!(slice(name.key_span), "\"name\"");
    assert_eq!(slice(name.value.span), "\"wé😀\"");
    assert_eq!(slice(doc.root.get("n").unwrap().span), "-1.5e3");
    let list = doc.root.get("list").unwrap();
    assert_eq!(slice(list.span), "[ true, null, {\"k\\u0041\": []} ]");
    let items = list.as_array().unwrap();
    assert_eq!(slice(items[0].span), "true");
    assert_eq!(slice(items[1].span), "null");
    assert_eq!(slice(items[2].span), "{\"k\\u0041\": []}");
    let inner = items[2].member("kA").unwrap();
    assert_eq!(slice(inner.key_span), "\"k\\u0041\"");
    assert_eq!(slice(inner.value.span), "[]");
    check_spans(&doc, &doc.root);
}

#[test]
fn member_lookup() {
    let doc = parse("{\"Name\": 1, \"name\": 2, \"TYPE\": 3, \"Type\": 4, \"name\": 5}");
    // Exact match first, even when a case-insensitive match comes earlier.
    assert_eq!(doc.root.get("name").unwrap().as_i64(), Some(2));
    assert_eq!(doc.root.get("Name").unwrap().as_i64(), Some(1));
    // Otherwise the first case-insensitive match.
    assert_eq!(doc.root.get("NAME").unwrap().as_i64(), Some(1));
    assert_eq!(doc.root.get("type").unwrap().as_i64(), Some(3));
    assert_eq!(doc.root.member("tYpE").unwrap().key, "TYPE");
    assert!(doc.root.get("missing").is_none());
    // Duplicates are kept in order.
    assert_eq!(doc.root.as_object().unwrap().len(), 5);
    // Not an object.
    assert!(parse("[1]").root.get("a").is_none());
    // ASCII-only case folding.
    assert!(parse("{\"É\": 1}").root.get("é").is_none());
}

#[test]
fn positions_with_multibyte_characters() {
    let text = "{\n  \"é😀\": \"é😀x\"\n}";
    let doc = parse(text);
    let x = text.find('x').unwrap();
    assert_eq!(doc.position(x), pos(2, 12, 14));
    // Inside a character: the character's own column.
    let e = text.rfind('é').unwrap();
    assert_eq!(doc.position(e), pos(2, 10, 11));
    assert_eq!(doc.position(e + 1), pos(2, 10, 11));
    let emoji = text.rfind('😀').unwrap();
    assert_eq!(doc.position(emoji), pos(2, 11, 12));
    assert_eq!(doc.position(emoji + 3), pos(2, 11, 12));
    // Clamped to the end.
    assert_eq!(doc.position(text.len()), pos(3, 2, 2));
    assert_eq!(doc.position(usize::MAX), pos(3, 2, 2));
    assert_eq!(doc.position(0), pos(1, 1, 1));
    assert_eq!(doc.line_text(2), Some("  \"é😀\": \"é😀x\""));
    assert_eq!(doc.line_count(), 3);
    let value = doc.root.get("é😀").unwrap();
    assert_eq!(doc.position(value.span.start), pos(2, 9, 10));
}

#[test]
fn positions_with_crlf_and_lone_cr() {
    let doc = parse("[1,\r\n 2,\r3\r\n]");
    // `[1,` `\r\n`: the `\r` and the `\n` are both at the end of line 1.
    assert_eq!(doc.position(3), pos(1, 4, 4));
    assert_eq!(doc.position(4), pos(1, 4, 4));
    assert_eq!(doc.position(5), pos(2, 1, 1));
    assert_eq!(doc.position(6), pos(2, 2, 2));
    // A lone `\r` ends a line too.
    assert_eq!(doc.position(9), pos(3, 1, 1));
    assert_eq!(doc.position(12), pos(4, 1, 1));
    assert_eq!(doc.line_text(1), Some("[1,"));
    assert_eq!(doc.line_text(2), Some(" 2,"));
    assert_eq!(doc.line_text(3), Some("3"));
    assert_eq!(doc.line_text(4), Some("]"));
    assert_eq!(doc.line_text(5), None);
    assert_eq!(doc.line_text(0), None);
    assert_eq!(doc.line_start(3), Some(9));
    let doc = parse("1\n");
    assert_eq!(doc.line_count(), 2);
    assert_eq!(doc.line_text(2), Some(""));
    assert_eq!(doc.position(2), pos(2, 1, 1));
}

const TEMPLATE: &str = r#"{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "resources": [
    {
      "type": "Microsoft.Storage/storageAccounts",
      "properties": {
        "name": "x"
      }
    }
  ]
}
"#;

#[test]
fn locate_existing_route() {
    let doc = parse(TEMPLATE);
    let route = Route::root()
        .push_key("resources")
        .push_index(0)
        .push_key("properties")
        .push_key("name");
    let found = doc.locate(&route);
    assert!(found.exact);
    assert_eq!(found.depth, 4);
    assert_eq!(found.position, pos(7, 17, 17));
    assert_eq!(doc.slice(found.node_span), Some("\"x\""));
    assert_eq!(doc.node(&route).unwrap().as_str(), Some("x"));
    // Keys match case-insensitively, as in ARM.
    let loose = Route(vec![
        Seg::Key("Resources".into()),
        Seg::Index(0),
        Seg::Key("PROPERTIES".into()),
        Seg::Key("Name".into()),
    ]);
    assert_eq!(doc.locate(&loose), found);
    // The root.
    let root = doc.locate(&Route::root());
    assert!(root.exact);
    assert_eq!((root.depth, root.position), (0, pos(1, 1, 1)));
    assert_eq!(doc.node(&Route::root()), Some(&doc.root));
}

#[test]
fn locate_missing_leaf_returns_parent() {
    let doc = parse(TEMPLATE);
    let properties = Route::root()
        .push_key("resources")
        .push_index(0)
        .push_key("properties");
    let missing = properties.push_key("publicNetworkAccess");
    let found = doc.locate(&missing);
    assert!(!found.exact);
    assert_eq!(found.depth, 3);
    assert_eq!(found.position, pos(6, 21, 21));
    assert_eq!(found.node_span, doc.node(&properties).unwrap().span);
    assert!(doc.node(&missing).is_none());
    // Index out of range, and indexing an object.
    let found = doc.locate(&Route::root().push_key("resources").push_index(5));
    assert_eq!(
        (found.exact, found.depth, found.position),
        (false, 1, pos(3, 16, 16))
    );
    let found = doc.locate(&Route::root().push_index(0));
    assert_eq!((found.exact, found.depth), (false, 0));
    // Keying into a string.
    let found = doc.locate(&Route::root().push_key("$schema").push_key("x"));
    assert_eq!(
        (found.exact, found.depth, found.position),
        (false, 1, pos(2, 14, 14))
    );
}

#[test]
fn route_display() {
    assert_eq!(Route::root().to_string(), "$");
    let r = Route::root()
        .push_key("resources")
        .push_index(0)
        .push_key("properties")
        .push_key("name");
    assert_eq!(r.to_string(), "resources[0].properties.name");
    assert_eq!(
        Route::root()
            .push_key("variables")
            .push_key("my-var")
            .to_string(),
        "variables['my-var']"
    );
    assert_eq!(
        Route::root()
            .push_key("odd key")
            .push_index(3)
            .push_key("_ok1")
            .to_string(),
        "['odd key'][3]._ok1"
    );
    assert_eq!(
        Route::root().push_key("it's \\").to_string(),
        r"['it\'s \\']"
    );
    assert_eq!(Route::root().push_key("$schema").to_string(), "$schema");
    assert_eq!(Route::root().push_key("$").to_string(), "['$']");
    assert_eq!(Route::root().push_key("").to_string(), "['']");
    assert_eq!(Route::root().push_key("1abc").to_string(), "['1abc']");
    assert_eq!(Route::root().push_key("é").to_string(), "['é']");
    assert_eq!(Route::root().push_index(2).to_string(), "[2]");
}

#[test]
fn route_methods() {
    let r = Route::root().push_key("a").push_index(1);
    assert_eq!(r.segs(), &[Seg::Key("a".into()), Seg::Index(1)]);
    assert_eq!(r.parent(), Some(Route::root().push_key("a")));
    assert_eq!(r.parent().unwrap().parent(), Some(Route::root()));
    assert_eq!(Route::root().parent(), None);
    assert_eq!(r.last(), Some(&Seg::Index(1)));
    assert_eq!(r.len(), 2);
    assert!(Route::root().is_root());
    assert_eq!(Route::default(), Route::root());
    let collected: Route = vec![Seg::Key("a".into()), Seg::Index(1)]
        .into_iter()
        .collect();
    assert_eq!(collected, r);
    let mut sorted = [r.clone(), Route::root(), Route::root().push_key("a")];
    sorted.sort();
    assert_eq!(sorted[0], Route::root());
}

#[test]
fn arm_functions_in_strings_are_plain_strings() {
    let doc = parse("{\"name\": \"[concat('a', parameters('b'))]\"}");
    assert_eq!(
        doc.root.get("name").unwrap().as_str(),
        Some("[concat('a', parameters('b'))]")
    );
}
