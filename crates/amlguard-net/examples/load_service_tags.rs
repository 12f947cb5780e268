#![allow(clippy::indexing_slicing)]
//! Times loading a service-tag file: `cargo run --release -p amlguard-net
//! --example load_service_tags [FILE]` (default: the public file of the shared corpus).

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measuring tool prints"
)]

use std::time::{Duration, Instant};

use amlguard_net::tags::ServiceTags;

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public/ServiceTags_Public_20251028.json"
        )
        .to_string()
    });
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut times: Vec<Duration> = Vec::new();
    let mut tags = 0;
    for _ in 0..25 {
        let start = Instant::now();
        match ServiceTags::from_json(&text) {
            Ok(t) => tags = t.len(),
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        }
        times.push(start.elapsed());
    }
    times.sort();
    let (min, median, max) = (times[0], times[times.len() / 2], times[times.len() - 1]);
    println!(
        "{} bytes, {tags} tags: min {:.1} ms, median {:.1} ms, max {:.1} ms (25 runs)",
        text.len(),
        min.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3
    );
}
