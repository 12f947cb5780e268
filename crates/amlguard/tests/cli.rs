//! The `amlguard` binary, run as a user runs it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amlguard"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("amlguard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";

#[test]
fn malformed_json_exits_2_naming_file_line_col() {
    let p = fixture("broken.json", "{\n  \"a\": 1\n  \"b\": 2\n}\n");
    let out = run(&["expand", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.json:3:3: expected"), "{err}");
}

#[test]
fn invalid_expression_exits_2_with_its_location() {
    let p = fixture(
        "badexpr.json",
        &format!(
            r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0",
"resources": [{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
  "name": "[concat('a', ]"}}]}}"#
        ),
    );
    let out = run(&["expand", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("badexpr.json:3:11: invalid expression"),
        "{text}"
    );
}

#[test]
fn missing_file_exits_2() {
    let out = run(&["expand", "/nonexistent/amlguard/t.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/amlguard/t.json"));
}

#[test]
fn secure_values_never_reach_text_or_json_output() {
    let t = fixture(
        "secure.json",
        &format!(
            r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0",
"parameters": {{"pwd": {{"type": "securestring"}}, "obj": {{"type": "secureObject", "defaultValue": {{"k": "DefaultSecret42"}}}}}},
"resources": [{{"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-01-01", "name": "vm",
  "properties": {{"a": "[parameters('pwd')]", "b": "[parameters('obj').k]", "c": "[format('x{{0}}', parameters('pwd'))]"}}}}],
"outputs": {{"o": {{"type": "securestring", "value": "[parameters('pwd')]"}}}}}}"#
        ),
    );
    let p = fixture(
        "secure.parameters.json",
        r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
"contentVersion": "1.0.0.0", "parameters": {"pwd": {"value": "ParamFileSecret99"}}}"#,
    );
    for format in ["text", "json"] {
        let out = run(&[
            "expand",
            t.to_str().unwrap(),
            "--parameters",
            p.to_str().unwrap(),
            "--format",
            format,
            "--parameter",
            "obj={\"k\": \"CliSecret77\"}",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in ["ParamFileSecret99", "DefaultSecret42", "CliSecret77"] {
            assert!(
                !all.contains(secret),
                "{format} output leaks {secret}:\n{all}"
            );
        }
        assert!(all.contains("secret"), "{all}");
    }
}

#[test]
fn json_output_is_versioned_and_deterministic() {
    let t = fixture(
        "det.json",
        &format!(
            r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0",
"resources": [{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
  "name": "[concat('sa', uniqueString(resourceGroup().id))]", "location": "[resourceGroup().location]"}}]}}"#
        ),
    );
    let a = run(&["expand", t.to_str().unwrap(), "--format", "json"]);
    let b = run(&["expand", t.to_str().unwrap(), "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["resources"][0]["location"], "eastus");
    let with_rg = run(&[
        "expand",
        t.to_str().unwrap(),
        "--format",
        "json",
        "--resource-group",
        "prod-rg",
        "--location",
        "westeurope",
    ]);
    let w: serde_json::Value = serde_json::from_slice(&with_rg.stdout).unwrap();
    assert_ne!(w["resources"][0]["name"], v["resources"][0]["name"]);
    assert_eq!(w["resources"][0]["location"], "westeurope");
}

#[test]
fn hostile_copy_count_is_rejected_quickly() {
    let t = fixture(
        "hostile.json",
        &format!(
            r#"{{"$schema": "{SCHEMA}", "contentVersion": "1.0.0.0",
"resources": [{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
  "name": "[concat('a', copyIndex())]", "copy": {{"name": "c", "count": 1000000}}}}]}}"#
        ),
    );
    let start = std::time::Instant::now();
    let out = run(&["expand", t.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("at most 800"));
    assert!(start.elapsed().as_secs() < 5);
}
