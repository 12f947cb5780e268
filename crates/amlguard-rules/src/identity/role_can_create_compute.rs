use amlguard_model::Model;

use super::util::{check_grants, ml_action};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Role assignments that give people — principal type `User`, `Group` or
    /// `ForeignGroup`, or no declared principal type (Azure then looks the
    /// principal up at deployment; amlguard reports it with confidence medium) —
    /// a role that grants `Microsoft.MachineLearningServices/workspaces/computes/write`,
    /// at a scope that can hold a workspace (the workspace, its resource group or
    /// wider). Built-in roles are judged by their documented permissions: Owner,
    /// Contributor, AzureML Compute Operator and Azure AI Developer grant it; AzureML
    /// Data Scientist does not (its notActions exclude `computes/*/write`). Custom
    /// roles declared in the input are judged by their `permissions[].actions`
    /// and `notActions`, with Azure's wildcard rules (`*`,
    /// `Microsoft.MachineLearningServices/*`, `…/workspaces/*/write`, …). A role
    /// that is neither a known built-in nor declared here, or whose actions are
    /// not known offline, is reported with confidence low.
    ///
    /// ## Why it matters
    /// Whoever can create or change compute chooses where code runs: a compute
    /// instance outside the protected subnet, with a public IP, SSH open or a
    /// different identity is a way around the network controls that stop data
    /// from leaving. Microsoft's data-exfiltration guidance expects compute to be
    /// created by a small set of operators, not by every data scientist.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Authorization/roleAssignments", "scope": "Microsoft.MachineLearningServices/workspaces/ws",
    ///  "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'e503ece1-11d0-4e8e-8e2c-7a6c3bf38815')]",
    ///                 "principalId": "[parameters('dataScientists')]", "principalType": "Group"}}
    /// ```
    ///
    /// ## Fix
    /// Give data scientists AzureML Data Scientist
    /// (`f6c7c914-8db3-469d-8ca1-694a8f32e121`) and keep compute creation with
    /// a small operator group.
    /// ARM: `"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'f6c7c914-8db3-469d-8ca1-694a8f32e121')]"`.
    /// Bicep: `roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'f6c7c914-8db3-469d-8ca1-694a8f32e121')`.
    /// Terraform (`azurerm_role_assignment`): `role_definition_name = "AzureML Data Scientist"`.
    /// For a custom role, add `Microsoft.MachineLearningServices/workspaces/computes/*/write`
    /// to `notActions`.
    ///
    /// ## References
    /// MCSB PA-7 (just enough administration). No peer checks which roles can
    /// create AML compute; no built-in Azure Policy definition covers it.
    pub struct RoleCanCreateCompute {
        code: 602,
        name: "role-can-create-compute",
        title: "People are given a role that can create or change AML compute",
        severity: Medium,
        confidence: High,
        category: Identity,
        references: ["MCSB PA-7"],
    }
}

impl Rule for RoleCanCreateCompute {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        check_grants(
            m,
            out,
            &Self::META,
            &[ml_action("workspaces/computes/write")],
            "create and change compute",
            "give people a role without workspaces/computes/write (e.g. AzureML Data Scientist) and leave compute creation to a small operator group",
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
            r#""role": {"type": "string"}, "ptype": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('a')]", "scope": "Microsoft.MachineLearningServices/workspaces/ws", "properties": {{"roleDefinitionId": "{role_id}", "principalId": "22222222-2222-2222-2222-222222222222" {principal_type}}}}}{more}"#
            ),
        )
    }

    const GROUP: &str = r#", "principalType": "Group""#;

    #[test]
    fn compute_operator_for_a_group_fails() {
        let f = run(
            &RoleCanCreateCompute,
            &ra(&role("e503ece1-11d0-4e8e-8e2c-7a6c3bf38815"), GROUP, ""),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.roleDefinitionId");
        assert!(f[0].message.contains("'AzureML Compute Operator'"));
        assert!(
            f[0].message
                .contains("22222222-2222-2222-2222-222222222222")
        );
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn data_scientist_or_a_service_principal_passes() {
        let ds = ra(&role("f6c7c914-8db3-469d-8ca1-694a8f32e121"), GROUP, "");
        assert!(run(&RoleCanCreateCompute, &ds).is_empty());
        let sp = ra(
            &role("e503ece1-11d0-4e8e-8e2c-7a6c3bf38815"),
            r#", "principalType": "ServicePrincipal""#,
            "",
        );
        assert!(run(&RoleCanCreateCompute, &sp).is_empty());
    }

    #[test]
    fn absent_principal_type_counts_with_medium_confidence() {
        let f = run(
            &RoleCanCreateCompute,
            &ra(&role("64702f94-c441-49e6-a78b-ef80e0188fee"), "", ""),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Medium);
    }

    #[test]
    fn custom_role_with_a_workspace_wildcard_fails() {
        let custom = r#", {"type": "Microsoft.Authorization/roleDefinitions", "apiVersion": "2022-04-01", "name": "[guid('custom')]",
            "properties": {"roleName": "ml-ops", "permissions": [{"actions": ["Microsoft.MachineLearningServices/workspaces/*"], "notActions": []}]}}"#;
        let text = ra(
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid('custom'))]",
            GROUP,
            custom,
        );
        let f = run(&RoleCanCreateCompute, &text);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("custom role 'ml-ops'"));
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[1].properties.permissions[0].actions[0]"
        );
        // The same role without compute writes passes.
        let narrow = custom.replace(
            r#""notActions": []"#,
            r#""notActions": ["Microsoft.MachineLearningServices/workspaces/computes/*/write"]"#,
        );
        let text = ra(
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid('custom'))]",
            GROUP,
            &narrow,
        );
        assert!(run(&RoleCanCreateCompute, &text).is_empty());
    }

    #[test]
    fn unknown_role_or_principal_type_is_low_confidence() {
        let f = run(
            &RoleCanCreateCompute,
            &ra("[parameters('role')]", GROUP, ""),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'role'"));

        let f = run(
            &RoleCanCreateCompute,
            &ra(
                &role("b24988ac-6180-42a0-ab88-20f7382dd24c"),
                r#", "principalType": "[parameters('ptype')]""#,
                "",
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'ptype'"));

        // A GUID that is neither a known built-in nor declared here.
        let f = run(
            &RoleCanCreateCompute,
            &ra(&role("99999999-9999-9999-9999-999999999999"), GROUP, ""),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
    }
}
