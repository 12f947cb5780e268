//! The JSON format, version 1. These types are the format: they are separate
//! from the internal ones on purpose, and `docs/json-output.schema.json`
//! describes them. Change them only together with the schema, and only by
//! adding optional members while `version` stays 1.

use amlguard_model::Model;
use amlguard_rules::Finding;
use serde::Serialize;

use crate::place::{self, Place};
use crate::{
    Counts, Fingerprints, ScanInput, Suppressed, model_of, note_level, ordered, ordered_suppressed,
};

/// The version of the JSON format.
pub const JSON_VERSION: u32 = 1;

/// Renders the scan as the version-1 JSON document (pretty-printed, with a
/// trailing newline). Suppressed findings are listed apart, with their reason.
pub fn json(inputs: &[ScanInput], suppressed: &[Suppressed]) -> String {
    let out = Output::build(inputs, suppressed);
    let mut s = serde_json::to_string_pretty(&out).unwrap_or_default();
    s.push('\n');
    s
}

#[derive(Serialize)]
struct Output {
    version: u32,
    tool: Tool,
    summary: Summary,
    templates: Vec<TemplateOut>,
    suppressed: Vec<SuppressedOut>,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary {
    templates: usize,
    findings: usize,
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
    suppressed: usize,
}

#[derive(Serialize)]
struct TemplateOut {
    template: String,
    parameters: Option<String>,
    notes: Vec<NoteOut>,
    findings: Vec<FindingOut>,
}

#[derive(Serialize)]
struct NoteOut {
    level: &'static str,
    message: String,
    location: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FindingOut {
    rule: String,
    name: &'static str,
    title: &'static str,
    severity: &'static str,
    confidence: &'static str,
    category: &'static str,
    resource: ResourceOut,
    message: String,
    location: LocationOut,
    related: Vec<RelatedOut>,
    /// Path findings: the chain of settings, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    path: Vec<PathStepOut>,
    fix: Option<String>,
    deciding_input: Option<String>,
    fingerprint: String,
}

#[derive(Serialize)]
struct ResourceOut {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocationOut {
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    route: String,
    absent: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedOut {
    message: String,
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    end_line: Option<usize>,
    end_column: Option<usize>,
    route: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PathStepOut {
    message: String,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    route: Option<String>,
}

#[derive(Serialize)]
struct SuppressedOut {
    template: String,
    reason: String,
    finding: FindingOut,
}

impl Output {
    fn build(inputs: &[ScanInput], suppressed: &[Suppressed]) -> Output {
        let mut counts = Counts::default();
        let prints = Fingerprints::of(inputs, suppressed);
        let templates = inputs
            .iter()
            .map(|input| TemplateOut {
                template: input.template.clone(),
                parameters: input.parameters.clone(),
                notes: input
                    .notes
                    .iter()
                    .map(|n| NoteOut {
                        level: note_level(&n.level),
                        message: n.message.clone(),
                        location: n.location.clone(),
                    })
                    .collect(),
                findings: ordered(&input.model, &input.findings)
                    .into_iter()
                    .map(|f| {
                        counts.add(f.severity);
                        FindingOut::of(&input.model, f, prints.get(f))
                    })
                    .collect(),
            })
            .collect();
        let empty = Model::default();
        let suppressed: Vec<SuppressedOut> = ordered_suppressed(inputs, suppressed)
            .into_iter()
            .map(|s| SuppressedOut {
                template: s.template.clone(),
                reason: s.reason.clone(),
                finding: FindingOut::of(
                    model_of(inputs, s).unwrap_or(&empty),
                    &s.finding,
                    prints.get(&s.finding),
                ),
            })
            .collect();
        Output {
            version: JSON_VERSION,
            tool: Tool {
                name: "amlguard",
                version: env!("CARGO_PKG_VERSION"),
            },
            summary: Summary {
                templates: inputs.len(),
                findings: counts.total(),
                critical: counts.critical,
                high: counts.high,
                medium: counts.medium,
                low: counts.low,
                info: counts.info,
                suppressed: suppressed.len(),
            },
            templates,
            suppressed,
        }
    }
}

impl FindingOut {
    fn of(model: &Model, f: &Finding, fingerprint: String) -> FindingOut {
        let at = place::resolve(model, &f.at, f.absent);
        FindingOut {
            rule: f.rule.display_code(),
            name: f.rule.name,
            title: f.rule.title,
            severity: f.severity.as_str(),
            confidence: f.confidence.as_str(),
            category: f.rule.category.as_str(),
            resource: ResourceOut {
                id: f.resource_id.clone(),
                kind: f.resource_type.clone(),
                name: f.resource_name.clone(),
            },
            message: f.message.clone(),
            location: LocationOut {
                file: at.file.to_string(),
                line: at.start.map(|p| p.line),
                column: at.start.map(|p| p.column),
                end_line: at.end.map(|p| p.line),
                end_column: at.end.map(|p| p.column),
                route: f.at.route.to_string(),
                absent: f.absent,
            },
            related: f
                .related
                .iter()
                .map(|r| RelatedOut::of(place::resolve(model, &r.at, false), r))
                .collect(),
            path: f
                .flow
                .iter()
                .map(|s| {
                    let at = s.at.as_ref().map(|p| (place::resolve(model, p, false), p));
                    PathStepOut {
                        message: s.message.clone(),
                        file: at.as_ref().map(|(a, _)| a.file.to_string()),
                        line: at.as_ref().and_then(|(a, _)| a.start.map(|p| p.line)),
                        column: at.as_ref().and_then(|(a, _)| a.start.map(|p| p.column)),
                        route: at.as_ref().map(|(_, p)| p.route.to_string()),
                    }
                })
                .collect(),
            fix: (!f.fix.is_empty()).then(|| f.fix.clone()),
            deciding_input: f.deciding_input.clone(),
            fingerprint,
        }
    }
}

impl RelatedOut {
    fn of(at: Place<'_>, r: &amlguard_rules::Related) -> RelatedOut {
        RelatedOut {
            message: r.message.clone(),
            file: at.file.to_string(),
            line: at.start.map(|p| p.line),
            column: at.start.map(|p| p.column),
            end_line: at.end.map(|p| p.line),
            end_column: at.end.map(|p| p.column),
            route: r.at.route.to_string(),
        }
    }
}
