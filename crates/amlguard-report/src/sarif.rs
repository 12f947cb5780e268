//! The SARIF 2.1.0 format, for code-scanning services.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use amlguard_model::Model;
use amlguard_rules::{Confidence, Finding, Rule, RuleMeta, Severity};
use serde::Serialize;

use crate::place::{self, Place};
use crate::{
    Fingerprints, ScanInput, Suppressed, model_of, note_level, ordered, ordered_suppressed,
};

/// The schema a SARIF log names.
const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// The key of amlguard's fingerprint in `partialFingerprints`.
const FINGERPRINT_KEY: &str = "amlguardFingerprint/v1";

/// Renders the scan as a SARIF 2.1.0 log with one run: `rules` (and any other
/// rule a finding comes from) as the driver's rules, findings as results, and
/// suppressed findings as results with an external suppression. Columns count
/// Unicode code points (`columnKind` says so). Pretty-printed, with a
/// trailing newline.
pub fn sarif(
    inputs: &[ScanInput],
    suppressed: &[Suppressed],
    rules: &[&'static dyn Rule],
) -> String {
    let log = Log::build(inputs, suppressed, rules);
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    invocations: Vec<Invocation>,
    results: Vec<SarifResult>,
    column_kind: &'static str,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<Descriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    id: String,
    name: &'static str,
    short_description: Text,
    full_description: Text,
    help: Help,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: Vec<&'static str>,
    /// GitHub's scale: 9.0 and over critical, 7.0 high, 4.0 medium, below low.
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<&'static str>,
    precision: &'static str,
    severity: &'static str,
    references: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    properties: NotificationProperties,
}

#[derive(Serialize)]
struct NotificationProperties {
    template: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
    /// Path findings: the chain of settings as one thread flow.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    code_flows: Vec<CodeFlow>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    /// Empty for a finding that is not suppressed (SARIF: "not suppressed",
    /// as opposed to absent: "unknown").
    suppressions: Vec<Suppression>,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Text>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeFlow {
    message: Text,
    thread_flows: Vec<ThreadFlow>,
}

#[derive(Serialize)]
struct ThreadFlow {
    locations: Vec<ThreadFlowLocation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThreadFlowLocation {
    location: FlowLocation,
    nesting_level: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FlowLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation>,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fully_qualified_name: Option<String>,
    kind: &'static str,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    justification: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    severity: &'static str,
    confidence: &'static str,
    category: &'static str,
    resource_type: String,
    route: String,
    absent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deciding_input: Option<String>,
}

impl Log {
    fn build(inputs: &[ScanInput], suppressed: &[Suppressed], rules: &[&'static dyn Rule]) -> Log {
        let metas = rule_list(inputs, suppressed, rules);
        let index_of = |m: &RuleMeta| metas.iter().position(|r| r.code == m.code).unwrap_or(0);
        let prints = Fingerprints::of(inputs, suppressed);
        let mut results = Vec::new();
        for input in inputs {
            for f in ordered(&input.model, &input.findings) {
                let index = index_of(f.rule);
                results.push(result(&input.model, f, index, prints.get(f), None));
            }
        }
        let empty = Model::default();
        for s in ordered_suppressed(inputs, suppressed) {
            let model = model_of(inputs, s).unwrap_or(&empty);
            let index = index_of(s.finding.rule);
            let print = prints.get(&s.finding);
            results.push(result(model, &s.finding, index, print, Some(&s.reason)));
        }
        let notifications: Vec<Notification> = inputs
            .iter()
            .flat_map(|input| {
                input.notes.iter().map(|n| Notification {
                    level: note_level(&n.level),
                    message: Text {
                        text: n.message.clone(),
                    },
                    locations: n
                        .location
                        .as_deref()
                        .map(note_location)
                        .into_iter()
                        .collect(),
                    properties: NotificationProperties {
                        template: input.template.clone(),
                    },
                })
            })
            .collect();
        let repository = env!("CARGO_PKG_REPOSITORY");
        Log {
            schema: SARIF_SCHEMA,
            version: "2.1.0",
            runs: vec![Run {
                tool: Tool {
                    driver: Driver {
                        name: "amlguard",
                        information_uri: (!repository.is_empty()).then_some(repository),
                        version: env!("CARGO_PKG_VERSION"),
                        semantic_version: env!("CARGO_PKG_VERSION"),
                        rules: metas.iter().map(|m| descriptor(m)).collect(),
                    },
                },
                invocations: vec![Invocation {
                    execution_successful: !notifications.iter().any(|n| n.level == "error"),
                    tool_execution_notifications: notifications,
                }],
                results,
                column_kind: "unicodeCodePoints",
            }],
        }
    }
}

/// The driver's rules: `rules` in their order, then any other rule that a
/// finding comes from, by code; each code once.
fn rule_list(
    inputs: &[ScanInput],
    suppressed: &[Suppressed],
    rules: &[&'static dyn Rule],
) -> Vec<&'static RuleMeta> {
    let mut metas: Vec<&'static RuleMeta> = Vec::new();
    for r in rules {
        let m = r.meta();
        if !metas.iter().any(|x| x.code == m.code) {
            metas.push(m);
        }
    }
    let mut extra: Vec<&'static RuleMeta> = inputs
        .iter()
        .flat_map(|i| i.findings.iter().map(|f| f.rule))
        .chain(suppressed.iter().map(|s| s.finding.rule))
        .filter(|m| !metas.iter().any(|x| x.code == m.code))
        .collect();
    extra.sort_by_key(|m| m.code);
    extra.dedup_by_key(|m| m.code);
    metas.extend(extra);
    metas
}

fn descriptor(m: &'static RuleMeta) -> Descriptor {
    let doc = unindent(m.doc);
    Descriptor {
        id: m.display_code(),
        name: m.name,
        short_description: Text {
            text: m.title.to_string(),
        },
        full_description: Text {
            text: section(&doc, "What it checks").unwrap_or_else(|| m.title.to_string()),
        },
        help: Help {
            text: plain(&doc),
            markdown: doc,
        },
        default_configuration: Configuration {
            level: level(m.severity),
        },
        properties: RuleProperties {
            tags: vec!["security", m.category.as_str()],
            security_severity: security_severity(m.severity),
            precision: match m.confidence {
                Confidence::High => "high",
                Confidence::Medium => "medium",
                Confidence::Low => "low",
            },
            severity: m.severity.as_str(),
            references: m.references.to_vec(),
        },
    }
}

/// The chain of a path finding as one SARIF thread flow whose steps point at
/// each setting's line.
fn code_flows(model: &Model, f: &Finding) -> Vec<CodeFlow> {
    if f.flow.is_empty() {
        return Vec::new();
    }
    let locations = f
        .flow
        .iter()
        .map(|s| ThreadFlowLocation {
            location: FlowLocation {
                physical_location: s.at.as_ref().map(|p| {
                    let at = place::resolve(model, p, false);
                    location(&at, None, None).physical_location
                }),
                message: Text {
                    text: s.message.clone(),
                },
            },
            nesting_level: 0,
        })
        .collect();
    vec![CodeFlow {
        message: Text {
            text: f.message.clone(),
        },
        thread_flows: vec![ThreadFlow { locations }],
    }]
}

fn result(
    model: &Model,
    f: &Finding,
    rule_index: usize,
    fingerprint: String,
    suppressed: Option<&str>,
) -> SarifResult {
    let at = place::resolve(model, &f.at, f.absent);
    let mut primary = location(&at, None, None);
    primary.logical_locations = vec![LogicalLocation {
        name: f.resource_name.clone(),
        fully_qualified_name: f.resource_id.clone(),
        kind: "resource",
    }];
    let related = f
        .related
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let p = place::resolve(model, &r.at, false);
            location(&p, Some(k + 1), Some(r.message.clone()))
        })
        .collect();
    SarifResult {
        rule_id: f.rule.display_code(),
        rule_index,
        level: level(f.severity),
        message: Text {
            text: f.message.clone(),
        },
        locations: vec![primary],
        related_locations: related,
        code_flows: code_flows(model, f),
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint)]),
        suppressions: suppressed
            .map(|reason| Suppression {
                kind: "external",
                status: "accepted",
                justification: reason.to_string(),
            })
            .into_iter()
            .collect(),
        properties: ResultProperties {
            severity: f.severity.as_str(),
            confidence: f.confidence.as_str(),
            category: f.rule.category.as_str(),
            resource_type: f.resource_type.clone(),
            route: f.at.route.to_string(),
            absent: f.absent,
            fix: (!f.fix.is_empty()).then(|| f.fix.clone()),
            deciding_input: f.deciding_input.clone(),
        },
    }
}

fn location(p: &Place<'_>, id: Option<usize>, message: Option<String>) -> Location {
    Location {
        id,
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(p.file) },
            region: p.start.map(|s| Region {
                start_line: s.line,
                start_column: s.column,
                end_line: p.end.map(|e| e.line),
                end_column: p.end.map(|e| e.column),
            }),
        },
        logical_locations: Vec::new(),
        message: message.map(|text| Text { text }),
    }
}

/// A note's `file:line:col` (or `file:line`, or `file`) as a location.
fn note_location(s: &str) -> Location {
    let number = |x: &str| x.parse::<usize>().ok().filter(|n| *n > 0);
    let (file, line, column) = match s.rsplitn(3, ':').collect::<Vec<_>>().as_slice() {
        [col, line, file] if number(col).is_some() && number(line).is_some() => {
            (*file, number(line), number(col))
        }
        _ => match s.rsplit_once(':') {
            Some((file, line)) if number(line).is_some() => (file, number(line), None),
            _ => (s, None, None),
        },
    };
    Location {
        id: None,
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(file) },
            region: line.map(|l| Region {
                start_line: l,
                start_column: column.unwrap_or(1),
                end_line: None,
                end_column: None,
            }),
        },
        logical_locations: Vec::new(),
        message: None,
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// Info-level rules carry no score, so code scanning ranks them by level alone.
fn security_severity(s: Severity) -> Option<&'static str> {
    match s {
        Severity::Critical => Some("9.5"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("3.0"),
        Severity::Info => None,
    }
}

/// A path as a URI reference: relative paths stay relative (with `/`
/// separators and without a leading `./`), absolute ones become `file:` URIs;
/// characters a URI cannot hold are percent-encoded.
fn uri(path: &str) -> String {
    let mut p = path.replace('\\', "/");
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.to_string();
    }
    let bytes = p.as_bytes();
    let drive = bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.get(1) == Some(&b':')
        && bytes.get(2) == Some(&b'/');
    let (prefix, keep_colon_at) = if drive {
        ("file:///", Some(1))
    } else if p.starts_with('/') {
        ("file://", None)
    } else {
        ("", None)
    };
    let mut out = String::from(prefix);
    for (k, b) in p.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=@/".contains(&b)
            || (b == b':' && (keep_colon_at == Some(k) || !prefix.is_empty()));
        if plain {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A rule's doc comment without the one space that follows each `///`.
fn unindent(doc: &str) -> String {
    let lines: Vec<&str> = doc
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    lines.join("\n").trim().to_string()
}

/// The text of a `## heading` section, as one paragraph.
fn section(doc: &str, heading: &str) -> Option<String> {
    let mut lines = doc.lines().skip_while(|l| {
        l.strip_prefix("## ")
            .is_none_or(|h| !h.trim().eq_ignore_ascii_case(heading))
    });
    lines.next()?;
    let body: Vec<&str> = lines
        .take_while(|l| !l.starts_with("## "))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    (!body.is_empty()).then(|| body.join(" "))
}

/// Markdown made plain: headings as `Heading:` and code fences dropped.
fn plain(doc: &str) -> String {
    doc.lines()
        .filter(|l| !l.trim_start().starts_with("```"))
        .map(|l| match l.strip_prefix("## ") {
            Some(h) => format!("{}:", h.trim()),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("main.json"), "main.json");
        assert_eq!(uri("./infra/main.json"), "infra/main.json");
        assert_eq!(uri("infra\\my file.json"), "infra/my%20file.json");
        assert_eq!(uri("/abs/x#1.json"), "file:///abs/x%231.json");
        assert_eq!(uri("C:\\t\\a.json"), "file:///C:/t/a.json");
        assert_eq!(uri("a:b.json"), "a%3Ab.json");
        assert_eq!(uri("é.json"), "%C3%A9.json");
    }

    #[test]
    fn note_locations_parse() {
        let l = note_location("a/b.json:3:7");
        let r = l.physical_location.region.unwrap();
        assert_eq!((r.start_line, r.start_column), (3, 7));
        assert_eq!(l.physical_location.artifact_location.uri, "a/b.json");
        let l = note_location("amlguard.toml");
        assert!(l.physical_location.region.is_none());
        let l = note_location("x.json:12");
        assert_eq!(l.physical_location.region.unwrap().start_line, 12);
    }

    #[test]
    fn doc_sections() {
        let doc = unindent(
            " ## What it checks\n A thing\n is open.\n\n ## Why it matters\n Bad.\n ```json\n {}\n ```",
        );
        assert_eq!(section(&doc, "What it checks").unwrap(), "A thing is open.");
        let p = plain(&doc);
        assert!(p.starts_with("What it checks:\nA thing"));
        assert!(!p.contains("```"));
    }
}
