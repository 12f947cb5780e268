use amlguard_model::{Model, ResourceKind, Tree};

use super::util::{describe, is_one_of, report_related, workspace_links};
use crate::{Finding, Rule, check_field, declare_rule};

declare_rule! {
    /// ## What it checks
    /// Every deployed storage account whose `properties.minimumTlsVersion` is
    /// absent, `TLS1_0` or `TLS1_1`. `TLS1_2` and `TLS1_3` pass.
    ///
    /// Default assumed when absent: `TLS1_0`. The Storage API reference, up to and
    /// including the versions of 2023, describes a missing value as TLS 1.0;
    /// Microsoft has since announced the end of TLS 1.0/1.1 on Azure Storage, but a
    /// template that relies on the default states nothing, so amlguard assumes the
    /// documented (old) default and asks for the value to be written.
    ///
    /// ## Why it matters
    /// TLS 1.0 and 1.1 have known weaknesses and are deprecated; accepting them
    /// lets a client (or a downgrade attacker on the path) protect data in transit
    /// — including account keys and SAS tokens in request headers — with weak
    /// protocols.
    ///
    /// ## Example (insecure)
    /// ```json
    /// {"type": "Microsoft.Storage/storageAccounts", "properties": {"minimumTlsVersion": "TLS1_0"}}
    /// ```
    ///
    /// ## Fix
    /// ARM: `"minimumTlsVersion": "TLS1_2"` in the account's `properties`.
    /// Bicep: `minimumTlsVersion: 'TLS1_2'`.
    /// Terraform (`azurerm_storage_account`): `min_tls_version = "TLS1_2"`.
    ///
    /// ## References
    /// Azure Policy fe83a0eb-a853-422d-aac2-1bffd182c5d0 (storage accounts should have the
    /// specified minimum TLS version); MCSB DP-3; Checkov CKV_AZURE_44; PSRule
    /// Azure.Storage.MinTLS; Prowler storage_ensure_minimum_tls_version_12.
    pub struct StorageMinTls {
        code: 504,
        name: "storage-min-tls",
        title: "A storage account accepts TLS versions older than 1.2",
        severity: Medium,
        confidence: High,
        category: DataService,
        references: [
            "Azure Policy fe83a0eb-a853-422d-aac2-1bffd182c5d0",
            "MCSB DP-3",
            "Checkov CKV_AZURE_44",
            "PSRule Azure.Storage.MinTLS",
            "Prowler storage_ensure_minimum_tls_version_12",
        ],
    }
}

impl Rule for StorageMinTls {
    fn meta(&self) -> &'static crate::RuleMeta {
        &Self::META
    }
    fn check(&self, m: &Model, out: &mut Vec<Finding>) {
        let fix = "set properties.minimumTlsVersion to 'TLS1_2' (or 'TLS1_3')";
        for sa in m.of_kind(ResourceKind::StorageAccount) {
            let f = sa.get("properties.minimumTlsVersion");
            let message = format!(
                "storage account '{}' accepts TLS versions older than 1.2 (minimumTlsVersion: {})",
                sa.display_name(),
                describe(&f, "'TLS1_0'"),
            );
            let check = check_field(f, true, |t: &Tree| is_one_of(t, &["TLS1_0", "TLS1_1"]));
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

    fn t(props: &str) -> String {
        template(
            r#""tls": {"type": "string"}"#,
            &storage("2025-06-01", props),
        )
    }

    #[test]
    fn absent_means_tls1_0() {
        let f = run(&StorageMinTls, &t("{}"));
        assert_eq!(f.len(), 1);
        assert!(f[0].absent);
        assert_eq!(route(&f[0]), "resources[0].properties");
        assert!(f[0].message.contains("TLS1_0"));
    }

    #[test]
    fn old_versions_fail_new_ones_pass() {
        for v in ["TLS1_0", "TLS1_1"] {
            let f = run(
                &StorageMinTls,
                &t(&format!(r#"{{"minimumTlsVersion": "{v}"}}"#)),
            );
            assert_eq!(f.len(), 1, "{v}");
            assert_eq!(route(&f[0]), "resources[0].properties.minimumTlsVersion");
        }
        for v in ["TLS1_2", "TLS1_3"] {
            assert!(
                run(
                    &StorageMinTls,
                    &t(&format!(r#"{{"minimumTlsVersion": "{v}"}}"#))
                )
                .is_empty(),
                "{v}"
            );
        }
    }

    #[test]
    fn unknown_reports_low_confidence_with_the_deciding_parameter() {
        let f = run(
            &StorageMinTls,
            &t(r#"{"minimumTlsVersion": "[parameters('tls')]"}"#),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].confidence, Confidence::Low);
        assert_eq!(f[0].deciding_input.as_deref(), Some("parameter 'tls'"));
    }
}
