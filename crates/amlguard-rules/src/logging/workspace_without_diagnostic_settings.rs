use amlguard_model::{Model, ResourceKind};

use super::util::{field_input, settings_for, settings_for_unnamed, undecided};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Azure Machine Learning workspaces with no diagnostic setting
    /// (`Microsoft.Insights/diagnosticSettings`) targeting them. Both ARM forms count:
    /// the extension resource whose `scope` is the workspace (absolute, or relative
    /// as Bicep writes it), and the nested type
    /// `Microsoft.MachineLearningServices/workspaces/providers/diagnosticSettings`
    /// named `<workspace>/Microsoft.Insights/<name>`. Without a diagnostic setting
    /// Azure keeps no resource logs for the workspace (there is no default one). A
    /// setting whose target or condition is not known offline gives a finding with
    /// confidence low. Which categories a setting enables is AMLG702's concern.
    ///
    /// ## Why it matters
    /// The workspace's resource logs are the record of who created compute,
    /// registered datastores and read data. Without them an exfiltration through
    /// the workspace leaves no trace in Azure Monitor, and the activity log only
    /// shows control-plane writes, not data access.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "name": "ws", "properties": {}}
    /// ```
    /// with no `Microsoft.Insights/diagnosticSettings` whose `scope` is the workspace.
    ///
    /// ## Fix
    /// ARM: add `{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "ws-logs", "scope": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]", "properties": {"workspaceId": "[parameters('logAnalyticsId')]", "logs": [{"categoryGroup": "allLogs", "enabled": true}]}}`.
    /// Bicep: `resource diag 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = { name: 'ws-logs', scope: workspace, properties: { workspaceId: logAnalyticsId, logs: [ { categoryGroup: 'allLogs', enabled: true } ] } }`.
    /// Terraform: `azurerm_monitor_diagnostic_setting` with `target_resource_id = azurerm_machine_learning_workspace.ws.id` and `enabled_log { category_group = "allLogs" }`.
    ///
    /// ## References
    /// Azure Policy afe0c3be-ba3b-4544-ba52-0c99672a8ad6 (resource logs in AML
    /// workspaces should be enabled) and f59276f0-5740-4aaf-821d-45d185aa210e
    /// (deploy them to Log Analytics); MCSB LT-3; CloudSploit workspaceLoggingEnabled;
    /// AzTS Azure_MachineLearningWorkspace_Audit_Enable_Diagnostics_Log.
    pub struct WorkspaceWithoutDiagnosticSettings {
        code: 701,
        name: "workspace-without-diagnostic-settings",
        title: "The workspace has no diagnostic setting",
        severity: Medium,
        confidence: High,
        category: Logging,
        references: [
            "Azure Policy afe0c3be-ba3b-4544-ba52-0c99672a8ad6",
            "Azure Policy f59276f0-5740-4aaf-821d-45d185aa210e",
            "MCSB LT-3",
            "CloudSploit workspaceLoggingEnabled",
            "AzTS Azure_MachineLearningWorkspace_Audit_Enable_Diagnostics_Log",
        ],
    }
}

const FIX: &str = "add a Microsoft.Insights/diagnosticSettings resource scoped to the workspace that sends its logs (categoryGroup 'allLogs') to a Log Analytics workspace";

impl Rule for WorkspaceWithoutDiagnosticSettings {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let f = Finding::new(
                &Self::META,
                ws,
                format!(
                    "workspace '{}' has no diagnostic setting: its resource logs are not kept",
                    ws.display_name()
                ),
            )
            .with_fix(FIX);
            // A workspace whose name is not known offline: any setting that may
            // target a workspace leaves it undecided; with none, it has none.
            let (s, name_input) = match &ws.id {
                Some(id) => (settings_for(m, id), None),
                None => (
                    settings_for_unnamed(m, "Microsoft.MachineLearningServices/workspaces/"),
                    field_input(&ws.get("name")),
                ),
            };
            if !s.matched.is_empty() {
                continue;
            }
            match s.undecided.first() {
                Some((d, input)) => out.push(undecided(
                    f.related(
                        d.prov.clone(),
                        "this diagnostic setting may target the workspace",
                    ),
                    input.clone().or(name_input),
                    "the target or condition of a diagnostic setting is not known offline",
                )),
                None => out.push(f),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    const WS: &str = r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {}}"#;

    fn with(diag: &str) -> String {
        template(
            r#""target": {"type": "string"}, "on": {"type": "bool"}"#,
            &format!("{WS}{diag}"),
        )
    }

    fn diag(extra: &str) -> String {
        format!(
            r#", {{"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "d" {extra}, "properties": {{"workspaceId": "la", "logs": [{{"categoryGroup": "allLogs", "enabled": true}}]}}}}"#
        )
    }

    #[test]
    fn workspace_without_a_setting_fails() {
        let f = run(&WorkspaceWithoutDiagnosticSettings, &with(""));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0]");
        assert_eq!(f[0].confidence, Confidence::High);
        // A setting on another workspace does not count.
        let other = diag(
            r#", "scope": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'other')]""#,
        );
        assert_eq!(
            run(&WorkspaceWithoutDiagnosticSettings, &with(&other)).len(),
            1
        );
    }

    #[test]
    fn every_arm_form_of_a_setting_passes() {
        for extra in [
            r#", "scope": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]""#,
            r#", "scope": "Microsoft.MachineLearningServices/workspaces/ws""#,
        ] {
            assert!(run(&WorkspaceWithoutDiagnosticSettings, &with(&diag(extra))).is_empty());
        }
        let nested = r#", {"type": "Microsoft.MachineLearningServices/workspaces/providers/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "ws/Microsoft.Insights/d", "properties": {"workspaceId": "la"}}"#;
        assert!(run(&WorkspaceWithoutDiagnosticSettings, &with(nested)).is_empty());
    }

    #[test]
    fn a_workspace_named_by_a_parameter() {
        let unnamed = template(
            r#""wsName": {"type": "string"}"#,
            r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "[parameters('wsName')]", "location": "eastus", "properties": {}}"#,
        );
        // No diagnostic setting at all: it has none, whatever its name.
        let f = run(&WorkspaceWithoutDiagnosticSettings, &unnamed);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::High);
        // A setting on a workspace named by the same parameter may be its own.
        let with_setting = template(
            r#""wsName": {"type": "string"}"#,
            r#"{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "[parameters('wsName')]", "location": "eastus", "properties": {}},
               {"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "2021-05-01-preview", "name": "d", "scope": "[resourceId('Microsoft.MachineLearningServices/workspaces', parameters('wsName'))]", "properties": {}}"#,
        );
        let f = run(&WorkspaceWithoutDiagnosticSettings, &with_setting);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'wsName'"));
    }

    #[test]
    fn a_setting_that_is_not_deployed_does_not_count() {
        let off = diag(
            r#", "condition": false, "scope": "Microsoft.MachineLearningServices/workspaces/ws""#,
        );
        assert_eq!(
            run(&WorkspaceWithoutDiagnosticSettings, &with(&off)).len(),
            1
        );
    }

    #[test]
    fn unknown_target_or_condition_is_low_confidence() {
        let f = run(
            &WorkspaceWithoutDiagnosticSettings,
            &with(&diag(r#", "scope": "[parameters('target')]""#)),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'target'"));

        let f = run(
            &WorkspaceWithoutDiagnosticSettings,
            &with(&diag(
                r#", "condition": "[parameters('on')]", "scope": "Microsoft.MachineLearningServices/workspaces/ws""#,
            )),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        // The model keeps only the condition's value, not the input deciding it.
        assert!(f[0].message.contains("condition"));
    }
}
