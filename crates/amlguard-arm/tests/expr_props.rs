//! The expression parser and evaluator never panic, whatever the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::sync::Arc;

use amlguard_arm::expr;
use amlguard_arm::template::{self, Options};
use amlguard_source::Document;
use proptest::prelude::*;

/// Fragments that real expressions are made of, to reach deep into the grammar.
const PIECES: &[&str] = &[
    "concat(",
    "format(",
    "'{0}'",
    "'a''b'",
    ",",
    ")",
    "(",
    "[",
    "]",
    ".",
    "0",
    "-1",
    "12345678901234567890",
    "parameters('p')",
    "variables('v')",
    "createArray(",
    "createObject(",
    "'k'",
    "union(",
    "if(",
    "true",
    "false",
    "null",
    "lambda('x',",
    "lambdaVariables('x')",
    "map(",
    "filter(",
    "reduce(",
    "sort(",
    "range(0,",
    "length(",
    "substring(",
    "uniqueString(",
    "guid(",
    "json('",
    "'{\"a\":1}'",
    "string(",
    "int(",
    "split(",
    "replace(",
    "tryGet(",
    "shallowMerge(",
    "items(",
    "toObject(",
    "cidrSubnet('10.0.0.0/16',",
    "dateTimeAdd(",
    "'P1D'",
    "base64(",
    "uri(",
    "resourceId(",
    "'Microsoft.Storage/storageAccounts'",
    "copyIndex()",
    "reference('x')",
    "ns.fn(",
    " ",
    "add(",
    "div(",
    "mod(",
    "'",
    "''",
    "padLeft(",
    "9999999",
    "first(",
    "last(",
    "skip(",
    "take(",
];

fn expression() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|v| v.concat())
}

fn template_with(expr: &str) -> String {
    let quoted = serde_like_quote(&format!("[{expr}]"));
    format!(
        r#"{{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {{"p": {{"type": "array", "defaultValue": [1, 2, 3]}}}},
            "variables": {{"v": {quoted}}},
            "resources": [],
            "outputs": {{"o": {{"type": "object", "value": {quoted}}}}}}}"#
    )
}

fn serde_like_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in "\\PC{0,80}") {
        let _ = expr::parse(&s);
        let _ = expr::classify(&s);
    }

    #[test]
    fn parser_and_evaluator_never_panic_on_expression_soup(e in expression()) {
        let _ = expr::parse(&e);
        let doc = Arc::new(Document::parse("soup.json", template_with(&e)).unwrap());
        let _ = template::expand(doc, &Options::default());
    }

    #[test]
    fn parsed_expressions_print_and_reparse_to_the_same_tree(e in expression()) {
        if let Ok(tree) = expr::parse(&e) {
            let again = expr::parse(&tree.to_string()).unwrap();
            prop_assert_eq!(tree, again);
        }
    }
}
