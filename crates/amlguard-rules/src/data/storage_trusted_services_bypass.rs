use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{both, describe, is_one_of, related_field, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

/// True when a `bypass` value (`"AzureServices, Logging"`) names `AzureServices`.
fn names_azure_services(t: &Tree) -> bool {
    t.as_str().is_some_and(|s| {
        s.split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("AzureServices"))
    })
}

declare_rule! {
    /// ## What it checks
    /// Every deployed storage account whose firewall is in force — the public
    /// endpoint is on (`properties.publicNetworkAccess` not `Disabled` /
    /// `SecuredByPerimeter`) and `properties.networkAcls.defaultAction` is `Deny` —
    /// but lets "trusted Microsoft services" through: `properties.networkAcls.bypass`
    /// names `AzureServices`.
    ///
    /// Defaults assumed when absent: `bypass` absent means `AzureServices` (the
    /// Storage REST specification's default); `publicNetworkAccess` absent means
    /// `Enabled`. An account whose firewall allows everything is reported by
    /// AMLG501 instead (the exception changes nothing there). With the public
    /// endpoint `Disabled`, amlguard assumes only private endpoints reach the
    /// account and does not report the exception.
    ///
    /// Informational: AML itself can need the exception (Microsoft's guidance for a
    /// workspace behind a VNet allows it when no resource-instance rule is used).
    ///
    /// ## Why it matters
    /// The exception admits a whole class of Azure services, running in Microsoft's
    /// or other customers' networks, past the firewall; access is then limited only
    /// by authorization (keys, SAS, roles) and by each service's own identity. It
    /// widens who can reach the account, which is the opposite of what an
    /// exfiltration control wants. A `resourceAccessRules` entry naming the
    /// workspace (or the exact service instances needed) admits only those.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts",
    ///  "properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"networkAcls": {"defaultAction": "Deny", "bypass": "None",
    /// "resourceAccessRules": [{"tenantId": "…", "resourceId": "<workspace id>"}]}`
    /// (keep `"Logging, Metrics"` if those are needed), or `"publicNetworkAccess": "Disabled"`
    /// with private endpoints.
    /// Bicep: `networkAcls: { defaultAction: 'Deny', bypass: 'None', resourceAccessRules: [ … ] }`.
    /// Terraform (`azurerm_storage_account`): `network_rules { default_action = "Deny"
    /// bypass = ["None"] private_link_access { endpoint_resource_id = … } }`.
    ///
    /// ## References
    /// MCSB NS-2. The peers require the opposite: Azure Policy
    /// c9d007d0-c057-4772-b18c-01e546713bcd (allow trusted Microsoft services), Checkov
    /// CKV_AZURE_36, Trivy AZU-0010 and Prowler
    /// storage_ensure_azure_services_are_trusted_to_access_is_enabled all fail an
    /// account *without* the exception. That keeps Azure services working but
    /// widens the exfiltration surface; amlguard reports the exception instead,
    /// at severity info, and points to resource-instance rules as the narrower
    /// way to admit the services that are actually needed.
    pub struct StorageTrustedServicesBypass {
        code: 506,
        name: "storage-trusted-services-bypass",
        title: "A storage account's firewall lets all trusted Azure services through",
        severity: Info,
        confidence: High,
        category: DataService,
        references: [
            "MCSB NS-2",
            "Azure Policy c9d007d0-c057-4772-b18c-01e546713bcd (requires the opposite)",
            "Checkov CKV_AZURE_36 (requires the opposite)",
            "Trivy AZU-0010 (requires the opposite)",
            "Prowler storage_ensure_azure_services_are_trusted_to_access_is_enabled (requires the opposite)",
        ],
    }
}

impl Rule for StorageTrustedServicesBypass {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.networkAcls.bypass to 'None' (or 'Logging, Metrics') and admit the services that need the account with resourceAccessRules (e.g. the workspace's resource ID) or private endpoints";
        for sa in m.of_kind(ResourceKind::StorageAccount) {
            let bypass = sa.get("properties.networkAcls.bypass");
            let acl = sa.get("properties.networkAcls.defaultAction");
            let pna = sa.get("properties.publicNetworkAccess");
            let message = format!(
                "storage account '{}' lets every trusted Azure service past its firewall (networkAcls.bypass: {})",
                sa.display_name(),
                describe(&bypass, "'AzureServices'"),
            );
            let mut related: Vec<_> = related_field(
                &acl,
                "the firewall's default action (the exception matters when it is 'Deny')",
            )
            .into_iter()
            .collect();
            related.extend(workspace_links(
                m,
                sa,
                "properties.storageAccount",
                "default storage",
            ));
            let exception = check_field(bypass, true, names_azure_services);
            // The exception only matters while the firewall is in force.
            let firewall_in_force = both(
                check_field(acl, false, |t: &Tree| is_one_of(t, &["Deny"])),
                check_field(pna, true, |t: &Tree| {
                    !is_one_of(t, &["Disabled", "SecuredByPerimeter"])
                }),
            );
            report_related(
                out,
                &Self::META,
                sa,
                both(exception, firewall_in_force),
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
    use crate::data::util::fixtures::storage;
    use crate::testing::{route, run, template};
    use crate::{Confidence, Severity};

    fn t(props: &str) -> String {
        template(
            r#""bypass": {"type": "string"}, "action": {"type": "string"}"#,
            &storage("2025-06-01", props),
        )
    }

    #[test]
    fn bypass_with_a_deny_firewall_is_reported_as_info() {
        let f = run(
            &StorageTrustedServicesBypass,
            &t(r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "Logging, AzureServices"}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(route(&f[0]), "resources[0].properties.networkAcls.bypass");
    }

    #[test]
    fn absent_bypass_means_azure_services() {
        let f = run(
            &StorageTrustedServicesBypass,
            &t(r#"{"networkAcls": {"defaultAction": "Deny"}}"#),
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties.networkAcls");
    }

    #[test]
    fn no_exception_or_no_firewall_passes() {
        for props in [
            r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}"#,
            r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "Logging, Metrics"}}"#,
            // Firewall open: AMLG501's business, the exception changes nothing.
            r#"{"networkAcls": {"defaultAction": "Allow", "bypass": "AzureServices"}}"#,
            "{}",
            // Public endpoint off.
            r#"{"publicNetworkAccess": "Disabled", "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}}"#,
        ] {
            assert!(
                run(&StorageTrustedServicesBypass, &t(props)).is_empty(),
                "{props}"
            );
        }
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &StorageTrustedServicesBypass,
            &t(r#"{"networkAcls": {"defaultAction": "Deny", "bypass": "[parameters('bypass')]"}}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'bypass'"));
        let f = run(
            &StorageTrustedServicesBypass,
            &t(
                r#"{"networkAcls": {"defaultAction": "[parameters('action')]", "bypass": "AzureServices"}}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'action'"));
    }
}
