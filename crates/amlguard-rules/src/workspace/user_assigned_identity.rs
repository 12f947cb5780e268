use amlguard_model::{Model, ResourceKind, Tree};

use super::util::non_blank;
use crate::{Finding, Rule, check_field, declare_rule, report};

declare_rule! {
    /// ## What it checks
    /// A workspace without `properties.primaryUserAssignedIdentity` (absent or an
    /// empty string). Absent means the workspace acts with its system-assigned
    /// identity, which is created and deleted with the workspace.
    ///
    /// ## Why it matters
    /// The workspace identity is what reaches the storage account, key vault,
    /// registry and, with customer-managed keys, the encryption key. A user-assigned
    /// identity can be created, granted least-privilege roles and reviewed before the
    /// workspace exists, and it survives re-creation of the workspace; with a system-assigned identity, the role
    /// assignments must be made after deployment and are lost with the workspace.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.MachineLearningServices/workspaces",
    ///  "identity": {"type": "SystemAssigned"}, "properties": {}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"identity": {"type": "UserAssigned", "userAssignedIdentities": {"<uai id>": {}}}`
    /// and `"primaryUserAssignedIdentity": "<uai id>"` in `properties`.
    /// Bicep: `primaryUserAssignedIdentity: uai.id` with the identity in `identity.userAssignedIdentities`.
    /// Terraform (`azurerm_machine_learning_workspace`): `primary_user_assigned_identity = azurerm_user_assigned_identity.ws.id`
    /// with `identity { type = "UserAssigned", identity_ids = [...] }`.
    ///
    /// ## References
    /// Azure Policy 5f0c7d88-c7de-45b8-ac49-db49e72eaa78 (workspaces should use a user-assigned managed identity);
    /// MCSB IM-3; PSRule Azure.ML.UserManagedIdentity.
    pub struct WorkspaceWithoutUserAssignedIdentity {
        code: 106,
        name: "workspace-without-user-assigned-identity",
        title: "The workspace has no primary user-assigned identity",
        severity: Low,
        confidence: High,
        category: Workspace,
        references: [
            "Azure Policy 5f0c7d88-c7de-45b8-ac49-db49e72eaa78",
            "MCSB IM-3",
            "PSRule Azure.ML.UserManagedIdentity",
        ],
    }
}

impl Rule for WorkspaceWithoutUserAssignedIdentity {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ws in m.of_kind(ResourceKind::Workspace) {
            let uai = check_field(
                ws.get("properties.primaryUserAssignedIdentity"),
                true,
                |t: &Tree| non_blank(t).is_none(),
            );
            report(
                out,
                &Self::META,
                ws,
                uai,
                format!(
                    "workspace '{}' has no primary user-assigned identity (primaryUserAssignedIdentity)",
                    ws.display_name()
                ),
                "create a user-assigned managed identity, add it to identity.userAssignedIdentities and set properties.primaryUserAssignedIdentity to its resource ID",
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
            r#""uai": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01", "name": "ws", "location": "eastus", "properties": {props}}}"#
            ),
        )
    }

    #[test]
    fn absent_fails_at_properties() {
        let f = run(&WorkspaceWithoutUserAssignedIdentity, &ws("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn empty_fails_and_set_passes() {
        let f = run(
            &WorkspaceWithoutUserAssignedIdentity,
            &ws(r#"{"primaryUserAssignedIdentity": ""}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.primaryUserAssignedIdentity"
        );
        let set = r#"{"primaryUserAssignedIdentity": "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'uai')]"}"#;
        assert!(run(&WorkspaceWithoutUserAssignedIdentity, &ws(set)).is_empty());
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &WorkspaceWithoutUserAssignedIdentity,
            &ws(r#"{"primaryUserAssignedIdentity": "[parameters('uai')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'uai'"));
    }
}
