use amlguard_model::Model;

use super::util::{check_grants, ml_action};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Role assignments that give people — principal type `User`, `Group` or
    /// `ForeignGroup`, or no declared principal type (reported with confidence
    /// medium: Azure looks the principal up at deployment) — a role that grants
    /// `Microsoft.MachineLearningServices/workspaces/datastores/write` or
    /// `Microsoft.MachineLearningServices/workspaces/connections/write`, at a scope
    /// that can hold a workspace. Built-in roles are judged by their documented
    /// permissions: Owner, Contributor, AzureML Data Scientist and Azure AI
    /// Developer grant both (their `workspaces/*/write` is not excluded for
    /// datastores or connections); AzureML Compute Operator grants neither. Custom
    /// roles declared in the input are judged by their `actions`/`notActions` with
    /// Azure's wildcard rules. An unknown role or principal type gives confidence low.
    ///
    /// ## Why it matters
    /// A datastore or connection decides where workspace jobs read and write
    /// data. Someone who can create or repoint one can point a job's output at a
    /// storage account or service they control, and the workspace's own identity
    /// or stored credentials carry the data there. Restricting these writes to the
    /// people who administer data sources closes that path.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Authorization/roleAssignments", "scope": "Microsoft.MachineLearningServices/workspaces/ws",
    ///  "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'f6c7c914-8db3-469d-8ca1-694a8f32e121')]",
    ///                 "principalId": "[parameters('everyone')]", "principalType": "Group"}}
    /// ```
    ///
    /// ## Fix
    /// Use a custom role for everyday users that excludes the two actions, and keep
    /// them for data administrators.
    /// ARM: in the `Microsoft.Authorization/roleDefinitions` resource, add
    /// `"notActions": ["Microsoft.MachineLearningServices/workspaces/datastores/write", "Microsoft.MachineLearningServices/workspaces/connections/write"]`.
    /// Bicep: the same `notActions` list in the role definition's `permissions`.
    /// Terraform (`azurerm_role_definition`): `not_actions = ["Microsoft.MachineLearningServices/workspaces/datastores/write", "Microsoft.MachineLearningServices/workspaces/connections/write"]`.
    ///
    /// ## References
    /// MCSB PA-7 and DP-2. No peer checks which roles can create AML datastores
    /// or connections; no built-in Azure Policy definition covers it.
    pub struct RoleCanConnectData {
        code: 603,
        name: "role-can-connect-data",
        title: "People are given a role that can create or repoint datastores and connections",
        severity: Medium,
        confidence: High,
        category: Identity,
        references: ["MCSB PA-7", "MCSB DP-2"],
    }
}

impl Rule for RoleCanConnectData {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        check_grants(
            m,
            out,
            &Self::META,
            &[
                ml_action("workspaces/datastores/write"),
                ml_action("workspaces/connections/write"),
            ],
            "create or repoint datastores and connections",
            "give everyday users a role whose notActions exclude workspaces/datastores/write and workspaces/connections/write, and keep those actions for data administrators",
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::testing::{route, run, template};

    fn role(guid: &str) -> String {
        format!("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{guid}')]")
    }

    fn ra(role_id: &str, principal_type: &str, more: &str) -> String {
        template(
            r#""role": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('a')]", "properties": {{"roleDefinitionId": "{role_id}", "principalId": "33333333-3333-3333-3333-333333333333" {principal_type}}}}}{more}"#
            ),
        )
    }

    const USER: &str = r#", "principalType": "User""#;

    #[test]
    fn data_scientist_for_a_user_fails() {
        let f = run(
            &RoleCanConnectData,
            &ra(&role("f6c7c914-8db3-469d-8ca1-694a8f32e121"), USER, ""),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.roleDefinitionId");
        assert!(f[0].message.contains("'AzureML Data Scientist'"));
        assert!(f[0].message.contains("datastores/write"));
        assert!(f[0].message.contains("connections/write"));
    }

    #[test]
    fn compute_operator_or_a_storage_scope_passes() {
        let co = ra(&role("e503ece1-11d0-4e8e-8e2c-7a6c3bf38815"), USER, "");
        assert!(run(&RoleCanConnectData, &co).is_empty());
        // Contributor on a storage account cannot touch workspace datastores.
        let on_storage = template(
            "",
            r#"{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('s')]", "scope": "Microsoft.Storage/storageAccounts/sa",
                "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b24988ac-6180-42a0-ab88-20f7382dd24c')]", "principalId": "p", "principalType": "User"}}"#,
        );
        assert!(run(&RoleCanConnectData, &on_storage).is_empty());
    }

    #[test]
    fn absent_principal_type_counts_with_medium_confidence() {
        let f = run(
            &RoleCanConnectData,
            &ra(&role("f6c7c914-8db3-469d-8ca1-694a8f32e121"), "", ""),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Medium);
    }

    #[test]
    fn custom_role_with_an_unknown_action_is_low_confidence() {
        let custom = r#", {"type": "Microsoft.Authorization/roleDefinitions", "apiVersion": "2022-04-01", "name": "[guid('custom')]",
            "properties": {"roleName": "c", "permissions": [{"actions": ["[parameters('role')]"]}]}}"#;
        let f = run(
            &RoleCanConnectData,
            &ra(
                "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid('custom'))]",
                USER,
                custom,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'role'"));
    }
}
