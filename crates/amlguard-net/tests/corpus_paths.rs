//! The path engine on the real templates of the shared corpus: every ARM
//! template of the quickstart ML folder and every AVM network module, each
//! expanded (with its sibling parameter file), analysed with symbolic service
//! tags and again with the service-tag file.
//!
//! Two checks: the service-tag file may only sharpen a verdict — wherever the
//! symbolic analysis is decisive (reachable or not reachable), the file must
//! agree — and a snapshot of every verdict, so a change shows up in review.
//! `AMLGUARD_UPDATE_SNAPSHOTS=1 cargo test -p amlguard-net --test corpus_paths`
//! rewrites the snapshot; review the diff.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use amlguard_arm::discover::sibling_parameter_files;
use amlguard_arm::template::{self, Options};
use amlguard_net::engine::{Analysis, Class, Reach, Step, analyse};
use amlguard_net::symbolic::{SymbolicTags, TagSource};
use amlguard_net::tags::ServiceTags;
use amlguard_net::topology::Estate;
use amlguard_source::Document;

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    p.join("MANIFEST.tsv").is_file().then_some(p)
}

/// The newest public service-tag file, read once.
fn service_tags(corpus: &Path) -> &'static ServiceTags {
    static TAGS: OnceLock<ServiceTags> = OnceLock::new();
    TAGS.get_or_init(|| {
        let dir = corpus.join("ryanborMSFT__AzureServiceTagsJson/Public");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        // `ServiceTags_Public_YYYYMMDD.json`: the name orders by date.
        files.sort();
        let newest = files
            .last()
            .unwrap_or_else(|| panic!("no service-tag file in {}", dir.display()));
        ServiceTags::from_json(&std::fs::read_to_string(newest).unwrap()).unwrap()
    })
}

const QS: &str = "quickstarts/microsoft.machinelearningservices/";

/// The templates under test, as paths relative to the corpus, sorted.
fn templates(corpus: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).unwrap();
    let mut out: Vec<String> = manifest
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 4 || cols[3] != "arm-template" {
                return None;
            }
            let wanted = match cols[0] {
                "Azure/azure-quickstart-templates" => cols[1].starts_with(QS),
                "Azure/bicep-registry-modules" => cols[1].contains("avm/res/network/"),
                _ => false,
            };
            wanted.then(|| format!("{}/{}", cols[0].replace('/', "__"), cols[1]))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `a` when both modes agree, `a→b` when they differ.
fn pair<T: PartialEq + std::fmt::Display>(symbolic: T, file: T) -> String {
    if symbolic == file {
        symbolic.to_string()
    } else {
        format!("{symbolic}→{file}")
    }
}

fn decisive(r: Reach) -> bool {
    matches!(r, Reach::Reachable | Reach::NotReachable)
}

fn chain(steps: &[Step]) -> String {
    if steps.is_empty() {
        return "      (empty)\n".to_string();
    }
    let mut s = String::new();
    for st in steps {
        match &st.at {
            Some(at) => writeln!(s, "      - {} [{}]", st.text, at.route).unwrap(),
            None => writeln!(s, "      - {}", st.text).unwrap(),
        }
    }
    s
}

fn count(a: &Analysis, ci: usize, r: Reach) -> usize {
    a.computes[ci]
        .dependencies
        .iter()
        .filter(|d| d.reach == r)
        .count()
}

#[derive(Default)]
struct Tally {
    templates: usize,
    with_computes: usize,
    computes: usize,
    network_only: usize,
    class_cells: usize,
    class_sharpened: usize,
    dep_cells: usize,
    dep_sharpened: usize,
}

#[test]
fn symbolic_and_file_verdicts_agree_on_the_corpus() {
    let Some(c) = corpus() else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("../shared/corpus not found: skipped");
        }
        return;
    };
    let tags = service_tags(&c);
    let mut lines: Vec<String> = Vec::new();
    let mut disagreements: Vec<String> = Vec::new();
    let mut t = Tally::default();

    for rel in templates(&c) {
        let path = c.join(&rel);
        let doc = Arc::new(Document::load(&path).unwrap());
        let parameters = sibling_parameter_files(&path)
            .first()
            .map(|p| Arc::new(Document::load(p).unwrap()));
        let x = template::expand(
            doc,
            &Options {
                parameters,
                ..Options::default()
            },
        );
        let model = amlguard_ingest::from_expansion(&x);
        let estate = Estate::from_model(&model);
        t.templates += 1;

        if estate.computes.is_empty() {
            let e = &estate;
            if !(e.nsgs.is_empty()
                && e.route_tables.is_empty()
                && e.firewalls.is_empty()
                && e.subnets.is_empty()
                && e.policies.is_empty())
            {
                t.network_only += 1;
                lines.push(format!(
                    "{rel}\t(no compute)\tnsgs={} routeTables={} firewalls={} subnets={} policies={}",
                    e.nsgs.len(),
                    e.route_tables.len(),
                    e.firewalls.len(),
                    e.subnets.len(),
                    e.policies.len()
                ));
            }
            continue;
        }

        let sym = analyse(&estate, TagSource::Symbolic(SymbolicTags::builtin()));
        let file = analyse(&estate, TagSource::File(tags));
        assert_eq!(
            sym.computes.len(),
            file.computes.len(),
            "{rel}: the two modes see different computes"
        );
        t.with_computes += 1;

        for (ci, (s, f)) in sym.computes.iter().zip(&file.computes).enumerate() {
            t.computes += 1;
            let label = s.compute.label();
            assert_eq!(label, f.compute.label(), "{rel}: computes out of order");
            let mut line = format!("{rel}\t{label}\t{}", pair(&s.placement, &f.placement));

            for class in Class::ALL {
                let sv = s.classes.iter().find(|v| v.class == class);
                let fv = f.classes.iter().find(|v| v.class == class);
                let (Some(sv), Some(fv)) = (sv, fv) else {
                    disagreements.push(format!(
                        "{rel} — {label} — {}: verdict missing (symbolic {}, file {})",
                        class.key(),
                        sv.is_some(),
                        fv.is_some()
                    ));
                    write!(line, "\t{}=?", class.key()).unwrap();
                    continue;
                };
                write!(line, "\t{}={}", class.key(), pair(sv.reach, fv.reach)).unwrap();
                t.class_cells += 1;
                if sv.reach == Reach::Possible && decisive(fv.reach) {
                    t.class_sharpened += 1;
                }
                if decisive(sv.reach) && sv.reach != fv.reach {
                    disagreements.push(format!(
                        "{rel} — {label} — {}: symbolic {}, file {}\n    symbolic chain:\n{}    file chain:\n{}",
                        class.key(),
                        sv.reach,
                        fv.reach,
                        chain(&sv.chain),
                        chain(&fv.chain)
                    ));
                }
            }

            for sd in &s.dependencies {
                t.dep_cells += 1;
                let fd = f
                    .dependencies
                    .iter()
                    .find(|d| d.dependency == sd.dependency);
                let Some(fd) = fd else {
                    disagreements.push(format!(
                        "{rel} — {label} — dependency {} ({}): missing from the file analysis",
                        sd.dependency.name, sd.dependency.why
                    ));
                    continue;
                };
                if sd.reach == Reach::Possible && decisive(fd.reach) {
                    t.dep_sharpened += 1;
                }
                if decisive(sd.reach) && sd.reach != fd.reach {
                    disagreements.push(format!(
                        "{rel} — {label} — dependency {} ({}): symbolic {}, file {}\n    symbolic chain:\n{}    file chain:\n{}",
                        sd.dependency.name,
                        sd.dependency.why,
                        sd.reach,
                        fd.reach,
                        chain(&sd.chain),
                        chain(&fd.chain)
                    ));
                }
            }
            write!(
                line,
                "\tdeps={} blocked={} possible={}",
                pair(s.dependencies.len(), f.dependencies.len()),
                pair(
                    count(&sym, ci, Reach::NotReachable),
                    count(&file, ci, Reach::NotReachable)
                ),
                pair(
                    count(&sym, ci, Reach::Possible),
                    count(&file, ci, Reach::Possible)
                ),
            )
            .unwrap();
            if s.error.is_some() || f.error.is_some() {
                write!(
                    line,
                    "\terror={}",
                    pair(
                        s.error.as_deref().unwrap_or("-"),
                        f.error.as_deref().unwrap_or("-")
                    )
                )
                .unwrap();
            }
            lines.push(line);
        }
    }

    lines.sort();
    let mut text = format!(
        "# templates={} with-computes={} computes={} network-only={} \
         file-decisive-where-symbolic-possible: classes={}/{} dependencies={}/{}\n",
        t.templates,
        t.with_computes,
        t.computes,
        t.network_only,
        t.class_sharpened,
        t.class_cells,
        t.dep_sharpened,
        t.dep_cells
    );
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    // Absolute corpus paths (in placements or errors) differ between machines.
    let text = text.replace(&format!("{}/", c.display()), "");

    let mut failures: Vec<String> = Vec::new();
    if t.computes == 0 {
        failures.push("no template of the corpus was analysed with a compute".to_string());
    }
    if !disagreements.is_empty() {
        failures.push(format!(
            "{} disagreement(s) where the symbolic verdict was decisive:\n{}",
            disagreements.len(),
            disagreements.join("\n")
        ));
    }

    let snap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/corpus-paths.tsv");
    if std::env::var_os("AMLGUARD_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
        std::fs::write(&snap, &text).unwrap();
    } else {
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        if want != text {
            let got = snap.with_extension("new.tsv");
            std::fs::write(&got, &text).unwrap();
            failures.push(format!(
                "corpus path verdicts changed: compare {} with {} (AMLGUARD_UPDATE_SNAPSHOTS=1 accepts)",
                snap.display(),
                got.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
