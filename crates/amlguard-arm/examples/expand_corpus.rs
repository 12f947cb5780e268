//! Expands every ARM template of ../shared/corpus in one process and prints the time.
//! `cargo run --release -p amlguard-arm --example expand_corpus`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use amlguard_arm::template::{self, Options};
use amlguard_source::Document;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let Ok(manifest) = std::fs::read_to_string(root.join("MANIFEST.tsv")) else {
        eprintln!("../shared/corpus not found");
        std::process::exit(2);
    };
    let files: Vec<_> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.get(3) == Some(&"arm-template")).then(|| {
                root.join(cols.first().unwrap_or(&"").replace('/', "__"))
                    .join(cols.get(1).unwrap_or(&""))
            })
        })
        .collect();
    let mut best = f64::MAX;
    let mut resources = 0;
    for _ in 0..5 {
        let start = Instant::now();
        resources = 0;
        for f in &files {
            if let Ok(d) = Document::load(f) {
                resources += template::expand(Arc::new(d), &Options::default())
                    .resources
                    .len();
            }
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{} templates, {resources} resources: best of 5 {:.1} ms (read, parse and expand)",
        files.len(),
        best * 1000.0
    );
}
