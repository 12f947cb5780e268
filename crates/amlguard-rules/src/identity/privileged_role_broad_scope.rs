use amlguard_model::{Field, Model, ResourceKind};

use super::util::{
    CONTRIBUTOR, OWNER, RBAC_ADMINISTRATOR, Role, Scope, USER_ACCESS_ADMINISTRATOR,
    assignment_role, assignment_scope, principal_id,
};
use crate::logging::util::{field_input, undecided};
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Role assignments (`Microsoft.Authorization/roleAssignments`) of a privileged
    /// built-in role — Owner (`8e3af657-a8ff-443c-a75c-2fe8c4bcb635`), Contributor
    /// (`b24988ac-6180-42a0-ab88-20f7382dd24c`), User Access Administrator
    /// (`18d7d88d-d35e-4fb5-a5c3-7773c20a72d9`) or Role Based Access Control
    /// Administrator (`f58310d9-a9f6-439a-9e8d-f62e7b41a168`) — at the scope of a
    /// resource group, a subscription, a management group or the tenant root.
    /// The role is read from the GUID at the end of `properties.roleDefinitionId`.
    /// The scope is the assignment's `scope`; when it is absent, Azure's default
    /// applies: the assignment is made where it is deployed, which amlguard reads
    /// from the assignment's own ID (`/subscriptions/x/resourceGroups/y/providers/…`
    /// is the resource group, `/subscriptions/x/providers/…` the subscription).
    /// Every principal type counts, managed identities included.
    ///
    /// ## Why it matters
    /// At resource-group scope or wider, these roles reach every resource of the
    /// deployment at once: the workspace, its storage account, Key Vault and
    /// registry, the network that confines compute. Owner, Contributor and the
    /// two access-administration roles can reopen public access, attach compute
    /// to another network or, for the last two, grant themselves anything. The
    /// AML built-in roles assigned on the workspace cover the usual needs.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Authorization/roleAssignments", "name": "[guid('ops')]",
    ///  "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b24988ac-6180-42a0-ab88-20f7382dd24c')]",
    ///                 "principalId": "[parameters('opsGroup')]"}}
    /// ```
    ///
    /// ## Fix
    /// Assign a narrower role on the resource that needs it.
    /// ARM: add `"scope": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]"`
    /// to the assignment and name a role such as AzureML Data Scientist
    /// (`f6c7c914-8db3-469d-8ca1-694a8f32e121`).
    /// Bicep: `scope: workspace` in the `Microsoft.Authorization/roleAssignments` resource.
    /// Terraform (`azurerm_role_assignment`): `scope = azurerm_machine_learning_workspace.ws.id`
    /// with `role_definition_name = "AzureML Data Scientist"`.
    ///
    /// ## References
    /// MCSB PA-1 and PA-7; KICS 41d7989b-3be2-4081-8c79-cf903dd174c5 (User Access
    /// Administrator use). No built-in Azure Policy definition in amlguard's sources
    /// covers it.
    pub struct PrivilegedRoleBroadScope {
        code: 601,
        name: "privileged-role-broad-scope",
        title: "A privileged role is assigned at resource-group scope or wider",
        severity: High,
        confidence: High,
        category: Identity,
        references: [
            "MCSB PA-1",
            "MCSB PA-7",
            "KICS 41d7989b-3be2-4081-8c79-cf903dd174c5",
        ],
    }
}

const PRIVILEGED: &[&str] = &[
    OWNER,
    CONTRIBUTOR,
    USER_ACCESS_ADMINISTRATOR,
    RBAC_ADMINISTRATOR,
];

const FIX: &str = "assign the narrowest role that does the job (e.g. AzureML Data Scientist or AzureML Compute Operator) on the workspace or the resource that needs it, not Owner, Contributor or an access-administration role on the resource group or subscription";

impl Rule for PrivilegedRoleBroadScope {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ra in m.of_kind(ResourceKind::RoleAssignment) {
            let role_field = ra.get("properties.roleDefinitionId");
            let (role_name, role_input) = match assignment_role(m, ra) {
                Ok(Role::Builtin(b)) if PRIVILEGED.contains(&b.guid) => (Some(b.name), None),
                Ok(_) => continue,
                // roleDefinitionId is required: an assignment without one is not deployable.
                Err(Field::Absent { .. }) => continue,
                Err(f) => (None, Some(field_input(&f))),
            };
            let scope = assignment_scope(ra);
            let broad = scope.broad();
            if broad == Some(false) {
                continue;
            }
            let role_text = role_name.map_or_else(
                || "a role not known offline".to_string(),
                |n| format!("'{n}'"),
            );
            let mut f = Finding::new(
                &Self::META,
                ra,
                format!(
                    "role assignment '{}' grants {role_text} at {} to principal {}",
                    ra.display_name(),
                    scope.describe(),
                    principal_id(ra)
                ),
            )
            .at_field(&role_field)
            .with_fix(FIX);
            if let Some(at) = ra.get("scope").known().and_then(|t| t.prov.clone()) {
                f = f.related(at, "the assignment's scope");
            }
            match (role_input, scope) {
                (Some(input), _) => out.push(undecided(
                    f,
                    input,
                    "the role definition ID is not known offline",
                )),
                (None, Scope::Undecided(input)) => {
                    out.push(undecided(f, input, "the scope is not known offline"));
                }
                (None, _) => out.push(f),
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

    const OWNER_ID: &str = "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '8e3af657-a8ff-443c-a75c-2fe8c4bcb635')]";

    fn ra(role: &str, extra: &str) -> String {
        template(
            r#""role": {"type": "string"}, "scope": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('a')]" {extra}, "properties": {{"roleDefinitionId": "{role}", "principalId": "11111111-1111-1111-1111-111111111111", "principalType": "Group"}}}}"#
            ),
        )
    }

    #[test]
    fn owner_deployed_at_the_resource_group_fails() {
        // No `scope`: the assignment applies where it is deployed, the resource group.
        let f = run(&PrivilegedRoleBroadScope, &ra(OWNER_ID, ""));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.roleDefinitionId");
        assert!(f[0].message.contains("'Owner'"));
        assert!(f[0].message.contains("resource group"));
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn contributor_at_the_subscription_fails() {
        let text = r#"{"$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": [
            {"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('b')]",
             "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b24988ac-6180-42a0-ab88-20f7382dd24c')]", "principalId": "p"}}]}"#;
        let f = run(&PrivilegedRoleBroadScope, text);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("'Contributor'"));
        assert!(f[0].message.contains("subscription"));
    }

    #[test]
    fn owner_on_the_workspace_or_reader_on_the_group_passes() {
        let on_ws = ra(
            OWNER_ID,
            r#", "scope": "[resourceId('Microsoft.MachineLearningServices/workspaces', 'ws')]""#,
        );
        assert!(run(&PrivilegedRoleBroadScope, &on_ws).is_empty());
        let bicep_style = ra(
            OWNER_ID,
            r#", "scope": "Microsoft.MachineLearningServices/workspaces/ws""#,
        );
        assert!(run(&PrivilegedRoleBroadScope, &bicep_style).is_empty());
        let reader = ra(
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')]",
            "",
        );
        assert!(run(&PrivilegedRoleBroadScope, &reader).is_empty());
    }

    #[test]
    fn explicit_resource_group_scope_fails() {
        let f = run(
            &PrivilegedRoleBroadScope,
            &ra(OWNER_ID, r#", "scope": "[resourceGroup().id]""#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].related.len(), 1);
    }

    #[test]
    fn unknown_role_or_scope_is_low_confidence() {
        let f = run(&PrivilegedRoleBroadScope, &ra("[parameters('role')]", ""));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'role'"));

        let f = run(
            &PrivilegedRoleBroadScope,
            &ra(OWNER_ID, r#", "scope": "[parameters('scope')]""#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'scope'"));
    }
}
