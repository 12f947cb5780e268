use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed container registry with the admin account on:
    /// `properties.adminUserEnabled` is `true`.
    ///
    /// Default assumed when absent: `false` (the admin user is off unless enabled).
    ///
    /// ## Why it matters
    /// The admin account is a single shared user name with two passwords that can
    /// push and pull everything in the registry. Its passwords are readable by
    /// anyone with `listCredentials`, copied into Key Vaults and pipelines, carry
    /// no identity in the logs, and keep working wherever they end up — a standing
    /// credential for replacing the images the workspace's jobs run. AML
    /// workspaces work without it when they use their managed identity.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.ContainerRegistry/registries", "properties": {"adminUserEnabled": true}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"adminUserEnabled": false` in the registry's `properties` (or leave it
    /// out), and grant `AcrPull`/`AcrPush` to the identities that need them.
    /// Bicep: `adminUserEnabled: false`.
    /// Terraform (`azurerm_container_registry`): `admin_enabled = false`.
    ///
    /// ## References
    /// Azure Policy dc921057-6b28-4fbe-9b83-f7bec05db6c2 (container registries should have
    /// local admin account disabled); MCSB IM-1; Checkov CKV_AZURE_137; PSRule
    /// Azure.ACR.AdminUser; Prowler containerregistry_admin_user_disabled.
    pub struct RegistryAdminUser {
        code: 511,
        name: "registry-admin-user",
        title: "A container registry has the shared admin account enabled",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy dc921057-6b28-4fbe-9b83-f7bec05db6c2",
            "MCSB IM-1",
            "Checkov CKV_AZURE_137",
            "PSRule Azure.ACR.AdminUser",
            "Prowler containerregistry_admin_user_disabled",
        ],
    }
}

impl Rule for RegistryAdminUser {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.adminUserEnabled to false and grant AcrPull/AcrPush roles to the identities that need the registry";
        for acr in m.of_kind(ResourceKind::ContainerRegistry) {
            let check = check_field(acr.get("properties.adminUserEnabled"), false, |t: &Tree| {
                t.as_bool() == Some(true)
            });
            report_related(
                out,
                &Self::META,
                acr,
                check,
                format!(
                    "container registry '{}' has the shared admin account enabled",
                    acr.display_name()
                ),
                fix,
                workspace_links(m, acr, "properties.containerRegistry", "container registry"),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::data::util::fixtures::registry;
    use crate::testing::{route, run, template};

    fn t(props: &str) -> String {
        template(r#""admin": {"type": "bool"}"#, &registry(props))
    }

    #[test]
    fn true_fails_at_the_property() {
        let f = run(&RegistryAdminUser, &t(r#"{"adminUserEnabled": true}"#));
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.adminUserEnabled");
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn absent_or_false_passes() {
        assert!(run(&RegistryAdminUser, &t("{}")).is_empty());
        assert!(run(&RegistryAdminUser, &t(r#"{"adminUserEnabled": false}"#)).is_empty());
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &RegistryAdminUser,
            &t(r#"{"adminUserEnabled": "[parameters('admin')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'admin'"));
    }
}
