//! Finding the parameter file that belongs to a template.
//!
//! The conventions, in order:
//! 1. `X.json` with `X.parameters.json` beside it (any case);
//! 2. `X.Template.json` with `X.Parameters.json` (the `Template` word replaced);
//! 3. `azuredeploy.json` with `azuredeploy.parameters.json` (a special case of 1);
//! 4. a parameter file beside it whose `metadata.template` names the template.

use std::path::{Path, PathBuf};

use amlguard_source::Document;

use crate::template::is_parameter_file;

/// Parameter files for `template` in its folder, best first.
pub fn sibling_parameter_files(template: &Path) -> Vec<PathBuf> {
    let Some(dir) = template.parent() else {
        return Vec::new();
    };
    let Some(file) = template.file_name().and_then(|f| f.to_str()) else {
        return Vec::new();
    };
    let lower = file.to_ascii_lowercase();
    let Some(stem) = lower.strip_suffix(".json") else {
        return Vec::new();
    };
    let mut wanted = vec![format!("{stem}.parameters.json")];
    for word in ["template", "tmpl"] {
        if let Some(base) = stem.strip_suffix(word) {
            wanted.push(format!("{base}parameters.json"));
        }
    }
    let entries: Vec<PathBuf> = match std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            v.sort();
            v
        }
        Err(_) => return Vec::new(),
    };
    let name_of = |p: &Path| {
        p.file_name()
            .and_then(|f| f.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for w in &wanted {
        for e in &entries {
            if name_of(e) == *w && !out.contains(e) {
                out.push(dir.join(e.file_name().unwrap_or_default()));
            }
        }
    }
    // Parameter files that name the template in their metadata.
    for e in &entries {
        let n = name_of(e);
        if !n.ends_with(".json") || n == lower || out.iter().any(|o| name_of(o) == n) {
            continue;
        }
        if !n.contains("param") {
            continue;
        }
        let Ok(doc) = Document::load(e) else { continue };
        if !is_parameter_file(&doc.root) {
            continue;
        }
        let named = doc
            .root
            .get("metadata")
            .and_then(|m| m.get("template"))
            .and_then(|t| t.as_str())
            .map(|t| {
                t.rsplit(['/', '\\'])
                    .next()
                    .unwrap_or(t)
                    .eq_ignore_ascii_case(file)
            })
            .unwrap_or(false);
        if named {
            out.push(dir.join(e.file_name().unwrap_or_default()));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn pairs_by_naming_convention() {
        let dir = std::env::temp_dir().join(format!("amlguard-discover-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "azuredeploy.json",
            "azuredeploy.parameters.json",
            "Resources.Template.json",
            "Resources.Parameters.json",
            "other.json",
        ] {
            std::fs::write(dir.join(f), "{}").unwrap();
        }
        let names = |p: &str| -> Vec<String> {
            sibling_parameter_files(&dir.join(p))
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            names("azuredeploy.json"),
            vec!["azuredeploy.parameters.json"]
        );
        assert_eq!(
            names("Resources.Template.json"),
            vec!["Resources.Parameters.json"]
        );
        assert!(names("other.json").is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
