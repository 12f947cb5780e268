//! `amlguard paths`: for each compute of each template, which destination
//! classes it can reach and whether the dependencies AML needs are reachable,
//! as a matrix (text) or structured (JSON), with the evidence chains.

use std::fmt::Write as _;
use std::path::PathBuf;

use amlguard_arm::template::Level;
use amlguard_model::{Model, Prov};
use amlguard_net::engine::{Class, Reach, Step};
use amlguard_rules::paths::Paths;
use serde::Serialize;

use crate::{ContextArgs, Failure};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PathsFormat {
    Text,
    Json,
}

pub struct Request {
    pub paths: Vec<PathBuf>,
    pub parameters: Option<PathBuf>,
    pub parameter: Vec<String>,
    pub format: PathsFormat,
    pub service_tags: Option<PathBuf>,
    pub context: ContextArgs,
}

struct Input {
    template: String,
    model: Model,
    paths: Paths,
}

/// Exit 0 (a report, not a gate: `scan` gates), 2 on input errors.
pub fn run(req: &Request) -> Result<(String, u8), Failure> {
    let overrides = crate::expand::parse_overrides(&req.parameter)?;
    let tags = req
        .service_tags
        .as_deref()
        .map(crate::load_service_tags)
        .transpose()?;
    let files = crate::scan::collect(&req.paths)?;
    let explicit = req.parameters.as_deref().map(crate::load).transpose()?;
    let mut inputs = Vec::new();
    let mut input_error = false;
    let mut errors = String::new();
    for f in &files {
        let Some((doc, _, x)) =
            crate::scan::expand_file(f, explicit.as_ref(), &overrides, &req.context)?
        else {
            continue;
        };
        for d in &x.diagnostics {
            if d.level == Level::Error {
                input_error = true;
                let at = d
                    .prov
                    .as_ref()
                    .map(|p| crate::expand::locate(&x, p))
                    .unwrap_or_else(|| doc.path.to_string());
                let _ = writeln!(errors, "error: {at}: {}", d.message);
            }
        }
        let model = amlguard_ingest::from_expansion(&x);
        let paths = Paths::of(&model, tags.as_ref());
        inputs.push(Input {
            template: doc.path.to_string(),
            model,
            paths,
        });
    }
    let symbolic = tags.is_none();
    let text = match req.format {
        PathsFormat::Text => text(&inputs, symbolic),
        PathsFormat::Json => json(&inputs, symbolic),
    };
    if input_error {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), errors.as_bytes());
    }
    Ok((text, if input_error { 2 } else { 0 }))
}

fn cell(r: Reach) -> &'static str {
    match r {
        Reach::Reachable => "OPEN",
        Reach::Possible => "possible",
        Reach::NotReachable => "closed",
    }
}

fn locate(m: &Model, p: &Prov) -> String {
    m.locate(p)
}

fn chain_text(out: &mut String, m: &Model, chain: &[Step], indent: &str) {
    for (k, s) in chain.iter().enumerate() {
        match &s.at {
            Some(p) => {
                let _ = writeln!(out, "{indent}{}. {} ({})", k + 1, s.text, locate(m, p));
            }
            None => {
                let _ = writeln!(out, "{indent}{}. {}", k + 1, s.text);
            }
        }
    }
}

fn text(inputs: &[Input], symbolic: bool) -> String {
    let mut out = String::new();
    if symbolic {
        out.push_str(
            "service tags: symbolic (give --service-tags FILE to decide what symbolic tags leave open)\n\n",
        );
    }
    for input in inputs {
        let a = &input.paths.analysis;
        if a.computes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}", input.template);
        let names: Vec<String> = a.computes.iter().map(|c| c.compute.label()).collect();
        let w = names.iter().map(String::len).max().unwrap_or(7).max(7);
        let _ = write!(out, "  {:<w$}", "compute");
        for c in Class::ALL {
            let _ = write!(out, "  {:<16}", c.key());
        }
        let _ = writeln!(out, "  dependencies");
        for (c, name) in a.computes.iter().zip(&names) {
            let _ = write!(out, "  {name:<w$}");
            for class in Class::ALL {
                let r = c
                    .classes
                    .iter()
                    .find(|v| v.class == class)
                    .map_or("-", |v| cell(v.reach));
                let _ = write!(out, "  {r:<16}");
            }
            let blocked = c
                .dependencies
                .iter()
                .filter(|d| d.reach == Reach::NotReachable)
                .count();
            let possible = c
                .dependencies
                .iter()
                .filter(|d| d.reach == Reach::Possible)
                .count();
            let deps = if c.dependencies.is_empty() {
                "-".to_string()
            } else if blocked == 0 && possible == 0 {
                "all reachable".to_string()
            } else {
                let mut parts = Vec::new();
                if blocked > 0 {
                    parts.push(format!("{blocked} blocked"));
                }
                if possible > 0 {
                    parts.push(format!("{possible} possible"));
                }
                parts.join(", ")
            };
            let _ = writeln!(out, "  {deps}");
        }
        for c in &a.computes {
            let _ = writeln!(out, "\n  {} ({})", c.compute.label(), c.placement);
            if let Some(e) = &c.error {
                let _ = writeln!(out, "    not decided: {e}");
            }
            let quiet = c.classes.iter().all(|v| v.reach == Reach::NotReachable)
                && c.dependencies.iter().all(|d| d.reach == Reach::Reachable)
                && c.error.is_none();
            if quiet {
                let _ = writeln!(
                    out,
                    "    no open path; every dependency checked is reachable"
                );
            }
            for v in &c.classes {
                if v.reach == Reach::NotReachable {
                    continue;
                }
                let _ = writeln!(out, "    {} {}:", v.class.describe(), v.reach);
                chain_text(&mut out, &input.model, &v.chain, "      ");
                if let Some(i) = &v.deciding_input {
                    let _ = writeln!(out, "      decided by: {i}");
                }
                if let Some(fix) = &v.fix {
                    let _ = writeln!(out, "      checked fix: {}", fix.summary);
                }
            }
            for d in &c.dependencies {
                if d.reach == Reach::Reachable {
                    continue;
                }
                let what = if d.reach == Reach::NotReachable {
                    "blocked"
                } else {
                    "possibly blocked"
                };
                let _ = writeln!(
                    out,
                    "    dependency {} {what} ({}):",
                    d.dependency.name, d.dependency.why
                );
                chain_text(&mut out, &input.model, &d.chain, "      ");
                if let Some(i) = &d.deciding_input {
                    let _ = writeln!(out, "      decided by: {i}");
                }
            }
        }
        out.push('\n');
    }
    if out.is_empty() || inputs.iter().all(|i| i.paths.analysis.computes.is_empty()) {
        out.push_str("no compute found in the input\n");
    }
    out
}

#[derive(Serialize)]
struct JsonOut<'a> {
    version: u32,
    #[serde(rename = "serviceTags")]
    service_tags: &'static str,
    templates: Vec<TemplateOut<'a>>,
}

#[derive(Serialize)]
struct TemplateOut<'a> {
    template: &'a str,
    computes: Vec<ComputeOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ComputeOut {
    name: String,
    kind: &'static str,
    id: Option<String>,
    workspace: Option<String>,
    placement: String,
    error: Option<String>,
    classes: Vec<ClassOut>,
    dependencies: Vec<DepOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClassOut {
    class: &'static str,
    reach: &'static str,
    path: Vec<StepOut>,
    deciding_input: Option<String>,
    fix: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DepOut {
    name: String,
    why: String,
    reach: &'static str,
    path: Vec<StepOut>,
    deciding_input: Option<String>,
}

#[derive(Serialize)]
struct StepOut {
    message: String,
    location: Option<String>,
}

fn steps(m: &Model, chain: &[Step]) -> Vec<StepOut> {
    chain
        .iter()
        .map(|s| StepOut {
            message: s.text.clone(),
            location: s.at.as_ref().map(|p| locate(m, p)),
        })
        .collect()
}

fn json(inputs: &[Input], symbolic: bool) -> String {
    let out = JsonOut {
        version: 1,
        service_tags: if symbolic { "symbolic" } else { "file" },
        templates: inputs
            .iter()
            .map(|i| TemplateOut {
                template: &i.template,
                computes: i
                    .paths
                    .analysis
                    .computes
                    .iter()
                    .map(|c| ComputeOut {
                        name: c.compute.name.clone(),
                        kind: c.compute.kind.label(),
                        id: c.compute.id.clone(),
                        workspace: c.workspace.clone(),
                        placement: c.placement.clone(),
                        error: c.error.clone(),
                        classes: c
                            .classes
                            .iter()
                            .map(|v| ClassOut {
                                class: v.class.key(),
                                reach: v.reach.as_str(),
                                path: steps(&i.model, &v.chain),
                                deciding_input: v.deciding_input.clone(),
                                fix: v.fix.as_ref().map(|f| f.summary.clone()),
                            })
                            .collect(),
                        dependencies: c
                            .dependencies
                            .iter()
                            .map(|d| DepOut {
                                name: d.dependency.name.clone(),
                                why: d.dependency.why.clone(),
                                reach: d.reach.as_str(),
                                path: steps(&i.model, &d.chain),
                                deciding_input: d.deciding_input.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    };
    match serde_json::to_string_pretty(&out) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}
