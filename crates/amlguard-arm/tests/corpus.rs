//! Every ARM template in `../shared/corpus` expands with its defaults, and again
//! with each sibling parameter file, with no unsupported function and no crash.
//!
//! Templates with less than a full expansion (an error diagnostic, or a linked
//! template that could not be expanded) must be listed, with the reason, in
//! `tests/corpus-expected.tsv`; a template that expands fully but is still
//! listed there fails the test too, so the list stays current. The run writes
//! its report to `target/corpus-report.tsv`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use amlguard_arm::discover::sibling_parameter_files;
use amlguard_arm::template::{self, Level, Options};
use amlguard_source::Document;

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("MANIFEST.tsv").is_file().then_some(p)
}

fn templates(root: &Path) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() >= 4 && cols[3] == "arm-template" {
            let dir = cols[0].replace('/', "__");
            out.push(root.join(dir).join(cols[1]));
        }
    }
    out
}

/// Why an expansion is not full, or None when it is.
fn shortfall(x: &template::Expansion) -> Option<String> {
    let mut reasons: Vec<String> = x
        .diagnostics
        .iter()
        .filter(|d| {
            d.level == Level::Error
                || (d.level == Level::Warning && d.message.contains("not expanded"))
        })
        .map(|d| d.message.clone())
        .collect();
    reasons.sort();
    reasons.dedup();
    if reasons.is_empty() {
        None
    } else {
        Some(reasons.join(" | "))
    }
}

#[test]
fn every_corpus_template_expands() {
    let Some(root) = corpus() else {
        eprintln!("../shared/corpus not found: corpus test skipped");
        return;
    };
    let expected_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus-expected.tsv"),
    )
    .unwrap_or_default();
    let expected: BTreeMap<String, String> = expected_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    let mut report = String::from("case\tresources\tunknown_resources\tresult\n");
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    let mut cases = 0;
    for t in templates(&root) {
        let rel = t
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let doc = match Document::load(&t) {
            Ok(d) => Arc::new(d),
            Err(e) => {
                failures.push(format!("{rel}: does not parse: {e}"));
                continue;
            }
        };
        if !template::is_template(&doc.root) {
            continue;
        }
        let mut runs: Vec<(String, Option<Arc<Document>>)> = vec![(rel.clone(), None)];
        for p in sibling_parameter_files(&t) {
            let prel = p.file_name().unwrap().to_string_lossy().into_owned();
            let pd = Arc::new(Document::load(&p).unwrap());
            runs.push((format!("{rel} + {prel}"), Some(pd)));
        }
        for (case, params) in runs {
            cases += 1;
            let opts = Options {
                parameters: params,
                ..Options::default()
            };
            let d = doc.clone();
            let x = match std::panic::catch_unwind(move || template::expand(d, &opts)) {
                Ok(x) => x,
                Err(_) => {
                    failures.push(format!("{case}: PANIC"));
                    continue;
                }
            };
            for d in &x.diagnostics {
                if d.message.contains("unknown function") {
                    failures.push(format!("{case}: {}", d.message));
                }
            }
            let unknown = x
                .resources
                .iter()
                .filter(|r| r.body.contains_unknown() || r.name.is_unknown())
                .count();
            let short = shortfall(&x);
            report.push_str(&format!(
                "{case}\t{}\t{unknown}\t{}\n",
                x.resources.len(),
                short.clone().unwrap_or_else(|| "full".into())
            ));
            match (short, expected.get(&case)) {
                (None, None) => {}
                (Some(s), None) => failures.push(format!(
                    "{case}: less than a full expansion, not listed in corpus-expected.tsv: {s}"
                )),
                (None, Some(_)) => failures.push(format!(
                    "{case}: expands fully now; remove it from corpus-expected.tsv"
                )),
                (Some(_), Some(_)) => seen.push(case.clone()),
            }
        }
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/corpus-report.tsv");
    let _ = std::fs::write(&out, &report);
    for k in expected.keys() {
        if !seen.contains(k) && !failures.iter().any(|f| f.starts_with(k.as_str())) {
            failures.push(format!(
                "{k}: listed in corpus-expected.tsv but not run or expanded fully"
            ));
        }
    }
    eprintln!("{cases} corpus cases; report in {}", out.display());
    assert!(
        cases >= 200,
        "expected at least 200 corpus cases, ran {cases}"
    );
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn expand_corpus(rel: &str, params: Option<&str>) -> Option<template::Expansion> {
    let root = corpus()?;
    let doc = Arc::new(Document::load(&root.join(rel)).unwrap());
    let parameters = params.map(|p| Arc::new(Document::load(&root.join(p)).unwrap()));
    Some(template::expand(
        doc,
        &Options {
            parameters,
            ..Options::default()
        },
    ))
}

const QS: &str = "Azure__azure-quickstart-templates/quickstarts/microsoft.machinelearningservices";

#[test]
fn quickstart_names_built_with_unique_string_come_out_evaluated() {
    let Some(x) = expand_corpus(
        &format!("{QS}/machine-learning-private-ip/azuredeploy.json"),
        None,
    ) else {
        return;
    };
    let rg_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/amlguard-rg";
    let expected = format!("sa{}", amlguard_arm::hash::unique_string(&[rg_id]));
    let sa = x
        .resources
        .iter()
        .find(|r| r.full_type == "Microsoft.Storage/storageAccounts")
        .unwrap();
    assert_eq!(sa.name.as_str(), Some(expected.as_str()));
}

#[test]
fn avm_workspace_properties_built_by_shallow_merge_are_visible() {
    let Some(x) = expand_corpus(
        "Azure__bicep-registry-modules/avm/res/machine-learning-services/workspace/main.json",
        None,
    ) else {
        return;
    };
    let ws = x
        .resources
        .iter()
        .find(|r| r.full_type == "Microsoft.MachineLearningServices/workspaces")
        .unwrap();
    let props = ws
        .body
        .as_object()
        .unwrap()
        .get("properties")
        .unwrap()
        .as_object()
        .unwrap();
    assert_eq!(
        props.get("publicNetworkAccess").and_then(|v| v.as_str()),
        Some("Disabled")
    );
    assert!(props.contains_key("managedNetwork"));
    assert!(
        props.get("friendlyName").unwrap().is_unknown(),
        "the name parameter has no default"
    );
}

#[test]
fn workspace_vnet_private_endpoint_comes_only_from_the_parameter_file() {
    let t = format!("{QS}/machine-learning-workspace-vnet/azuredeploy.json");
    let p = format!("{QS}/machine-learning-workspace-vnet/azuredeploy.parameters.json");
    let (Some(bare), Some(with)) = (expand_corpus(&t, None), expand_corpus(&t, Some(&p))) else {
        return;
    };
    let pe_condition = |x: &template::Expansion| {
        x.resources
            .iter()
            .find(|r| r.full_type == "Microsoft.Network/privateEndpoints")
            .and_then(|r| r.condition.as_bool())
    };
    assert_eq!(pe_condition(&bare), Some(false));
    assert_eq!(pe_condition(&with), Some(true));
    // The parameter file's GEN- placeholders are unknowns that name the parameter.
    let ws = with
        .resources
        .iter()
        .find(|r| r.full_type == "Microsoft.MachineLearningServices/workspaces")
        .unwrap();
    let u = ws.name.as_unknown().unwrap();
    assert_eq!(u.input.as_deref(), Some("parameter 'workspaceName'"));
}

#[test]
fn linked_templates_resolve_to_the_local_copy_at_the_same_relative_path() {
    // The quickstart links its module by a raw GitHub URI; the module is in the corpus
    // at the same path below the repository root.
    let Some(root) = corpus() else { return };
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let Some(linker) = manifest.lines().find_map(|l| {
        let cols: Vec<&str> = l.split('\t').collect();
        (cols.len() > 3 && cols[3] == "arm-template" && cols[1].starts_with("quickstarts/"))
            .then(|| format!("Azure__azure-quickstart-templates/{}", cols[1]))
            .filter(|p| {
                std::fs::read_to_string(root.join(p))
                    .unwrap()
                    .contains("modules/machine-learning-workspace/0.9/azuredeploy.json")
            })
    }) else {
        panic!("no quickstart links the workspace module any more");
    };
    let x = expand_corpus(&linker, None).unwrap();
    assert!(
        x.documents.iter().any(|d| d
            .path
            .ends_with("modules/machine-learning-workspace/0.9/azuredeploy.json")),
        "{linker}: the module was not loaded"
    );
    assert!(x.resources.iter().any(|r| !r.deployment.is_empty()));
    assert!(
        !x.diagnostics
            .iter()
            .any(|d| d.message.contains("not expanded"))
    );
}
