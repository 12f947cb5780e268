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
