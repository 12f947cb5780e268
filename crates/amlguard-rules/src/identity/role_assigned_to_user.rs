use amlguard_model::{Model, ResourceKind};

use super::util::{Principal, principal_id, principal_type};
use crate::logging::util::undecided;
use crate::{Finding, Rule, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Role assignments whose `properties.principalType` is `User`: a role given to
    /// one person rather than to a group. When `principalType` is absent, Azure
    /// looks the principal up at deployment and amlguard cannot tell offline
    /// whether it is a person; it reports that case with confidence low. A value
    /// that is not known offline (a parameter) is reported with confidence low and
    /// names the parameter.
    ///
    /// ## Why it matters
    /// Access that is granted person by person is hard to review and is rarely
    /// taken back when people change teams. Assigning roles to Entra ID groups
    /// lets access reviews and joiner/mover/leaver processes keep who can reach
    /// the workspace and its data current.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Authorization/roleAssignments",
    ///  "properties": {"roleDefinitionId": "…", "principalId": "[parameters('aliceObjectId')]", "principalType": "User"}}
    /// ```
    ///
    /// ## Fix
    /// Assign the role to a group that the person is a member of.
    /// ARM: `"principalId": "[parameters('mlUsersGroupId')]", "principalType": "Group"`.
    /// Bicep: `principalId: mlUsersGroupId` and `principalType: 'Group'`.
    /// Terraform (`azurerm_role_assignment`): `principal_id = azuread_group.ml_users.object_id`
    /// and `principal_type = "Group"`.
    ///
    /// ## References
    /// MCSB PA-7 and PA-4 (review and reconcile user access regularly). No peer
    /// and no built-in Azure Policy definition in amlguard's sources check it.
    pub struct RoleAssignedToUser {
        code: 605,
        name: "role-assigned-to-user",
        title: "A role is assigned to an individual user instead of a group",
        severity: Info,
        confidence: High,
        category: Identity,
        references: ["MCSB PA-7", "MCSB PA-4"],
    }
}

const FIX: &str =
    "assign the role to an Entra ID group (principalType 'Group') and manage membership there";

impl Rule for RoleAssignedToUser {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        for ra in m.of_kind(ResourceKind::RoleAssignment) {
            let field = ra.get("properties.principalType");
            let base = |msg: String| {
                Finding::new(&Self::META, ra, msg)
                    .at_field(&field)
                    .with_fix(FIX)
            };
            match principal_type(ra) {
                Principal::People(t) if t.eq_ignore_ascii_case("User") => out.push(base(format!(
                    "role assignment '{}' gives a role to the individual user {}",
                    ra.display_name(),
                    principal_id(ra)
                ))),
                Principal::People(_) | Principal::Other => {}
                Principal::Absent => out.push(undecided(
                    base(format!(
                        "role assignment '{}' may give a role to an individual user {}",
                        ra.display_name(),
                        principal_id(ra)
                    )),
                    None,
                    "principalType is not declared; Azure resolves it at deployment",
                )),
                Principal::Undecided(input) => out.push(undecided(
                    base(format!(
                        "role assignment '{}' gives a role to an individual user {}",
                        ra.display_name(),
                        principal_id(ra)
                    )),
                    input,
                    "the principal type is not known offline",
                )),
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

    fn ra(principal_type: &str) -> String {
        template(
            r#""ptype": {"type": "string"}"#,
            &format!(
                r#"{{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid('a')]", "properties": {{"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')]", "principalId": "44444444-4444-4444-4444-444444444444" {principal_type}}}}}"#
            ),
        )
    }

    #[test]
    fn user_fails() {
        let f = run(&RoleAssignedToUser, &ra(r#", "principalType": "User""#));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.principalType");
        assert_eq!(f[0].confidence, Confidence::High);
        assert!(
            f[0].message
                .contains("44444444-4444-4444-4444-444444444444")
        );
    }

    #[test]
    fn group_and_service_principal_pass() {
        assert!(run(&RoleAssignedToUser, &ra(r#", "principalType": "Group""#)).is_empty());
        assert!(
            run(
                &RoleAssignedToUser,
                &ra(r#", "principalType": "ServicePrincipal""#)
            )
            .is_empty()
        );
    }

    #[test]
    fn absent_principal_type_is_low_confidence_at_properties() {
        let f = run(&RoleAssignedToUser, &ra(""));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
        assert_eq!(f[0].confidence, Confidence::Low);
    }

    #[test]
    fn unknown_principal_type_names_the_parameter() {
        let f = run(
            &RoleAssignedToUser,
            &ra(r#", "principalType": "[parameters('ptype')]""#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'ptype'"));
    }
}
