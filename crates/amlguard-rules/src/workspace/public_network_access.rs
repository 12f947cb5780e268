use amlguard_model::{Model, ResourceKind, Tree};

use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A workspace whose public endpoint is open: `properties.publicNetworkAccess`
    /// is `Enabled`, or absent (Azure's default is `Enabled`), or the older flag
    /// `allowPublicAccessWhenBehindVnet` is `true`.
    ///
    /// ## Why it matters
    /// With a public endpoint, the workspace's APIs (data, models, jobs) answer
    /// from the internet to anyone with a token; Microsoft's exfiltration guidance
    /// puts the workspace behind private endpoints only.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces", "properties": {}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"publicNetworkAccess": "Disabled"` in the workspace's `properties`
    /// (and no `allowPublicAccessWhenBehindVnet: true`).
    /// Bicep: `publicNetworkAccess: 'Disabled'`.
    /// Terraform (`azurerm_machine_learning_workspace`): `public_network_access_enabled = false`.
    ///
    /// ## References
    /// Azure Policy 438c38d2-3772-465a-a9cc-7a6666a275ce (workspaces should disable public network access);
    /// MCSB NS-2; Checkov CKV_AZURE_144; PSRule Azure.ML.PublicAccess.
    /// Where a property is absent, some peers pass and others fail: absent means
    /// `Enabled`, so amlguard fails it.
    pub struct WorkspacePublicNetworkAccess {
        code: 101,
        name: "workspace-public-network-access",
        title: "The workspace accepts connections from the public internet",
        severity: High,
        confidence: High,
        category: Workspace,
        references: [
            "Azure Policy 438c38d2-3772-465a-a9cc-7a6666a275ce",
            "MCSB NS-2",
            "Checkov CKV_AZURE_144",
            "PSRule Azure.ML.PublicAccess",
        ],
    }
}

impl Rule for WorkspacePublicNetworkAccess {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let fix = "set properties.publicNetworkAccess to 'Disabled' and reach the workspace through a private endpoint";
            let pna = check_field(
                ws.get("properties.publicNetworkAccess"),
                true,
                |t: &Tree| {
                    !t.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case("Disabled"))
                },
            );
            report(
                out,
                &Self::META,
                ws,
                pna,
                format!(
                    "workspace '{}' has public network access enabled",
                    ws.display_name()
                ),
                fix,
            );
            let legacy = check_field(
                ws.get("properties.allowPublicAccessWhenBehindVnet"),
                false,
                |t: &Tree| t.as_bool() == Some(true),
            );
            report(
                out,
                &Self::META,
                ws,
                legacy,
                format!(
                    "workspace '{}' allows public access although it is behind a virtual network (allowPublicAccessWhenBehindVnet)",
                    ws.display_name()
                ),
                "remove allowPublicAccessWhenBehindVnet or set it to false",
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
            r#""pna": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {props}}}"#
            ),
        )
    }

    #[test]
    fn absent_means_enabled() {
        let f = run(&WorkspacePublicNetworkAccess, &ws("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn enabled_fails_disabled_passes() {
        let f = run(
            &WorkspacePublicNetworkAccess,
            &ws(r#"{"publicNetworkAccess": "Enabled"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.publicNetworkAccess");
        assert!(
            run(
                &WorkspacePublicNetworkAccess,
                &ws(r#"{"publicNetworkAccess": "Disabled"}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn legacy_flag_fails() {
        let f = run(
            &WorkspacePublicNetworkAccess,
            &ws(r#"{"publicNetworkAccess": "Disabled", "allowPublicAccessWhenBehindVnet": true}"#),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("allowPublicAccessWhenBehindVnet"));
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &WorkspacePublicNetworkAccess,
            &ws(r#"{"publicNetworkAccess": "[parameters('pna')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pna'"));
    }
}
