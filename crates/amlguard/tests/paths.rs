//! `amlguard paths` and the path findings of `amlguard scan` on the bundled
//! examples: the chains, the checked fixes, JSON and SARIF code flows, and
//! the service-tag file option.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_amlguard"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tags_file() -> Option<String> {
    let dir = root().join("../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.last().map(|p| p.display().to_string())
}

#[test]
fn paths_shows_the_matrix_chains_and_checked_fixes() {
    let o = run(&["paths", "examples/leaky-subnet"]);
    assert_eq!(o.status.code(), Some(0));
    let t = text(&o);
    // The matrix row: storage and Front Door open, one dependency blocked.
    let row = t
        .lines()
        .find(|l| l.contains("compute cluster `train`") && l.contains("OPEN"))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[3..7], &["closed", "OPEN", "OPEN", "closed"], "{row}");
    assert!(row.ends_with("1 blocked"), "{row}");
    assert!(
        t.contains("has no service endpoint policy: every storage account is reachable"),
        "{t}"
    );
    assert!(
        t.contains("checked fix: attach a service endpoint policy listing"),
        "{t}"
    );
    assert!(t.contains("checked fix: add an outbound rule to NSG `training-nsg`: Deny `AzureFrontDoor.Frontend`"), "{t}");
    assert!(
        t.contains("dependency BatchNodeManagement.westeurope TCP 443 blocked"),
        "{t}"
    );
    assert!(
        t.contains("rule `DenyInternetOutbound` (priority 4000, Deny)"),
        "{t}"
    );
}

#[test]
fn paths_json_carries_verdicts_and_locations() {
    let o = run(&["paths", "examples/", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["serviceTags"], "symbolic");
    let templates = v["templates"].as_array().unwrap();
    let hardened = templates
        .iter()
        .find(|t| t["template"].as_str().unwrap().contains("hardened"))
        .unwrap();
    for c in hardened["computes"].as_array().unwrap() {
        for class in c["classes"].as_array().unwrap() {
            assert_eq!(class["reach"], "not reachable", "{c}");
        }
        for d in c["dependencies"].as_array().unwrap() {
            assert_eq!(d["reach"], "reachable", "{d}");
        }
    }
    let leaky = templates
        .iter()
        .find(|t| t["template"].as_str().unwrap().contains("leaky"))
        .unwrap();
    let storage = leaky["computes"][0]["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "any-storage")
        .unwrap();
    assert_eq!(storage["reach"], "reachable");
    let located = storage["path"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["location"]
                .as_str()
                .is_some_and(|l| l.contains("azuredeploy.json:"))
        })
        .count();
    assert!(located >= 3, "{storage}");
    assert!(
        storage["fix"]
            .as_str()
            .unwrap()
            .contains("/services/Azure/MachineLearning")
    );
}

#[test]
fn scan_reports_path_findings_with_sarif_code_flows() {
    let o = run(&["scan", "examples/leaky-subnet", "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let r302 = results.iter().find(|r| r["ruleId"] == "AMLG302").unwrap();
    let steps = r302["codeFlows"][0]["threadFlows"][0]["locations"]
        .as_array()
        .unwrap();
    assert!(steps.len() >= 3, "{r302}");
    assert!(
        steps[0]["location"]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .unwrap()
            > 1
    );
    assert!(results.iter().any(|r| r["ruleId"] == "AMLG303"));
    assert!(results.iter().any(|r| r["ruleId"] == "AMLG401"));
    assert!(
        !results.iter().any(|r| r["ruleId"] == "AMLG301"),
        "internet is closed"
    );
}

#[test]
fn the_service_tag_file_gives_the_same_verdicts_on_the_examples() {
    let Some(tags) = tags_file() else {
        return;
    };
    let sym = run(&["paths", "examples/", "--format", "json"]);
    let exact = run(&[
        "paths",
        "examples/",
        "--format",
        "json",
        "--service-tags",
        &tags,
    ]);
    assert_eq!(
        exact.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&exact.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&sym.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&exact.stdout).unwrap();
    assert_eq!(b["serviceTags"], "file");
    let verdicts = |v: &serde_json::Value| -> Vec<String> {
        let mut out = Vec::new();
        for t in v["templates"].as_array().unwrap() {
            for c in t["computes"].as_array().unwrap() {
                for x in c["classes"].as_array().unwrap() {
                    out.push(format!(
                        "{} {} {} {}",
                        t["template"], c["name"], x["class"], x["reach"]
                    ));
                }
                for d in c["dependencies"].as_array().unwrap() {
                    out.push(format!(
                        "{} {} {} {}",
                        t["template"], c["name"], d["name"], d["reach"]
                    ));
                }
            }
        }
        out
    };
    assert_eq!(verdicts(&a), verdicts(&b));
}

#[test]
fn a_bad_service_tag_file_is_an_input_error() {
    let dir = std::env::temp_dir().join(format!("amlguard-tags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("tags.json");
    std::fs::write(&f, "{\n  \"values\": [ {\"name\": \"Storage\", \"properties\": {\"addressPrefixes\": [\"10.0.0.0/33\"]}} ]\n}\n").unwrap();
    let o = run(&[
        "paths",
        "examples/hardened",
        "--service-tags",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("tags.json") && err.contains("10.0.0.0/33"),
        "{err}"
    );
    std::fs::write(&f, "{\n  \"values\": [ oops ]\n}\n").unwrap();
    let o = run(&[
        "scan",
        "examples/hardened",
        "--service-tags",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("tags.json:2:"), "{err}");
}
