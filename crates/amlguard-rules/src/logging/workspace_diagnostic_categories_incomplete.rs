use amlguard_model::{Model, ResourceKind};

use super::util::{LogSelector, log_coverage, settings_for, undecided};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// For each workspace that has diagnostic settings, whether together they
    /// enable the resource-log categories that record who created compute,
    /// connected data and read data or models:
    /// `AmlComputeClusterEvent`, `ComputeInstanceEvent` (compute),
    /// `DataStoreChangeEvent`, `DataSetChangeEvent` (datastores and data assets
    /// created or changed), `DataStoreReadEvent`, `DataSetReadEvent` and
    /// `ModelsReadEvent` (reads). A `logs[]` entry counts when `enabled` is `true`
    /// (the property is required; an entry without it enables nothing). The
    /// category group `allLogs` covers every category. The group `audit` is
    /// reported with confidence low: which AML categories it contains is not
    /// documented in amlguard's sources. Workspaces with no setting at all are
    /// AMLG701's. Other categories (job, run and deployment events) are useful but
    /// not required here.
    ///
    /// ## Why it matters
    /// A diagnostic setting that only sends metrics, or only the free compute
    /// categories, leaves out exactly the events an investigation of data leaving
    /// the workspace needs: which datastore was registered or repointed, and who
    /// read which data set. Most AML categories are charged when exported, which
    /// is why they are often left out.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Insights/diagnosticSettings", "scope": "Microsoft.MachineLearningServices/workspaces/ws",
    ///  "properties": {"workspaceId": "…", "logs": [{"category": "AmlComputeClusterEvent", "enabled": true}]}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"logs": [{"categoryGroup": "allLogs", "enabled": true}]` in the setting's `properties`.
    /// Bicep: `logs: [ { categoryGroup: 'allLogs', enabled: true } ]`.
    /// Terraform (`azurerm_monitor_diagnostic_setting`): `enabled_log { category_group = "allLogs" }`.
    ///
    /// ## References
    /// Azure Policy afe0c3be-ba3b-4544-ba52-0c99672a8ad6 (which asks only for a
    /// setting, not for categories); MCSB LT-3; AzTS
    /// Azure_MachineLearningWorkspace_Audit_Enable_Diagnostics_Log (checks categories).
    pub struct WorkspaceDiagnosticCategoriesIncomplete {
        code: 702,
        name: "workspace-diagnostic-categories-incomplete",
        title: "The workspace's diagnostic settings leave out compute, data-access or model-read logs",
        severity: Low,
        confidence: High,
        category: Logging,
        references: [
            "Azure Policy afe0c3be-ba3b-4544-ba52-0c99672a8ad6",
            "MCSB LT-3",
            "AzTS Azure_MachineLearningWorkspace_Audit_Enable_Diagnostics_Log",
        ],
    }
}

/// The categories that record compute creation, data connection and reads.
pub(crate) const REQUIRED: &[&str] = &[
    "AmlComputeClusterEvent",
    "ComputeInstanceEvent",
    "DataStoreChangeEvent",
    "DataSetChangeEvent",
    "DataStoreReadEvent",
    "DataSetReadEvent",
    "ModelsReadEvent",
];

const FIX: &str = "enable categoryGroup 'allLogs' (or at least the listed categories) in the workspace's diagnostic setting";

impl Rule for WorkspaceDiagnosticCategoriesIncomplete {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let Some(id) = &ws.id else { continue };
            let s = settings_for(m, id);
            let Some(first) = s.matched.first() else {
                continue;
            };
            let cov = log_coverage(&s.matched);
            let missing: Vec<&str> = REQUIRED
                .iter()
                .copied()
                .filter(|c| !cov.covers(c))
                .collect();
            if missing.is_empty() {
                continue;
            }
            // What an undecided entry, the 'audit' group or an undecided setting could still turn on.
            let open_ended = cov
                .undecided
                .iter()
                .any(|(sel, _)| matches!(sel, None | Some(LogSelector::Group(_))))
                || cov.groups.contains("audit")
                || !s.undecided.is_empty();
            let maybe = |c: &str| {
                open_ended
                    || cov.undecided.iter().any(|(sel, _)| {
                        matches!(sel, Some(LogSelector::Category(x)) if x.eq_ignore_ascii_case(c))
                    })
            };
            let definite: Vec<&str> = missing.iter().copied().filter(|c| !maybe(c)).collect();
            let logs = first.get("properties.logs");
            let list = |v: &[&str]| v.join(", ");
            let base = |cats: &[&str]| {
                Finding::new(
                    &Self::META,
                    first,
                    format!(
                        "the diagnostic settings of workspace '{}' do not enable {}",
                        ws.display_name(),
                        list(cats)
                    ),
                )
                .at_field(&logs)
                .related(ws.prov.clone(), "the workspace")
                .with_fix(FIX)
            };
            if !definite.is_empty() {
                out.push(base(&definite));
                continue;
            }
            let input = cov
                .first_input()
                .or_else(|| s.undecided.iter().find_map(|(_, i)| i.clone()));
            let why = if cov.groups.contains("audit") {
                "the 'audit' category group is enabled, and which AML categories it contains is not documented"
            } else {
                "a log entry or diagnostic setting is not known offline"
            };
            out.push(undecided(base(&missing), input, why));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    fn with_logs(logs: &str) -> String {
        template(
            r#""cat": {"type": "string"}, "on": {"type": "bool"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {{}}}},
                {{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "d", "scope": "Microsoft.MachineLearningServices/workspaces/ws", "properties": {{"workspaceId": "la" {logs}}}}}"#
            ),
        )
    }

    #[test]
    fn free_categories_only_fails_and_lists_the_missing_ones() {
        let f = run(
            &WorkspaceDiagnosticCategoriesIncomplete,
            &with_logs(
                r#", "logs": [{"category": "AmlComputeClusterEvent", "enabled": true}, {"category": "ComputeInstanceEvent", "enabled": true}, {"category": "DataStoreReadEvent", "enabled": false}]"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[1].properties.logs");
        assert_eq!(f[0].confidence, Confidence::High);
        assert!(f[0].message.contains("DataStoreReadEvent"));
        assert!(f[0].message.contains("ModelsReadEvent"));
        assert!(!f[0].message.contains("AmlComputeClusterEvent"));
    }

    #[test]
    fn all_logs_or_every_category_passes() {
        assert!(
            run(
                &WorkspaceDiagnosticCategoriesIncomplete,
                &with_logs(r#", "logs": [{"categoryGroup": "allLogs", "enabled": true}]"#)
            )
            .is_empty()
        );
        let each: Vec<String> = REQUIRED
            .iter()
            .map(|c| format!(r#"{{"category": "{c}", "enabled": true}}"#))
            .collect();
        assert!(
            run(
                &WorkspaceDiagnosticCategoriesIncomplete,
                &with_logs(&format!(r#", "logs": [{}]"#, each.join(",")))
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_logs_enable_nothing() {
        let f = run(&WorkspaceDiagnosticCategoriesIncomplete, &with_logs(""));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[1].properties");
    }

    #[test]
    fn unknown_entries_or_the_audit_group_are_low_confidence() {
        let f = run(
            &WorkspaceDiagnosticCategoriesIncomplete,
            &with_logs(
                r#", "logs": [{"categoryGroup": "allLogs", "enabled": "[parameters('on')]"}]"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'on'"));

        let f = run(
            &WorkspaceDiagnosticCategoriesIncomplete,
            &with_logs(r#", "logs": [{"categoryGroup": "audit", "enabled": true}]"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert!(f[0].message.contains("audit"));
    }
}
