use amlguard_model::{Model, ResourceKind, Tree};

use super::util::bool_of;
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A workspace with `properties.v1LegacyMode` set to `true`. Absent means
    /// `false` (the API's default), which passes.
    ///
    /// ## Why it matters
    /// Legacy mode turns off the v2 API for the workspace so that its operations
    /// keep the v1 network-isolation behaviour (most calls going through the
    /// workspace's private endpoint rather than Azure Resource Manager). The v1 API
    /// is deprecated since 2025-03-31 (CLI v1 support ended 2025-09-30, SDK v1 ends
    /// 2026-06-30), and legacy mode blocks v2 features such as managed online
    /// endpoints and parts of the studio. A workspace kept in legacy mode stays on a
    /// platform that no longer receives fixes. Isolate it with private endpoints and
    /// `publicNetworkAccess: Disabled` (or a managed network) instead.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "properties": {"v1LegacyMode": true}}
    /// ```
    ///
    /// ## Fix
    /// ARM: remove `v1LegacyMode` or set `"v1LegacyMode": false`.
    /// Bicep: `v1LegacyMode: false`.
    /// Terraform (`azurerm_machine_learning_workspace`): `v1_legacy_mode_enabled = false` (the default).
    ///
    /// ## References
    /// Azure Policy e413671a-dd10-4cc1-a943-45b598596cb7 ("should enable V1LegacyMode")
    /// audits the opposite condition: it flags workspaces where `v1LegacyMode` is not
    /// `true`, to keep v1 isolation for organisations that forbid any metadata over
    /// public ARM. With the v1 API deprecated, amlguard treats legacy mode as the
    /// risk; if your organisation assigns that policy, suppress this rule. MCSB NS-2.
    pub struct WorkspaceV1LegacyMode {
        code: 104,
        name: "workspace-v1-legacy-mode",
        title: "The workspace runs in v1 legacy mode",
        severity: Low,
        confidence: High,
        category: Workspace,
        references: [
            "Azure Policy e413671a-dd10-4cc1-a943-45b598596cb7",
            "MCSB NS-2",
        ],
    }
}

impl Rule for WorkspaceV1LegacyMode {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let legacy = check_field(ws.get("properties.v1LegacyMode"), false, |t: &Tree| {
                bool_of(t) == Some(true)
            });
            report(
                out,
                &Self::META,
                ws,
                legacy,
                format!(
                    "workspace '{}' runs in v1 legacy mode (v1LegacyMode is true): the deprecated v1 API stays on and v2 features are blocked",
                    ws.display_name()
                ),
                "set properties.v1LegacyMode to false (or remove it) and isolate the workspace with private endpoints or a managed network",
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    fn ws(props: &str) -> String {
        template(
            r#""legacy": {"type": "bool"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {props}}}"#
            ),
        )
    }

    #[test]
    fn legacy_mode_fails_at_the_property() {
        let f = run(&WorkspaceV1LegacyMode, &ws(r#"{"v1LegacyMode": true}"#));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.v1LegacyMode");
        assert!(!f[0].absent);
    }

    #[test]
    fn false_and_absent_pass() {
        assert!(run(&WorkspaceV1LegacyMode, &ws(r#"{"v1LegacyMode": false}"#)).is_empty());
        assert!(run(&WorkspaceV1LegacyMode, &ws("{}")).is_empty());
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &WorkspaceV1LegacyMode,
            &ws(r#"{"v1LegacyMode": "[parameters('legacy')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'legacy'"));
    }
}
