//! Regenerates the built-in service-tag knowledge of symbolic mode,
//! `crates/amlguard-net/src/symbolic/data.rs`:
//!
//! ```text
//! cargo run -p amlguard-net --example gen_symbolic_data [FILE]
//! ```
//!
//! `FILE` defaults to the newest `ServiceTags_Public_*.json` of the shared
//! corpus (`../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public`), read
//! in place. The test `symbolic_data_is_current` fails when the committed data
//! differs from what this writes.

#![expect(clippy::print_stderr, reason = "a command-line tool reports")]

use std::path::{Path, PathBuf};

use amlguard_net::symbolic::render_data;
use amlguard_net::tags::ServiceTags;

/// The newest public service-tag file of the shared corpus (file names carry the date).
fn default_file() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/ryanborMSFT__AzureServiceTagsJson/Public");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("ServiceTags_Public_") && n.ends_with(".json"))
        })
        .max()
}

fn main() {
    let path = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => match default_file() {
            Some(p) => p,
            None => {
                eprintln!("no ServiceTags_Public_*.json in the shared corpus; give a file");
                std::process::exit(2);
            }
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        }
    };
    let tags = match ServiceTags::from_json(&text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        }
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("service tags");
    let data = match render_data(&tags, name) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(2);
        }
    };
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/symbolic/data.rs");
    if let Err(e) = std::fs::write(&out, &data) {
        eprintln!("{}: {e}", out.display());
        std::process::exit(2);
    }
    eprintln!(
        "wrote {} ({} bytes) from {}",
        out.display(),
        data.len(),
        path.display()
    );
}
