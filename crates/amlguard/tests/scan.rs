//! `amlguard scan` on the bundled examples and on the shared corpus.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use amlguard_arm::discover::sibling_parameter_files;
use amlguard_arm::template::{self, Options};
use amlguard_source::Document;

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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn hardened_example_has_no_findings_and_exits_0() {
    let o = run(&["scan", "examples/hardened"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("no findings in 1 template"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn insecure_example_reports_the_expected_rules_and_exits_1() {
    let o = run(&["scan", "examples/insecure", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<String> = v["templates"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    for want in [
        "AMLG101", "AMLG201", "AMLG202", "AMLG203", "AMLG207", "AMLG305", "AMLG312", "AMLG501",
        "AMLG502", "AMLG511", "AMLG514", "AMLG601", "AMLG701",
    ] {
        assert!(
            codes.iter().any(|c| c == want),
            "{want} missing from {codes:?}"
        );
    }
    // The compute's public IP comes from a parameter default: the finding points there.
    let f201 = v["templates"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["rule"] == "AMLG201"
                && f["location"]["route"] == "parameters.enableNodePublicIp.defaultValue"
        })
        .is_some();
    assert!(f201, "AMLG201 should point at the parameter default");
}

#[test]
fn fail_on_and_min_confidence_filter() {
    let o = run(&["scan", "examples/insecure", "--fail-on", "critical"]);
    assert_eq!(o.status.code(), Some(0), "no critical finding: exit 0");
    let all = run(&["scan", "examples/insecure", "--format", "json"]);
    let high = run(&[
        "scan",
        "examples/insecure",
        "--format",
        "json",
        "--min-confidence",
        "high",
    ]);
    let n = |o: &Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["templates"][0]["findings"].as_array().unwrap().len()
    };
    assert!(n(&high) < n(&all));
}

#[test]
fn config_disables_rules_and_ignores_with_reasons() {
    let dir = std::env::temp_dir().join(format!("amlguard-scan-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        root().join("examples/insecure/azuredeploy.json"),
        dir.join("azuredeploy.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("amlguard.toml"),
        "[rules]\ndisable = [\"AMLG605\"]\n\n[[ignore]]\nrule = \"AMLG201\"\nresource = \"*/computes/gpu-*\"\nreason = \"licence server needs a public IP\"\nexpires = \"2999-12-31\"\n\n[[ignore]]\nrule = \"AMLG202\"\nreason = \"old\"\nexpires = \"2001-01-01\"\n",
    )
    .unwrap();
    let o = run(&["scan", dir.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["templates"][0]["findings"].as_array().unwrap();
    assert!(!findings.iter().any(|f| f["rule"] == "AMLG605"));
    assert!(
        !findings
            .iter()
            .any(|f| f["rule"] == "AMLG201"
                && f["resource"]["name"].as_str().unwrap().contains("gpu"))
    );
    assert!(
        findings.iter().any(|f| f["rule"] == "AMLG202"),
        "an expired ignore does not apply"
    );
    let suppressed = v["suppressed"].as_array().unwrap();
    assert!(
        suppressed
            .iter()
            .any(|s| s["reason"] == "licence server needs a public IP")
    );
    let notes = v["templates"][0]["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["message"].as_str().unwrap().contains("expired"))
    );
    std::fs::write(dir.join("amlguard.toml"), "[rules]\nbogus = 1\n").unwrap();
    let o = run(&["scan", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("amlguard.toml:2:1"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_is_byte_for_byte_deterministic() {
    for format in ["text", "json", "sarif"] {
        let a = run(&["scan", "examples", "--format", format]);
        let b = run(&["scan", "examples", "--format", format]);
        assert_eq!(a.stdout, b.stdout, "{format}");
        assert!(!a.stdout.is_empty());
    }
}

#[test]
fn rules_table_in_readme_is_current() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table = stdout(&run(&["rules", "--format", "markdown"]));
    let start = readme
        .find("<!-- rules:start -->\n")
        .expect("README lacks the rules:start marker");
    let end = readme
        .find("<!-- rules:end -->")
        .expect("README lacks the rules:end marker");
    let current = &readme[start + "<!-- rules:start -->\n".len()..end];
    assert_eq!(
        current, table,
        "the README's rule table is stale: replace it with `amlguard rules --format markdown`"
    );
}

#[test]
fn explain_prints_the_rule_doc() {
    let o = run(&["explain", "AMLG201"]);
    assert_eq!(o.status.code(), Some(0));
    let t = stdout(&o);
    assert!(
        t.contains("compute-node-public-ip") && t.contains("## Fix") && t.contains("Terraform")
    );
    assert_eq!(run(&["explain", "AMLG999"]).status.code(), Some(2));
}

// ---------------------------------------------------------------- corpus

fn corpus() -> Option<PathBuf> {
    let p = root().join("../shared/corpus");
    p.join("MANIFEST.tsv").is_file().then_some(p)
}

const QS: &str = "Azure__azure-quickstart-templates/quickstarts/microsoft.machinelearningservices";

/// Findings of one template (with its sibling parameter file when `params`), as `code route confidence` lines.
fn findings(corpus: &Path, rel: &str, params: bool) -> Vec<String> {
    let path = corpus.join(rel);
    let doc = Arc::new(Document::load(&path).unwrap());
    let parameters = if params {
        sibling_parameter_files(&path)
            .first()
            .map(|p| Arc::new(Document::load(p).unwrap()))
    } else {
        None
    };
    let x = template::expand(
        doc,
        &Options {
            parameters,
            ..Options::default()
        },
    );
    let model = amlguard_ingest::from_expansion(&x);
    let mut out: Vec<String> = amlguard_rules::run(&model, &amlguard_rules::all())
        .iter()
        .map(|f| {
            format!(
                "{}\t{}\t{}\t{}",
                f.rule.display_code(),
                f.at.route,
                f.confidence.as_str(),
                f.resource_name
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn quickstart_traps_are_caught() {
    let Some(c) = corpus() else {
        eprintln!("../shared/corpus not found: skipped");
        return;
    };
    // machine-learning-end-to-end-secure defaults compute node public IP to true.
    let e2e = findings(
        &c,
        &format!("{QS}/machine-learning-end-to-end-secure/azuredeploy.json"),
        true,
    );
    assert!(e2e.iter().any(|f| f.starts_with("AMLG201\t")), "{e2e:#?}");
    // aifoundry-networking-aoao is named for approved-only outbound but allows internet outbound.
    let aoao = findings(
        &c,
        &format!("{QS}/aifoundry-networking-aoao/azuredeploy.json"),
        true,
    );
    assert!(aoao.iter().any(|f| f.starts_with("AMLG305\t")), "{aoao:#?}");
    // machine-learning-workspace-vnet gets its private endpoint only from its parameter file.
    let vnet = format!("{QS}/machine-learning-workspace-vnet/azuredeploy.json");
    let bare = findings(&c, &vnet, false);
    let with = findings(&c, &vnet, true);
    assert!(bare.iter().any(|f| f.starts_with("AMLG102\t")), "{bare:#?}");
    assert!(
        !with
            .iter()
            .any(|f| f.starts_with("AMLG102\t") && f.contains("\thigh\t")),
        "{with:#?}"
    );
}

/// Snapshot of every quickstart ML template's findings (with its parameter file).
/// `AMLGUARD_UPDATE_SNAPSHOTS=1 cargo test` rewrites it; review the diff.
#[test]
fn quickstart_findings_snapshot() {
    let Some(c) = corpus() else {
        eprintln!("../shared/corpus not found: skipped");
        return;
    };
    let manifest = std::fs::read_to_string(c.join("MANIFEST.tsv")).unwrap();
    let mut text = String::new();
    for line in manifest.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4
            || cols[3] != "arm-template"
            || !cols[0].ends_with("azure-quickstart-templates")
        {
            continue;
        }
        if !cols[1].starts_with("quickstarts/microsoft.machinelearningservices/") {
            continue;
        }
        let rel = format!("Azure__azure-quickstart-templates/{}", cols[1]);
        for f in findings(&c, &rel, true) {
            text.push_str(&format!("{}\t{f}\n", cols[1]));
        }
    }
    let snap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/quickstart-findings.tsv");
    if std::env::var_os("AMLGUARD_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snap, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&snap).unwrap_or_default();
    if want != text {
        let got = snap.with_extension("new.tsv");
        std::fs::write(&got, &text).unwrap();
        panic!(
            "quickstart findings changed: compare {} with {} (AMLGUARD_UPDATE_SNAPSHOTS=1 accepts)",
            snap.display(),
            got.display()
        );
    }
}

#[test]
fn hostile_inputs_get_clear_errors_quickly() {
    let dir = std::env::temp_dir().join(format!("amlguard-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";
    let cases = [
        (
            "deep.json",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
            "nesting",
        ),
        (
            "bigstring.json",
            format!(
                r#"{{"$schema": "{schema}", "resources": [], "variables": {{"s": "{}"}}}}"#,
                "a".repeat(10 << 20)
            ),
            "",
        ),
        (
            "million.json",
            format!(
                r#"{{"$schema": "{schema}", "resources": [{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('a', copyIndex())]", "copy": {{"name": "c", "count": 1000000}}}}]}}"#
            ),
            "at most 800",
        ),
        (
            "selfref.json",
            format!(
                r#"{{"$schema": "{schema}", "variables": {{"a": "[variables('a')]"}}, "resources": [{{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[variables('a')]"}}]}}"#
            ),
            "refers to itself",
        ),
    ];
    for (name, text, expect) in cases {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let start = std::time::Instant::now();
        let o = run(&["scan", p.to_str().unwrap()]);
        let took = start.elapsed();
        let all = format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
        assert!(took.as_secs_f64() < 1.0, "{name} took {took:?}");
        assert!(
            o.status.code().is_some_and(|c| c <= 2),
            "{name}: {:?}",
            o.status
        );
        assert!(!all.contains("panicked"), "{name}: {all}");
        if !expect.is_empty() {
            assert_eq!(o.status.code(), Some(2), "{name}: {all}");
            assert!(all.contains(expect), "{name}: {all}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn secure_values_never_reach_any_scan_output() {
    let dir = std::env::temp_dir().join(format!("amlguard-scan-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t = r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
"contentVersion": "1.0.0.0",
"parameters": {"pwd": {"type": "securestring", "defaultValue": "TopSecretDefault1"}, "kvpwd": {"type": "securestring"}},
"resources": [
 {"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "properties": {}},
 {"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01", "name": "ws/cpu",
  "dependsOn": ["[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]"],
  "properties": {"computeType": "AmlCompute", "properties": {"userAccountCredentials": {"adminUserName": "u",
    "adminUserPassword": "[parameters('pwd')]"}}}},
 {"type": "Microsoft.MachineLearningServices/workspaces/datastores", "apiVersion": "2024-04-01", "name": "ws/ds",
  "properties": {"datastoreType": "AzureBlob", "accountName": "x", "containerName": "c",
    "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": "[parameters('kvpwd')]"}}}}]}"#;
    let p = r#"{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
"contentVersion": "1.0.0.0", "parameters": {"kvpwd": {"value": "ParamFileSecret2"}}}"#;
    std::fs::write(dir.join("azuredeploy.json"), t).unwrap();
    std::fs::write(dir.join("azuredeploy.parameters.json"), p).unwrap();
    for format in ["text", "json", "sarif"] {
        let o = run(&["scan", dir.to_str().unwrap(), "--format", format]);
        assert_eq!(o.status.code(), Some(1), "{format}");
        let all = format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
        assert!(
            all.contains("AMLG207"),
            "{format}: the password finding is reported"
        );
        for secret in ["TopSecretDefault1", "ParamFileSecret2"] {
            assert!(!all.contains(secret), "{format} leaks {secret}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
