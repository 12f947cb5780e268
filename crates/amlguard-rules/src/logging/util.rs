//! Shared helpers of the logging rules (and of the identity rules, for the
//! target of an extension resource): which diagnostic settings and flow logs
//! apply to a resource, and which logs they enable.

use std::collections::BTreeSet;

use amlguard_model::{Field, Model, Resource, ResourceKind, Tree, TreeKind};

use crate::{Confidence, Finding};

/// What an extension resource (diagnostic setting, role assignment) applies to.
#[derive(Debug)]
pub(crate) enum Target {
    /// A resource ID; absolute (`/subscriptions/…`) or, as Bicep writes
    /// `scope`, relative to the deployment's resource group (`Microsoft.X/type/name`).
    Known(String),
    /// Not known offline; the input that decides it.
    Undecided(Option<String>),
}

/// The resource an extension resource applies to: its `scope`, else its own ID
/// without the last `/providers/<namespace>/<type>/<name>` (which also covers
/// the nested form `Microsoft.X/type/providers/diagnosticSettings` and
/// assignments deployed at the resource group or subscription level).
pub(crate) fn extension_target(r: &Resource) -> Target {
    if let Some(s) = &r.scope {
        return Target::Known(s.trim_end_matches('/').to_string());
    }
    if let Some(id) = &r.id
        && let Some(t) = strip_last_provider(id)
    {
        return Target::Known(t);
    }
    let input = field_input(&r.get("scope")).or_else(|| field_input(&r.get("name")));
    Target::Undecided(input)
}

/// `…/providers/Microsoft.Insights/diagnosticSettings/d` → `…`.
fn strip_last_provider(id: &str) -> Option<String> {
    let lower = id.to_ascii_lowercase();
    let at = lower.rfind("/providers/")?;
    let (head, tail) = id.split_at(at);
    // `/providers/<namespace>/<type>/<name>`: exactly four segments after the split.
    if tail.trim_start_matches('/').split('/').count() != 4 {
        return None;
    }
    Some(head.to_string())
}

/// The input named by an unknown field (or by the first unknown below a known one).
pub(crate) fn field_input(f: &Field<'_>) -> Option<String> {
    match f {
        Field::Unknown { value, .. } => value.input.clone(),
        Field::Known(t) => t.first_unknown().and_then(|u| u.input.clone()),
        Field::Absent { .. } => None,
    }
}

/// Two resource IDs name the same resource (case-insensitively). A relative
/// ID (`Microsoft.X/type/name`, as Bicep writes an extension's `scope`) is
/// relative to the deployment's resource group: it matches an absolute ID
/// that ends with `/providers/` and the same text.
pub(crate) fn same_resource(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('/');
    let b = b.trim_end_matches('/');
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let (rel, abs) = match (a.starts_with('/'), b.starts_with('/')) {
        (false, true) => (a, b),
        (true, false) => (b, a),
        _ => return false,
    };
    abs.to_ascii_lowercase()
        .ends_with(&format!("/providers/{}", rel.to_ascii_lowercase()))
}

/// A diagnostic setting, in either ARM form: the extension resource
/// `Microsoft.Insights/diagnosticSettings` or the nested type
/// `<type>/providers/diagnosticSettings`.
pub(crate) fn is_diagnostic_setting(r: &Resource) -> bool {
    r.kind == ResourceKind::DiagnosticSetting
        || r.arm_type
            .to_ascii_lowercase()
            .ends_with("/providers/diagnosticsettings")
}

/// The diagnostic settings of one target.
#[derive(Debug, Default)]
pub(crate) struct Settings<'a> {
    /// Deployed settings that target it.
    pub matched: Vec<&'a Resource>,
    /// Settings that may target it: the target or the condition is not known
    /// offline. With the input that would decide.
    pub undecided: Vec<(&'a Resource, Option<String>)>,
}

/// The diagnostic settings that apply to the resource with ID `target`.
pub(crate) fn settings_for<'a>(m: &'a Model, target: &str) -> Settings<'a> {
    let mut out = Settings::default();
    for r in m
        .resources
        .iter()
        .filter(|r| r.deployed() && is_diagnostic_setting(r))
    {
        match extension_target(r) {
            Target::Known(t) => {
                if !same_resource(&t, target) {
                    continue;
                }
                if r.condition.is_none() {
                    // The model keeps the condition's value only, not its deciding input.
                    out.undecided.push((r, None));
                } else {
                    out.matched.push(r);
                }
            }
            Target::Undecided(input) => out.undecided.push((r, input)),
        }
    }
    out
}

/// The diagnostic settings that may apply to a resource whose ID is not known
/// offline: every setting whose target is not known either, or is a resource of
/// the same type (`type_path`, e.g. `Microsoft.Network/azureFirewalls/`). All
/// of them are undecided; none is a match.
pub(crate) fn settings_for_unnamed<'a>(m: &'a Model, type_path: &str) -> Settings<'a> {
    let mut out = Settings::default();
    let type_path = type_path.to_ascii_lowercase();
    for r in m
        .resources
        .iter()
        .filter(|r| r.deployed() && is_diagnostic_setting(r))
    {
        match extension_target(r) {
            Target::Known(t) if t.to_ascii_lowercase().contains(&type_path) => {
                out.undecided.push((r, None));
            }
            Target::Known(_) => {}
            Target::Undecided(input) => out.undecided.push((r, input)),
        }
    }
    out
}

/// What one log entry (`properties.logs[i]`) turns on.
#[derive(Debug)]
pub(crate) enum LogSelector {
    Category(String),
    Group(String),
}

/// What the enabled log entries of some diagnostic settings cover.
#[derive(Debug, Default)]
pub(crate) struct LogCoverage {
    /// Enabled categories (lower case).
    pub categories: BTreeSet<String>,
    /// Enabled category groups (lower case: `alllogs`, `audit`).
    pub groups: BTreeSet<String>,
    /// Entries whose category or `enabled` is not known offline: what they
    /// would turn on (None: anything), with the deciding input.
    pub undecided: Vec<(Option<LogSelector>, Option<String>)>,
}

impl LogCoverage {
    /// At least one log entry is known to be on.
    pub fn any_enabled(&self) -> bool {
        !self.categories.is_empty() || !self.groups.is_empty()
    }
    /// A category is known to be on (by name or through `allLogs`).
    pub fn covers(&self, category: &str) -> bool {
        self.groups.contains("alllogs") || self.categories.contains(&category.to_ascii_lowercase())
    }
    /// The first deciding input among the undecided entries.
    pub fn first_input(&self) -> Option<String> {
        self.undecided.iter().find_map(|(_, i)| i.clone())
    }
}

/// Reads `properties.logs` of diagnostic settings.
pub(crate) fn log_coverage(settings: &[&Resource]) -> LogCoverage {
    let mut cov = LogCoverage::default();
    for s in settings {
        let logs = s.get("properties.logs");
        let items = match &logs {
            Field::Known(t) => match t.as_array() {
                Some(items) => items,
                None => continue,
            },
            Field::Unknown { value, .. } => {
                cov.undecided.push((None, value.input.clone()));
                continue;
            }
            Field::Absent { .. } => continue,
        };
        for item in items {
            read_log_entry(item, &mut cov);
        }
    }
    cov
}

fn read_log_entry(item: &Tree, cov: &mut LogCoverage) {
    if let TreeKind::Unknown(u) = &item.kind {
        cov.undecided.push((None, u.input.clone()));
        return;
    }
    let selector = match (item.member("category"), item.member("categoryGroup")) {
        (Some(c), _) if !matches!(c.kind, TreeKind::Null) => match &c.kind {
            TreeKind::String(s) => Some(LogSelector::Category(s.to_ascii_lowercase())),
            TreeKind::Unknown(u) => {
                cov.undecided.push((None, u.input.clone()));
                return;
            }
            _ => None,
        },
        (_, Some(g)) => match &g.kind {
            TreeKind::String(s) => Some(LogSelector::Group(s.to_ascii_lowercase())),
            TreeKind::Unknown(u) => {
                cov.undecided.push((None, u.input.clone()));
                return;
            }
            _ => None,
        },
        _ => None,
    };
    let Some(selector) = selector else { return };
    // `enabled` is required by the API; an entry without it turns nothing on.
    match item.member("enabled").map(|e| &e.kind) {
        Some(TreeKind::Bool(true)) => match selector {
            LogSelector::Category(c) => {
                cov.categories.insert(c);
            }
            LogSelector::Group(g) => {
                cov.groups.insert(g);
            }
        },
        Some(TreeKind::Unknown(u)) => cov.undecided.push((Some(selector), u.input.clone())),
        _ => {}
    }
}

/// The model deploys at least one AML workspace: rules about generic network
/// and monitoring resources apply only then (amlguard is an AML scanner).
pub(crate) fn has_workspace(m: &Model) -> bool {
    m.of_kind(ResourceKind::Workspace).next().is_some()
}

/// Turns a finding into an undecided one: confidence low, "possibly", and the
/// input that decides it.
pub(crate) fn undecided(mut f: Finding, input: Option<String>, why: &str) -> Finding {
    let decide = match &input {
        Some(i) => format!("set {i} to decide"),
        None => why.to_string(),
    };
    f.message = format!("possibly: {} ({decide})", f.message);
    f.confidence = Confidence::Low;
    f.deciding_input = input;
    f
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_ids_match() {
        let abs = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws";
        assert!(same_resource(
            "Microsoft.MachineLearningServices/workspaces/WS",
            abs
        ));
        assert!(same_resource(abs, &abs.to_ascii_uppercase()));
        assert!(!same_resource(
            "Microsoft.MachineLearningServices/workspaces/ws2",
            abs
        ));
    }

    #[test]
    fn strips_the_extension_part_of_an_id() {
        assert_eq!(
            strip_last_provider(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/x"
            )
            .as_deref(),
            Some("/subscriptions/s/resourceGroups/rg")
        );
        assert_eq!(
            strip_last_provider(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/blobServices/default"
            ),
            None
        );
    }
}
