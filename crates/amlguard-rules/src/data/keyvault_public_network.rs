use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{both, describe, is_one_of, related_field, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed Key Vault (whether or not a workspace uses it) whose endpoint
    /// answers every network: `properties.publicNetworkAccess` is not `disabled`
    /// (compared case-insensitively) **and** `properties.networkAcls.defaultAction`
    /// is not `Deny`.
    ///
    /// Defaults assumed when absent: `publicNetworkAccess` absent means `enabled`;
    /// `networkAcls` (or its `defaultAction`) absent means `Allow`. A vault with a
    /// `Deny` firewall passes: it admits only the listed IP ranges and subnets (and,
    /// with `bypass: AzureServices`, trusted services).
    ///
    /// ## Why it matters
    /// The workspace's Key Vault holds the secrets that open everything else: the
    /// storage connection string, registry passwords, datastore and connection
    /// credentials. A vault reachable from any network turns any leaked token with
    /// secret-read rights into those secrets, from anywhere.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.KeyVault/vaults", "properties": {"publicNetworkAccess": "enabled"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"publicNetworkAccess": "disabled"` in the vault's `properties` and a
    /// private endpoint (group `vault`); or `"networkAcls": {"defaultAction": "Deny",
    /// "bypass": "AzureServices", "virtualNetworkRules": […], "ipRules": […]}`.
    /// Bicep: `publicNetworkAccess: 'disabled'` (or `networkAcls: { defaultAction: 'Deny' }`).
    /// Terraform (`azurerm_key_vault`): `public_network_access_enabled = false`, or a
    /// `network_acls { default_action = "Deny" bypass = "AzureServices" }` block.
    ///
    /// ## References
    /// Azure Policy 405c5871-3e91-4644-8a63-58e19d68ff5b (Key Vault should disable public
    /// network access) and 55615ac9-af46-4a59-874e-391cc3dfb490 (firewall enabled or public
    /// network access disabled); MCSB NS-2; Checkov CKV_AZURE_109, CKV_AZURE_189; PSRule
    /// Azure.KeyVault.Firewall; Trivy AZU-0013; Prowler keyvault_access_only_through_private_endpoints.
    /// Trivy only asks that an ACL block exist, and CKV_AZURE_109 looks at
    /// `defaultAction` alone, so it fails a vault whose public access is disabled
    /// but which has no `networkAcls`; amlguard reports a vault only when both
    /// settings leave it open, as policy 55615ac9 does.
    pub struct KeyVaultPublicNetwork {
        code: 507,
        name: "keyvault-public-network",
        title: "A Key Vault accepts connections from every network",
        severity: High,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 405c5871-3e91-4644-8a63-58e19d68ff5b",
            "Azure Policy 55615ac9-af46-4a59-874e-391cc3dfb490",
            "MCSB NS-2",
            "Checkov CKV_AZURE_109",
            "Checkov CKV_AZURE_189",
            "PSRule Azure.KeyVault.Firewall",
            "Trivy AZU-0013",
        ],
    }
}

impl Rule for KeyVaultPublicNetwork {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.publicNetworkAccess to 'disabled' and reach the vault through a private endpoint, or set properties.networkAcls.defaultAction to 'Deny' and list the allowed networks";
        for kv in m.of_kind(ResourceKind::KeyVault) {
            let pna = kv.get("properties.publicNetworkAccess");
            let acl = kv.get("properties.networkAcls.defaultAction");
            let message = format!(
                "Key Vault '{}' accepts connections from all networks (publicNetworkAccess: {}; networkAcls.defaultAction: {})",
                kv.display_name(),
                describe(&pna, "'enabled'"),
                describe(&acl, "'Allow'"),
            );
            let mut related: Vec<_> =
                related_field(&acl, "the firewall's default action (Allow unless 'Deny')")
                    .into_iter()
                    .collect();
            related.extend(workspace_links(m, kv, "properties.keyVault", "Key Vault"));
            let open_endpoint = check_field(pna, true, |t: &Tree| !is_one_of(t, &["Disabled"]));
            let open_firewall = check_field(acl, true, |t: &Tree| !is_one_of(t, &["Deny"]));
            report_related(
                out,
                &Self::META,
                kv,
                both(open_endpoint, open_firewall),
                message,
                fix,
                related,
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::data::util::fixtures::{vault, workspace};
    use crate::testing::{route, run, template};

    fn t(props: &str) -> String {
        template(r#""pna": {"type": "string"}"#, &vault("2024-11-01", props))
    }

    #[test]
    fn absent_means_enabled_and_allow() {
        let f = run(&KeyVaultPublicNetwork, &t("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
    }

    #[test]
    fn enabled_with_allow_fails_at_the_property() {
        let f = run(
            &KeyVaultPublicNetwork,
            &t(r#"{"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.publicNetworkAccess");
        assert_eq!(f[0].confidence, Confidence::High);
    }

    #[test]
    fn disabled_or_deny_passes() {
        for props in [
            r#"{"publicNetworkAccess": "disabled"}"#,
            r#"{"publicNetworkAccess": "Disabled", "networkAcls": {"defaultAction": "Allow"}}"#,
            r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}"#,
        ] {
            assert!(run(&KeyVaultPublicNetwork, &t(props)).is_empty(), "{props}");
        }
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &KeyVaultPublicNetwork,
            &t(r#"{"publicNetworkAccess": "[parameters('pna')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pna'"));
    }

    #[test]
    fn names_the_workspace_that_uses_it() {
        let text = template(
            "",
            &format!("{}, {}", vault("2024-11-01", "{}"), workspace()),
        );
        let f = run(&KeyVaultPublicNetwork, &text);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].related
                .iter()
                .any(|r| r.message.contains("workspace 'ws'"))
        );
    }
}
