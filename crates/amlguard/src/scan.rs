//! `amlguard scan`: finds ARM templates, expands them, runs the rules, reports.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use amlguard_arm::discover::sibling_parameter_files;
use amlguard_arm::template::{self, Level, Options};
use amlguard_report::{Note, ScanInput, Suppressed};
use amlguard_rules::{Confidence, Severity};
use amlguard_source::Document;

use crate::config::{self, Config};
use crate::{ContextArgs, Failure};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    Text,
    Json,
    Sarif,
}

pub struct Request {
    pub paths: Vec<PathBuf>,
    pub parameters: Option<PathBuf>,
    pub parameter: Vec<String>,
    pub format: ScanFormat,
    pub fail_on: Severity,
    pub min_confidence: Confidence,
    pub config: Option<PathBuf>,
    pub service_tags: Option<PathBuf>,
    pub context: ContextArgs,
    pub color: bool,
}

/// Folders never entered when walking a directory.
const SKIP_DIRS: &[&str] = &[".git", "target", "node_modules", ".terraform"];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| Failure::input(format!("{}: cannot read the folder: {e}", dir.display())))?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if !SKIP_DIRS.contains(&name) && !name.starts_with('.') {
                walk(&p, out)?;
            }
        } else if name.to_ascii_lowercase().ends_with(".json") {
            out.push(p);
        }
    }
    Ok(())
}

/// A template, the path of the parameter file used (if any), and its expansion.
pub type Expanded = (Arc<Document>, Option<String>, template::Expansion);

/// Reads one file and, when it is an ARM template (recognised by `$schema`),
/// expands it with the given parameter file or else its sibling one. `None`
/// for JSON that is not a template; an error for a file that does not parse.
pub fn expand_file(
    f: &Path,
    explicit_params: Option<&Arc<Document>>,
    overrides: &[(String, String)],
    context: &ContextArgs,
) -> Result<Option<Expanded>, Failure> {
    // A file that is named, or that looks like JSON, must parse.
    let doc = Arc::new(Document::load(f).map_err(|e| Failure::input(e.to_string()))?);
    if !template::is_template(&doc.root) || doc.root.get("$schema").is_none() {
        return Ok(None);
    }
    let params = match explicit_params {
        Some(p) => Some(p.clone()),
        None => match sibling_parameter_files(f).first() {
            Some(p) => Some(crate::load(p)?),
            None => None,
        },
    };
    let param_path = params.as_ref().map(|p| p.path.clone());
    let opts = Options {
        scope: crate::scope_from(context),
        parameters: params,
        overrides: overrides.to_vec(),
        ..Options::default()
    };
    let x = template::expand(doc.clone(), &opts);
    Ok(Some((doc, param_path, x)))
}

/// The JSON files named or found below the named folders.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(Failure::input(format!(
                "{}: no such file or folder",
                p.display()
            )));
        }
    }
    Ok(out)
}

/// Runs a scan; returns the output and the exit code.
pub fn run(req: &Request) -> Result<(String, u8), Failure> {
    let cfg = match &req.config {
        Some(p) => config::load(p)?,
        None => match req.paths.first().and_then(|p| config::discover(p)) {
            Some(p) => config::load(&p)?,
            None => Config {
                rules: amlguard_rules::all(),
                ..Config::default()
            },
        },
    };
    let overrides = crate::expand::parse_overrides(&req.parameter)?;
    let tags = req
        .service_tags
        .as_deref()
        .map(crate::load_service_tags)
        .transpose()?;
    let files = collect(&req.paths)?;
    let explicit_params = req.parameters.as_deref().map(crate::load).transpose()?;
    let mut inputs = Vec::new();
    let mut suppressed = Vec::new();
    let mut input_error = false;
    for f in &files {
        let Some((doc, param_path, x)) =
            expand_file(f, explicit_params.as_ref(), &overrides, &req.context)?
        else {
            continue;
        };
        let mut notes = Vec::new();
        for d in &x.diagnostics {
            if d.level == Level::Error {
                input_error = true;
            }
            if d.level == Level::Note && d.message.contains("has no value") {
                // Reported through the low-confidence findings that the value decides.
                continue;
            }
            notes.push(Note {
                level: d.level.as_str().to_string(),
                message: d.message.clone(),
                location: d.prov.as_ref().map(|p| crate::expand::locate(&x, p)),
            });
        }
        let model = amlguard_ingest::from_expansion(&x);
        let mut findings = amlguard_rules::run_with(&model, &cfg.rules, tags.as_ref());
        for f in &mut findings {
            if let Some(s) = cfg.severity.get(&f.rule.code) {
                f.severity = *s;
            }
        }
        findings.retain(|f| f.confidence >= req.min_confidence);
        let mut kept = Vec::new();
        for f in findings {
            let target = f
                .resource_id
                .clone()
                .unwrap_or_else(|| format!("{}/{}", f.resource_type, f.resource_name));
            match cfg
                .ignores
                .iter()
                .find(|i| i.code == f.rule.code && config::glob_match(&i.resource, &target))
            {
                Some(i) => suppressed.push(Suppressed {
                    finding: f,
                    template: doc.path.clone(),
                    reason: i.reason.clone(),
                }),
                None => kept.push(f),
            }
        }
        // Expired ignores are said once, with the first template.
        let expired: &[config::Ignore] = if inputs.is_empty() { &cfg.expired } else { &[] };
        for e in expired {
            notes.push(Note {
                level: "warning".into(),
                message: format!(
                    "the ignore of AMLG{} for '{}' expired on {:04}-{:02}-{:02} and no longer applies",
                    e.code,
                    e.resource,
                    e.expires.map(|d| d.0).unwrap_or(0),
                    e.expires.map(|d| d.1).unwrap_or(0),
                    e.expires.map(|d| d.2).unwrap_or(0)
                ),
                location: cfg.path.as_ref().map(|p| p.display().to_string()),
            });
        }
        let mut input = ScanInput {
            template: doc.path.clone(),
            parameters: param_path,
            model,
            findings: kept,
            notes,
        };
        amlguard_report::sort_findings(&mut input);
        inputs.push(input);
    }
    let failing = inputs
        .iter()
        .flat_map(|i| i.findings.iter())
        .any(|f| f.severity >= req.fail_on);
    let text = match req.format {
        ScanFormat::Text => amlguard_report::text(&inputs, req.color),
        ScanFormat::Json => amlguard_report::json(&inputs, &suppressed),
        ScanFormat::Sarif => amlguard_report::sarif(&inputs, &suppressed, &amlguard_rules::all()),
    };
    let code = if input_error {
        2
    } else if failing {
        1
    } else {
        0
    };
    Ok((text, code))
}
