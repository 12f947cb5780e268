//! Times parsing one file: `cargo run --release -p amlguard-source --example
//! parse_one FILE [RUNS]`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use amlguard_source::Document;

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: parse_one FILE [RUNS]");
        return std::process::ExitCode::FAILURE;
    };
    let runs: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(10);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    for _ in 0..runs {
        let copy = text.clone();
        let start = Instant::now();
        let result = Document::parse(path.clone(), copy);
        let took = start.elapsed();
        if let Err(e) = &result {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
        drop(result);
        best = best.min(took);
        total += took;
    }
    println!(
        "{path}: {} bytes, best {best:?}, mean {:?} over {runs} runs",
        text.len(),
        total / runs
    );
    std::process::ExitCode::SUCCESS
}
