//! The rule catalogue.
//!
//! Each rule is a unit struct in its own file under a category folder, declared
//! with [`declare_rule!`]: its doc comment (in the fixed sections *What it
//! checks*, *Why it matters*, *Example (insecure)*, *Fix* with ARM, Bicep and
//! Terraform, *References*) is both the Rust documentation and what
//! `amlguard explain` prints. Registration is the explicit list in each
//! category's `mod.rs`.
//!
//! Rules read only the model. A check whose answer depends on a value that
//! cannot be known offline reports with confidence `low` and names the input
//! that decides it: it never passes silently.

use std::fmt;

use amlguard_model::{Field, Model, Prov, Resource, Tree};

pub mod compute;
pub mod data;
pub mod dependency;
pub mod egress;
pub mod identity;
pub mod logging;
pub mod paths;
pub mod workspace;

#[cfg(test)]
pub mod testing;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Confidence> {
        Some(match s.to_ascii_lowercase().as_str() {
            "low" => Confidence::Low,
            "medium" => Confidence::Medium,
            "high" => Confidence::High,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Workspace,
    Compute,
    Egress,
    Dependency,
    DataService,
    Identity,
    Logging,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Workspace => "workspace",
            Category::Compute => "compute",
            Category::Egress => "egress",
            Category::Dependency => "dependency",
            Category::DataService => "data-service",
            Category::Identity => "identity",
            Category::Logging => "logging",
        }
    }
}

/// What a rule is.
#[derive(Debug)]
pub struct RuleMeta {
    /// The number; displayed as `AMLG` + number.
    pub code: u16,
    /// Kebab-case name.
    pub name: &'static str,
    /// One line.
    pub title: &'static str,
    pub severity: Severity,
    /// Confidence of a finding whose inputs are all known.
    pub confidence: Confidence,
    pub category: Category,
    /// Azure Policy definition IDs, MCSB controls, the peers' check IDs.
    pub references: &'static [&'static str],
    /// The rule's documentation (its doc comment).
    pub doc: &'static str,
}

impl RuleMeta {
    /// `AMLG201`.
    pub fn display_code(&self) -> String {
        format!("AMLG{}", self.code)
    }
}

/// A rule of the catalogue.
pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn check(&self, model: &Model, out: &mut Vec<Finding>);
    /// Whether the rule reads the network engine's verdicts ([`paths::Paths`]).
    fn uses_paths(&self) -> bool {
        false
    }
    /// Checks against verdicts computed once for every path rule (with the
    /// service-tag file when the user gives one). Rules that do not read the
    /// verdicts ignore them.
    fn check_paths(&self, model: &Model, paths: &paths::Paths, out: &mut Vec<Finding>) {
        let _ = paths;
        self.check(model, out);
    }
}

/// A location related to a finding.
/// One step of a path finding's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowStep {
    /// Where the setting is written; `None` for a conclusion ("→ any storage account").
    pub at: Option<Prov>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub at: Prov,
    pub message: String,
}

/// What a rule found.
#[derive(Clone, Debug)]
pub struct Finding {
    pub rule: &'static RuleMeta,
    pub severity: Severity,
    pub confidence: Confidence,
    /// The resource's ID, when known.
    pub resource_id: Option<String>,
    pub resource_type: String,
    pub resource_name: String,
    pub message: String,
    /// The property that decides it, or the object where it is missing.
    pub at: Prov,
    /// The property is absent (Azure's default applies); `at` is its parent.
    pub absent: bool,
    pub related: Vec<Related>,
    /// The change that fixes it, in one or two sentences.
    pub fix: String,
    /// For findings decided by an unknown value: the input that would decide it.
    pub deciding_input: Option<String>,
    /// For path findings: the chain of settings a packet passes, in order
    /// (SARIF `codeFlows`, the JSON `path`, the text output's chain).
    pub flow: Vec<FlowStep>,
}

impl Finding {
    /// A finding about a resource, located at the resource's declaration.
    pub fn new(rule: &'static RuleMeta, r: &Resource, message: impl Into<String>) -> Finding {
        Finding {
            rule,
            severity: rule.severity,
            confidence: rule.confidence,
            resource_id: r.id.clone(),
            resource_type: r.arm_type.clone(),
            resource_name: r.display_name(),
            message: message.into(),
            at: r.prov.clone(),
            absent: false,
            related: Vec::new(),
            fix: String::new(),
            deciding_input: None,
            flow: Vec::new(),
        }
    }
    /// Locates the finding at a field (its parent when absent).
    pub fn at_field(mut self, f: &Field<'_>) -> Finding {
        if let Some(p) = f.at() {
            self.at = p.clone();
        }
        self.absent = f.is_absent();
        if let Field::Unknown { value, .. } = f {
            self.confidence = Confidence::Low;
            self.deciding_input = value.input.clone();
        }
        self
    }
    pub fn with_fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = fix.into();
        self
    }
    pub fn related(mut self, at: Prov, message: impl Into<String>) -> Finding {
        self.related.push(Related {
            at,
            message: message.into(),
        });
        self
    }
}

/// The outcome of testing one field.
#[derive(Debug)]
pub enum Check<'a> {
    Pass,
    /// The field is insecure (known, or absent with an insecure default).
    Fail(Field<'a>),
    /// Undecided: the value is not known offline.
    Unknown(Field<'a>),
}

/// Tests a field: `bad` decides known values; `absent_is_bad` is Azure's default.
pub fn check_field<'a>(
    f: Field<'a>,
    absent_is_bad: bool,
    bad: impl Fn(&Tree) -> bool,
) -> Check<'a> {
    match &f {
        Field::Known(t) if t.contains_unknown() => Check::Unknown(f),
        Field::Known(t) => {
            if bad(t) {
                Check::Fail(f)
            } else {
                Check::Pass
            }
        }
        Field::Absent { .. } => {
            if absent_is_bad {
                Check::Fail(f)
            } else {
                Check::Pass
            }
        }
        Field::Unknown { .. } => Check::Unknown(f),
    }
}

/// Emits the finding for a [`Check`]: a failure as is, an unknown with confidence
/// low and a message naming the deciding input.
pub fn report(
    out: &mut Vec<Finding>,
    rule: &'static RuleMeta,
    r: &Resource,
    check: Check<'_>,
    message: impl Into<String>,
    fix: &str,
) {
    let message = message.into();
    match check {
        Check::Pass => {}
        Check::Fail(f) => out.push(Finding::new(rule, r, message).at_field(&f).with_fix(fix)),
        Check::Unknown(f) => {
            let input = f.unknown().and_then(|u| u.input.clone()).or_else(|| {
                f.known()
                    .and_then(|t| t.first_unknown())
                    .and_then(|u| u.input.clone())
            });
            let decide = match &input {
                Some(i) => format!("set {i} to decide"),
                None => "the value is not known offline".to_string(),
            };
            let mut finding = Finding::new(rule, r, format!("possibly: {message} ({decide})"))
                .at_field(&f)
                .with_fix(fix);
            finding.confidence = Confidence::Low;
            finding.deciding_input = input;
            out.push(finding);
        }
    }
}

/// Declares a rule: a unit struct whose doc comment is its documentation.
#[macro_export]
macro_rules! declare_rule {
    (
        $(#[doc = $doc:expr])*
        pub struct $name:ident {
            code: $code:expr,
            name: $kebab:expr,
            title: $title:expr,
            severity: $sev:ident,
            confidence: $conf:ident,
            category: $cat:ident,
            references: [$($reference:expr),* $(,)?] $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        pub struct $name;

        impl $name {
            pub const META: $crate::RuleMeta = $crate::RuleMeta {
                code: $code,
                name: $kebab,
                title: $title,
                severity: $crate::Severity::$sev,
                confidence: $crate::Confidence::$conf,
                category: $crate::Category::$cat,
                references: &[$($reference),*],
                doc: concat!($($doc, "\n"),*),
            };
        }
    };
}

/// Every rule, sorted by code.
pub fn all() -> Vec<&'static dyn Rule> {
    let mut v: Vec<&'static dyn Rule> = Vec::new();
    v.extend(workspace::rules());
    v.extend(compute::rules());
    v.extend(egress::rules());
    v.extend(dependency::rules());
    v.extend(data::rules());
    v.extend(identity::rules());
    v.extend(logging::rules());
    v.sort_by_key(|r| r.meta().code);
    v
}

/// A rule by code (`201`, `AMLG201`) or name, ignoring case.
pub fn find(key: &str) -> Option<&'static dyn Rule> {
    let k = key.trim();
    let num = k
        .strip_prefix("AMLG")
        .or_else(|| k.strip_prefix("amlg"))
        .unwrap_or(k);
    all().into_iter().find(|r| {
        let m = r.meta();
        num.parse::<u16>().ok() == Some(m.code) || m.name.eq_ignore_ascii_case(k)
    })
}

/// Runs every rule on a model.
pub fn run(model: &Model, rules: &[&'static dyn Rule]) -> Vec<Finding> {
    run_with(model, rules, None)
}

/// Runs rules; the path rules share one analysis, made with the service-tag
/// file when one is given (else with symbolic tags).
pub fn run_with(
    model: &Model,
    rules: &[&'static dyn Rule],
    tags: Option<&amlguard_net::tags::ServiceTags>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut paths = None;
    for r in rules {
        if r.uses_paths() {
            let p = paths.get_or_insert_with(|| paths::Paths::of(model, tags));
            r.check_paths(model, p, &mut out);
        } else {
            r.check(model, &mut out);
        }
    }
    out
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Codes and names are unique and stable: renaming one is a breaking change.
    #[test]
    fn codes_and_names_are_unique_and_documented() {
        let rules = all();
        let mut codes = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for r in &rules {
            let m = r.meta();
            assert!(codes.insert(m.code), "code {} twice", m.code);
            assert!(names.insert(m.name), "name {} twice", m.name);
            assert!((100..800).contains(&m.code), "{} out of range", m.code);
            let range_ok = match m.category {
                Category::Workspace => m.code / 100 == 1,
                Category::Compute => m.code / 100 == 2,
                Category::Egress => m.code / 100 == 3,
                Category::Dependency => m.code / 100 == 4,
                Category::DataService => m.code / 100 == 5,
                Category::Identity => m.code / 100 == 6,
                Category::Logging => m.code / 100 == 7,
            };
            assert!(range_ok, "{} is not in its category's range", m.code);
            for section in [
                "## What it checks",
                "## Why it matters",
                "## Example (insecure)",
                "## Fix",
                "## References",
            ] {
                assert!(
                    m.doc.contains(section),
                    "AMLG{} doc lacks '{section}'",
                    m.code
                );
            }
            for dialect in ["ARM", "Bicep", "Terraform"] {
                assert!(
                    m.doc.contains(dialect),
                    "AMLG{} fix lacks {dialect}",
                    m.code
                );
            }
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()),
                "{} is not kebab-case",
                m.name
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod stable_codes {
    /// Codes are public: users name them in configuration and code-scanning
    /// history keys on them. `codes.txt` lists every code with its name; a rule
    /// renamed or renumbered fails here (a renamed rule keeps its code, and the
    /// old name must keep working).
    #[test]
    fn codes_are_stable() {
        let listed = include_str!("../codes.txt");
        let current: String = super::all()
            .iter()
            .map(|r| format!("{} {}\n", r.meta().display_code(), r.meta().name))
            .collect();
        for line in listed.lines() {
            assert!(
                current.lines().any(|l| l == line),
                "'{line}' is gone: codes and names are stable (add an alias instead)"
            );
        }
        for line in current.lines() {
            assert!(
                listed.lines().any(|l| l == line),
                "new rule '{line}': add it to crates/amlguard-rules/codes.txt"
            );
        }
    }
}
