use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{both, describe, is_one_of, related_field, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed storage account (whether or not a workspace uses it) whose
    /// public endpoint answers every network: `properties.publicNetworkAccess` is
    /// not `Disabled` (nor `SecuredByPerimeter`) **and** the firewall's
    /// `properties.networkAcls.defaultAction` is not `Deny`.
    ///
    /// Defaults assumed when a property is absent: `publicNetworkAccess` absent
    /// means `Enabled`; `networkAcls` (or its `defaultAction`) absent means `Allow`.
    /// An account with the public endpoint on but a `Deny` firewall passes here: it
    /// only admits the networks listed in its rules.
    ///
    /// ## Why it matters
    /// An account that any network can reach is one stolen key, SAS token or
    /// over-broad role away from a leak, and every such credential works from
    /// anywhere. AML's default storage holds training data, models, job outputs and
    /// notebooks; Microsoft's exfiltration guidance has the workspace's storage
    /// reached through private endpoints.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01",
    ///  "properties": {"networkAcls": {"defaultAction": "Allow"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"publicNetworkAccess": "Disabled"` in the account's `properties` and
    /// reach it through private endpoints (`blob`, `file`); or, if a public endpoint
    /// is needed, `"networkAcls": {"defaultAction": "Deny", …}` with explicit
    /// `ipRules` / `virtualNetworkRules` / `resourceAccessRules`.
    /// Bicep: `publicNetworkAccess: 'Disabled'` (or `networkAcls: { defaultAction: 'Deny' }`).
    /// Terraform (`azurerm_storage_account`): `public_network_access_enabled = false`,
    /// or a `network_rules { default_action = "Deny" }` block.
    ///
    /// ## References
    /// Azure Policy b2982f36-99f2-4db5-8eff-283140c09693 (storage accounts should disable
    /// public network access) and 34c877ad-507e-4c82-993e-3452a6e0ad3c (storage accounts
    /// should restrict network access); MCSB NS-2; Checkov CKV_AZURE_35, CKV_AZURE_59;
    /// PSRule Azure.Storage.Firewall; Trivy AZU-0012; Prowler
    /// storage_default_network_access_rule_is_denied, storage_account_public_network_access_disabled.
    /// Peers test the two properties separately, so an account with the public
    /// endpoint disabled fails their firewall check and vice versa; and Checkov's
    /// Terraform check returns "unknown" when `default_action` is absent. amlguard
    /// reports only an account that both properties leave open, and treats an absent
    /// value as Azure's default (`Enabled` / `Allow`), i.e. open.
    pub struct StoragePublicNetwork {
        code: 501,
        name: "storage-public-network",
        title: "A storage account accepts connections from every network",
        severity: High,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy b2982f36-99f2-4db5-8eff-283140c09693",
            "Azure Policy 34c877ad-507e-4c82-993e-3452a6e0ad3c",
            "MCSB NS-2",
            "Checkov CKV_AZURE_35",
            "Checkov CKV_AZURE_59",
            "PSRule Azure.Storage.Firewall",
            "Trivy AZU-0012",
            "Prowler storage_account_public_network_access_disabled",
        ],
    }
}

impl Rule for StoragePublicNetwork {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.publicNetworkAccess to 'Disabled' and reach the account through private endpoints, or set properties.networkAcls.defaultAction to 'Deny' and list the allowed networks";
        for sa in m.of_kind(ResourceKind::StorageAccount) {
            let pna = sa.get("properties.publicNetworkAccess");
            let acl = sa.get("properties.networkAcls.defaultAction");
            let message = format!(
                "storage account '{}' accepts connections from all networks (publicNetworkAccess: {}; networkAcls.defaultAction: {})",
                sa.display_name(),
                describe(&pna, "'Enabled'"),
                describe(&acl, "'Allow'"),
            );
            let mut related: Vec<_> =
                related_field(&acl, "the firewall's default action (Allow unless 'Deny')")
                    .into_iter()
                    .collect();
            related.extend(workspace_links(
                m,
                sa,
                "properties.storageAccount",
                "default storage",
            ));
            let open_endpoint = check_field(pna, true, |t: &Tree| {
                !is_one_of(t, &["Disabled", "SecuredByPerimeter"])
            });
            let open_firewall = check_field(acl, true, |t: &Tree| !is_one_of(t, &["Deny"]));
            report_related(
                out,
                &Self::META,
                sa,
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
    use crate::data::util::fixtures::{storage, workspace};
    use crate::testing::{route, run, template};

    fn t(props: &str) -> String {
        template(
            r#""pna": {"type": "string"}, "action": {"type": "string"}"#,
            &storage("2023-05-01", props),
        )
    }

    #[test]
    fn absent_means_enabled_and_allow() {
        let f = run(&StoragePublicNetwork, &t("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
        assert!(f[0].message.contains("absent"));
    }

    #[test]
    fn enabled_with_allow_fails_at_the_property() {
        let f = run(
            &StoragePublicNetwork,
            &t(r#"{"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(route(&f[0]), "resources[0].properties.publicNetworkAccess");
        assert_eq!(f[0].confidence, Confidence::High);
        assert_eq!(
            f[0].related[0].at.route.to_string(),
            "resources[0].properties.networkAcls.defaultAction"
        );
    }

    #[test]
    fn disabled_or_deny_passes() {
        for props in [
            r#"{"publicNetworkAccess": "Disabled"}"#,
            r#"{"publicNetworkAccess": "SecuredByPerimeter"}"#,
            r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}"#,
            r#"{"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "deny"}}"#,
        ] {
            assert!(run(&StoragePublicNetwork, &t(props)).is_empty(), "{props}");
        }
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &StoragePublicNetwork,
            &t(r#"{"publicNetworkAccess": "[parameters('pna')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'pna'"));
        // The other half decides when it is known and closed.
        let f = run(
            &StoragePublicNetwork,
            &t(
                r#"{"publicNetworkAccess": "[parameters('pna')]", "networkAcls": {"defaultAction": "Deny"}}"#,
            ),
        );
        assert!(f.is_empty());
        let f = run(
            &StoragePublicNetwork,
            &t(
                r#"{"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "[parameters('action')]"}}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'action'"));
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.networkAcls.defaultAction"
        );
    }

    #[test]
    fn names_the_workspace_that_uses_it() {
        let text = template(
            "",
            &format!("{}, {}", storage("2023-05-01", "{}"), workspace()),
        );
        let f = run(&StoragePublicNetwork, &text);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].related
                .iter()
                .any(|r| r.message.contains("workspace 'ws'")
                    && r.at.route.to_string() == "resources[1].properties.storageAccount")
        );
    }

    #[test]
    fn not_deployed_is_skipped() {
        let text = template(
            "",
            &storage("2023-05-01", "{}").replacen('{', r#"{"condition": false, "#, 1),
        );
        assert!(run(&StoragePublicNetwork, &text).is_empty());
    }
}
