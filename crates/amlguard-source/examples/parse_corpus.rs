//! Times parsing every `.json` file under a directory (default: the shared
//! corpus). Run with `cargo run --release -p amlguard-source --example
//! parse_corpus [DIR]`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use amlguard_source::Document;

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let dir = std::env::args().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    );
    let mut files = Vec::new();
    if let Err(e) = json_files(&dir, &mut files) {
        eprintln!("{}: {e}", dir.display());
        return std::process::ExitCode::FAILURE;
    }
    let texts: Vec<(String, String)> = files
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
        .collect();
    let total: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let mut best_all = Duration::MAX;
    let mut best_each = vec![Duration::MAX; texts.len()];
    for _ in 0..5 {
        let start = Instant::now();
        for ((path, text), best) in texts.iter().zip(&mut best_each) {
            let one = Instant::now();
            if let Err(e) = Document::parse(path.clone(), text.clone()) {
                eprintln!("{e}");
            }
            *best = (*best).min(one.elapsed());
        }
        best_all = best_all.min(start.elapsed());
    }
    let slowest = texts
        .iter()
        .zip(&best_each)
        .max_by_key(|(_, took)| **took)
        .map(|((path, text), took)| (*took, path.clone(), text.len()))
        .unwrap_or_default();
    println!(
        "{} files, {total} bytes: best of 5 runs {best_all:?}; slowest file (best of 5) {} ({} bytes) {:?}",
        texts.len(),
        slowest.1,
        slowest.2,
        slowest.0
    );
    std::process::ExitCode::SUCCESS
}
