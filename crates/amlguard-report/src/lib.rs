//! Renders the findings of a scan for people and for programs.
//!
//! Three formats, all byte-for-byte deterministic for the same input:
//!
//! * [`text`]: rustc-style diagnostics with a code frame at the property that
//!   decides each finding (or at its parent object when the property is
//!   absent), for terminals and logs;
//! * [`json`]: the versioned `{"version": 1, …}` document described by
//!   `docs/json-output.schema.json`, built from this crate's own output types
//!   so that internal changes never leak into it;
//! * [`sarif`]: SARIF 2.1.0 for code-scanning services, with rule metadata,
//!   stable fingerprints and suppressions.
//!
//! Findings carry routes, not positions: positions are resolved here, through
//! the documents of each input's model. Findings are ordered by file, line,
//! column, rule code, resource and message ([`sort_findings`]); every output
//! applies that order itself, so callers need not sort first.
//!
//! Source text appears only in the text format's code frames, and a line that
//! holds a secret value (a value the model marks secret, the default of a
//! `secureString`/`secureObject` parameter, or its value in a parameter file)
//! is never shown.

use std::collections::{BTreeMap, HashMap};

use amlguard_model::Model;
use amlguard_rules::{Finding, Severity};

mod json;
mod place;
mod sarif;
mod text;

pub use json::{JSON_VERSION, json};
pub use sarif::sarif;
pub use text::text;

/// A diagnostic about an input that is not a finding (a parameter without a
/// value, a linked template that was not scanned, an expired ignore, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// `"error"`, `"warning"` or `"note"`; anything else is reported as `"note"`.
    pub level: String,
    pub message: String,
    /// Where it applies: `file:line:col`, or just a file.
    pub location: Option<String>,
}

/// What one template's scan produced.
#[derive(Clone, Debug)]
pub struct ScanInput {
    /// The template's path, as given.
    pub template: String,
    /// The parameter file used, if any.
    pub parameters: Option<String>,
    /// The model the findings were made on; its documents resolve locations.
    pub model: Model,
    pub findings: Vec<Finding>,
    pub notes: Vec<Note>,
}

/// A finding that the configuration ignores. JSON and SARIF still list it, as
/// suppressed, with the reason; the text format leaves it out.
#[derive(Clone, Debug)]
pub struct Suppressed {
    pub finding: Finding,
    /// The template whose scan produced it (selects the model that locates it).
    pub template: String,
    /// Why it is ignored, from the configuration.
    pub reason: String,
}

/// Orders an input's findings by file, line, column, rule code, resource and
/// message (then by route, so that the order is total and never depends on
/// the order the rules ran in).
pub fn sort_findings(input: &mut ScanInput) {
    let model = &input.model;
    input.findings.sort_by_cached_key(|f| SortKey::of(model, f));
}

/// A stable identity for a finding across runs and commits: FNV-1a (64 bits)
/// of the rule code, the resource (its ID, or type and name, compared without
/// case as ARM does) and the route of the finding's location, as 16 hex
/// digits. It does not depend on line numbers, messages or file names, so
/// edits elsewhere in a file, or moving the file, keep it. (Where one rule
/// reports twice at the same place, the JSON and SARIF outputs tell the
/// findings apart by mixing in their ordinal.)
pub fn fingerprint(f: &Finding) -> String {
    let mut h = Fnv1a::new();
    h.write(f.rule.display_code().as_bytes());
    h.separator();
    h.write(resource_key(f).to_lowercase().as_bytes());
    h.separator();
    h.write(f.at.route.to_string().as_bytes());
    format!("{:016x}", h.finish())
}

/// The fingerprints the outputs use: [`fingerprint`], except that when several
/// findings of one template share one (a rule that reports twice at the same
/// place), the second and later, in output order, mix in their ordinal so that
/// each stays distinct. Keyed by the finding's address.
struct Fingerprints(HashMap<*const Finding, String>);

impl Fingerprints {
    fn of(inputs: &[ScanInput], suppressed: &[Suppressed]) -> Fingerprints {
        let empty = Model::default();
        let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
        for input in inputs {
            let group = groups.entry(input.template.as_str()).or_default();
            for f in &input.findings {
                group.push(((SortKey::of(&input.model, f), false), f));
            }
        }
        for s in suppressed {
            let model = model_of(inputs, s).unwrap_or(&empty);
            groups
                .entry(s.template.as_str())
                .or_default()
                .push(((SortKey::of(model, &s.finding), true), &s.finding));
        }
        let mut out = HashMap::new();
        for (_, mut group) in groups {
            group.sort_by(|a, b| a.0.cmp(&b.0));
            let mut seen: HashMap<String, u64> = HashMap::new();
            for (_, f) in group {
                let base = fingerprint(f);
                let n = seen.entry(base.clone()).or_insert(0);
                let print = if *n == 0 {
                    base
                } else {
                    let mut h = Fnv1a::new();
                    h.write(base.as_bytes());
                    h.separator();
                    h.write(n.to_string().as_bytes());
                    format!("{:016x}", h.finish())
                };
                *n += 1;
                out.insert(std::ptr::from_ref(f), print);
            }
        }
        Fingerprints(out)
    }

    fn get(&self, f: &Finding) -> String {
        self.0
            .get(&std::ptr::from_ref(f))
            .cloned()
            .unwrap_or_else(|| fingerprint(f))
    }
}

/// One template's findings with their order (suppressed ones flagged, only to
/// break ties: suppressing a finding must not change its fingerprint).
type Group<'a> = Vec<((SortKey, bool), &'a Finding)>;

/// The resource a finding is about, as one string: its ID, else type and name.
fn resource_key(f: &Finding) -> String {
    match &f.resource_id {
        Some(id) => id.clone(),
        None => format!("{}/{}", f.resource_type, f.resource_name),
    }
}

/// 64-bit FNV-1a.
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Fnv1a {
        Fnv1a(Self::OFFSET)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
    /// A byte that cannot occur in the UTF-8 parts, so that parts never run together.
    fn separator(&mut self) {
        self.write(&[0xff]);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The order of findings in every output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    file: String,
    line: usize,
    column: usize,
    code: u16,
    resource: String,
    message: String,
    route: String,
    absent: bool,
}

impl SortKey {
    fn of(model: &Model, f: &Finding) -> SortKey {
        let start = place::resolve(model, &f.at, f.absent).start;
        SortKey {
            file: f.at.document.to_string(),
            line: start.map_or(0, |p| p.line),
            column: start.map_or(0, |p| p.column),
            code: f.rule.code,
            resource: resource_key(f),
            message: f.message.clone(),
            route: f.at.route.to_string(),
            absent: f.absent,
        }
    }
}

/// The findings of a model in output order.
fn ordered<'a>(model: &Model, findings: &'a [Finding]) -> Vec<&'a Finding> {
    let mut keyed: Vec<(SortKey, &Finding)> = findings
        .iter()
        .map(|f| (SortKey::of(model, f), f))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, f)| f).collect()
}

/// The model that locates a suppressed finding: its template's, else the first
/// whose documents include the finding's file.
fn model_of<'a>(inputs: &'a [ScanInput], s: &Suppressed) -> Option<&'a Model> {
    inputs
        .iter()
        .find(|i| i.template == s.template)
        .map(|i| &i.model)
        .or_else(|| {
            inputs
                .iter()
                .map(|i| &i.model)
                .find(|m| m.document(&s.finding.at.document).is_some())
        })
}

/// Suppressed findings in output order: by template, then as findings are.
fn ordered_suppressed<'a>(
    inputs: &[ScanInput],
    suppressed: &'a [Suppressed],
) -> Vec<&'a Suppressed> {
    let empty = Model::default();
    let mut keyed: Vec<((String, SortKey, String), &Suppressed)> = suppressed
        .iter()
        .map(|s| {
            let model = model_of(inputs, s).unwrap_or(&empty);
            let key = (
                s.template.clone(),
                SortKey::of(model, &s.finding),
                s.reason.clone(),
            );
            (key, s)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, s)| s).collect()
}

/// Counts of findings by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    critical: usize,
    high: usize,
    medium: usize,
    low: usize,
    info: usize,
}

impl Counts {
    fn add(&mut self, s: Severity) {
        let slot = match s {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        };
        *slot += 1;
    }
    fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.info
    }
    /// From the most to the least severe.
    fn by_severity(&self) -> [(Severity, usize); 5] {
        [
            (Severity::Critical, self.critical),
            (Severity::High, self.high),
            (Severity::Medium, self.medium),
            (Severity::Low, self.low),
            (Severity::Info, self.info),
        ]
    }
}

/// A note's level as one of `error`, `warning`, `note`.
fn note_level(level: &str) -> &'static str {
    match level.to_ascii_lowercase().as_str() {
        "error" => "error",
        "warning" => "warning",
        _ => "note",
    }
}
