use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{api_before, describe, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

/// The Key Vault API version from which a vault created without
/// `enableRbacAuthorization` uses Azure RBAC.
const RBAC_DEFAULT_FROM: &str = "2026-02-01";

declare_rule! {
    /// ## What it checks
    /// Every deployed Key Vault that authorizes data access with vault access
    /// policies instead of Azure RBAC: `properties.enableRbacAuthorization` is
    /// `false`, or it is absent and the resource's `apiVersion` is earlier than
    /// `2026-02-01`.
    ///
    /// Default assumed when absent, by API version (compared on the `YYYY-MM-DD`
    /// prefix): before `2026-02-01` a vault created without the property uses
    /// access policies (`false`); from `2026-02-01` Microsoft made Azure RBAC the
    /// default for newly created vaults. When the API version is not known, the
    /// current default (RBAC) is assumed. Existing vaults keep their model when
    /// updated with a newer API version, so writing the value explicitly is best.
    ///
    /// ## Why it matters
    /// Access policies are a second permission system beside Azure RBAC: they are
    /// vault-wide (no per-secret scope), invisible to role-assignment reviews and
    /// Privileged Identity Management, and anyone with `Contributor` on the vault
    /// can grant themselves secret access by editing them. RBAC keeps who may read
    /// the workspace's secrets in one reviewable place.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01",
    ///  "properties": {"accessPolicies": []}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"enableRbacAuthorization": true` in the vault's `properties`, then grant
    /// roles such as Key Vault Secrets User instead of access policies.
    /// Bicep: `enableRbacAuthorization: true`.
    /// Terraform (`azurerm_key_vault`): `rbac_authorization_enabled = true`
    /// (`enable_rbac_authorization = true` in older provider versions).
    ///
    /// ## References
    /// Azure Policy 12d4fa5e-1f9f-4c21-97a9-b99b3c6611b5 (Azure Key Vault should use RBAC
    /// permission model); MCSB PA-7; PSRule Azure.KeyVault.RBAC; Prowler keyvault_rbac_enabled.
    /// The policy and PSRule treat an absent value as access policies whatever the
    /// API version; amlguard follows the API version the template uses.
    pub struct KeyVaultAccessPolicyModel {
        code: 509,
        name: "keyvault-access-policy-model",
        title: "A Key Vault uses access policies instead of Azure RBAC",
        severity: Low,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 12d4fa5e-1f9f-4c21-97a9-b99b3c6611b5",
            "MCSB PA-7",
            "PSRule Azure.KeyVault.RBAC",
            "Prowler keyvault_rbac_enabled",
        ],
    }
}

impl Rule for KeyVaultAccessPolicyModel {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.enableRbacAuthorization to true and grant Key Vault data roles instead of access policies";
        for kv in m.of_kind(ResourceKind::KeyVault) {
            let old_api = api_before(kv, RBAC_DEFAULT_FROM);
            let default = if old_api {
                format!(
                    "false for apiVersion {} (before {RBAC_DEFAULT_FROM})",
                    kv.api_version.as_deref().unwrap_or("?")
                )
            } else {
                "true".to_string()
            };
            let f = kv.get("properties.enableRbacAuthorization");
            let message = format!(
                "Key Vault '{}' authorizes data access with access policies, not Azure RBAC (enableRbacAuthorization: {})",
                kv.display_name(),
                describe(&f, &default),
            );
            let check = check_field(f, old_api, |t: &Tree| t.as_bool() != Some(true));
            report_related(
                out,
                &Self::META,
                kv,
                check,
                message,
                fix,
                workspace_links(m, kv, "properties.keyVault", "Key Vault"),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::data::util::fixtures::vault;
    use crate::testing::{route, run, template};

    fn t(api: &str, props: &str) -> String {
        template(r#""rbac": {"type": "bool"}"#, &vault(api, props))
    }

    #[test]
    fn absent_depends_on_the_api_version() {
        let f = run(&KeyVaultAccessPolicyModel, &t("2023-07-01", "{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
        assert!(run(&KeyVaultAccessPolicyModel, &t("2026-02-01", "{}")).is_empty());
    }

    #[test]
    fn false_fails_true_passes() {
        let f = run(
            &KeyVaultAccessPolicyModel,
            &t("2026-02-01", r#"{"enableRbacAuthorization": false}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.enableRbacAuthorization"
        );
        assert!(
            run(
                &KeyVaultAccessPolicyModel,
                &t("2019-09-01", r#"{"enableRbacAuthorization": true}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &KeyVaultAccessPolicyModel,
            &t(
                "2024-11-01",
                r#"{"enableRbacAuthorization": "[parameters('rbac')]"}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'rbac'"));
    }
}
