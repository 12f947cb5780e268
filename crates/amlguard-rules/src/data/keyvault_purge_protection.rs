use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{describe, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed Key Vault whose `properties.enablePurgeProtection` is not
    /// `true`.
    ///
    /// Default assumed when absent: purge protection off (the API leaves the
    /// property null, which means not enabled). Soft delete is on by default for
    /// new vaults, but without purge protection a deleted vault or secret can be
    /// purged at once.
    ///
    /// ## Why it matters
    /// A workspace's Key Vault holds the keys and secrets the workspace depends on
    /// — including the customer-managed key when the workspace is encrypted with
    /// one. Anyone with purge rights (an attacker, or a mistaken cleanup) can
    /// destroy them for good; with a CMK, that makes the workspace's data
    /// unreadable. Purge protection enforces the retention period and cannot be
    /// turned off once on.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.KeyVault/vaults", "properties": {"enableSoftDelete": true}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"enablePurgeProtection": true` in the vault's `properties` (with
    /// `"enableSoftDelete": true`).
    /// Bicep: `enablePurgeProtection: true`.
    /// Terraform (`azurerm_key_vault`): `purge_protection_enabled = true`.
    ///
    /// ## References
    /// Azure Policy 0b60c0b2-2dc2-4e1c-b5c9-abbed971de53 (Key Vaults should have deletion
    /// protection enabled); MCSB DP-8; Checkov CKV_AZURE_110; PSRule
    /// Azure.KeyVault.PurgeProtect; Trivy AZU-0016; Prowler keyvault_recoverable.
    pub struct KeyVaultPurgeProtectionDisabled {
        code: 508,
        name: "keyvault-purge-protection-disabled",
        title: "A Key Vault does not have purge protection",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 0b60c0b2-2dc2-4e1c-b5c9-abbed971de53",
            "MCSB DP-8",
            "Checkov CKV_AZURE_110",
            "PSRule Azure.KeyVault.PurgeProtect",
            "Trivy AZU-0016",
            "Prowler keyvault_recoverable",
        ],
    }
}

impl Rule for KeyVaultPurgeProtectionDisabled {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.enablePurgeProtection to true (and keep enableSoftDelete true)";
        for kv in m.of_kind(ResourceKind::KeyVault) {
            let f = kv.get("properties.enablePurgeProtection");
            let message = format!(
                "Key Vault '{}' does not have purge protection (enablePurgeProtection: {})",
                kv.display_name(),
                describe(&f, "not enabled"),
            );
            let check = check_field(f, true, |t: &Tree| t.as_bool() != Some(true));
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

    fn t(props: &str) -> String {
        template(r#""purge": {"type": "bool"}"#, &vault("2024-11-01", props))
    }

    #[test]
    fn absent_means_not_enabled() {
        let f = run(
            &KeyVaultPurgeProtectionDisabled,
            &t(r#"{"enableSoftDelete": true}"#),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn false_fails_true_passes() {
        let f = run(
            &KeyVaultPurgeProtectionDisabled,
            &t(r#"{"enablePurgeProtection": false}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.enablePurgeProtection"
        );
        assert!(
            run(
                &KeyVaultPurgeProtectionDisabled,
                &t(r#"{"enablePurgeProtection": true}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &KeyVaultPurgeProtectionDisabled,
            &t(r#"{"enablePurgeProtection": "[parameters('purge')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'purge'"));
    }
}
