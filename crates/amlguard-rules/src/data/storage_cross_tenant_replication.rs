use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{api_before, describe, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

/// The Storage API version from which an absent `allowCrossTenantReplication` means `false`.
const DEFAULT_FALSE_FROM: &str = "2023-01-01";

declare_rule! {
    /// ## What it checks
    /// Every deployed storage account that allows object replication to accounts
    /// in other Entra ID tenants: `properties.allowCrossTenantReplication` is `true`,
    /// or it is absent and the resource's `apiVersion` is earlier than `2023-01-01`.
    ///
    /// Default assumed when absent, by API version (compared on the `YYYY-MM-DD`
    /// prefix of `apiVersion`): the Storage API reference up to `2022-09-01`
    /// documents the default as `true`; from `2023-01-01` it reads "false for new
    /// accounts". When the API version is not known, the current default (`false`)
    /// is assumed. Microsoft also switched the service-side default for all new
    /// accounts to `false` in the second half of 2023; a template on an older API
    /// version is still reported, because it does not state the value and an
    /// existing account it updates keeps `true`.
    ///
    /// ## Why it matters
    /// Object replication copies every new or changed blob of a container to a
    /// destination account asynchronously. With cross-tenant replication allowed,
    /// anyone who may write a replication policy can point it at an account in a
    /// tenant they control, and the data leaves continuously through the storage
    /// service itself — no network path from the compute is needed, so network
    /// isolation does not stop it.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts", "properties": {"allowCrossTenantReplication": true}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"allowCrossTenantReplication": false` in the account's `properties`.
    /// Bicep: `allowCrossTenantReplication: false`.
    /// Terraform (`azurerm_storage_account`): `cross_tenant_replication_enabled = false`.
    ///
    /// ## References
    /// Azure Policy 92a89a79-6c52-4a7e-a03f-61306fc49312 (storage accounts should prevent
    /// cross tenant object replication); MCSB DP-2; Prowler
    /// storage_cross_tenant_replication_disabled. Checkov, PSRule and Trivy have no
    /// equivalent check.
    pub struct StorageCrossTenantReplication {
        code: 505,
        name: "storage-cross-tenant-replication",
        title: "A storage account allows object replication to other tenants",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy 92a89a79-6c52-4a7e-a03f-61306fc49312",
            "MCSB DP-2",
            "Prowler storage_cross_tenant_replication_disabled",
        ],
    }
}

impl Rule for StorageCrossTenantReplication {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.allowCrossTenantReplication to false (explicitly: older API versions default it to true)";
        for sa in m.of_kind(ResourceKind::StorageAccount) {
            let old_api = api_before(sa, DEFAULT_FALSE_FROM);
            let default = if old_api {
                format!(
                    "true for apiVersion {} (before {DEFAULT_FALSE_FROM})",
                    sa.api_version.as_deref().unwrap_or("?")
                )
            } else {
                "false".to_string()
            };
            let f = sa.get("properties.allowCrossTenantReplication");
            let message = format!(
                "storage account '{}' allows object replication to accounts in other tenants (allowCrossTenantReplication: {})",
                sa.display_name(),
                describe(&f, &default),
            );
            let check = check_field(f, old_api, |t: &Tree| t.as_bool() == Some(true));
            report_related(
                out,
                &Self::META,
                sa,
                check,
                message,
                fix,
                workspace_links(m, sa, "properties.storageAccount", "default storage"),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::Confidence;
    use crate::data::util::fixtures::storage;
    use crate::testing::{route, run, template};

    fn t(api: &str, props: &str) -> String {
        template(r#""xtr": {"type": "bool"}"#, &storage(api, props))
    }

    #[test]
    fn absent_depends_on_the_api_version() {
        let f = run(&StorageCrossTenantReplication, &t("2021-09-01", "{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
        assert!(run(&StorageCrossTenantReplication, &t("2023-01-01", "{}")).is_empty());
    }

    #[test]
    fn true_fails_false_passes() {
        let f = run(
            &StorageCrossTenantReplication,
            &t("2025-06-01", r#"{"allowCrossTenantReplication": true}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(
            route(&f[0]),
            "resources[0].properties.allowCrossTenantReplication"
        );
        assert!(
            run(
                &StorageCrossTenantReplication,
                &t("2021-09-01", r#"{"allowCrossTenantReplication": false}"#)
            )
            .is_empty()
        );
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &StorageCrossTenantReplication,
            &t(
                "2025-06-01",
                r#"{"allowCrossTenantReplication": "[parameters('xtr')]"}"#,
            ),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'xtr'"));
    }
}
